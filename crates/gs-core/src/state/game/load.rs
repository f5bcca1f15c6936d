//! The full rebuild: every row at once, in the fixed order triggers → policies →
//! challenges → announcements → profiles → users → dynamic values → submissions.

use super::{Game, GameOptions};
use crate::rows::{
    ChallengeRow, GamePolicyRow, SubmissionRow, Tables, TriggerRow, UserProfileRow, UserRow,
};
use crate::rules;
use crate::state::announcement::{self, Announcement};
use crate::state::board::Board;
use crate::state::challenge::{Challenge, UserIdx};
use crate::state::dynamic::DynamicValues;
use crate::state::policy::{self, Policies};
use crate::state::problem_log::ProblemLog;
use crate::state::trigger::{self, Timeline};
use crate::state::uid_index::UidIndex;
use crate::state::user::User;
use std::collections::HashMap;

impl Game {
    /// Builds the game from every row at `tick`: the full rebuild.
    pub fn build(mut tables: Tables, tick: i64, options: GameOptions) -> Game {
        let mut submissions = std::mem::take(&mut tables.submission);
        submissions.sort_by_key(|s| s.id);
        Game::build_streaming(tables, tick, options, std::iter::once(submissions))
    }

    /// The full rebuild with submissions arriving in chunks, in id order, while they are
    /// still being read (`tables.submission` is ignored).
    pub fn build_streaming(
        tables: Tables,
        tick: i64,
        options: GameOptions,
        submissions: impl IntoIterator<Item = Vec<SubmissionRow>>,
    ) -> Game {
        let mut game = Game {
            cur_tick: tick,
            timeline: Timeline::default(),
            policies: Policies::default(),
            announcements: Vec::new(),
            challenges: Vec::new(),
            chall_order: Vec::new(),
            chall_by_key: HashMap::new(),
            users: Vec::new(),
            user_by_id: UidIndex::default(),
            user_by_auth_token: HashMap::new(),
            profiles: HashMap::new(),
            dynamic: DynamicValues::default(),
            submissions: Vec::new(),
            flag_texts: Default::default(),
            boards: rules::BOARDS.iter().map(Board::new).collect(),
            problems: Vec::new(),
            problem_log: ProblemLog::default(),
            options,
            keys: Vec::new(),
            key_idx: HashMap::new(),
            key_chall: Vec::new(),
            flag_offset: Vec::new(),
            flag_slots: 0,
        };
        let Tables {
            trigger,
            game_policy,
            challenge,
            user_profile,
            user,
            announcement,
            dynamic_flag,
            ..
        } = tables;
        game.set_triggers(trigger);
        game.set_policies(game_policy);
        game.set_challenges(challenge);
        game.announcements = announcement.into_iter().map(Announcement::new).collect();
        announcement::sort_newest_first(&mut game.announcements);
        game.profiles = user_profile.into_iter().map(|p| (p.id, p)).collect();
        game.set_users(user);
        game.dynamic = DynamicValues::new(dynamic_flag);
        game.replay_submissions(submissions);
        game
    }

    fn set_triggers(&mut self, rows: Vec<TriggerRow>) {
        let mut kept: Vec<TriggerRow> = Vec::new();
        for t in rows {
            match trigger::clash(&kept, &t) {
                Some(why) => self.problem("trigger", t.id, format!("{why}; skipped")),
                None => kept.push(t),
            }
        }
        self.timeline = Timeline::new(kept);
    }

    fn set_policies(&mut self, rows: Vec<GamePolicyRow>) {
        let mut kept: Vec<GamePolicyRow> = Vec::new();
        for p in rows {
            match policy::clash(&kept, &p) {
                Some(why) => self.problem("game_policy", p.id, format!("{why}; skipped")),
                None => kept.push(p),
            }
        }
        self.policies = Policies::new(kept);
    }

    fn set_challenges(&mut self, mut rows: Vec<ChallengeRow>) {
        rows.sort_by_key(|c| c.id);
        self.challenges.clear();
        for row in rows {
            let id = row.id;
            if self.challenges.iter().any(|c| c.row.key == row.key) {
                self.problem(
                    "challenge",
                    id,
                    format!("duplicate key {:?}; skipped", row.key),
                );
                continue;
            }
            match Challenge::from_row(row) {
                Ok(ch) => self.challenges.push(ch),
                Err(e) => self.problem("challenge", id, format!("{e}; skipped")),
            }
        }
        self.after_challenges_changed();
    }

    pub(super) fn after_challenges_changed(&mut self) {
        self.chall_by_key = self
            .challenges
            .iter()
            .enumerate()
            .map(|(i, c)| (c.row.key.clone(), i as u32))
            .collect();
        let mut order: Vec<u32> = (0..self.challenges.len() as u32).collect();
        // Stable: equal sorting indexes keep id order.
        order.sort_by_key(|&i| self.challenges[i as usize].row.sorting_index);
        self.chall_order = order;
        self.flag_offset.clear();
        let mut next = 0u32;
        for ch in &self.challenges {
            self.flag_offset.push(next);
            next += ch.flags.len() as u32;
        }
        self.flag_slots = next as usize;
        self.key_chall = self
            .keys
            .iter()
            .map(|k| self.chall_by_key.get(&**k).copied())
            .collect();
        self.users.iter_mut().for_each(|u| u.correct_flags.clear());
    }

    fn set_users(&mut self, mut rows: Vec<UserRow>) {
        rows.sort_by_key(|u| u.id);
        self.users.clear();
        for row in rows {
            if self.user_by_id.get(row.id).is_some() {
                self.problem("user", row.id, "duplicate id; skipped");
                continue;
            }
            let profile = self.profile_of(&row);
            let idx = self.users.len() as UserIdx;
            self.user_by_id.insert(row.id, idx);
            self.users.push(User::new(row, profile));
        }
        self.index_auth_tokens();
    }

    pub(super) fn profile_of(&mut self, row: &UserRow) -> Option<UserProfileRow> {
        let pid = row.profile_id?;
        let profile = self.profiles.get(&pid).cloned();
        if profile.is_none() {
            self.problem(
                "user",
                row.id,
                format!("profile_id {pid} does not exist; treated as no profile"),
            );
        }
        profile
    }

    pub(super) fn index_auth_tokens(&mut self) {
        self.user_by_auth_token = self
            .users
            .iter()
            .enumerate()
            .filter_map(|(i, u)| Some((u.row.auth_token.clone()?, i as UserIdx)))
            .collect();
    }
}
