//! Boards: score boards (ranked users) and first-blood boards, each with its ranking and
//! its JSON renders cached until something they show changes.

use super::challenge::UserIdx;
use super::user::{FlagRef, SubIdx};
use crate::rules::{BoardKind, BoardSpec};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// A ranked score board: users with a positive score, best first.
#[derive(Debug, Default)]
pub struct Ranking {
    /// `(user, score)` ordered by (−score, last successful submission id).
    pub entries: Vec<(UserIdx, i64)>,
    /// 1-based rank of each listed user.
    pub rank_of: HashMap<UserIdx, usize>,
}

/// First passing submissions per flag and per challenge.
#[derive(Debug, Default, Clone)]
pub struct FirstBloods {
    /// First passing submission of each flag.
    pub flags: HashMap<FlagRef, SubIdx>,
    /// First submission completing each challenge.
    pub challenges: HashMap<u32, SubIdx>,
}

/// One board: its rules, its state and its caches.
#[derive(Debug)]
pub struct Board {
    /// The board's definition in `rules`.
    pub spec: &'static BoardSpec,
    /// First bloods (first-blood boards only).
    pub first_bloods: FirstBloods,
    ranking: OnceLock<Arc<Ranking>>,
    rendered: [OnceLock<Arc<Value>>; 2],
}

impl Clone for Board {
    fn clone(&self) -> Self {
        Board {
            spec: self.spec,
            first_bloods: self.first_bloods.clone(),
            ranking: OnceLock::new(),
            rendered: Default::default(),
        }
    }
}

impl Board {
    /// An empty board.
    pub fn new(spec: &'static BoardSpec) -> Board {
        Board {
            spec,
            first_bloods: FirstBloods::default(),
            ranking: OnceLock::new(),
            rendered: Default::default(),
        }
    }

    /// Whether users of `group` appear on this board.
    pub fn has_group(&self, group: &str) -> bool {
        self.spec.groups.contains(&group)
    }

    /// `score` or `firstblood`, as the answer's `type`.
    pub fn type_name(&self) -> &'static str {
        match self.spec.kind {
            BoardKind::Score { .. } => "score",
            BoardKind::FirstBlood => "firstblood",
        }
    }

    /// Back to the state before any submission.
    pub fn reset(&mut self) {
        self.first_bloods = FirstBloods::default();
        self.invalidate_ranking();
    }

    /// Scores changed: the ranking and the renders must be rebuilt on next use.
    pub fn invalidate_ranking(&mut self) {
        self.ranking = OnceLock::new();
        self.invalidate_render();
    }

    /// Something shown changed (names, challenges, tick): renders must be rebuilt.
    pub fn invalidate_render(&mut self) {
        self.rendered = Default::default();
    }

    /// The ranking, computed by `compute` on first use after a change.
    pub fn ranking(&self, compute: impl FnOnce() -> Ranking) -> Arc<Ranking> {
        self.ranking.get_or_init(|| Arc::new(compute())).clone()
    }

    /// The render for admins or others, computed by `render` on first use after a change.
    pub fn rendered(&self, admin: bool, render: impl FnOnce() -> Value) -> Arc<Value> {
        self.rendered[usize::from(admin)]
            .get_or_init(|| Arc::new(render()))
            .clone()
    }
}
