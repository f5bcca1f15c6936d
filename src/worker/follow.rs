//! The worker's follower task: says hello, waits for a SYNC, loads the game from the
//! database, then applies the reducer's events in order. A gap is filled from the
//! reducer's replay buffer; a restart means a reload, during which the old game is still
//! served; silence keeps the (stale) game for a while. Heartbeats run in their own task.

use super::WorkerShared;
use crate::glitter::{
    Action, Event, EventKind, EventSubscriber, ResyncReason, SyncDecision, SyncTracker, Telemetry,
    PROTOCOL_VERSION,
};
use crate::state::Change;
use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a change that was just applied touched, for a [`FollowObserver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A new submission (its id).
    NewSubmission(i64),
    /// A user was created or changed; `users_before` users existed before.
    User {
        /// The uid.
        uid: i64,
        /// `game.users.len()` before the change.
        users_before: usize,
    },
    /// A challenge row was created, changed or deleted.
    Challenge(i64),
    /// A user's dynamic flag got its generated value.
    DynamicFlag {
        /// The uid.
        uid: i64,
        /// The challenge key.
        key: String,
        /// The flag's index in its challenge.
        flag_idx: usize,
    },
    /// Anything else.
    Other,
}

impl Applied {
    fn of(change: &Change, game: &crate::state::Game) -> Applied {
        match change {
            Change::NewSubmission { row } => Applied::NewSubmission(row.id),
            Change::UpdateUser { user, .. } => Applied::User {
                uid: user.id,
                users_before: game.users.len(),
            },
            Change::UpdateChallenge { id, .. } => Applied::Challenge(*id),
            Change::SetDynamicFlag { row } => Applied::DynamicFlag {
                uid: row.user_id,
                key: row.challenge_key.clone(),
                flag_idx: usize::try_from(row.flag_idx).unwrap_or(usize::MAX),
            },
            _ => Applied::Other,
        }
    }
}

/// Watches a followed game (the police): told after every load and applied change,
/// under the game's lock, so it must be quick and must not block.
pub trait FollowObserver: Send + Sync + std::fmt::Debug {
    /// The game was loaded (first time or after a resynchronization).
    fn loaded(&self, game: &crate::state::Game);
    /// A change was applied to the game.
    fn applied(&self, game: &crate::state::Game, what: Applied);
    /// Extra telemetry for the heartbeat.
    fn telemetry(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
}

/// How often a worker reports its telemetry to the reducer.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

/// How long a worker that lost the reducer keeps serving its last game (stale reads)
/// before it answers NO_GAME.
pub const STALE_READS_LIMIT: Duration = Duration::from_secs(60);

/// This worker's id in the reducer's telemetry.
pub fn worker_id(shared: &WorkerShared) -> String {
    shared.name.clone()
}

async fn hello(shared: &WorkerShared) -> anyhow::Result<()> {
    let reply = shared
        .actions()
        .call(Action::WorkerHello {
            worker_id: worker_id(shared),
            protocol_version: PROTOCOL_VERSION.to_owned(),
        })
        .await?;
    match reply.error_msg {
        None => Ok(()),
        Some(e) => anyhow::bail!("the reducer refused this worker: {e}"),
    }
}

/// Sends one heartbeat with the current telemetry.
pub async fn heartbeat(shared: &WorkerShared) {
    let telemetry = shared.read(|g| (g.cur_tick, g.users.len() as u64, g.submissions.len() as u64));
    let (tick, n_users, n_submissions) = telemetry.unwrap_or((0, 0, 0));
    let mut extra = serde_json::Map::new();
    extra.insert(
        "loads".into(),
        shared
            .loads
            .load(std::sync::atomic::Ordering::Relaxed)
            .into(),
    );
    if let Some(r) = shared.take_latency_report() {
        tracing::info!(
            "{}: event latency over {} events: p50 {} µs, p99 {} µs, max {} µs",
            shared.name,
            r.n,
            r.p50_us,
            r.p99_us,
            r.max_us
        );
        extra.insert("event_latency_p50_us".into(), r.p50_us.into());
        extra.insert("event_latency_p99_us".into(), r.p99_us.into());
        extra.insert("event_latency_n".into(), r.n.into());
    }
    if let Some(observer) = shared.observer() {
        extra.extend(observer.telemetry());
    }
    let t = Telemetry {
        state_counter: shared.applied_counter(),
        tick,
        game_available: telemetry.is_some(),
        n_users,
        n_submissions,
        ws_online_uids: shared.ws.users.load(std::sync::atomic::Ordering::Relaxed),
        ws_online_clients: shared.ws_clients(),
        extra,
    };
    let action = Action::WorkerHeartbeat {
        worker_id: worker_id(shared),
        telemetry: t,
    };
    if let Err(e) = shared.actions().call(action).await {
        tracing::warn!("heartbeat to the reducer failed: {e}");
    }
}

/// Loads the game from the database at the SYNC's counter; the old game (if any) is
/// served until the new one is installed.
async fn load(
    shared: &WorkerShared,
    store: &Store,
    epoch: u64,
    state_counter: u64,
    tick: i64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let game = crate::store::load_game(store, Some(tick), shared.config.game_options()).await?;
    shared
        .metrics
        .load_seconds
        .observe_duration(started.elapsed());
    shared.install_at(game, epoch, state_counter);
    shared
        .loads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(observer) = shared.observer() {
        shared.read(|g| observer.loaded(g));
    }
    tracing::info!("{}: serving at state counter {state_counter}", shared.name);
    Ok(())
}

/// Fetches and applies the changes after this worker's counter from the reducer's
/// replay buffer, up to at least `target`; returns the counter reached, or why not.
async fn catch_up(shared: &WorkerShared, epoch: u64, target: u64) -> Result<u64, String> {
    loop {
        let after = shared.applied_counter();
        if after >= target {
            return Ok(after);
        }
        let reply = shared
            .actions()
            .call(Action::FetchEvents { after, epoch })
            .await
            .map_err(|e| e.to_string())?;
        if let Some(e) = reply.error_msg {
            return Err(e);
        }
        let events: Vec<Event> = reply
            .data
            .as_ref()
            .and_then(|d| d.get("events"))
            .and_then(|e| serde_json::from_value(e.clone()).ok())
            .ok_or("the reducer sent no events")?;
        if events.is_empty() {
            return Err(format!("the reducer has no events after {after}"));
        }
        for event in events {
            if event.state_counter != shared.applied_counter() + 1 || !apply(shared, event) {
                return Err("the fetched events do not follow on".to_owned());
            }
        }
    }
}

/// Applies one event to the game; returns false when the worker must resynchronize.
fn apply(shared: &WorkerShared, event: Event) -> bool {
    let counter = event.state_counter;
    match event.kind {
        EventKind::Sync => {
            let stale = shared.read(|g| g.cur_tick != event.tick).unwrap_or(true);
            if stale {
                tracing::warn!(
                    "{}: SYNC says tick {}, resynchronizing",
                    shared.name,
                    event.tick
                );
                return false;
            }
            true
        }
        EventKind::Push => {
            if let Some(p) = event.push {
                shared.publish_push(p);
            }
            true
        }
        _ => {
            let change: Option<Change> = match (&event.kind, event.data) {
                (EventKind::TickUpdate, None) => Some(Change::TickUpdate { tick: event.tick }),
                (_, Some(data)) => serde_json::from_value(data).ok(),
                (_, None) => None,
            };
            let Some(change) = change else {
                tracing::warn!(
                    "{}: event {:?} #{counter} without usable data, resynchronizing",
                    shared.name,
                    event.kind
                );
                return false;
            };
            let observer = shared.observer();
            let result = shared.write(|g| {
                g.as_mut().map(|game| {
                    let what = Applied::of(&change, game);
                    let result = change.apply(game);
                    if let (Some(o), Ok(_)) = (observer, &result) {
                        o.applied(game, what);
                    }
                    result
                })
            });
            match result {
                Some(Ok(pushes)) => {
                    for p in pushes {
                        shared.publish_push(p);
                    }
                }
                // Already in the loaded snapshot (the load raced the event): nothing to do.
                Some(Err(e)) => {
                    tracing::debug!("{}: event #{counter} not applied: {e}", shared.name)
                }
                None => return false,
            }
            shared.set_applied(counter);
            shared.metrics.events_applied.inc();
            if event.sent_us > 0 {
                shared.record_latency(crate::clock::now_us().saturating_sub(event.sent_us));
            }
            true
        }
    }
}

/// Sends the heartbeats from a task of its own (a slow or absent reducer must not hold
/// up the event loop); stops when dropped.
struct HeartbeatTask(tokio::task::JoinHandle<()>);

impl Drop for HeartbeatTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn spawn_heartbeats(shared: Arc<WorkerShared>) -> HeartbeatTask {
    HeartbeatTask(tokio::spawn(async move {
        let mut timer = tokio::time::interval(HEARTBEAT_INTERVAL);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            heartbeat(&shared).await;
        }
    }))
}

/// Follows the reducer until `shutdown` resolves. Errors are logged and retried.
pub async fn run(
    shared: Arc<WorkerShared>,
    store: Store,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let event_addr = shared.config.glitter.event_addr.clone();
    let _heartbeats = spawn_heartbeats(shared.clone());
    // Since when the served game may be stale (the reducer was lost).
    let mut stale_since: Option<Instant> = None;
    'connect: loop {
        if *shutdown.borrow() {
            return;
        }
        if stale_since.is_some_and(|t| t.elapsed() > STALE_READS_LIMIT) && shared.applied().serving
        {
            tracing::error!(
                "{}: no reducer for {}s: no longer serving the stale game",
                shared.name,
                STALE_READS_LIMIT.as_secs()
            );
            shared.drop_game();
            shared.metrics.resyncs.inc();
        }
        let mut subscriber = match EventSubscriber::connect(&event_addr).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(
                    "{}: cannot subscribe to {event_addr}: {e}; retrying",
                    shared.name
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = hello(&shared).await {
            tracing::warn!("{}: {e}; retrying", shared.name);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let mut tracker = SyncTracker::default();
        loop {
            let deadline = tracker
                .deadline()
                .unwrap_or_else(|| Instant::now() + crate::glitter::DEFAULT_SYNC_TIMEOUT);
            let decision = tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep_until(deadline.into()) => match tracker.check_timeout(Instant::now()) {
                    None if !tracker.is_synced() => continue 'connect,
                    decision => decision,
                },
                event = subscriber.recv() => match event {
                    Ok(event) => {
                        // A SYNC follows every batch's events: once it is processed, a
                        // worker in step has applied everything up to its counter.
                        if event.kind == EventKind::Sync {
                            shared.metrics.reducer_counter.store(event.state_counter, std::sync::atomic::Ordering::Relaxed);
                            shared.metrics.reducer_heard_ms.store(crate::clock::now_ms(), std::sync::atomic::Ordering::Relaxed);
                        }
                        Some(tracker.on_event(event, Instant::now()))
                    }
                    Err(e) => {
                        tracing::warn!("{}: event stream failed: {e}; reconnecting", shared.name);
                        stale_since.get_or_insert_with(Instant::now);
                        continue 'connect;
                    }
                },
            };
            match decision {
                None | Some(SyncDecision::Skip) => {}
                Some(SyncDecision::Load {
                    state_counter,
                    tick,
                }) => {
                    let epoch = tracker.epoch();
                    let have = shared.applied();
                    // The same reducer instance, and the game not ahead of it nor off its
                    // tick: what is missing can come from the replay buffer.
                    let tick_agrees = have.counter < state_counter
                        || shared.read(|g| g.cur_tick == tick).unwrap_or(false);
                    let resumed = have.serving
                        && epoch != 0
                        && have.epoch == epoch
                        && have.counter <= state_counter
                        && tick_agrees
                        && match catch_up(&shared, epoch, state_counter).await {
                            Ok(counter) => {
                                tracker.resume(counter, epoch, Instant::now());
                                true
                            }
                            Err(e) => {
                                tracing::warn!("{}: cannot catch up: {e}; reloading", shared.name);
                                false
                            }
                        };
                    if !resumed {
                        if let Err(e) = load(&shared, &store, epoch, state_counter, tick).await {
                            tracing::error!(
                                "{}: cannot load the game: {e:#}; retrying",
                                shared.name
                            );
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue 'connect;
                        }
                    }
                    // The time spent loading or catching up is not silence.
                    tracker.touch(Instant::now());
                    stale_since = None;
                }
                Some(SyncDecision::Apply(event)) => {
                    if !apply(&shared, event) {
                        continue 'connect;
                    }
                }
                Some(SyncDecision::Resync(reason)) => {
                    let epoch = shared.applied().epoch;
                    if let ResyncReason::Gap { got, .. } = reason {
                        // Lost events: take them from the reducer's replay buffer.
                        match catch_up(&shared, epoch, got).await {
                            Ok(counter) => {
                                tracing::info!(
                                    "{}: caught up to {counter} after lost events",
                                    shared.name
                                );
                                tracker.resume(counter, epoch, Instant::now());
                                continue;
                            }
                            Err(e) => tracing::warn!("{}: cannot catch up: {e}", shared.name),
                        }
                    }
                    if matches!(reason, ResyncReason::Silence { .. }) {
                        stale_since.get_or_insert_with(Instant::now);
                    }
                    tracing::warn!("{}: resynchronizing: {reason}", shared.name);
                    // A fresh subscriber also avoids the socket's slow reconnect backoff;
                    // the game is served meanwhile.
                    continue 'connect;
                }
            }
        }
    }
}
