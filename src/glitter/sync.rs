//! The worker's follow-the-reducer logic as a pure state machine: no IO, `now` passed in.
//! Decides, event by event, whether to load, apply, skip, or resynchronize from the database.
//!
//! Rules (architecture.md, "Handshake"): wait for a SYNC, load everything at its counter,
//! then accept a state change only at exactly counter + 1 and a SYNC or PUSH only at
//! exactly the counter. Anything else — a gap, a counter going backwards, another reducer
//! instance, or silence beyond the sync timeout — means the state can no longer be
//! trusted: throw it away and wait for the next SYNC.

use std::fmt;
use std::time::{Duration, Instant};

use super::message::{Event, EventKind};
use super::DEFAULT_SYNC_TIMEOUT;

/// What the worker should do with one event.
#[derive(Debug, Clone, PartialEq)]
// One decision per received event, moved straight into the caller: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum SyncDecision {
    /// Not synchronized yet and this is not a SYNC: drop it.
    Skip,
    /// First SYNC: load everything from the database, then serve at this counter and tick.
    Load {
        /// The counter the loaded state corresponds to.
        state_counter: u64,
        /// The current tick.
        tick: i64,
    },
    /// Apply the event to the state (for SYNC: check the tick; for PUSH: deliver it).
    Apply(Event),
    /// Stop serving data, say hello again, and wait for a SYNC to reload.
    Resync(ResyncReason),
}

/// Why the worker must resynchronize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResyncReason {
    /// One or more events were lost.
    Gap {
        /// The counter the next event should have had (or, for SYNC/PUSH, ours).
        expected: u64,
        /// The counter it had.
        got: u64,
    },
    /// The counter went backwards: the reducer restarted or its state was reset.
    Backwards {
        /// Our counter.
        ours: u64,
        /// The event's counter.
        got: u64,
    },
    /// Events came from another reducer instance (its epoch changed).
    ReducerRestarted,
    /// A state change repeated our current counter: two changes claim one counter.
    Duplicate {
        /// The counter claimed twice.
        counter: u64,
    },
    /// A state change of a kind this build cannot apply.
    UnknownKind {
        /// Its counter.
        counter: u64,
    },
    /// No event for longer than the sync timeout.
    Silence {
        /// How long it has been quiet.
        for_: Duration,
    },
}

impl fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResyncReason::Gap { expected, got } => {
                write!(f, "lost events: expected counter {expected}, got {got}")
            }
            ResyncReason::Backwards { ours, got } => {
                write!(
                    f,
                    "counter went backwards from {ours} to {got} (reducer restarted?)"
                )
            }
            ResyncReason::ReducerRestarted => f.write_str("the reducer restarted (new epoch)"),
            ResyncReason::Duplicate { counter } => {
                write!(f, "a second state change claims counter {counter}")
            }
            ResyncReason::UnknownKind { counter } => {
                write!(
                    f,
                    "state change {counter} is of a kind this build does not know"
                )
            }
            ResyncReason::Silence { for_ } => write!(f, "no event for {:.1} s", for_.as_secs_f64()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    WaitingForSync,
    Synced { counter: u64, epoch: u64 },
}

/// Follows the event stream for one worker.
#[derive(Debug, Clone)]
pub struct SyncTracker {
    phase: Phase,
    timeout: Duration,
    last_event: Option<Instant>,
}

impl Default for SyncTracker {
    fn default() -> Self {
        SyncTracker::new(DEFAULT_SYNC_TIMEOUT)
    }
}

impl SyncTracker {
    /// A tracker waiting for its first SYNC, resyncing after `timeout` of silence.
    pub fn new(timeout: Duration) -> Self {
        SyncTracker {
            phase: Phase::WaitingForSync,
            timeout,
            last_event: None,
        }
    }

    /// The counter the state is at, or `None` while waiting for a SYNC.
    pub fn state_counter(&self) -> Option<u64> {
        match self.phase {
            Phase::WaitingForSync => None,
            Phase::Synced { counter, .. } => Some(counter),
        }
    }

    /// Whether the state may be served (synced, not waiting for a SYNC).
    pub fn is_synced(&self) -> bool {
        self.state_counter().is_some()
    }

