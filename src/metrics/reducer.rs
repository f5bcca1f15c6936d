//! The metrics of the reducer: actions by kind and outcome, submissions by result,
//! batch sizes, commit latency, queue depth, events, workers alive and the game's size.
//!
//! The staff notifier's queue and message counts are copied in at each scrape.

use super::histogram::{AtomicHistogram, BATCH_BUCKETS, GLITTER_BUCKETS};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// What became of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Performed (a wrong flag is performed too: it is stored).
    Ok,
    /// Refused by the reducer's checks; nothing written.
    Refused,
    /// Its batch failed and was rolled back.
    Failed,
}

/// The kinds of actions, as labels (order matters: see [`ReducerMetrics::action`]).
pub const ACTION_KINDS: &[&str] = &[
    "submit_flag",
    "submit_feedback",
    "update_profile",
    "agree_term",
    "register_user",
    "worker_hello",
    "worker_heartbeat",
    "set_dynamic_flag",
    "fetch_events",
];

const OUTCOMES: [(&str, ActionOutcome); 3] = [
    ("ok", ActionOutcome::Ok),
    ("refused", ActionOutcome::Refused),
    ("failed", ActionOutcome::Failed),
];

/// The verdicts of a stored submission.
pub const SUBMISSION_RESULTS: [&str; 3] = ["correct", "wrong", "duplicate"];

/// The reducer's metrics.
#[derive(Debug)]
pub struct ReducerMetrics {
    /// Everything below, for the `/metrics` answer.
    pub registry: Registry,
    /// `[kind][outcome]`.
    actions: Vec<[Counter; 3]>,
    /// By [`SUBMISSION_RESULTS`].
    submissions: [Counter; 3],
    /// Actions per transaction.
    pub batch_size: AtomicHistogram,
    /// Time to write and commit one batch, seconds.
    pub commit_seconds: AtomicHistogram,
    /// Batches rolled back.
    pub batches_failed: Counter,
    /// Actions waiting when a batch was taken.
    pub queue_depth: Gauge,
    /// Frames in the SQLite WAL at the last checkpoint (a WAL that keeps growing means
    /// checkpoints cannot finish).
    pub wal_frames: Gauge,
    /// Events published.
    pub events_published: Counter,
    /// Events or replies that could not be sent.
    pub glitter_errors: Counter,
    /// The reducer's state counter.
    pub state_counter: Gauge,
    /// Workers heard from within the liveness window.
    pub workers_alive: Gauge,
    /// Users in the reducer's game.
    pub users: Gauge,
    /// Submissions in the reducer's game.
    pub game_submissions: Gauge,
    /// Challenges in the reducer's game.
    pub challenges: Gauge,
    /// Current tick.
    pub tick: Gauge,
    /// Staff notifier: messages waiting.
    notifier_queue: Gauge,
    /// Staff notifier: messages by fate (sent, failed, throttled, dropped), since start.
    notifier_messages: [Gauge; 4],
}

impl Default for ReducerMetrics {
    fn default() -> Self {
        ReducerMetrics::new()
    }
}

impl ReducerMetrics {
    /// Copies the staff notifier's figures (at scrape time).
    pub fn set_notifier(&self, stats: &crate::notify::NotifyStats) {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.notifier_queue.set(n(stats.queued));
        for (gauge, v) in self.notifier_messages.iter().zip([
            stats.sent,
            stats.failed,
            stats.throttled,
            stats.dropped,
        ]) {
            gauge.set(n(v));
        }
    }

    /// A fresh registry with every reducer family registered.
    pub fn new() -> ReducerMetrics {
        let mut root = super::new_registry();
        let r = super::prefixed(&mut root);
        let actions_family: Family<[(&'static str, &'static str); 2], Counter> = Family::default();
        r.register(
            "reducer_actions",
            "Actions handled by the reducer, by kind and outcome",
            actions_family.clone(),
        );
        let actions = ACTION_KINDS
            .iter()
            .map(|kind| {
                OUTCOMES.map(|(outcome, _)| {
                    actions_family.get_or_create_owned(&[("kind", kind), ("outcome", outcome)])
                })
            })
            .collect();
        let submissions_family: Family<[(&'static str, &'static str); 1], Counter> =
            Family::default();
        r.register(
            "submissions",
            "Flag submissions stored, by result",
            submissions_family.clone(),
        );
        let submissions = SUBMISSION_RESULTS
            .map(|res| submissions_family.get_or_create_owned(&[("result", res)]));
        fn gauge(r: &mut Registry, name: &str, help: &str) -> Gauge {
            super::register(r, name, help, Gauge::default())
        }
        fn counter(r: &mut Registry, name: &str, help: &str) -> Counter {
            super::register(r, name, help, Counter::default())
        }
        let batch_size = AtomicHistogram::new(BATCH_BUCKETS);
        r.register(
            "reducer_batch_size",
            "Actions committed per transaction",
            batch_size.clone(),
        );
        let commit_seconds = AtomicHistogram::new(GLITTER_BUCKETS);
        r.register(
            "reducer_commit_seconds",
            "Time to write and commit one batch of actions",
            commit_seconds.clone(),
        );
        let notifier_family: Family<[(&'static str, &'static str); 1], Gauge> = Family::default();
        r.register(
            "notifier_messages",
            "Staff notifications since start, by fate (sent, failed, throttled, dropped)",
            notifier_family.clone(),
        );
        let notifier_messages = ["sent", "failed", "throttled", "dropped"]
            .map(|fate| notifier_family.get_or_create_owned(&[("fate", fate)]));
        ReducerMetrics {
            notifier_queue: gauge(
                r,
                "notifier_queue",
                "Staff notifications waiting to be sent",
            ),
            notifier_messages,
            actions,
            submissions,
            batch_size,
            commit_seconds,
            batches_failed: counter(r, "reducer_batches_failed", "Batches rolled back"),
            queue_depth: gauge(
                r,
                "reducer_queue_depth",
                "Actions waiting behind the batch being taken",
            ),
            wal_frames: gauge(
                r,
                "reducer_wal_frames",
                "Frames in the SQLite WAL at the last checkpoint (0 on other engines)",
            ),
            events_published: counter(r, "reducer_events_published", "Events published"),
            glitter_errors: counter(
                r,
                "reducer_glitter_errors",
                "Events or replies that could not be sent",
            ),
            state_counter: gauge(r, "reducer_state_counter", "The reducer's state counter"),
            workers_alive: gauge(
                r,
                "reducer_workers_alive",
                "Workers heard from within the liveness window",
            ),
            users: gauge(r, "game_users", "Users in the game"),
            game_submissions: gauge(r, "game_submissions", "Submissions in the game"),
            challenges: gauge(r, "game_challenges", "Challenges in the game"),
            tick: gauge(r, "game_tick", "Current tick"),
            registry: root,
        }
    }

    /// Counts an action of `kind` (one of [`ACTION_KINDS`]).
    pub fn action(&self, kind: &str, outcome: ActionOutcome) {
        let Some(k) = ACTION_KINDS.iter().position(|&x| x == kind) else {
            return;
        };
        let o = OUTCOMES
            .iter()
            .position(|(_, x)| *x == outcome)
            .unwrap_or(0);
        self.actions[k][o].inc();
    }

    /// Counts a stored submission by its verdict.
    pub fn submission(&self, correct: bool, duplicate: bool) {
        let i = match (correct, duplicate) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => 2,
        };
        self.submissions[i].inc();
    }
}
