//! The reducer: the single writer. It validates actions against its own game, writes the
//! raw rows (one transaction per burst of actions, committed before any reply), applies
//! each change to its game, publishes it, and owns the tick clock and the health check.

pub mod actions;
pub mod health;
pub mod requests;

use crate::config::Config;
use crate::glitter::{Action, ActionReply};
use crate::glitter::{ActionServer, Event, EventKind, EventPublisher, Responder, SYNC_INTERVAL};
use crate::state::{Change, Game, GameOptions};
use crate::store::Store;
use crate::token::TokenSigner;
use health::Health;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most actions committed in one transaction.
pub const MAX_BATCH: usize = 256;

/// Seconds since the epoch.
pub fn now_s() -> i64 {
    now_ms() / 1000
}

/// Microseconds since the epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub use requests::{AdminWrite, ReducerRequest};

/// The reducer's state: owned by its one task.
pub struct Reducer {
    /// The configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// The game as the reducer sees it (identical to every synchronized worker's).
    pub game: Game,
    /// State counter: +1 per change.
    pub counter: u64,
    epoch: u64,
    publisher: EventPublisher,
    /// Signs the player tokens of new users.
    pub signer: TokenSigner,
    /// Worker telemetry and liveness.
    pub health: Health,
    /// Prometheus metrics, also read by the admin listener's `/metrics`.
    pub metrics: Arc<crate::metrics::reducer::ReducerMetrics>,
}

impl std::fmt::Debug for Reducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reducer")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// Game settings from the configuration.
pub fn game_options(config: &Config) -> GameOptions {
    GameOptions {
        admins: config.admin.uids.iter().copied().collect(),
        ..GameOptions::default()
    }
}

impl Reducer {
    /// Connects to the database, migrates, loads the game and binds the glitter sockets.
    pub async fn start(config: Arc<Config>) -> anyhow::Result<(Reducer, ActionServer)> {
        let store = Store::connect(&config.database.url).await?;
        store.migrate().await?;
        crate::logging::write_to_database(store.clone(), "reducer");
        let game = crate::serve::load_game(&store, None, game_options(&config)).await?;
        let server =
            ActionServer::bind(&config.glitter.action_addr, config.glitter.token.expose()).await?;
        let publisher = EventPublisher::bind(&config.glitter.event_addr).await?;
        let signer = TokenSigner::from_seed(config.token_signing_seed());
        let reducer = Reducer {
            config,
            store,
            game,
            counter: 0,
            epoch: rand::random::<u64>() | 1,
            publisher,
            signer,
            health: Health::default(),
            metrics: Arc::default(),
        };
        Ok((reducer, server))
    }

    /// Publishes an event stamped with this reducer's epoch; a failure is logged.
    async fn publish(&self, event: Event) {
        let (kind, counter) = (event.kind, event.state_counter);
        let mut event = event.with_epoch(self.epoch);
        event.sent_us = now_us();
        match self.publisher.publish(&event).await {
            Ok(()) => {
                self.metrics.events_published.inc();
            }
            Err(e) => {
                self.metrics.glitter_errors.inc();
                tracing::error!("reducer: cannot publish {kind:?} #{counter}: {e}");
            }
        }
    }

    /// Publishes the current counter and tick (workers resynchronize from it).
    pub async fn publish_sync(&self) {
        self.publish(Event::sync(self.counter, self.game.cur_tick))
            .await;
        self.update_gauges();
    }

    /// Copies the state's figures into the metrics (after every batch, edit and SYNC).
    fn update_gauges(&self) {
        let m = &self.metrics;
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        m.state_counter
            .set(i64::try_from(self.counter).unwrap_or(i64::MAX));
        m.users.set(n(self.game.users.len()));
        m.game_submissions.set(n(self.game.submissions.len()));
        m.challenges.set(n(self.game.challenges.len()));
        m.tick.set(self.game.cur_tick);
        m.workers_alive.set(n(self.health.alive(Instant::now())));
    }

    /// Applies a committed change to the reducer's game and publishes it.
    pub async fn commit_change(&mut self, change: Change) -> u64 {
        let kind = event_kind(&change);
        let id = change.id();
        let data = serde_json::to_value(&change).ok();
        if let Err(e) = change.apply(&mut self.game) {
            tracing::error!(
                "reducer: change {kind:?} #{id} did not apply to the reducer's game: {e}"
            );
        }
        self.counter += 1;
        let mut event = Event::new(kind, self.counter, id);
        if kind == EventKind::TickUpdate {
            event.tick = id;
        }
        event.data = data;
        self.publish(event).await;
        self.counter
    }

    /// Moves the game to the tick of the clock, if it changed.
    async fn update_tick(&mut self) {
        let tick = self.game.timeline.tick_at(now_s());
        if tick != self.game.cur_tick {
            tracing::info!("reducer: tick {} -> {tick}", self.game.cur_tick);
            self.commit_change(Change::TickUpdate { tick }).await;
            self.publish_sync().await;
        }
    }

