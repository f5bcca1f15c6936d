//! The checks of the player actions (submit flag, feedback, profile, terms), in two halves:
//! the worker's pre-checks that answer most refusals without a round trip, and the
//! reducer's authoritative checks that decide what row is written.

use super::answers::error_answer;
use super::challenge::UserIdx;
use super::flag::check_submitted_flag;
use super::game::Game;
use super::profile;
use crate::rows::SubmissionRow;
use crate::rules;
use crate::rules::ProfileField;
use serde_json::Value;
use std::collections::BTreeMap;

/// The verdict of a wrong flag when a dynamic flag of the challenge has no value for the
/// player (its generator failed): the submission is kept, and the player learns why.
pub const DYNAMIC_FLAG_UNAVAILABLE: &str = "Flag错误（本题的动态Flag暂时无法生成，请稍后再试）";

/// A refusal answered by the worker: the JSON error answer.
pub type Refusal = Value;

/// What the reducer stores for a new submission (the id comes from the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubmission {
    /// The submitting user.
    pub user_id: i64,
    /// The challenge key as submitted.
    pub challenge_key: String,
    /// The submitted flag.
    pub flag: String,
    /// Time of submission.
    pub timestamp_ms: i64,
    /// Deduction percentage, when the policy deducts and the challenge is eligible.
    pub percentage_override_or_null: Option<i64>,
}

impl NewSubmission {
    /// The row once the database has assigned `id`.
    pub fn into_row(self, id: i64) -> SubmissionRow {
        SubmissionRow {
            id,
            user_id: self.user_id,
            challenge_key: self.challenge_key,
            flag: self.flag,
            timestamp_ms: self.timestamp_ms,
            score_override_or_null: None,
            percentage_override_or_null: self.percentage_override_or_null,
        }
    }
}

fn rate_limit(remaining_s: f64, decimals: usize) -> Refusal {
    error_answer(
        "RATE_LIMIT",
        &format!("提交太频繁，请等待 {remaining_s:.decimals$} 秒"),
    )
}

impl Game {
    fn playing_user(&self, viewer: Option<UserIdx>) -> Result<UserIdx, Refusal> {
        let ui = viewer.ok_or_else(|| error_answer("NO_USER", "未登录"))?;
        self.users[ui as usize]
            .check_play_game()
            .map_err(|(code, msg)| error_answer(code, msg))?;
        Ok(ui)
    }

    /// Seconds the user must still wait after a wrong flag, if any.
    pub fn flag_cooldown_remaining(&self, user: UserIdx, now_ms: i64) -> Option<f64> {
        let last = self.users[user as usize].last_submission?;
        let sub = &self.submissions[last as usize];
        if sub.matched.is_some() {
            return None;
        }
        let elapsed = (now_ms - sub.timestamp_ms) as f64 / 1000.0;
        (elapsed < rules::FLAG_COOLDOWN_S).then_some(rules::FLAG_COOLDOWN_S - elapsed)
    }

    /// The worker's checks before forwarding `submit_flag` to the reducer.
    pub fn precheck_submit_flag(
        &self,
        viewer: Option<UserIdx>,
        key: &str,
        flag: &str,
        now_ms: i64,
    ) -> Result<UserIdx, Refusal> {
        let ui = self.playing_user(viewer)?;
        if !self.policy().can_submit_flag {
            return Err(error_answer("POLICY_ERROR", "现在不允许提交Flag"));
        }
        if let Some(remaining) = self.flag_cooldown_remaining(ui, now_ms) {
            return Err(rate_limit(remaining, 1));
        }
        if !self
            .challenge(key)
            .is_some_and(|c| c.effective_at(self.cur_tick))
        {
            return Err(error_answer("NOT_FOUND", "题目不存在"));
        }
        if let Some((code, msg)) = check_submitted_flag(flag) {
            return Err(error_answer(code, msg));
        }
        Ok(ui)
    }