    /// Decides what to do with `event`, received at `now`.
    pub fn on_event(&mut self, event: Event, now: Instant) -> SyncDecision {
        self.last_event = Some(now);
        let Phase::Synced { counter, epoch } = self.phase else {
            if event.kind != EventKind::Sync {
                return SyncDecision::Skip;
            }
            self.phase = Phase::Synced {
                counter: event.state_counter,
                epoch: event.epoch,
            };
            return SyncDecision::Load {
                state_counter: event.state_counter,
                tick: event.tick,
            };
        };
        let got = event.state_counter;
        let same_instance = epoch != 0 && event.epoch == epoch;
        // Within one reducer instance counters only grow: an older event is one this
        // worker already has (it caught up past it from the replay buffer).
        if same_instance && (got < counter || (got == counter && event.kind.changes_state())) {
            return match event.kind {
                EventKind::Push => SyncDecision::Apply(event),
                _ => SyncDecision::Skip,
            };
        }
        let verdict = if epoch != 0 && event.epoch != 0 && epoch != event.epoch {
            Err(ResyncReason::ReducerRestarted)
        } else if got < counter {
            Err(ResyncReason::Backwards { ours: counter, got })
        } else if got == counter {
            if event.kind.changes_state() {
                Err(ResyncReason::Duplicate { counter })
            } else {
                Ok(())
            }
        } else if got == counter + 1 && event.kind.changes_state() {
            Ok(())
        } else if got == counter + 1 && event.kind == EventKind::Unknown {
            Err(ResyncReason::UnknownKind { counter: got })
        } else {
            // got > counter + 1, or a SYNC/PUSH ahead of us: a state change went missing.
            let expected = if event.kind.changes_state() {
                counter + 1
            } else {
                counter
            };
            Err(ResyncReason::Gap { expected, got })
        };
        match verdict {
            Ok(()) => {
                let epoch = if epoch == 0 { event.epoch } else { epoch };
                self.phase = Phase::Synced {
                    counter: got,
                    epoch,
                };
                SyncDecision::Apply(event)
            }
            Err(reason) => self.resync(reason),
        }
    }

    /// The reducer instance followed (0: unknown or not synced).
    pub fn epoch(&self) -> u64 {
        match self.phase {
            Phase::WaitingForSync => 0,
            Phase::Synced { epoch, .. } => epoch,
        }
    }

    /// Restarts the silence clock: time spent loading the game is not silence.
    pub fn touch(&mut self, now: Instant) {
        self.last_event = Some(now);
    }

    /// Continues at `counter` of reducer `epoch` (the worker caught up from the replay
    /// buffer); older events of that instance are then skipped.
    pub fn resume(&mut self, counter: u64, epoch: u64, now: Instant) {
        self.phase = Phase::Synced { counter, epoch };
        self.last_event = Some(now);
    }

    /// Checks for silence at `now`; `Some` means resync (and the tracker now waits for SYNC).
    pub fn check_timeout(&mut self, now: Instant) -> Option<SyncDecision> {
        let deadline = self.deadline()?;
        if now <= deadline {
            return None;
        }
        let for_ = self
            .last_event
            .map_or(self.timeout, |t| now.saturating_duration_since(t));
        Some(self.resync(ResyncReason::Silence { for_ }))
    }

