//! Rankings of the score boards (computed lazily, cached in the board until a change),
//! ranks, the writeup requirement and each user's score history.

use super::Game;
use crate::rules::{self, BoardKind};
use crate::state::board::{Board, Ranking};
use crate::state::challenge::UserIdx;
use crate::state::user::{SubIdx, User};
use std::sync::Arc;

impl Game {
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