    /// The reducer's checks of a flag submission; the error is the reducer's message.
    pub fn reduce_submit_flag(
        &self,
        uid: i64,
        key: &str,
        flag: &str,
        now_ms: i64,
    ) -> Result<NewSubmission, &'static str> {
        let ui = self.user_idx(uid).ok_or("user not found")?;
        let ch = self
            .challenge(key)
            .filter(|c| c.effective_at(self.cur_tick))
            .ok_or("challenge not found")?;
        if self.flag_cooldown_remaining(ui, now_ms).is_some() {
            return Err("请求太频繁");
        }
        let deducted = self.policy().is_submission_deducted && ch.score_deduction_eligible();
        Ok(NewSubmission {
            user_id: uid,
            challenge_key: key.to_owned(),
            flag: flag.to_owned(),
            timestamp_ms: now_ms,
            percentage_override_or_null: deducted.then_some(rules::DEDUCTION_PERCENTAGE),
        })
    }

    /// The reducer's message for an applied submission: `None` when it passed a flag.
    pub fn submission_verdict(&self, submission_id: i64) -> Option<&'static str> {
        match self.submission_by_id(submission_id) {
            Some(s) if s.matched.is_some() => None,
            Some(s) if s.duplicate => Some("已经提交过此Flag"),
            Some(s) => {
                let uid = self.users[s.user as usize].row.id;
                let key = self.submission_key(s);
                if self.missing_dynamic_flags(uid, key).is_empty() {
                    Some("Flag错误")
                } else {
                    Some(DYNAMIC_FLAG_UNAVAILABLE)
                }
            }
            None => Some("Flag错误"),
        }
    }

    /// The reducer's checks of a generated dynamic flag value. `Ok(Err(value))`: a value
    /// of this generator is stored already (the first one wins); `Ok(Ok(id))`: store it,
    /// replacing row `id` (made by an earlier generator) if any.
    pub fn reduce_set_dynamic_flag(
        &self,
        uid: i64,
        key: &str,
        flag_idx: usize,
        generator: &str,
        value: &str,
    ) -> Result<Result<Option<i64>, String>, String> {
        self.user_by_id(uid).ok_or("用户不存在")?;
        let flag = self
            .challenge(key)
            .and_then(|c| c.flags.get(flag_idx))
            .ok_or_else(|| format!("challenge {key} has no flag #{}", flag_idx + 1))?;
        if flag.spec.generator() != Some(generator) {
            return Err(format!(
                "flag #{} of {key} is not generated by {generator:?} (the challenge changed)",
                flag_idx + 1
            ));
        }
        if let Some((_, msg)) = check_submitted_flag(value) {
            return Err(format!("the generated flag cannot be submitted: {msg}"));
        }
        Ok(match self.dynamic_flag_row(uid, key, flag_idx) {
            Some(row) if row.generator == generator => Err(row.value.clone()),
            Some(row) => Ok(Some(row.id)),
            None => Ok(None),
        })
    }

    /// The worker's checks before forwarding `submit_feedback`.
    pub fn precheck_feedback(
        &self,
        viewer: Option<UserIdx>,
        key: &str,
        content: &str,
        now_ms: i64,
    ) -> Result<UserIdx, Refusal> {
        let ui = self.playing_user(viewer)?;
        if !self.policy().can_submit_flag {
            return Err(error_answer("POLICY_ERROR", "现在不允许提交反馈"));
        }
        if let Some(last) = self.users[ui as usize].row.last_feedback_ms {
            let elapsed = (now_ms - last) as f64 / 1000.0;
            if elapsed < rules::FEEDBACK_COOLDOWN_S {
                return Err(rate_limit(rules::FEEDBACK_COOLDOWN_S - elapsed, 0));
            }
        }
        if !self
            .challenge(key)
            .is_some_and(|c| c.effective_at(self.cur_tick))
        {
            return Err(error_answer("NOT_FOUND", "题目不存在"));
        }
        if content.chars().count() > rules::FEEDBACK_MAX_CHARS {
            return Err(error_answer("CONTENT_LEN", "反馈长度超过限制"));
        }
        Ok(ui)
    }

    /// The worker's checks of `update_profile`; returns the values to store, in field order.
    pub fn precheck_update_profile(
        &self,
        viewer: Option<UserIdx>,
        submitted: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(UserIdx, Vec<(ProfileField, String)>), Refusal> {
        let ui = viewer.ok_or_else(|| error_answer("NO_USER", "未登录"))?;
        let u = &self.users[ui as usize];
        u.check_update_profile()
            .map_err(|(c, m)| error_answer(c, m))?;
        if let Some(p) = &u.profile {
            let elapsed = (now_ms - p.timestamp_ms) as f64 / 1000.0;
            if elapsed < rules::PROFILE_COOLDOWN_S {
                return Err(rate_limit(rules::PROFILE_COOLDOWN_S - elapsed, 1));
            }
        }
        let mut values = Vec::new();
        for &field in rules::profile_fields(&u.row.group) {
            let Some(v) = submitted.get(field.name()) else {
                return Err(error_answer(
                    "INVALID_PARAM",
                    &format!("缺少 {} 信息", field.name()),
                ));
            };
            values.push((field, v.clone()));
        }
        let lookup = |f: ProfileField| {
            values
                .iter()
                .find(|(g, _)| *g == f)
                .map(|(_, v)| v.as_str())
        };
        profile::check_profile(&u.row.group, &u.row.login_key, lookup)
            .map_err(|e| error_answer("INVALID_PARAM", &e))?;
        Ok((ui, values))
    }
}

