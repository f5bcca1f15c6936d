//! The worker: a full copy of the game state that follows the reducer's events and serves
//! the player HTTP API and WebSocket push from RAM, forwarding actions to the reducer.

pub mod anticheat_log;
pub mod dynamic;
pub mod follow;
pub mod http;
pub mod pregenerate;

use crate::config::Config;
use crate::glitter::{Action, ActionClient, ActionReply, GlitterError};
use crate::state::{Game, PushMessage};
use axum::extract::ws::Utf8Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How long a request waits for its own action to come back as an event.
pub const READ_YOUR_WRITES_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an unanswered action is sent again (with the same action id, so that it is
/// executed at most once): a reducer restart or a database stall within this time is
/// invisible to players.
pub const ACTION_RETRY_BUDGET: Duration = Duration::from_secs(10);

/// What this worker has applied: the reducer instance, its counter, and whether a game
/// is served at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The reducer instance the game follows (0: unknown).
    pub epoch: u64,
    /// The state counter of the last applied change.
    pub counter: u64,
    /// Whether a game is served (false: NO_GAME).
    pub serving: bool,
}

impl Applied {
    /// Whether a reply at `counter` of reducer `epoch` is visible in this state.
    fn includes(&self, epoch: u64, counter: u64) -> bool {
        let same_instance = epoch == 0 || self.epoch == 0 || epoch == self.epoch;
        same_instance && self.counter >= counter
    }
}

/// Why an action could not be performed.
#[derive(Debug, thiserror::Error)]
pub enum PerformError {
    /// The reducer could not be reached or did not answer.
    #[error("{0}")]
    Glitter(#[from] GlitterError),
    /// The reducer answered but this worker did not see the change in time.
    #[error("the change was not received from the reducer within {0:?}")]
    NotApplied(Duration),
}

/// Live WebSocket figures for the heartbeat telemetry.
#[derive(Debug, Default)]
pub struct WsStats {
    /// Open WebSocket connections.
    pub clients: AtomicU64,
    /// Users with at least one open connection.
    pub users: AtomicU64,
}

/// A push message with its JSON text, serialized once for all the connections it reaches.
#[derive(Debug)]
pub struct OutgoingPush {
    /// The message and its audience.
    pub message: PushMessage,
    /// `message.payload` as sent on the WebSocket.
    pub text: Utf8Bytes,
}

/// What every HTTP handler of a worker shares.
#[derive(Debug)]
pub struct WorkerShared {
    /// The configuration.
    pub config: Arc<Config>,
    /// This worker's index (it listens on api port + index).
    pub index: u16,
    /// Its name in the reducer's telemetry (`worker-N`, or e.g. `admin` for a replica).
    pub name: String,
    /// The game; `None` while (re)synchronizing, when data endpoints answer NO_GAME.
    game: RwLock<Option<Game>>,
    applied: watch::Sender<Applied>,
    actions: ActionClient,
    /// Random per process start: the prefix of this worker's action ids.
    boot: u64,
    next_action: AtomicU64,
    /// How many times the game was loaded from the database.
    pub loads: AtomicU64,
    /// Push messages for the WebSocket connections (publish with [`Self::publish_push`]).
    pub pushes: broadcast::Sender<Arc<OutgoingPush>>,
    /// WebSocket figures.
    pub ws: WsStats,
    /// Event latencies (publish → applied here, µs) since the last heartbeat.
    latencies: std::sync::Mutex<Vec<u64>>,
    /// Staff notifications sent by this worker (writeups).
    pub notifier: Arc<crate::notify::Notifier>,
    /// Watches the followed game (the police), when set.
    observer: std::sync::OnceLock<Arc<dyn follow::FollowObserver>>,
    /// Runs the generators of dynamic flags and attachments (shared in the process).
    pub generators: Arc<crate::generator::Generators>,
    /// Prometheus metrics of this worker.
    pub metrics: crate::metrics::worker::WorkerMetrics,
    /// The writer of this worker's anti-cheat log lines.
    pub anticheat: anticheat_log::AnticheatLog,
}

/// Event latency figures over one heartbeat period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyReport {
    /// Events measured.
    pub n: usize,
    /// Median, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Worst, µs.
    pub max_us: u64,
}

impl WorkerShared {
    /// A worker with no game yet, forwarding actions through `actions`.
    pub fn new(config: Arc<Config>, index: u16, actions: ActionClient) -> WorkerShared {
        WorkerShared::named(config, index, format!("worker-{index}"), actions)
    }

    /// A game replica with its own telemetry name (the admin panel's follower).
    pub fn named(
        config: Arc<Config>,
        index: u16,
        name: String,
        actions: ActionClient,
    ) -> WorkerShared {
        WorkerShared {
            generators: crate::generator::Generators::shared(&config),
            index,
            name,
            game: RwLock::new(None),
            applied: watch::Sender::new(Applied::default()),
            actions,
            boot: rand::random(),
            next_action: AtomicU64::new(1),
            loads: AtomicU64::new(0),
            pushes: broadcast::channel(1024).0,
            ws: WsStats::default(),
            latencies: std::sync::Mutex::new(Vec::new()),
            notifier: crate::notify::Notifier::start(&config.notify),
            observer: std::sync::OnceLock::new(),
            metrics: crate::metrics::worker::WorkerMetrics::new(),
            anticheat: anticheat_log::AnticheatLog::new(config.paths.anticheat_log.clone()),
            config,
        }
    }