    /// When the clock must look again: just after the next trigger, at most 10 s away.
    fn next_tick_check(&self) -> tokio::time::Instant {
        let now = now_s();
        let wait = match self.game.timeline.next_after(now) {
            Some(t) => {
                Duration::from_millis(((t.timestamp_s - now) * 1000 + 200).clamp(200, 10_000) as u64)
            }
            None => Duration::from_secs(10),
        };
        tokio::time::Instant::now() + wait
    }

    /// Handles a burst of actions: one transaction, then replies and events.
    async fn handle_batch(&mut self, batch: Vec<(Action, Responder)>) {
        let m = self.metrics.clone();
        m.batch_size.observe(batch.len() as f64);
        let failed_before = m.batches_failed.get();
        let started = Instant::now();
        let outcomes = actions::run_batch(self, batch.iter().map(|(a, _)| a)).await;
        m.commit_seconds.observe_duration(started.elapsed());
        let failed = m.batches_failed.get() > failed_before;
        let published_up_to = self.counter;
        for ((action, responder), outcome) in batch.into_iter().zip(outcomes) {
            use crate::metrics::reducer::ActionOutcome;
            let counted = match (&outcome, failed) {
                (_, true) => ActionOutcome::Failed,
                (Ok(_), false) => ActionOutcome::Ok,
                (Err(_), false) => ActionOutcome::Refused,
            };
            m.action(action_kind(&action), counted);
            let reply = match outcome {
                Ok(reply) => reply,
                Err(msg) => ActionReply::error(msg, published_up_to),
            };
            if let Err(e) = responder.reply(reply).await {
                m.glitter_errors.inc();
                tracing::warn!("reducer: cannot answer an action: {e}");
            }
        }
        self.publish_sync().await;
    }

    /// Serves until `shutdown` resolves; fails when every worker is dead (health check).
    pub async fn run(
        mut self,
        mut server: ActionServer,
        mut requests: tokio::sync::mpsc::Receiver<ReducerRequest>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        let mut sync_timer = tokio::time::interval(SYNC_INTERVAL);
        let mut health_timer = tokio::time::interval(health::CHECK_INTERVAL);
        let mut next_tick = self.next_tick_check();
        self.publish_sync().await;
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    tracing::info!("reducer: shutting down");
                    self.store.close().await;
                    return Ok(());
                }
                action = server.recv() => {
                    let Some(first) = action else {
                        anyhow::bail!("the glitter action server stopped");
                    };
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match server.try_recv() {
                            Some(more) => batch.push(more),
                            None => break,
                        }
                    }
                    self.metrics.queue_depth.set(i64::try_from(server.queued()).unwrap_or(i64::MAX));
                    self.handle_batch(batch).await;
                }
                Some(request) = requests.recv() => match request {
                    ReducerRequest::Read(look) => look(&self),
                    ReducerRequest::Write(write, reply) => {
                        let outcome = self.admin_write(*write).await;
                        if let Err(e) = &outcome {
                            tracing::warn!("reducer: admin edit refused: {e}");
                        }
                        let _ = reply.send(outcome);
                        self.publish_sync().await;
                    }
                },
                _ = tokio::time::sleep_until(next_tick) => {
                    self.update_tick().await;
                    next_tick = self.next_tick_check();
                }
                _ = sync_timer.tick() => self.publish_sync().await,
                _ = health_timer.tick() => self.health.check(Instant::now())?,
            }
        }
    }
}

/// The label of an action in the metrics (one of `metrics::reducer::ACTION_KINDS`).
pub fn action_kind(action: &Action) -> &'static str {
    match action {
        Action::SubmitFlag { .. } => "submit_flag",
        Action::SubmitFeedback { .. } => "submit_feedback",
        Action::UpdateProfile { .. } => "update_profile",
        Action::AgreeTerm { .. } => "agree_term",
        Action::RegisterUser { .. } => "register_user",
        Action::WorkerHello { .. } => "worker_hello",
        Action::WorkerHeartbeat { .. } => "worker_heartbeat",
    }
}

/// The event kind that announces a change.
pub fn event_kind(change: &Change) -> EventKind {
    match change {
        Change::NewSubmission { .. } => EventKind::NewSubmission,
        Change::UpdateSubmission { .. } => EventKind::UpdateSubmission,
        Change::UpdateUser { .. } => EventKind::UpdateUser,
        Change::UpdateChallenge { .. } => EventKind::UpdateChallenge,
        Change::ReloadTrigger { .. } => EventKind::ReloadTrigger,
        Change::ReloadGamePolicy { .. } => EventKind::ReloadGamePolicy,
        Change::UpdateAnnouncement { .. } => EventKind::UpdateAnnouncement,
        Change::TickUpdate { .. } => EventKind::TickUpdate,
    }
}
