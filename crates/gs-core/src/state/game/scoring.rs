//! Scoring: a submission is matched against the flags, then reaches the challenges and
//! flags, the users and the boards, in that order, whether it comes live or in a rebuild;
//! flag scores decay with the solvers and every solver's total follows exactly.

use super::{Game, NOT_PASSED};
use crate::rows::{RowProblem, SubmissionRow};
use crate::rules::{self, BoardKind};
use crate::state::board::Board;
use crate::state::challenge::{Challenge, UserIdx};
use crate::state::push::PushMessage;
use crate::state::submission::{KeyIdx, Submission};
use crate::state::user::{FlagRef, SubIdx, User};
use serde_json::json;
use std::collections::hash_map::Entry;

impl Game {
    /// Resets the scoreboard and applies every submission as one batch.
    pub(super) fn replay_submissions(
        &mut self,
        chunks: impl IntoIterator<Item = Vec<SubmissionRow>>,
    ) {
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

    fn reset_scoreboard(&mut self) {
        self.submissions.clear();
        self.flag_texts.clear();
        self.challenges.iter_mut().for_each(Challenge::reset_scores);
        self.users.iter_mut().for_each(User::reset_scores);
        self.boards.iter_mut().for_each(Board::reset);
    }

    /// Replays every submission after a change that affects scoring (rules, flags,
    /// groups, overrides): the same code path as the start-up rebuild.
    pub fn rebuild_scoreboard(&mut self) {
        let rows: Vec<SubmissionRow> = self
            .submissions
            .iter()
            .map(|s| self.submission_row(s))
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

    pub(super) fn intern_key(&mut self, key: String) -> KeyIdx {
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
        let mut sub = Submission::new(
            row.id,
            row.timestamp_ms,
            self.flag_texts.push(&row.flag),
            user,
            key,
        );
        sub.set_overrides(row.score_override_or_null, row.percentage_override_or_null);
        sub.matched = matched;
        sub.duplicate = duplicate;
        sub.prev_of_user = self.users[user as usize]
            .last_submission
            .unwrap_or(SubIdx::MAX);
        self.submissions.push(sub);
        self.users[user as usize].last_submission = Some(sub_idx);
        let Some(f) = matched else {
            return Ok(Vec::new());
        };

        // 1. Challenges and flags.
        let sub = &self.submissions[sub_idx as usize];
        let counts_for_decay = rules::SCORE_DECAY_GROUPS
            .contains(&self.users[user as usize].row.group.as_str())
            && sub.percentage_override().is_none();
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
}
