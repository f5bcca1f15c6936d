//! The game: every state object together, built from rows by a full rebuild or changed one
//! row at a time, with identical results. The order in which a change reaches the parts
//! (challenges and flags → users → boards) is fixed here and nowhere else.

use super::announcement::{self, Announcement};
use super::board::{Board, Ranking};
use super::challenge::{Challenge, UserIdx};
use super::dynamic::DynamicValues;
use super::flag::IMPOSSIBLE_FLAG;
use super::policy::{self, Policies};
use super::problem_log::ProblemLog;
use super::push::PushMessage;
use super::submission::{KeyIdx, Submission};
use super::trigger::{self, Timeline};
use super::uid_index::UidIndex;
use super::user::{FlagRef, SubIdx, User};
pub use crate::rows::RowProblem;
use crate::rows::{
    AnnouncementRow, ChallengeRow, DynamicFlagRow, GamePolicyRow, SubmissionRow, Tables,
    TriggerRow, UserProfileRow, UserRow,
};
use crate::rules::{self, BoardKind};
use serde_json::json;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Settings the game needs from outside the rows.
#[derive(Debug, Clone, Default)]
pub struct GameOptions {
    /// Uids of admins (they see hidden challenges and admin badges).
    pub admins: HashSet<i64>,
}

/// The whole in-RAM state of a contest.
#[derive(Debug, Clone)]
pub struct Game {
    /// Current tick, set by the reducer's clock.
    pub cur_tick: i64,
    /// Triggers.
    pub timeline: Timeline,
    /// Game policies.
    pub policies: Policies,
    /// Announcements, newest first.
    pub announcements: Vec<Announcement>,
    /// Challenges in load order (indexes are stable between scoreboard rebuilds).
    pub challenges: Vec<Challenge>,
    /// Challenge indexes in display order (sorting_index, then id).
    pub chall_order: Vec<u32>,
    chall_by_key: HashMap<String, u32>,
    /// Users in load order.
    pub users: Vec<User>,
    user_by_id: UidIndex,
    user_by_auth_token: HashMap<String, UserIdx>,
    profiles: HashMap<i64, UserProfileRow>,
    /// Generated values of dynamic flags (raw inputs, like the rows).
    dynamic: DynamicValues,
    /// Submissions in id order.
    pub submissions: Vec<Submission>,
    /// Boards in `rules::BOARDS` order.
    pub boards: Vec<Board>,
    /// Rows that could not be used (the loader logs them).
    pub problems: Vec<RowProblem>,
    /// Problems met while answering, for the owner to log.
    pub problem_log: ProblemLog,
    options: GameOptions,
    /// Interned challenge keys of submissions.
    keys: Vec<Box<str>>,
    key_idx: HashMap<Box<str>, KeyIdx>,
    /// The challenge of each interned key (kept in step with `chall_by_key`).
    key_chall: Vec<Option<u32>>,
    /// First slot of each challenge's flags in the users' `passed_slots`.
    flag_offset: Vec<u32>,
    /// Number of flag slots over all challenges.
    flag_slots: usize,
}

