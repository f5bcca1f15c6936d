//! The metrics of one worker: HTTP, WebSocket, event following (state counter, event
//! lag, resynchronizations), glitter errors and the size of its game.

use super::histogram::{AtomicHistogram, GLITTER_BUCKETS};
use super::http::HttpMetrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Figures of the game and the follower, copied into gauges at each scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSnapshot {
    /// Whether a game is loaded.
    pub game_loaded: bool,
    /// State counter of the applied events.
    pub applied_counter: u64,
    /// Latest state counter the reducer announced.
    pub reducer_counter: u64,
    /// Milliseconds since the reducer was last heard from (`None`: never).
    pub reducer_silent_ms: Option<u64>,
    /// Users in the game.
    pub users: u64,
    /// Submissions in the game.
    pub submissions: u64,
    /// Challenges in the game.
    pub challenges: u64,
    /// Current tick.
    pub tick: i64,
    /// Open WebSocket connections.
    pub ws_connections: u64,
    /// Users with an open WebSocket.
    pub ws_users: u64,
}

/// The metrics of one worker (or the admin panel's replica).
#[derive(Debug)]
pub struct WorkerMetrics {
    /// Everything below, for the `/metrics` answer.
    pub registry: Registry,
    /// HTTP requests and latencies.
    pub http: HttpMetrics,
    /// Push messages sent over WebSockets.
    pub ws_messages: Counter,
    /// WebSocket connections accepted.
    pub ws_opened: Counter,
    /// Reducer events applied.
    pub events_applied: Counter,
    /// Publish → applied here, seconds.
    pub event_lag: AtomicHistogram,
    /// Times the worker dropped its game to reload it.
    pub resyncs: Counter,
    /// Game loads and how long they took, seconds.
    pub load_seconds: AtomicHistogram,
    /// Actions the reducer could not be asked or did not answer in time.
    pub glitter_errors: Counter,
    /// Actions forwarded to the reducer.
    pub actions_sent: Counter,
    /// The latest state counter the reducer announced (any event, SYNC included).
    pub reducer_counter: AtomicU64,
    /// When the reducer was last heard from (an event), ms since the epoch; 0: never.
    pub reducer_heard_ms: std::sync::atomic::AtomicI64,
    game_loaded: Gauge,
    applied_counter: Gauge,
    reducer_counter_gauge: Gauge,
    users: Gauge,
    submissions: Gauge,
    challenges: Gauge,
    tick: Gauge,
    ws_connections: Gauge,
    ws_users: Gauge,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics::new()
    }
}

impl WorkerMetrics {
    /// A fresh registry with every worker family registered.
    pub fn new() -> WorkerMetrics {
        let mut root = super::new_registry();
        let r = super::prefixed(&mut root);
        let http = HttpMetrics::register(r);
        fn counter(r: &mut Registry, name: &str, help: &str) -> Counter {
            super::register(r, name, help, Counter::default())
        }
        fn gauge(r: &mut Registry, name: &str, help: &str) -> Gauge {
            super::register(r, name, help, Gauge::default())
        }
        fn histogram(r: &mut Registry, name: &str, help: &str) -> AtomicHistogram {
            super::register(r, name, help, AtomicHistogram::new(GLITTER_BUCKETS))
        }
        let ws_messages = counter(
            r,
            "ws_messages_sent",
            "Push messages sent to players over WebSockets",
        );
        let ws_opened = counter(r, "ws_connections_opened", "WebSocket connections accepted");
        let events_applied = counter(r, "worker_events_applied", "Reducer events applied");
        let event_lag = histogram(
            r,
            "worker_event_lag_seconds",
            "Time from the reducer publishing an event to this worker applying it",
        );
        let resyncs = counter(
            r,
            "worker_resyncs",
            "Times this worker dropped its game to reload it (gap, reducer restart, silence)",
        );
        let load_seconds = histogram(
            r,
            "worker_game_load_seconds",
            "Game loads from the database and how long they took",
        );
        let glitter_errors = counter(
            r,
            "worker_glitter_errors",
            "Actions the reducer could not be asked, or whose change did not arrive in time",
        );
        let actions_sent = counter(r, "worker_actions_sent", "Actions forwarded to the reducer");
        WorkerMetrics {
            http,
            ws_messages,
            ws_opened,
            events_applied,
            event_lag,
            resyncs,
            load_seconds,
            glitter_errors,
            actions_sent,
            reducer_counter: AtomicU64::new(0),
            reducer_heard_ms: std::sync::atomic::AtomicI64::new(0),
            game_loaded: gauge(r, "worker_game_loaded", "1 while a game is loaded, else 0"),
            applied_counter: gauge(
                r,
                "worker_state_counter",
                "State counter of the last event applied",
            ),
            reducer_counter_gauge: gauge(
                r,
                "worker_reducer_state_counter",
                "Latest state counter the reducer announced",
            ),
            users: gauge(r, "game_users", "Users in the game"),
            submissions: gauge(r, "game_submissions", "Submissions in the game"),
            challenges: gauge(r, "game_challenges", "Challenges in the game"),
            tick: gauge(r, "game_tick", "Current tick"),
            ws_connections: gauge(r, "ws_connections", "Open WebSocket connections"),
            ws_users: gauge(r, "ws_users", "Users with at least one open WebSocket"),
            registry: root,
        }
    }

    /// Copies the scrape-time figures into their gauges.
    pub fn set_snapshot(&self, s: &WorkerSnapshot) {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.game_loaded.set(i64::from(s.game_loaded));
        self.applied_counter.set(i(s.applied_counter));
        self.reducer_counter_gauge.set(i(s.reducer_counter));
        self.users.set(i(s.users));
        self.submissions.set(i(s.submissions));
        self.challenges.set(i(s.challenges));
        self.tick.set(s.tick);
        self.ws_connections.set(i(s.ws_connections));
        self.ws_users.set(i(s.ws_users));
    }
}
