//! Exactly-once actions: the outcomes of recent action ids, so that an action a worker
//! sends again (its reply was lost) gets its first outcome instead of running twice.
//!
//! Committed outcomes are also in the `gs_action` table (written in the same transaction
//! as the action's rows) and read back at start-up and after a failed commit; refusals,
//! which wrote nothing, are only kept here.

use crate::glitter::ActionReply;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// How long outcomes are kept in memory (workers retry for seconds).
pub const REMEMBERED_FOR: Duration = Duration::from_secs(600);

/// How long the `gs_action` records are kept (older ones are deleted at start-up).
pub const RECORDED_FOR_MS: i64 = 24 * 3600 * 1000;

/// The outcomes of recent action ids.
#[derive(Debug, Default)]
pub struct ActionLog {
    outcomes: HashMap<String, ActionReply>,
    order: VecDeque<(Instant, String)>,
    /// Ids whose commit failed without telling whether it happened: until the records
    /// are read back from the database, they are answered "retry", never run again.
    in_doubt: HashSet<String>,
}

impl ActionLog {
    /// The first outcome of `action_id`, if known.
    pub fn outcome(&self, action_id: &str) -> Option<&ActionReply> {
        self.outcomes.get(action_id)
    }

    /// Whether `action_id` may have been committed without a record here yet.
    pub fn is_in_doubt(&self, action_id: &str) -> bool {
        self.in_doubt.contains(action_id)
    }

    /// Remembers the outcome of `action_id` (forgetting those older than [`REMEMBERED_FOR`]).
    pub fn remember(&mut self, action_id: &str, reply: &ActionReply, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < REMEMBERED_FOR {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.outcomes.remove(&id);
            }
        }
        if self
            .outcomes
            .insert(action_id.to_owned(), reply.clone())
            .is_none()
        {
            self.order.push_back((now, action_id.to_owned()));
        }
    }

    /// The ids whose commit may or may not have happened.
    pub fn doubted(&self) -> Vec<String> {
        self.in_doubt.iter().cloned().collect()
    }

    /// Marks ids whose commit may or may not have happened.
    pub fn doubt(&mut self, ids: impl IntoIterator<Item = String>) {
        self.in_doubt.extend(ids);
    }

    /// Replaces the committed outcomes by the database's records `(id, reply JSON)`; the
    /// doubts are resolved by them.
    pub fn reload(&mut self, records: Vec<(String, String)>, now: Instant) {
        self.in_doubt.clear();
        for (id, reply) in records {
            match serde_json::from_str::<ActionReply>(&reply) {
                Ok(reply) => self.remember(&id, &reply, now),
                Err(e) => tracing::error!("gs_action {id}: unreadable reply: {e}"),
            }
        }
    }
}

/// The recorded outcome given again: at the current counter and epoch, since the counter
/// it had may belong to an earlier reducer instance (the worker then waits for its reload).
pub fn replayed(first: &ActionReply, counter: u64, epoch: u64) -> ActionReply {
    ActionReply {
        state_counter: counter,
        epoch,
        retry: false,
        ..first.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_remembered_then_forgotten() {
        let t0 = Instant::now();
        let mut log = ActionLog::default();
        log.remember("a", &ActionReply::ok(3), t0);
        log.remember("a", &ActionReply::ok(9), t0);
        assert_eq!(log.outcome("a").map(|r| r.state_counter), Some(9));
        log.remember("b", &ActionReply::ok(4), t0 + REMEMBERED_FOR);
        assert!(log.outcome("a").is_none(), "expired");
        assert!(log.outcome("b").is_some());
        log.doubt(["c".to_owned()]);
        assert!(log.is_in_doubt("c"));
        let reply = serde_json::to_string(&ActionReply::error("Flag错误", 7)).unwrap();
        log.reload(vec![("c".into(), reply)], t0 + REMEMBERED_FOR);
        assert!(!log.is_in_doubt("c"));
        assert_eq!(
            replayed(log.outcome("c").unwrap(), 20, 5),
            ActionReply {
                epoch: 5,
                ..ActionReply::error("Flag错误", 20)
            }
        );
    }
}
