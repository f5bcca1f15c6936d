//! Submissions: the stored row in a compact form plus what the game made of it (user,
//! challenge, matched flag) and the score it gains, which changes as the flag decays.

use super::challenge::UserIdx;
use super::user::FlagRef;
use crate::rows::SubmissionRow;

/// Index of an interned challenge key (submissions keep keys of deleted challenges too).
pub type KeyIdx = u32;

/// A submission applied to the game, kept compact: a contest may hold millions.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Row id.
    pub id: i64,
    /// Time of submission.
    pub timestamp_ms: i64,
    /// The submitted flag.
    pub flag: Box<str>,
    /// Admin-set gained score, winning over everything else.
    pub score_override: Option<i64>,
    /// Percentage of the flag's score gained (the deduction, or an admin's choice).
    pub percentage_override: Option<i64>,
    /// The submitting user.
    pub user: UserIdx,
    /// The submitted challenge key (interned).
    pub key: KeyIdx,
    /// The challenge, when its key still exists.
    pub challenge: Option<u32>,
    /// The flag it passed; `None` for wrong or duplicate submissions.
    pub matched: Option<FlagRef>,
    /// Whether it was a correct flag submitted again (shown as 重复提交).
    pub duplicate: bool,
    /// The same user's previous submission (`SubIdx::MAX` for the first): a chain that
    /// lists a user's submissions newest first without a list per user.
    pub prev_of_user: u32,
}

impl Submission {
    /// What a flag score of `score` is worth to this submission after its overrides.
    pub fn tweak(&self, score: i64) -> i64 {
        tweak_score(self.score_override, self.percentage_override, score)
    }

    /// The score gained when the flag is worth `flag_score` now (0 when nothing matched).
    pub fn gained(&self, flag_score: i64) -> i64 {
        if self.matched.is_some() {
            self.tweak(flag_score)
        } else {
            0
        }
    }

    /// Timestamp in whole seconds, truncating as the reference does.
    pub fn timestamp_s(&self) -> i64 {
        self.timestamp_ms / 1000
    }

    /// Whether an admin or the deduction changed its score.
    pub fn has_override(&self) -> bool {
        self.score_override.is_some() || self.percentage_override.is_some()
    }

    /// The stored row again (`user_id` and `challenge_key` resolved by the caller).
    pub fn to_row(&self, user_id: i64, challenge_key: &str) -> SubmissionRow {
        SubmissionRow {
            id: self.id,
            user_id,
            challenge_key: challenge_key.to_owned(),
            flag: self.flag.to_string(),
            timestamp_ms: self.timestamp_ms,
            score_override_or_null: self.score_override,
            percentage_override_or_null: self.percentage_override,
        }
    }
}

/// The score override wins; else the percentage (truncated); else the flag's score.
pub fn tweak_score(score_override: Option<i64>, percentage: Option<i64>, score: i64) -> i64 {
    if let Some(s) = score_override {
        s
    } else if let Some(p) = percentage {
        // Python: int(score * p / 100), a float division truncated toward zero.
        ((score * p) as f64 / 100.0) as i64
    } else {
        score
    }
}
