//! The reducer: the single writer. It validates actions against its own game, writes the
//! raw rows (one transaction per burst of actions, committed before any reply), applies
//! each change to its game, publishes it, and owns the tick clock and the health check.

pub mod action_log;
pub mod actions;
pub mod batch;
pub mod broadcast;
pub mod health;
pub mod requests;
pub mod staff;

use crate::config::Config;
use crate::glitter::Action;
use crate::glitter::{ActionServer, Event, EventKind, EventPublisher, Responder};
use crate::state::{Change, Game};
use crate::store::Store;
use crate::token::TokenSigner;
use action_log::ActionLog;
use broadcast::Broadcaster;
use health::Health;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most actions committed in one transaction.
pub const MAX_BATCH: usize = 256;

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
    /// The event stream (and the epoch of this reducer instance).
    pub broadcaster: Arc<Broadcaster>,
    /// Outcomes of recent action ids (exactly-once).
    pub log: ActionLog,
    /// A batch failed and the game may hold changes that are not stored: reload first.
    pub needs_reload: bool,
    /// A commit of unknown fate may have stored changes that were never published: the
    /// next reload moves the counter so that workers reload too.
    pub may_hold_unpublished: bool,
    /// Signs the player tokens of new users.
    pub signer: TokenSigner,
    /// Worker telemetry and liveness.
    pub health: Health,
    /// Staff notifications of what the reducer sees once (feedback, log rows, tests).
    pub notifier: Arc<crate::notify::Notifier>,
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

impl Reducer {
    /// Connects to the database, migrates, loads the game and binds the glitter sockets.
    pub async fn start(config: Arc<Config>) -> anyhow::Result<(Reducer, ActionServer)> {
        let store = Store::connect_writer(
            &config.database.url,
            &config.database.tls,
            config.database.sqlite_synchronous,
        )
        .await?;
        store.migrate().await?;
        let notifier = crate::notify::Notifier::start(&config.notify);
        crate::logging::write_to_database(store.clone(), "reducer", notifier.clone());
        let game = crate::store::load_game(&store, None, config.game_options()).await?;
        let server =
            ActionServer::bind(&config.glitter.action_addr, config.glitter.token.expose()).await?;
        let publisher = EventPublisher::bind(&config.glitter.event_addr).await?;
        let signer = TokenSigner::from_seed(config.token_signing_seed());
        let mut log = ActionLog::default();
        let now = crate::clock::now_ms();
        let forgotten = store
            .forget_actions_before(now - action_log::RECORDED_FOR_MS)
            .await?;
        if forgotten > 0 {
            tracing::info!("reducer: forgot {forgotten} action ids older than a day");
        }
        let since = now - action_log::REMEMBERED_FOR.as_millis() as i64;
        log.reload(store.committed_actions(since).await?, Instant::now());
        let broadcaster = Arc::new(Broadcaster::new(publisher, 0, game.cur_tick));
        let reducer = Reducer {
            config,
            store,
            game,
            counter: 0,
            broadcaster,
            log,
            needs_reload: false,
            may_hold_unpublished: false,
            signer,
            health: Health::default(),
            notifier,
            metrics: Arc::default(),
        };
        Ok((reducer, server))
    }

    /// Publishes an event stamped with this reducer's epoch; a failure is logged.
    async fn publish(&self, event: Event) {
        self.broadcaster.publish(event).await;
        self.metrics.events_published.inc();
    }

    /// Publishes the published counter and tick (workers resynchronize from it).
    pub async fn publish_sync(&self) {
        self.broadcaster.sync().await;
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

    /// Applies a change (already written, or needing no row) to the reducer's game and
    /// returns its event with the next state counter: the one way a change reaches the game.
    pub(crate) fn apply_change(&mut self, change: Change) -> Event {
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
        event
    }

    /// Applies a committed change to the reducer's game and publishes it at once.
    pub async fn commit_change(&mut self, change: Change) -> u64 {
        let event = self.apply_change(change);
        self.publish(event).await;
        self.counter
    }

    /// Moves the game to the tick of the clock, if it changed.
    async fn update_tick(&mut self) {
        let tick = self.game.timeline.tick_at(crate::clock::now_s());
        if tick != self.game.cur_tick {
            tracing::info!("reducer: tick {} -> {tick}", self.game.cur_tick);
            self.commit_change(Change::TickUpdate { tick }).await;
            self.publish_sync().await;
        }
    }

    /// When the clock must look again: just after the next trigger, at most 10 s away.
    fn next_tick_check(&self) -> tokio::time::Instant {
        let now = crate::clock::now_s();
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
        let started = Instant::now();
        let items: Vec<batch::Item<'_>> = batch.iter().map(|(a, r)| (a, r.action_id())).collect();
        let replies = batch::run_batch(self, &items).await;
        drop(items);
        m.commit_seconds.observe_duration(started.elapsed());
        crate::logging::log_game_problems(&self.game);
        for ((_, responder), reply) in batch.into_iter().zip(replies) {
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
        // SYNC comes from a task of its own: a database stall does not silence the reducer.
        let _sync_task = self.broadcaster.spawn_sync_task();
        // Only SQLite keeps a WAL for the reducer to checkpoint.
        let checkpoints = (self.store.engine() == crate::store::Engine::Sqlite)
            .then(|| spawn_checkpoints(self.store.clone(), self.metrics.clone()));
        let mut health_timer = tokio::time::interval(health::CHECK_INTERVAL);
        let mut next_tick = self.next_tick_check();
        self.publish_sync().await;
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    tracing::info!("reducer: shutting down");
                    drop(checkpoints);
                    crate::logging::flush_to_database(Duration::from_secs(2)).await;
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
                _ = health_timer.tick() => self.health.check(Instant::now())?,
            }
        }
    }
}

/// How often the WAL is checkpointed (SQLite): often enough that each copies little.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Checkpoints the SQLite WAL every [`CHECKPOINT_INTERVAL`] beside the commits, which
/// then only append to the WAL: a commit that checkpointed waited for two more fsyncs,
/// and the players whose actions were in it or queued behind it with it (the tail of the
/// `submit_flag` latency). A failure is logged once, and again when it is over.
fn spawn_checkpoints(
    store: Store,
    metrics: Arc<crate::metrics::reducer::ReducerMetrics>,
) -> crate::glitter::AbortOnDrop {
    crate::glitter::AbortOnDrop(tokio::spawn(async move {
        let mut failing = false;
        loop {
            tokio::time::sleep(CHECKPOINT_INTERVAL).await;
            match store.checkpoint().await {
                Err(e) if !failing => {
                    tracing::warn!("reducer: cannot checkpoint the WAL, retrying: {e}");
                    failing = true;
                }
                Ok(frames) => {
                    metrics.wal_frames.set(frames.in_wal);
                    if failing {
                        tracing::info!("reducer: WAL checkpoints work again");
                        failing = false;
                    }
                }
                Err(_) => {}
            }
        }
    }))
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
        Action::SetDynamicFlag { .. } => "set_dynamic_flag",
        Action::FetchEvents { .. } => "fetch_events",
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
        Change::SetDynamicFlag { .. } => EventKind::SetDynamicFlag,
    }
}
