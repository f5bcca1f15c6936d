//! Requests to the reducer task from inside its process (the admin panel): reads of
//! reducer-only state, and admin edits that are validated, written, committed, applied
//! and published like every other change.

use super::Reducer;
use crate::rows::{
    AnnouncementRow, ChallengeRow, GamePolicyRow, TriggerRow, UserProfileRow, UserRow,
};
use crate::state::challenge::validate_challenge;
use crate::state::{Change, PushMessage};
use tokio::sync::oneshot;

/// An admin edit. Rows with id 0 are created; `Delete*` take the row id.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminWrite {
    /// Create or replace a challenge (validated as rules.md says).
    UpsertChallenge(ChallengeRow),
    /// Delete a challenge (its submissions stay).
    DeleteChallenge(i64),
    /// Create or replace a trigger.
    UpsertTrigger(TriggerRow),
    /// Delete a trigger.
    DeleteTrigger(i64),
    /// Create or replace a game policy.
    UpsertPolicy(GamePolicyRow),
    /// Delete a game policy.
    DeletePolicy(i64),
    /// Create or replace an announcement (a new one is pushed to players).
    UpsertAnnouncement(AnnouncementRow),
    /// Delete an announcement.
    DeleteAnnouncement(i64),
    /// Set a submission's overrides.
    SetSubmissionOverrides {
        /// Submission id.
        id: i64,
        /// Gained score, winning over everything.
        score_override: Option<i64>,
        /// Percentage of the flag's score.
        percentage_override: Option<i64>,
    },
    /// Replace a user row (group, enabled, login properties, …).
    UpdateUser(UserRow),
    /// Give a user a new profile (profiles are append-only).
    NewProfile(UserProfileRow),
    /// Sign every user's player token again with the configured key.
    RegenerateTokens,
    /// Send a push message to connected players.
    Push(PushMessage),
    /// Forget every worker's telemetry (the status page starts afresh).
    ClearTelemetry,
}

/// A request to the reducer task.
pub enum ReducerRequest {
    /// Runs a read-only look at the reducer (health, counters, its game) on its task.
    Read(Box<dyn FnOnce(&Reducer) + Send>),
    /// Applies an admin edit; answers the state counter after it, or why it was refused.
    Write(Box<AdminWrite>, oneshot::Sender<Result<u64, String>>),
}

impl std::fmt::Debug for ReducerRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReducerRequest::Read(_) => f.write_str("Read(..)"),
            ReducerRequest::Write(w, _) => f.debug_tuple("Write").field(w).finish(),
        }
    }
}

fn db(e: impl std::fmt::Display) -> String {
    format!("database error: {e}")
}

