//! Game policies: what players may do (view, submit flags, submit writeups) from a tick on,
//! and whether submissions are deducted.

use crate::rows::GamePolicyRow;

/// Why policy `row` cannot join `others` (another is effective after the same tick), if it
/// cannot: the one check for loading, live changes and the admin panel.
pub fn clash(others: &[GamePolicyRow], row: &GamePolicyRow) -> Option<String> {
    let p = others
        .iter()
        .filter(|p| p.id != row.id || row.id == 0)
        .find(|p| p.effective_after == row.effective_after)?;
    Some(format!(
        "policy #{} is already effective after tick {}",
        p.id, row.effective_after
    ))
}

/// The policies of the contest, ordered by `effective_after`.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    rows: Vec<GamePolicyRow>,
}

/// The fallback when no policy is effective yet: nothing is allowed.
const NOTHING_ALLOWED: GamePolicyRow = GamePolicyRow {
    id: 0,
    effective_after: 0,
    can_view_problem: false,
    can_submit_flag: false,
    can_submit_writeup: false,
    is_submission_deducted: false,
};

impl Policies {
    /// Builds the policy table from rows (any order).
    pub fn new(mut rows: Vec<GamePolicyRow>) -> Policies {
        rows.sort_by_key(|p| (p.effective_after, p.id));
        Policies { rows }
    }

    /// Policy rows ordered by `effective_after`.
    pub fn rows(&self) -> &[GamePolicyRow] {
        &self.rows
    }

    /// The policy in force at `tick`: the greatest `effective_after <= tick`.
    pub fn at(&self, tick: i64) -> &GamePolicyRow {
        self.rows
            .iter()
            .rev()
            .find(|p| p.effective_after <= tick)
            .unwrap_or(&NOTHING_ALLOWED)
    }
}

/// Guests see the problem list only while problems are visible and flags can be submitted.
pub fn show_problems_to_guest(p: &GamePolicyRow) -> bool {
    p.can_view_problem && p.can_submit_flag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greatest_effective_policy_wins() {
        let p = |id, ea, view| GamePolicyRow {
            id,
            effective_after: ea,
            can_view_problem: view,
            can_submit_flag: view,
            can_submit_writeup: false,
            is_submission_deducted: false,
        };
        let ps = Policies::new(vec![p(2, 1000, true), p(1, 10, false)]);
        assert_eq!(ps.at(5).id, 0);
        assert_eq!(ps.at(10).id, 1);
        assert_eq!(ps.at(5000).id, 2);
        assert!(show_problems_to_guest(ps.at(5000)));
    }
}
