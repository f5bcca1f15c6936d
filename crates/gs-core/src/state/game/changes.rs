//! Changes one row at a time (admin edits, the tick, generated flag values): each part
//! is told what changed, and the scoreboard is replayed only when scoring is affected.

use super::Game;
use crate::rows::{
    AnnouncementRow, ChallengeRow, DynamicFlagRow, GamePolicyRow, SubmissionRow, TriggerRow,
    UserProfileRow, UserRow,
};
use crate::state::announcement::{self, Announcement};
use crate::state::board::Board;
use crate::state::challenge::{Challenge, UserIdx};
use crate::state::policy::{self, Policies};
use crate::state::push::PushMessage;
use crate::state::trigger::{self, Timeline};
use crate::state::user::User;
use serde_json::json;

impl Game {
    /// Stores a generated value (the `dynamic_flag` row) and, when the user already made
    /// submissions to that challenge, judges them again so that the live state equals a
    /// full rebuild.
    pub fn set_dynamic_flag(&mut self, row: DynamicFlagRow) {
        let uid = row.user_id;
        let key = row.challenge_key.clone();
        self.dynamic.insert(row);
        let Some(user) = self.user_idx(uid) else {
            return;
        };
        if let Some(chall) = self.chall_idx(&key) {
            self.users[user as usize]
                .correct_flags
                .retain(|(f, _)| f.chall != chall);
        }
        let submitted_before = self
            .submissions_newest_first(user)
            .any(|s| self.submission_key(&self.submissions[s as usize]) == key);
        if submitted_before {
            self.rebuild_scoreboard();
        }
    }

    /// Moves the game to `tick`; returns the `tick_update` push when the tick has a trigger.
    pub fn set_tick(&mut self, tick: i64) -> Vec<PushMessage> {
        if tick == self.cur_tick {
            return Vec::new();
        }
        self.cur_tick = tick;
        self.challenges
            .iter_mut()
            .for_each(Challenge::clear_rendered);
        self.boards.iter_mut().for_each(Board::invalidate_render);
        match self.timeline.at_tick(tick) {
            Some(t) => vec![PushMessage::broadcast(
                json!({"type": "tick_update", "new_tick_name": t.name}),
            )],
            None => Vec::new(),
        }
    }

    /// Adds or replaces a trigger.
    pub fn upsert_trigger(&mut self, row: TriggerRow) -> Result<(), String> {
        if let Some(why) = trigger::clash(self.timeline.triggers(), &row) {
            return Err(why);
        }
        let mut all: Vec<TriggerRow> = self
            .timeline
            .triggers()
            .iter()
            .filter(|t| t.id != row.id)
            .cloned()
            .collect();
        all.push(row);
        self.timeline = Timeline::new(all);
        self.boards.iter_mut().for_each(Board::invalidate_render);
        Ok(())
    }

    /// Removes a trigger.
    pub fn remove_trigger(&mut self, id: i64) {
        let rest = self
            .timeline
            .triggers()
            .iter()
            .filter(|t| t.id != id)
            .cloned()
            .collect();
        self.timeline = Timeline::new(rest);
        self.boards.iter_mut().for_each(Board::invalidate_render);
    }

    /// Adds or replaces a game policy.
    pub fn upsert_policy(&mut self, row: GamePolicyRow) -> Result<(), String> {
        if let Some(why) = policy::clash(self.policies.rows(), &row) {
            return Err(why);
        }
        let mut all: Vec<GamePolicyRow> = self
            .policies
            .rows()
            .iter()
            .filter(|p| p.id != row.id)
            .cloned()
            .collect();
        all.push(row);
        self.policies = Policies::new(all);
        Ok(())
    }

    /// Removes a game policy.
    pub fn remove_policy(&mut self, id: i64) {
        let rest = self
            .policies
            .rows()
            .iter()
            .filter(|p| p.id != id)
            .cloned()
            .collect();
        self.policies = Policies::new(rest);
    }

    /// Adds or replaces an announcement; a new one is pushed to everyone.
    pub fn upsert_announcement(&mut self, row: AnnouncementRow) -> Vec<PushMessage> {
        let is_new = !self.announcements.iter().any(|a| a.row.id == row.id);
        let title = row.title.clone();
        self.announcements.retain(|a| a.row.id != row.id);
        self.announcements.push(Announcement::new(row));
        announcement::sort_newest_first(&mut self.announcements);
        if is_new {
            vec![PushMessage::broadcast(
                json!({"type": "new_announcement", "title": title}),
            )]
        } else {
            Vec::new()
        }
    }