impl Reducer {
    /// Validates, writes and commits an admin edit, then applies and publishes it.
    pub async fn admin_write(&mut self, write: AdminWrite) -> Result<u64, String> {
        let store = self.store.clone();
        match write {
            AdminWrite::UpsertChallenge(mut row) => {
                validate_challenge(&row)?;
                if let Some(other) = self
                    .game
                    .challenges
                    .iter()
                    .find(|c| c.row.key == row.key && c.row.id != row.id)
                {
                    return Err(format!(
                        "key {:?} is already used by challenge #{}",
                        row.key, other.row.id
                    ));
                }
                row.id = store.upsert_challenge(&row).await.map_err(db)?;
                let id = row.id;
                Ok(self
                    .commit_change(Change::UpdateChallenge { id, row: Some(row) })
                    .await)
            }
            AdminWrite::DeleteChallenge(id) => {
                store.delete_challenge(id).await.map_err(db)?;
                Ok(self
                    .commit_change(Change::UpdateChallenge { id, row: None })
                    .await)
            }
            AdminWrite::UpsertTrigger(mut row) => {
                let others = self
                    .game
                    .timeline
                    .triggers()
                    .iter()
                    .filter(|t| t.id != row.id || row.id == 0);
                if let Some(t) = others.clone().find(|t| t.tick == row.tick) {
                    return Err(format!("tick {} already has trigger #{}", row.tick, t.id));
                }
                if let Some(t) = others.clone().find(|t| t.timestamp_s == row.timestamp_s) {
                    return Err(format!(
                        "timestamp {} already has trigger #{}",
                        row.timestamp_s, t.id
                    ));
                }
                row.id = store.upsert_trigger(&row).await.map_err(db)?;
                let id = row.id;
                let counter = self
                    .commit_change(Change::ReloadTrigger { id, row: Some(row) })
                    .await;
                self.update_tick().await;
                Ok(counter.max(self.counter))
            }
            AdminWrite::DeleteTrigger(id) => {
                store.delete_trigger(id).await.map_err(db)?;
                self.commit_change(Change::ReloadTrigger { id, row: None })
                    .await;
                self.update_tick().await;
                Ok(self.counter)
            }
            AdminWrite::UpsertPolicy(mut row) => {
                let clash = self
                    .game
                    .policies
                    .rows()
                    .iter()
                    .find(|p| p.effective_after == row.effective_after && p.id != row.id);
                if let Some(p) = clash {
                    return Err(format!(
                        "policy #{} is already effective after tick {}",
                        p.id, row.effective_after
                    ));
                }
                row.id = store.upsert_game_policy(&row).await.map_err(db)?;
                let id = row.id;
                Ok(self
                    .commit_change(Change::ReloadGamePolicy { id, row: Some(row) })
                    .await)
            }
            AdminWrite::DeletePolicy(id) => {
                store.delete_game_policy(id).await.map_err(db)?;
                Ok(self
                    .commit_change(Change::ReloadGamePolicy { id, row: None })
                    .await)
            }
            AdminWrite::UpsertAnnouncement(mut row) => {
                row.id = store.upsert_announcement(&row).await.map_err(db)?;
                let id = row.id;
                Ok(self
                    .commit_change(Change::UpdateAnnouncement { id, row: Some(row) })
                    .await)
            }
            AdminWrite::DeleteAnnouncement(id) => {
                store.delete_announcement(id).await.map_err(db)?;
                Ok(self
                    .commit_change(Change::UpdateAnnouncement { id, row: None })
                    .await)
            }
            AdminWrite::SetSubmissionOverrides {
                id,
                score_override,
                percentage_override,
            } => {
                let sub = self
                    .game
                    .submission_by_id(id)
                    .ok_or(format!("submission #{id} does not exist"))?;
                let uid = self.game.users[sub.user as usize].id();
                let mut row = sub.to_row(uid, self.game.submission_key(sub));
                row.score_override_or_null = score_override;
                row.percentage_override_or_null = percentage_override;
                store
                    .update_submission_overrides(id, score_override, percentage_override)
                    .await
                    .map_err(db)?;
                Ok(self.commit_change(Change::UpdateSubmission { row }).await)
            }
            AdminWrite::UpdateUser(user) => {
                if self.game.user_by_id(user.id).is_none() {
                    return Err(format!("user #{} does not exist", user.id));
                }
                store.update_user(&user).await.map_err(db)?;
                Ok(self
                    .commit_change(Change::UpdateUser {
                        user,
                        profile: None,
                    })
                    .await)
            }
            AdminWrite::NewProfile(mut profile) => {
                let mut user = self
                    .game
                    .user_by_id(profile.user_id)
                    .map(|u| u.row.clone())
                    .ok_or(format!("user #{} does not exist", profile.user_id))?;
                profile.id = store
                    .insert_profile_and_link(user.id, &profile)
                    .await
                    .map_err(db)?;
                user.profile_id = Some(profile.id);
                Ok(self
                    .commit_change(Change::UpdateUser {
                        user,
                        profile: Some(profile),
                    })
                    .await)
            }
            AdminWrite::RegenerateTokens => {
                let rows: Vec<UserRow> = self.game.users.iter().map(|u| u.row.clone()).collect();
                for mut user in rows {
                    let token = self.signer.sign(user.id);
                    if user.token.as_deref() == Some(token.as_str()) {
                        continue;
                    }
                    user.token = Some(token);
                    store.update_user(&user).await.map_err(db)?;
                    self.commit_change(Change::UpdateUser {
                        user,
                        profile: None,
                    })
                    .await;
                }
                Ok(self.counter)
            }
            AdminWrite::ClearTelemetry => {
                self.health.clear();
                Ok(self.counter)
            }
            AdminWrite::Push(message) => {
                self.publish(crate::glitter::Event::push(self.counter, message))
                    .await;
                Ok(self.counter)
            }
        }
    }
}