/// Marks a flag slot the user has not passed.
const NOT_PASSED: SubIdx = SubIdx::MAX;

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

    // -----------------------------------------------------------------------------------
    // Loading parts
    // -----------------------------------------------------------------------------------

    fn problem(&mut self, table: &'static str, id: i64, message: impl Into<String>) {
        let p = RowProblem {
            table,
            id: Some(id),
            message: message.into(),
        };
        self.problems.push(p);
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

    fn after_challenges_changed(&mut self) {
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

    fn profile_of(&mut self, row: &UserRow) -> Option<UserProfileRow> {
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

    fn index_auth_tokens(&mut self) {
        self.user_by_auth_token = self
            .users
            .iter()
            .enumerate()
            .filter_map(|(i, u)| Some((u.row.auth_token.clone()?, i as UserIdx)))
            .collect();
    }

    /// Resets the scoreboard and applies every submission as one batch.
    fn replay_submissions(&mut self, chunks: impl IntoIterator<Item = Vec<SubmissionRow>>) {
        self.reset_scoreboard();
        for chunk in chunks {
            self.submissions.reserve(chunk.len());
            for row in chunk {
                if let Some(last) = self.submissions.last() {
                    if row.id <= last.id {
                        let message = format!(
                            "id not after #{}: duplicate or out of order; skipped",
                            last.id
                        );
                        self.problem("submission", row.id, message);
                        continue;
                    }
                }
                if let Err(p) = self.apply_submission_row(row, true) {
                    self.problems.push(p);
                }
            }
        }
        self.finish_batch();
    }

    // -----------------------------------------------------------------------------------
    // Lookups
    // -----------------------------------------------------------------------------------

    /// Settings given at build time.
    pub fn options(&self) -> &GameOptions {
        &self.options
    }

    /// Whether `uid` is an admin.
    pub fn is_admin(&self, uid: i64) -> bool {
        self.options.admins.contains(&uid)
    }

    /// The policy in force now.
    pub fn policy(&self) -> &GamePolicyRow {
        self.policies.at(self.cur_tick)
    }

    /// The user with this id.
    pub fn user_by_id(&self, uid: i64) -> Option<&User> {
        self.user_by_id.get(uid).map(|i| &self.users[i as usize])
    }

    /// Index of the user with this id.
    pub fn user_idx(&self, uid: i64) -> Option<UserIdx> {
        self.user_by_id.get(uid)
    }

    /// The enabled user holding this auth token (disabled users count as logged out).
    pub fn user_by_auth_token(&self, token: &str) -> Option<&User> {
        let user = &self.users[*self.user_by_auth_token.get(token)? as usize];
        user.row.enabled.then_some(user)
    }

    /// Index of the challenge with this key.
    pub fn chall_idx(&self, key: &str) -> Option<u32> {
        self.chall_by_key.get(key).copied()
    }

    /// The challenge with this key.
    pub fn challenge(&self, key: &str) -> Option<&Challenge> {
        self.chall_idx(key).map(|i| &self.challenges[i as usize])
    }

    /// Challenges in display order.
    pub fn challenges_in_order(&self) -> impl Iterator<Item = &Challenge> {
        self.chall_order
            .iter()
            .map(|&i| &self.challenges[i as usize])
    }

    /// The flag a reference points to.
    pub fn flag(&self, f: FlagRef) -> &super::challenge::Flag {
        &self.challenges[f.chall as usize].flags[f.flag as usize]
    }

    /// The board with this key.
    pub fn board(&self, key: &str) -> Option<&Board> {
        self.boards.iter().find(|b| b.spec.key == key)
    }

    /// The submission with this id.
    pub fn submission_by_id(&self, id: i64) -> Option<&Submission> {
        self.submissions
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .map(|i| &self.submissions[i])
    }

    /// Current gained score of a submission.
    pub fn gained_score(&self, sub: &Submission) -> i64 {
        sub.matched
            .map_or(0, |f| sub.gained(self.flag(f).cur_score))
    }

    /// The correct value of a flag for a user (derived, then cached): the one accessor for
    /// every flag type, dynamic ones included. A dynamic flag whose value is not stored
    /// yet (or whose generator failed) is [`IMPOSSIBLE_FLAG`], which no input matches.
    pub fn correct_flag(&mut self, user: UserIdx, f: FlagRef) -> &str {
        let cached = self.users[user as usize]
            .correct_flags
            .iter()
            .position(|(g, _)| *g == f);
        let pos = match cached {
            Some(pos) => pos,
            None => {
                let uid = self.users[user as usize].row.id;
                let ch = &self.challenges[f.chall as usize];
                let spec = &ch.flags[f.flag as usize].spec;
                let dynamic = spec.generator().and_then(|generator| {
                    self.dynamic
                        .value(uid, &ch.row.key, f.flag as usize, generator)
                });
                let value = match spec.correct_value(&ch.row.key, uid, dynamic) {
                    Ok(v) => v,
                    // Not cached: the value may be stored later.
                    Err(_) if spec.generator().is_some() => return IMPOSSIBLE_FLAG,
                    Err(e) => {
                        self.problem_log.record(format!(
                            "cannot derive flag {}#{} for U#{uid}: {e}",
                            ch.row.key,
                            f.flag + 1
                        ));
                        IMPOSSIBLE_FLAG.to_owned()
                    }
                };
                let cache = &mut self.users[user as usize].correct_flags;
                cache.push((f, value.into()));
                cache.len() - 1
            }
        };
        &self.users[user as usize].correct_flags[pos].1
    }

    /// The stored generated value of flag `flag_idx` of challenge `key` for `uid`, if it
    /// was made by the flag's current generator (`None` for other flag types).
    pub fn dynamic_value(&self, uid: i64, key: &str, flag_idx: usize) -> Option<&str> {
        let spec = &self.challenge(key)?.flags.get(flag_idx)?.spec;
        self.dynamic.value(uid, key, flag_idx, spec.generator()?)
    }

    /// The stored row of a dynamic flag value, whatever generator made it.
    pub fn dynamic_flag_row(
        &self,
        uid: i64,
        key: &str,
        flag_idx: usize,
    ) -> Option<&DynamicFlagRow> {
        self.dynamic.row(uid, key, flag_idx)
    }

    /// Indexes of the dynamic flags of challenge `key` whose value for `uid` is not stored.
    pub fn missing_dynamic_flags(&self, uid: i64, key: &str) -> Vec<usize> {
        let Some(ch) = self.challenge(key) else {
            return Vec::new();
        };
        ch.flags
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                f.spec
                    .generator()
                    .is_some_and(|g| self.dynamic.value(uid, key, *i, g).is_none())
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Number of stored dynamic flag values.
    pub fn dynamic_value_count(&self) -> usize {
        self.dynamic.len()
    }

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

    // -----------------------------------------------------------------------------------
    // Submissions: the scoring core
    // -----------------------------------------------------------------------------------

    fn reset_scoreboard(&mut self) {
        self.submissions.clear();
        self.challenges.iter_mut().for_each(Challenge::reset_scores);
        self.users.iter_mut().for_each(User::reset_scores);
        self.boards.iter_mut().for_each(Board::reset);
    }

    /// Replays every submission after a change that affects scoring (rules, flags,
    /// groups, overrides): the same code path as the start-up rebuild.
    pub fn rebuild_scoreboard(&mut self) {
        let rows: Vec<SubmissionRow> = std::mem::take(&mut self.submissions)
            .into_iter()
            .map(|s| {
                s.to_row(
                    self.users[s.user as usize].row.id,
                    &self.keys[s.key as usize],
                )
            })
            .collect();
        self.replay_submissions(std::iter::once(rows));
    }

    fn find_match(
        &mut self,
        user: UserIdx,
        chall: u32,
        submitted: &str,
    ) -> (Option<FlagRef>, bool) {
        let ch = &self.challenges[chall as usize];
        // A honeypot is never correct, whatever a flag derivation happens to give.
        if ch.honeypots.iter().any(|h| h == submitted) {
            return (None, false);
        }
        let n_flags = ch.flags.len();
        let mut duplicate = false;
        for i in 0..n_flags {
            let f = FlagRef {
                chall,
                flag: i as u32,
            };
            if !self.flag(f).spec.may_match(submitted) {
                continue;
            }
            let already = self.user_passed(user, f).is_some();
            if self.correct_flag(user, f) == submitted {
                if already {
                    duplicate = true;
                } else {
                    return (Some(f), false);
                }
            }
        }
        (None, duplicate)
    }

    fn intern_key(&mut self, key: String) -> KeyIdx {
        if let Some(&k) = self.key_idx.get(key.as_str()) {
            return k;
        }
        let k = self.keys.len() as KeyIdx;
        self.key_chall.push(self.chall_by_key.get(&key).copied());
        let key = key.into_boxed_str();
        self.keys.push(key.clone());
        self.key_idx.insert(key, k);
        k
    }

    /// The challenge key a submission was made to.
    pub fn submission_key(&self, sub: &Submission) -> &str {
        &self.keys[sub.key as usize]
    }

    /// A user's submissions, newest first.
    pub fn submissions_newest_first(&self, user: UserIdx) -> impl Iterator<Item = SubIdx> + '_ {
        std::iter::successors(self.users[user as usize].last_submission, |&s| {
            Some(self.submissions[s as usize].prev_of_user).filter(|&p| p != SubIdx::MAX)
        })
    }

    /// The submission with which `user` passed flag `f`, if any (constant time).
    pub fn user_passed(&self, user: UserIdx, f: FlagRef) -> Option<SubIdx> {
        let slot = *self.flag_offset.get(f.chall as usize)? as usize + f.flag as usize;
        self.users[user as usize]
            .passed_slots
            .get(slot)
            .copied()
            .filter(|&s| s != NOT_PASSED)
    }

    /// Applies one new submission live (not in a batch) and returns the push messages.
    pub fn apply_submission(&mut self, row: SubmissionRow) -> Result<Vec<PushMessage>, RowProblem> {
        if let Some(last) = self.submissions.last() {
            if row.id <= last.id {
                return Err(RowProblem {
                    table: "submission",
                    id: Some(row.id),
                    message: format!(
                        "id not after the last applied submission #{}; ignored",
                        last.id
                    ),
                });
            }
        }
        self.apply_submission_row(row, false)
    }

    fn apply_submission_row(
        &mut self,
        row: SubmissionRow,
        in_batch: bool,
    ) -> Result<Vec<PushMessage>, RowProblem> {
        let Some(user) = self.user_idx(row.user_id) else {
            return Err(RowProblem {
                table: "submission",
                id: Some(row.id),
                message: format!("user #{} does not exist; skipped", row.user_id),
            });
        };
        let key = self.intern_key(row.challenge_key);
        let chall = self.key_chall[key as usize];
        let (matched, duplicate) = match chall {
            Some(c) => self.find_match(user, c, &row.flag),
            None => (None, false),
        };
        let sub_idx = self.submissions.len() as SubIdx;
        self.submissions.push(Submission {
            id: row.id,
            timestamp_ms: row.timestamp_ms,
            flag: row.flag.into_boxed_str(),
            score_override: row.score_override_or_null,
            percentage_override: row.percentage_override_or_null,
            user,
            key,
            challenge: chall,
            matched,
            duplicate,
            prev_of_user: self.users[user as usize]
                .last_submission
                .unwrap_or(SubIdx::MAX),
        });
        self.users[user as usize].last_submission = Some(sub_idx);
        let Some(f) = matched else {
            return Ok(Vec::new());
        };

        // 1. Challenges and flags.
        let sub = &self.submissions[sub_idx as usize];
        let counts_for_decay = rules::SCORE_DECAY_GROUPS
            .contains(&self.users[user as usize].row.group.as_str())
            && sub.percentage_override.is_none();
        let sub_id = sub.id;
        let ch = &mut self.challenges[f.chall as usize];
        let flag = &mut ch.flags[f.flag as usize];
        flag.passed_users.push(user);
        if counts_for_decay {
            flag.decay_solvers += 1;
        }
        let old_score = flag.cur_score;
        let new_score = rules::flag_score(flag.spec.base_score, flag.decay_solvers);
        if new_score != old_score {
            flag.cur_score = new_score;
            flag.history.push((sub_id, new_score));
        }

        // 2. Users.
        let n_flags = ch.flags.len() as u32;
        let (first_slot, slots) = (self.flag_offset[f.chall as usize] as usize, self.flag_slots);
        let u = &mut self.users[user as usize];
        if u.passed_slots.len() < slots {
            u.passed_slots.resize(slots, NOT_PASSED);
        }
        let chall_slots = &mut u.passed_slots[first_slot..first_slot + n_flags as usize];
        let first_touch = chall_slots.iter().all(|&s| s == NOT_PASSED);
        chall_slots[f.flag as usize] = sub_idx;
        let all_passed = chall_slots.iter().all(|&s| s != NOT_PASSED);
        u.passed_flags.push((f, sub_idx));
        if all_passed {
            ch.passed_users.push(user);
            u.passed_challs.push((f.chall, sub_idx));
        }
        if first_touch {
            ch.touched_users.push(user);
        }
        if !in_batch {
            self.update_totals_after_pass(f, sub_idx, old_score);
        }

        // 3. Boards.
        Ok(self.update_boards_after_pass(f, sub_idx, all_passed, in_batch))
    }

    /// Keeps every solver's total equal to the sum of their gained scores after a pass
    /// (scores are retroactive: a decayed flag lowers every earlier solver's total).
    fn update_totals_after_pass(&mut self, f: FlagRef, sub_idx: SubIdx, old_score: i64) {
        let ch = &self.challenges[f.chall as usize];
        let flag = &ch.flags[f.flag as usize];
        let new_score = flag.cur_score;
        let category = ch.row.category.clone();
        let new_user = self.submissions[sub_idx as usize].user;
        if new_score != old_score {
            for &p in &flag.passed_users {
                if p == new_user {
                    continue;
                }
                let Some(s) = self.user_passed(p, f) else {
                    continue;
                };
                let sub = &self.submissions[s as usize];
                let delta = sub.tweak(new_score) - sub.tweak(old_score);
                if delta != 0 {
                    self.users[p as usize].add_score(&category, delta);
                }
            }
        }
        let gained = self.submissions[sub_idx as usize].tweak(new_score);
        self.users[new_user as usize].add_score(&category, gained);
    }

    fn update_boards_after_pass(
        &mut self,
        f: FlagRef,
        sub_idx: SubIdx,
        all_passed: bool,
        in_batch: bool,
    ) -> Vec<PushMessage> {
        let user = &self.users[self.submissions[sub_idx as usize].user as usize];
        // First bloods taken by this pass: (board index, whole challenge?).
        let mut taken: Vec<(usize, bool)> = Vec::new();
        for (bi, board) in self.boards.iter_mut().enumerate() {
            if !board.has_group(&user.row.group) {
                continue;
            }
            match board.spec.kind {
                // A decayed flag changes scores in every group: handled below.
                BoardKind::Score { .. } => {}
                BoardKind::FirstBlood => {
                    let fb = &mut board.first_bloods;
                    if let Entry::Vacant(e) = fb.flags.entry(f) {
                        e.insert(sub_idx);
                        taken.push((bi, false));
                    }
                    if all_passed {
                        if let Entry::Vacant(e) = fb.challenges.entry(f.chall) {
                            e.insert(sub_idx);
                            taken.push((bi, true));
                        }
                    }
                    if !in_batch {
                        board.invalidate_render();
                    }
                }
            }
        }
        if in_batch {
            return Vec::new();
        }
        for board in &mut self.boards {
            if matches!(board.spec.kind, BoardKind::Score { .. }) {
                board.invalidate_ranking();
            }
        }
        let ch = &self.challenges[f.chall as usize];
        let mut pushes = Vec::new();
        for (bi, whole_challenge) in taken {
            let spec = self.boards[bi].spec;
            if !rules::board_pushes_first_blood(spec) || (!whole_challenge && all_passed) {
                continue;
            }
            let mut payload = json!({
                "type": if whole_challenge { "challenge_first_blood" } else { "flag_first_blood" },
                "board_name": spec.name,
                "nickname": user.nickname(),
                "challenge": ch.row.title,
            });
            if !whole_challenge {
                payload["flag"] = json!(ch.flags[f.flag as usize].spec.name);
            }
            pushes.push(PushMessage {
                payload,
                to_groups: Some(spec.groups.iter().map(|g| (*g).to_owned()).collect()),
                to_uids: None,
            });
        }
        pushes
    }

    fn finish_batch(&mut self) {
        for u in &mut self.users {
            u.tot_score = 0;
            u.tot_score_by_cat.clear();
        }
        for ui in 0..self.users.len() {
            for k in 0..self.users[ui].passed_flags.len() {
                let (f, s) = self.users[ui].passed_flags[k];
                let ch = &self.challenges[f.chall as usize];
                let gained =
                    self.submissions[s as usize].gained(ch.flags[f.flag as usize].cur_score);
                let category = &ch.row.category;
                self.users[ui].add_score(category, gained);
            }
        }
        for b in &mut self.boards {
            b.invalidate_ranking();
        }
    }

    // -----------------------------------------------------------------------------------
    // Other changes, one row at a time
    // -----------------------------------------------------------------------------------

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
                u.refresh_badges();
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
        let s = &mut self.submissions[i];
        s.user = user;
        s.key = key;
        s.flag = row.flag.into_boxed_str();
        s.timestamp_ms = row.timestamp_ms;
        s.score_override = row.score_override_or_null;
        s.percentage_override = row.percentage_override_or_null;
        self.rebuild_scoreboard();
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Rankings
    // -----------------------------------------------------------------------------------

    /// The ranking of a score board (computed lazily after changes).
    pub fn ranking(&self, board: &Board) -> Arc<Ranking> {
        board.ranking(|| self.compute_ranking(board))
    }

    /// A user's score counted on a board of `category` (all categories: `None`) and their
    /// last passing submission there, which breaks ties (earlier first).
    pub fn standing(&self, u: &User, category: Option<&str>) -> (i64, Option<SubIdx>) {
        match category {
            None => (u.tot_score, u.passed_flags.last().map(|&(_, s)| s)),
            Some(cat) => {
                let score = u
                    .tot_score_by_cat
                    .iter()
                    .find(|(c, _)| c == cat)
                    .map_or(0, |(_, s)| *s);
                let last = u
                    .passed_flags
                    .iter()
                    .rev()
                    .find(|(f, _)| self.challenges[f.chall as usize].row.category == cat)
                    .map(|&(_, s)| s);
                (score, last)
            }
        }
    }

    fn compute_ranking(&self, board: &Board) -> Ranking {
        let category = match board.spec.kind {
            BoardKind::Score { category, .. } => category,
            BoardKind::FirstBlood => return Ranking::default(),
        };
        let mut entries: Vec<(i64, i64, UserIdx)> = Vec::new();
        for (i, u) in self.users.iter().enumerate() {
            if !board.has_group(&u.row.group) {
                continue;
            }
            let (score, last_sub) = self.standing(u, category);
            if score > 0 {
                let last_id = last_sub.map_or(-1, |s| self.submissions[s as usize].id);
                entries.push((score, last_id, i as UserIdx));
            }
        }
        entries.sort_by_key(|&(score, last_id, _)| (-score, last_id));
        let rank_of = entries
            .iter()
            .enumerate()
            .map(|(r, &(_, _, u))| (u, r + 1))
            .collect();
        Ranking {
            entries: entries.into_iter().map(|(s, _, u)| (u, s)).collect(),
            rank_of,
        }
    }

    /// Rank of a user on a score board, if listed.
    pub fn rank_on(&self, board_key: &str, user: UserIdx) -> Option<usize> {
        let board = self.board(board_key)?;
        self.ranking(board).rank_of.get(&user).copied()
    }

    /// Whether the user must submit a writeup (ranked high enough on their group's board).
    pub fn writeup_required(&self, user: UserIdx) -> bool {
        let u = &self.users[user as usize];
        match rules::writeup_required_rank(&u.row.group) {
            Some((board, rank)) => self.rank_on(board, user).is_some_and(|r| r <= rank),
            None => false,
        }
    }

    /// The score history of a user: `(ts_delta, score_delta)` pairs from `(0, 0)`.
    pub fn score_history(&self, user: UserIdx) -> Vec<(i64, i64)> {
        let u = &self.users[user as usize];
        let mut events: Vec<(i64, i64)> = Vec::new();
        for &(f, s) in &u.passed_flags {
            let sub = &self.submissions[s as usize];
            let pass_id = sub.id;
            let mut prev = 0;
            let mut passed = false;
            for &(since_id, score) in &self.flag(f).history {
                if pass_id <= since_id {
                    if !passed {
                        passed = true;
                        events.push((pass_id, prev));
                    }
                    events.push((since_id, sub.tweak(score) - prev));
                }
                prev = sub.tweak(score);
            }
            if !passed {
                events.push((pass_id, prev));
            }
        }
        events.sort_by_key(|e| e.0);
        let mut diff: Vec<(i64, i64)> = Vec::new();
        let (mut last_ts, mut last_score, mut total) = (0i64, 0i64, 0i64);
        for (sid, delta) in events {
            total += delta;
            let ts = self
                .submission_by_id(sid)
                .map_or(0, |s| s.timestamp_ms.div_euclid(1000));
            let score_diff = total - last_score;
            if score_diff == 0 {
                continue;
            }
            let ts_diff = ts - last_ts;
            match diff.last_mut() {
                Some(last) if ts_diff == 0 => last.1 += score_diff,
                _ => diff.push((ts_diff, score_diff)),
            }
            last_ts = ts;
            last_score = total;
        }
        diff
    }
}