    /// Sets the observer told about every load and change (once, before following).
    pub fn set_observer(&self, observer: Arc<dyn follow::FollowObserver>) {
        let _ = self.observer.set(observer);
    }

    /// The observer, if any.
    pub fn observer(&self) -> Option<&Arc<dyn follow::FollowObserver>> {
        self.observer.get()
    }

    /// Reads the game: `None` while there is no synchronized state (answer NO_GAME).
    /// Never hold the result across an await; the closure keeps that honest.
    pub fn read<R>(&self, f: impl FnOnce(&Game) -> R) -> Option<R> {
        let guard = self.game.read().unwrap_or_else(|e| e.into_inner());
        let game = guard.as_ref()?;
        let answer = f(game);
        crate::logging::log_game_problems(game);
        Some(answer)
    }

    /// Changes the game (the follower task only).
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut Option<Game>) -> R) -> R {
        let mut guard = self.game.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Installs a freshly loaded game at `counter` (tests; reducer instance unknown).
    pub fn install(&self, game: Game, counter: u64) {
        self.install_at(game, 0, counter);
    }

    /// Installs a freshly loaded game at `counter` of reducer instance `epoch`.
    pub fn install_at(&self, game: Game, epoch: u64, counter: u64) {
        self.write(|g| *g = Some(game));
        self.applied.send_replace(Applied {
            epoch,
            counter,
            serving: true,
        });
    }

    /// Stops serving the game (NO_GAME until the next load).
    pub fn drop_game(&self) {
        self.write(|g| *g = None);
        self.applied.send_modify(|a| a.serving = false);
    }

    /// The state counter of the applied events.
    pub fn applied_counter(&self) -> u64 {
        self.applied.borrow().counter
    }

    /// What this worker has applied.
    pub fn applied(&self) -> Applied {
        *self.applied.borrow()
    }

    pub(crate) fn set_applied(&self, counter: u64) {
        self.applied.send_modify(|a| a.counter = counter);
    }

    /// A new action id: `<name>.<boot>.<n>`, unique across workers and restarts.
    fn new_action_id(&self) -> String {
        let n = self.next_action.fetch_add(1, Ordering::Relaxed);
        let name: String = self
            .name
            .chars()
            .filter(char::is_ascii_graphic)
            .take(24)
            .collect();
        format!("{name}.{:016x}.{n}", self.boot)
    }

    /// Waits (at most `timeout`) until what this worker has applied satisfies `done`, and
    /// returns it; `None` on timeout. Woken by each applied change, never polling.
    pub async fn wait_applied(
        &self,
        timeout: Duration,
        done: impl FnMut(&Applied) -> bool,
    ) -> Option<Applied> {
        let mut rx = self.applied.subscribe();
        let waited =
            tokio::time::timeout(
                timeout,
                async move { rx.wait_for(done).await.map(|a| *a).ok() },
            );
        waited.await.ok().flatten()
    }

    /// Forwards an action to the reducer under a new action id (resent with the same id
    /// while unanswered, so it runs at most once), then waits until this worker has
    /// applied the resulting change, so that the caller reads its own write.
    ///
    /// The reducer's verdict is final: an error reply is returned as it is, at once when
    /// this worker serves no game (it loads a state that holds the change anyway).
    pub async fn perform(&self, action: Action) -> Result<ActionReply, PerformError> {
        self.metrics.actions_sent.inc();
        let action_id = self.new_action_id();
        let reply = self
            .actions
            .call_once(&action, &action_id, ACTION_RETRY_BUDGET)
            .await
            .inspect_err(|_| {
                self.metrics.glitter_errors.inc();
            })?;
        let (epoch, target) = (reply.epoch, reply.state_counter);
        let applied = self
            .wait_applied(READ_YOUR_WRITES_TIMEOUT, |a| {
                !a.serving || a.includes(epoch, target)
            })
            .await;
        match applied {
            Some(a) if a.serving => Ok(reply),
            // Without a game nothing stale can be read; a refusal changed nothing.
            _ if reply.error_msg.is_some() || !self.applied().serving => Ok(reply),
            _ => Err({
                self.metrics.glitter_errors.inc();
                PerformError::NotApplied(READ_YOUR_WRITES_TIMEOUT)
            }),
        }
    }

    /// Records the latency of one applied event (bounded: old figures are dropped).
    pub(crate) fn record_latency(&self, us: u64) {
        self.metrics.event_lag.observe(us as f64 / 1e6);
        let mut l = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() < 100_000 {
            l.push(us);
        }
    }

    /// The event latencies since the last call, summarized.
    pub fn take_latency_report(&self) -> Option<LatencyReport> {
        let mut l = std::mem::take(&mut *self.latencies.lock().unwrap_or_else(|e| e.into_inner()));
        if l.is_empty() {
            return None;
        }
        l.sort_unstable();
        let at = |q: f64| l[((l.len() - 1) as f64 * q).round() as usize];
        Some(LatencyReport {
            n: l.len(),
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: at(1.0),
        })
    }

    /// Sends a push message to the WebSocket connections (none listening is fine).
    pub fn publish_push(&self, message: PushMessage) {
        let text = Utf8Bytes::from(message.payload.to_string());
        let _ = self.pushes.send(Arc::new(OutgoingPush { message, text }));
    }

    /// The action client (for heartbeats and hello).
    pub fn actions(&self) -> &ActionClient {
        &self.actions
    }

    /// Open WebSocket connections.
    pub fn ws_clients(&self) -> u64 {
        self.ws.clients.load(Ordering::Relaxed)
    }
}
