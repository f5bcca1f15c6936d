//! Submissions: a stored row plus what the game made of it (user, challenge, matched flag)
//! and the score it gains, which changes as the flag's score decays.

use super::challenge::UserIdx;
use super::user::FlagRef;
use crate::rows::SubmissionRow;

/// A submission applied to the game.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The stored row.
    pub row: SubmissionRow,
    /// The submitting user.
    pub user: UserIdx,
    /// The challenge, when its key still exists.
    pub challenge: Option<u32>,
    /// The flag it passed; `None` for wrong or duplicate submissions.
    pub matched: Option<FlagRef>,
    /// Whether it was a correct flag submitted again (shown as 重复提交).
    pub duplicate: bool,
}

impl Submission {
    /// What a flag score of `score` is worth to this submission after its overrides.
    pub fn tweak(&self, score: i64) -> i64 {
        tweak_score(&self.row, score)
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
        self.row.timestamp_ms / 1000
    }

    /// Whether an admin or the deduction changed its score.
    pub fn has_override(&self) -> bool {
        self.row.score_override_or_null.is_some() || self.row.percentage_override_or_null.is_some()
    }
}

/// The score override wins; else the percentage (truncated); else the flag's score.
pub fn tweak_score(row: &SubmissionRow, score: i64) -> i64 {
    if let Some(s) = row.score_override_or_null {
        s
    } else if let Some(p) = row.percentage_override_or_null {
        // Python: int(score * p / 100), a float division truncated toward zero.
        ((score * p) as f64 / 100.0) as i64
    } else {
        score
    }
}
