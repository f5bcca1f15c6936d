//! Changes: every state change the reducer makes, as a value. The reducer applies a change
//! to its own game and publishes it; workers apply the very same value to theirs, so every
//! process runs the same code for the same change.

use super::game::Game;
use super::push::PushMessage;
use crate::rows::{
    AnnouncementRow, ChallengeRow, DynamicFlagRow, GamePolicyRow, SubmissionRow, TriggerRow,
    UserProfileRow, UserRow,
};
use serde::{Deserialize, Serialize};

/// One change of the game state; `None` rows mean the row with that id was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A new submission (right or wrong).
    NewSubmission {
        /// The stored row.
        row: SubmissionRow,
    },
    /// An admin changed a submission's overrides.
    UpdateSubmission {
        /// The stored row.
        row: SubmissionRow,
    },
    /// A user was created or changed, with the profile the row points to.
    UpdateUser {
        /// The stored row.
        user: UserRow,
        /// The user's current profile, when it changed or is new.
        profile: Option<UserProfileRow>,
    },
    /// A challenge was created, changed or deleted.
    UpdateChallenge {
        /// Row id.
        id: i64,
        /// The stored row, `None` when deleted.
        row: Option<ChallengeRow>,
    },
    /// A trigger was created, changed or deleted.
    ReloadTrigger {
        /// Row id.
        id: i64,
        /// The stored row, `None` when deleted.
        row: Option<TriggerRow>,
    },
    /// A game policy was created, changed or deleted.
    ReloadGamePolicy {
        /// Row id.
        id: i64,
        /// The stored row, `None` when deleted.
        row: Option<GamePolicyRow>,
    },
    /// An announcement was created, changed or deleted.
    UpdateAnnouncement {
        /// Row id.
        id: i64,
        /// The stored row, `None` when deleted.
        row: Option<AnnouncementRow>,
    },
    /// A dynamic flag's value was generated for a user (or made again by a new generator).
    SetDynamicFlag {
        /// The stored row.
        row: DynamicFlagRow,
    },
    /// The reducer's clock moved the game to a new tick.
    TickUpdate {
        /// The new tick.
        tick: i64,
    },
}

impl Change {
    /// Id of the changed row (the tick for tick changes).
    pub fn id(&self) -> i64 {
        match self {
            Change::NewSubmission { row } | Change::UpdateSubmission { row } => row.id,
            Change::UpdateUser { user, .. } => user.id,
            Change::UpdateChallenge { id, .. }
            | Change::ReloadTrigger { id, .. }
            | Change::ReloadGamePolicy { id, .. }
            | Change::UpdateAnnouncement { id, .. } => *id,
            Change::TickUpdate { tick } => *tick,
            Change::SetDynamicFlag { row } => row.id,
        }
    }

    /// Applies the change; returns the push messages for connected players.
    pub fn apply(self, game: &mut Game) -> Result<Vec<PushMessage>, String> {
        match self {
            Change::NewSubmission { row } => game.apply_submission(row).map_err(|p| p.to_string()),
            Change::UpdateSubmission { row } => game.update_submission(row).map(|()| Vec::new()),
            Change::UpdateUser { user, profile } => Ok(game.upsert_user(user, profile)),
            Change::UpdateChallenge { id, row } => match row {
                Some(row) => game.upsert_challenge(row).map(|()| Vec::new()),
                None => {
                    game.remove_challenge(id);
                    Ok(Vec::new())
                }
            },
            Change::ReloadTrigger { id, row } => match row {
                Some(row) => game.upsert_trigger(row).map(|()| Vec::new()),
                None => {
                    game.remove_trigger(id);
                    Ok(Vec::new())
                }
            },
            Change::ReloadGamePolicy { id, row } => match row {
                Some(row) => game.upsert_policy(row).map(|()| Vec::new()),
                None => {
                    game.remove_policy(id);
                    Ok(Vec::new())
                }
            },
            Change::UpdateAnnouncement { id, row } => match row {
                Some(row) => Ok(game.upsert_announcement(row)),
                None => {
                    game.remove_announcement(id);
                    Ok(Vec::new())
                }
            },
            Change::TickUpdate { tick } => Ok(game.set_tick(tick)),
            Change::SetDynamicFlag { row } => {
                game.set_dynamic_flag(row);
                Ok(Vec::new())
            }
        }
    }
}
