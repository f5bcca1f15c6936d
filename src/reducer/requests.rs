//! Requests to the reducer task from inside its process (the admin panel): reads of
//! reducer-only state, and admin edits that are validated, written, committed, applied
//! and published like every other change.

use super::Reducer;
use crate::rows::{
    AnnouncementRow, ChallengeRow, GamePolicyRow, TriggerRow, UserProfileRow, UserRow,
};
use crate::state::challenge::validate_challenge;
use crate::state::{policy, trigger, Change, PushMessage};
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
        match write {
            AdminWrite::UpsertChallenge(row) => self.upsert_challenge(row).await,
            AdminWrite::DeleteChallenge(id) => {
                self.store.delete_challenge(id).await.map_err(db)?;
                Ok(self
                    .commit_change(Change::UpdateChallenge { id, row: None })
                    .await)
            }
            AdminWrite::UpsertTrigger(row) => self.upsert_trigger(row).await,
            AdminWrite::DeleteTrigger(id) => self.delete_trigger(id).await,
            AdminWrite::UpsertPolicy(row) => self.upsert_policy(row).await,
            AdminWrite::DeletePolicy(id) => {
                self.store.delete_game_policy(id).await.map_err(db)?;
                Ok(self
                    .commit_change(Change::ReloadGamePolicy { id, row: None })
                    .await)
            }
            AdminWrite::UpsertAnnouncement(mut row) => {
                row.id = self.store.upsert_announcement(&row).await.map_err(db)?;
                let id = row.id;
                Ok(self
                    .commit_change(Change::UpdateAnnouncement { id, row: Some(row) })
                    .await)
            }
            AdminWrite::DeleteAnnouncement(id) => {
                self.store.delete_announcement(id).await.map_err(db)?;
                Ok(self
                    .commit_change(Change::UpdateAnnouncement { id, row: None })
                    .await)
            }
            AdminWrite::SetSubmissionOverrides {
                id,
                score_override,
                percentage_override,
            } => {
                self.set_submission_overrides(id, score_override, percentage_override)
                    .await
            }
            AdminWrite::UpdateUser(user) => self.update_user(user).await,
            AdminWrite::NewProfile(profile) => self.new_profile(profile).await,
            AdminWrite::RegenerateTokens => self.regenerate_tokens().await,
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

    /// Creates or replaces a challenge, validated as rules.md says, its key unique.
    async fn upsert_challenge(&mut self, mut row: ChallengeRow) -> Result<u64, String> {
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
        row.id = self.store.upsert_challenge(&row).await.map_err(db)?;
        let id = row.id;
        Ok(self
            .commit_change(Change::UpdateChallenge { id, row: Some(row) })
            .await)
    }

    /// Creates or replaces a trigger, then moves the game to the clock's tick.
    async fn upsert_trigger(&mut self, mut row: TriggerRow) -> Result<u64, String> {
        if let Some(why) = trigger::clash(self.game.timeline.triggers(), &row) {
            return Err(why);
        }
        row.id = self.store.upsert_trigger(&row).await.map_err(db)?;
        let id = row.id;
        let counter = self
            .commit_change(Change::ReloadTrigger { id, row: Some(row) })
            .await;
        self.update_tick().await;
        Ok(counter.max(self.counter))
    }

    /// Deletes a trigger, then moves the game to the clock's tick.
    async fn delete_trigger(&mut self, id: i64) -> Result<u64, String> {
        self.store.delete_trigger(id).await.map_err(db)?;
        self.commit_change(Change::ReloadTrigger { id, row: None })
            .await;
        self.update_tick().await;
        Ok(self.counter)
    }

    /// Creates or replaces a game policy (one per tick).
    async fn upsert_policy(&mut self, mut row: GamePolicyRow) -> Result<u64, String> {
        if let Some(why) = policy::clash(self.game.policies.rows(), &row) {
            return Err(why);
        }
        row.id = self.store.upsert_game_policy(&row).await.map_err(db)?;
        let id = row.id;
        Ok(self
            .commit_change(Change::ReloadGamePolicy { id, row: Some(row) })
            .await)
    }

    /// Sets a submission's overrides.
    async fn set_submission_overrides(
        &mut self,
        id: i64,
        score_override: Option<i64>,
        percentage_override: Option<i64>,
    ) -> Result<u64, String> {
        let sub = self
            .game
            .submission_by_id(id)
            .ok_or(format!("submission #{id} does not exist"))?;
        let mut row = self.game.submission_row(sub);
        row.score_override_or_null = score_override;
        row.percentage_override_or_null = percentage_override;
        self.store
            .update_submission_overrides(id, score_override, percentage_override)
            .await
            .map_err(db)?;
        Ok(self.commit_change(Change::UpdateSubmission { row }).await)
    }

    /// Replaces a user row.
    async fn update_user(&mut self, user: UserRow) -> Result<u64, String> {
        if self.game.user_by_id(user.id).is_none() {
            return Err(format!("user #{} does not exist", user.id));
        }
        self.store.update_user(&user).await.map_err(db)?;
        Ok(self
            .commit_change(Change::UpdateUser {
                user,
                profile: None,
            })
            .await)
    }

    /// Gives a user a new profile (profiles are append-only).
    async fn new_profile(&mut self, mut profile: UserProfileRow) -> Result<u64, String> {
        let mut user = self
            .game
            .user_by_id(profile.user_id)
            .map(|u| u.row.clone())
            .ok_or(format!("user #{} does not exist", profile.user_id))?;
        profile.id = self
            .store
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

    /// Signs every user's player token again with the configured key.
    async fn regenerate_tokens(&mut self) -> Result<u64, String> {
        let rows: Vec<UserRow> = self.game.users.iter().map(|u| u.row.clone()).collect();
        for mut user in rows {
            let token = self.signer.sign(user.id);
            if user.token.as_deref() == Some(token.as_str()) {
                continue;
            }
            user.token = Some(token);
            self.store.update_user(&user).await.map_err(db)?;
            self.commit_change(Change::UpdateUser {
                user,
                profile: None,
            })
            .await;
        }
        Ok(self.counter)
    }
}