    /// When [`SyncTracker::check_timeout`] will next fire, if synced.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::WaitingForSync => None,
            Phase::Synced { .. } => self.last_event.map(|t| t + self.timeout),
        }
    }

    /// Forgets the state (e.g. applying an event failed) and waits for the next SYNC.
    pub fn reset(&mut self) {
        self.phase = Phase::WaitingForSync;
    }

    fn resync(&mut self, reason: ResyncReason) -> SyncDecision {
        self.reset();
        SyncDecision::Resync(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glitter::message::PushMessage;

    fn ev(kind: EventKind, c: u64) -> Event {
        Event::new(kind, c, 1)
    }

    fn synced_at(c: u64, now: Instant) -> SyncTracker {
        let mut t = SyncTracker::default();
        assert_eq!(
            t.on_event(Event::sync(c, 3), now),
            SyncDecision::Load {
                state_counter: c,
                tick: 3
            }
        );
        t
    }

    #[test]
    fn glitter_sync_waits_for_sync_then_applies_in_order() {
        let now = Instant::now();
        let mut t = SyncTracker::default();
        assert_eq!(
            t.on_event(ev(EventKind::NewSubmission, 5), now),
            SyncDecision::Skip
        );
        assert!(!t.is_synced());
        assert!(matches!(
            t.on_event(Event::sync(10, 2), now),
            SyncDecision::Load { .. }
        ));
        assert_eq!(t.state_counter(), Some(10));
        let e = ev(EventKind::UpdateUser, 11);
        assert_eq!(t.on_event(e.clone(), now), SyncDecision::Apply(e));
        let s = Event::sync(11, 2);
        assert_eq!(t.on_event(s.clone(), now), SyncDecision::Apply(s));
        let p = Event::push(11, PushMessage::broadcast(serde_json::json!({})));
        assert_eq!(t.on_event(p.clone(), now), SyncDecision::Apply(p));
        assert!(matches!(
            t.on_event(Event::tick_update(12, 3), now),
            SyncDecision::Apply(_)
        ));
        assert_eq!(t.state_counter(), Some(12));
    }

    #[test]
    fn glitter_sync_gap() {
        let now = Instant::now();
        let mut t = synced_at(10, now);
        assert_eq!(
            t.on_event(ev(EventKind::NewSubmission, 12), now),
            SyncDecision::Resync(ResyncReason::Gap {
                expected: 11,
                got: 12
            })
        );
        assert!(!t.is_synced());
        // After a resync the next SYNC loads again.
        assert!(matches!(
            t.on_event(Event::sync(12, 0), now),
            SyncDecision::Load { .. }
        ));

        // A SYNC ahead of us also reveals a lost change.
        let mut t = synced_at(10, now);
        assert_eq!(
            t.on_event(Event::sync(11, 0), now),
            SyncDecision::Resync(ResyncReason::Gap {
                expected: 10,
                got: 11
            })
        );
    }

    #[test]
    fn glitter_sync_backwards_duplicate_unknown_epoch() {
        let now = Instant::now();
        let mut t = synced_at(10, now);
        assert_eq!(
            t.on_event(Event::sync(1, 0), now),
            SyncDecision::Resync(ResyncReason::Backwards { ours: 10, got: 1 })
        );
        let mut t = synced_at(10, now);
        assert_eq!(
            t.on_event(ev(EventKind::UpdateChallenge, 10), now),
            SyncDecision::Resync(ResyncReason::Duplicate { counter: 10 })
        );
        let mut t = synced_at(10, now);
        assert_eq!(
            t.on_event(ev(EventKind::Unknown, 10), now),
            SyncDecision::Apply(ev(EventKind::Unknown, 10))
        );
        assert_eq!(
            t.on_event(ev(EventKind::Unknown, 11), now),
            SyncDecision::Resync(ResyncReason::UnknownKind { counter: 11 })
        );

        let mut t = SyncTracker::default();
        t.on_event(Event::sync(10, 0).with_epoch(7), now);
        assert!(matches!(
            t.on_event(ev(EventKind::UpdateUser, 11).with_epoch(7), now),
            SyncDecision::Apply(_)
        ));
        assert_eq!(
            t.on_event(ev(EventKind::UpdateUser, 12).with_epoch(8), now),
            SyncDecision::Resync(ResyncReason::ReducerRestarted)
        );
    }

    #[test]
    fn glitter_sync_skips_old_events_of_the_same_reducer_after_catching_up() {
        let now = Instant::now();
        let mut t = SyncTracker::default();
        t.on_event(Event::sync(10, 0).with_epoch(7), now);
        // Caught up to 20 from the replay buffer; the socket still holds 11..=20.
        t.resume(20, 7, now);
        assert_eq!(
            t.on_event(ev(EventKind::NewSubmission, 15).with_epoch(7), now),
            SyncDecision::Skip
        );
        assert_eq!(
            t.on_event(ev(EventKind::NewSubmission, 20).with_epoch(7), now),
            SyncDecision::Skip
        );
        assert_eq!(
            t.on_event(Event::sync(19, 0).with_epoch(7), now),
            SyncDecision::Skip
        );
        assert!(matches!(
            t.on_event(ev(EventKind::NewSubmission, 21).with_epoch(7), now),
            SyncDecision::Apply(_)
        ));
        assert_eq!(t.state_counter(), Some(21));
        // Another instance is still a restart.
        assert_eq!(
            t.on_event(ev(EventKind::NewSubmission, 3).with_epoch(8), now),
            SyncDecision::Resync(ResyncReason::ReducerRestarted)
        );
    }

    #[test]
    fn glitter_sync_loading_is_not_silence() {
        let t0 = Instant::now();
        let mut t = SyncTracker::default();
        t.on_event(Event::sync(1, 0), t0);
        // The load took 3 s; the clock restarts when it is done.
        t.touch(t0 + Duration::from_secs(3));
        assert_eq!(t.check_timeout(t0 + Duration::from_secs(4)), None);
    }

    #[test]
    fn glitter_sync_timeout() {
        let t0 = Instant::now();
        let mut t = SyncTracker::new(Duration::from_secs(7));
        assert_eq!(
            t.check_timeout(t0 + Duration::from_secs(100)),
            None,
            "not synced: no timer"
        );
        t.on_event(Event::sync(1, 0), t0);
        assert_eq!(t.deadline(), Some(t0 + Duration::from_secs(7)));
        assert_eq!(t.check_timeout(t0 + Duration::from_secs(7)), None);
        // Each event pushes the deadline.
        t.on_event(Event::sync(1, 0), t0 + Duration::from_secs(5));
        assert_eq!(t.check_timeout(t0 + Duration::from_secs(11)), None);
        assert_eq!(
            t.check_timeout(t0 + Duration::from_secs(13)),
            Some(SyncDecision::Resync(ResyncReason::Silence {
                for_: Duration::from_secs(8)
            }))
        );
        assert!(!t.is_synced());
        assert_eq!(t.check_timeout(t0 + Duration::from_secs(30)), None);
    }
}
