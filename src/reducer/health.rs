//! Worker liveness: telemetry from heartbeats, an error log for a worker silent for 60 s,
//! and a failure when every worker is dead, so that the reducer's supervisor restarts it.

use crate::glitter::Telemetry;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A worker silent for this long is considered dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(60);
/// How often the reducer checks.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// What the reducer knows about one worker.
#[derive(Debug, Clone)]
pub struct WorkerStatus {
    /// When it was last heard from.
    pub last_seen: Instant,
    /// Its latest telemetry, if it sent any.
    pub telemetry: Option<Telemetry>,
    /// Whether its death was already logged.
    pub reported_dead: bool,
}

/// Every worker the reducer has heard from.
#[derive(Debug, Default)]
pub struct Health {
    /// By worker id.
    pub workers: BTreeMap<String, WorkerStatus>,
}

impl Health {
    /// A worker said hello or sent a heartbeat.
    pub fn seen(&mut self, worker_id: &str, telemetry: Option<Telemetry>, now: Instant) {
        let entry = self
            .workers
            .entry(worker_id.to_owned())
            .or_insert(WorkerStatus {
                last_seen: now,
                telemetry: None,
                reported_dead: false,
            });
        if entry.reported_dead {
            tracing::info!("worker {worker_id} is back");
        }
        entry.last_seen = now;
        entry.reported_dead = false;
        if telemetry.is_some() {
            entry.telemetry = telemetry;
        }
    }

    /// Workers heard from within [`DEAD_AFTER`].
    pub fn alive(&self, now: Instant) -> usize {
        self.workers
            .values()
            .filter(|w| now.saturating_duration_since(w.last_seen) < DEAD_AFTER)
            .count()
    }

    /// Forgets the telemetry (admin button).
    pub fn clear(&mut self) {
        self.workers.clear();
    }

    /// Logs newly dead workers; fails when there are workers and all are dead.
    pub fn check(&mut self, now: Instant) -> anyhow::Result<()> {
        let mut alive = 0;
        for (id, w) in &mut self.workers {
            let silent = now.saturating_duration_since(w.last_seen);
            if silent >= DEAD_AFTER {
                if !w.reported_dead {
                    tracing::error!("worker {id} has been silent for {}s", silent.as_secs());
                    w.reported_dead = true;
                }
            } else {
                alive += 1;
            }
        }
        if !self.workers.is_empty() && alive == 0 {
            anyhow::bail!("every worker has been silent for {}s: exiting so that the supervisor restarts the reducer", DEAD_AFTER.as_secs());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_dead_fails_one_alive_passes() {
        let t0 = Instant::now();
        let mut h = Health::default();
        assert!(h.check(t0).is_ok());
        h.seen("a", None, t0);
        h.seen("b", None, t0 + Duration::from_secs(50));
        assert!(h.check(t0 + Duration::from_secs(70)).is_ok());
        assert!(h.workers["a"].reported_dead);
        assert!(h.check(t0 + Duration::from_secs(200)).is_err());
        h.seen("a", None, t0 + Duration::from_secs(201));
        assert!(h.check(t0 + Duration::from_secs(202)).is_ok());
    }
}