impl Game {
    /// The reducer's checks of `update_profile`; returns the new profile row (id 0).
    pub fn reduce_update_profile(
        &self,
        uid: i64,
        submitted: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<crate::rows::UserProfileRow, String> {
        let ui = self.user_idx(uid).ok_or("user not found")?;
        let (_, values) = self
            .precheck_update_profile(Some(ui), submitted, now_ms)
            .map_err(|answer| {
                answer["error_msg"]
                    .as_str()
                    .unwrap_or("invalid profile")
                    .to_owned()
            })?;
        let mut row = crate::rows::UserProfileRow {
            user_id: uid,
            timestamp_ms: now_ms,
            ..Default::default()
        };
        for (field, value) in values {
            *row.field_mut(field) = Some(value);
        }
        Ok(row)
    }

    /// The reducer's checks of `agree_term`; returns the changed user row, or `None`
    /// when the terms were already agreed (nothing to write).
    pub fn reduce_agree_term(&self, uid: i64) -> Result<Option<crate::rows::UserRow>, String> {
        let u = self.user_by_id(uid).ok_or("user not found")?;
        if u.row.terms_agreed {
            return Ok(None);
        }
        let mut row = u.row.clone();
        row.terms_agreed = true;
        Ok(Some(row))
    }

    /// The reducer's checks of `submit_feedback`; returns the feedback row (id 0) and the
    /// user row with its new feedback time.
    pub fn reduce_feedback(
        &self,
        uid: i64,
        key: &str,
        content: &str,
        now_ms: i64,
    ) -> Result<(crate::rows::FeedbackRow, crate::rows::UserRow), String> {
        let ui = self.user_idx(uid).ok_or("user not found")?;
        self.precheck_feedback(Some(ui), key, content, now_ms)
            .map_err(|answer| {
                answer["error_msg"]
                    .as_str()
                    .unwrap_or("invalid feedback")
                    .to_owned()
            })?;
        let mut user = self.users[ui as usize].row.clone();
        user.last_feedback_ms = Some(now_ms);
        let feedback = crate::rows::FeedbackRow {
            id: 0,
            user_id: uid,
            timestamp_ms: now_ms,
            challenge_key: key.to_owned(),
            content: content.to_owned(),
            checked: false,
        };
        Ok((feedback, user))
    }

    /// The reducer's checks of a registration: the login key must be new.
    pub fn reduce_register(&self, login_key: &str) -> Result<(), String> {
        if self.users.iter().any(|u| u.row.login_key == login_key) {
            return Err(format!("user {login_key} already exists"));
        }
        Ok(())
    }
}
