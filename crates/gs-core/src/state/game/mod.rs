//! The game: every state object together, built from rows by a full rebuild (`load`) or
//! changed one row at a time (`changes`), with identical results. Submissions are scored in
//! `scoring`, where the order in which a pass reaches the parts (challenges and flags →
//! users → boards) is fixed, and nowhere else; boards are ranked in `ranking`. This file
//! holds the game's fields and the lookups every part uses.

mod changes;
mod load;
mod ranking;
mod scoring;

use super::announcement::Announcement;
use super::board::Board;
use super::challenge::{Challenge, UserIdx};
use super::dynamic::DynamicValues;
use super::flag::{FlagKind, IMPOSSIBLE_FLAG};
use super::policy::Policies;
use super::problem_log::ProblemLog;
use super::submission::{FlagTexts, KeyIdx, Submission};
use super::trigger::Timeline;
use super::uid_index::UidIndex;
use super::user::{FlagRef, SubIdx, User};
pub use crate::rows::RowProblem;
use crate::rows::{DynamicFlagRow, GamePolicyRow, SubmissionRow, UserProfileRow};
use std::collections::{HashMap, HashSet};

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
    /// The submitted flags' texts (`submitted_flag`).
    flag_texts: FlagTexts,
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
    /// Records a row that could not be used.
    fn problem(&mut self, table: &'static str, id: i64, message: impl Into<String>) {
        let p = RowProblem {
            table,
            id: Some(id),
            message: message.into(),
        };
        self.problems.push(p);
    }

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
        // A static flag is the same for everyone: not copied into each user's cache
        // (20,000 users × a dozen flags, in the reducer and in every worker).
        if !self.flag(f).spec.is_per_user() {
            return match &self.flag(f).spec.kind {
                FlagKind::Static(value) => value.as_str(),
                _ => IMPOSSIBLE_FLAG,
            };
        }
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

    /// The challenge key a submission was made to.
    pub fn submission_key(&self, sub: &Submission) -> &str {
        &self.keys[sub.key as usize]
    }

    /// The flag a submission sent.
    pub fn submitted_flag(&self, sub: &Submission) -> &str {
        self.flag_texts.get(sub.flag)
    }

    /// The challenge a submission was made to, while its key exists.
    pub fn submission_challenge(&self, sub: &Submission) -> Option<u32> {
        self.key_chall[sub.key as usize]
    }

    /// The stored row of a submission again.
    pub fn submission_row(&self, sub: &Submission) -> SubmissionRow {
        SubmissionRow {
            id: sub.id,
            user_id: self.users[sub.user as usize].row.id,
            challenge_key: self.submission_key(sub).to_owned(),
            flag: self.submitted_flag(sub).to_owned(),
            timestamp_ms: sub.timestamp_ms,
            score_override_or_null: sub.score_override(),
            percentage_override_or_null: sub.percentage_override(),
        }
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
}