    /// Removes an announcement.
    pub fn remove_announcement(&mut self, id: i64) {
        self.announcements.retain(|a| a.row.id != id);
    }

    /// Adds or replaces a challenge; rebuilds the scoreboard when scoring is affected.
    pub fn upsert_challenge(&mut self, row: ChallengeRow) -> Result<(), String> {
        let new = Challenge::from_row(row)?;
        if let Some(other) = self
            .challenges
            .iter()
            .find(|c| c.row.key == new.row.key && c.row.id != new.row.id)
        {
            return Err(format!(
                "key {:?} is already used by challenge #{}",
                new.row.key, other.row.id
            ));
        }
        match self.challenges.iter().position(|c| c.row.id == new.row.id) {
            Some(i) => {
                let old = &self.challenges[i].row;
                let scoring_changed = old.key != new.row.key
                    || old.flags != new.row.flags
                    || old.effective_after != new.row.effective_after
                    || old.category != new.row.category
                    || self.challenges[i].honeypots != new.honeypots;
                if scoring_changed {
                    self.challenges[i] = new;
                    self.after_challenges_changed();
                    self.rebuild_scoreboard();
                } else {
                    let ch = &mut self.challenges[i];
                    ch.row = new.row;
                    ch.clear_rendered();
                    self.after_challenges_changed();
                    self.boards.iter_mut().for_each(Board::invalidate_render);
                }
            }
            None => {
                // Keep the arena in id order, as a rebuild from rows would.
                let pos = self.challenges.partition_point(|c| c.row.id < new.row.id);
                self.challenges.insert(pos, new);
                self.after_challenges_changed();
                self.rebuild_scoreboard();
            }
        }
        Ok(())
    }

    /// Removes a challenge (its submissions stay, matching nothing).
    pub fn remove_challenge(&mut self, id: i64) {
        if let Some(i) = self.challenges.iter().position(|c| c.row.id == id) {
            self.challenges.remove(i);
            self.after_challenges_changed();
            self.rebuild_scoreboard();
        }
    }

    /// Adds or replaces a user (and the profile the row points to, when given).
    /// Returns `reload_user` pushes when the user's group changed.
    pub fn upsert_user(
        &mut self,
        row: UserRow,
        profile: Option<UserProfileRow>,
    ) -> Vec<PushMessage> {
        if let Some(p) = profile {
            self.profiles.insert(p.id, p);
        }
        let profile = self.profile_of(&row);
        let uid = row.id;
        let mut pushes = Vec::new();
        match self.user_idx(uid) {
            Some(i) => {
                let u = &mut self.users[i as usize];
                let group_changed = u.row.group != row.group;
                let shown = u.tot_score > 0;
                u.row = row;
                u.profile = profile;
                u.refresh();
                self.index_auth_tokens();
                if group_changed {
                    self.rebuild_scoreboard();
                    pushes.push(PushMessage {
                        payload: json!({"type": "reload_user"}),
                        to_groups: None,
                        to_uids: Some(vec![uid]),
                    });
                } else if shown {
                    self.boards.iter_mut().for_each(Board::invalidate_render);
                }
            }
            None => {
                let idx = self.users.len() as UserIdx;
                self.user_by_id.insert(uid, idx);
                self.users.push(User::new(row, profile));
                self.index_auth_tokens();
            }
        }
        pushes
    }

    /// Replaces a submission's overrides (admin edit) and rebuilds the scoreboard.
    pub fn update_submission(&mut self, row: SubmissionRow) -> Result<(), String> {
        let i = self
            .submissions
            .binary_search_by_key(&row.id, |s| s.id)
            .map_err(|_| format!("submission #{} does not exist", row.id))?;
        let user = self
            .user_idx(row.user_id)
            .ok_or_else(|| format!("user #{} does not exist", row.user_id))?;
        let key = self.intern_key(row.challenge_key);
        let flag = self.flag_texts.push(&row.flag);
        let s = &mut self.submissions[i];
        s.user = user;
        s.key = key;
        s.flag = flag;
        s.timestamp_ms = row.timestamp_ms;
        s.set_overrides(row.score_override_or_null, row.percentage_override_or_null);
        self.rebuild_scoreboard();
        Ok(())
    }
}
