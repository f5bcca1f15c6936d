//! The worker's follower task: says hello, waits for a SYNC, loads the game from the
//! database, then applies the reducer's events in order; any gap, restart or silence
//! makes it drop the game (NO_GAME) and load again. Also sends the heartbeats.

use super::WorkerShared;
use crate::glitter::{
    Action, Event, EventKind, EventSubscriber, SyncDecision, SyncTracker, Telemetry,
    PROTOCOL_VERSION,
};
use crate::state::{Change, GameOptions};
use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a worker reports its telemetry to the reducer.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

/// Settings of the game that come from the configuration.
pub fn game_options(shared: &WorkerShared) -> GameOptions {
    GameOptions {
        admins: shared.config.admin.uids.iter().copied().collect(),
        ..GameOptions::default()
    }
}

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

async fn load(
    shared: &WorkerShared,
    store: &Store,
    state_counter: u64,
    tick: i64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let game = crate::serve::load_game(store, Some(tick), game_options(shared)).await?;
    shared
        .metrics
        .load_seconds
        .observe_duration(started.elapsed());
    shared.install(game, state_counter);
    tracing::info!("{}: serving at state counter {state_counter}", shared.name);
    Ok(())
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
            let result = shared.write(|g| g.as_mut().map(|game| change.apply(game)));
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
                shared.record_latency(crate::reducer::now_us().saturating_sub(event.sent_us));
            }
            true
        }
    }
}

/// Follows the reducer until `shutdown` resolves. Errors are logged and retried.
pub async fn run(
    shared: Arc<WorkerShared>,
    store: Store,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let event_addr = shared.config.glitter.event_addr.clone();
    let mut heartbeat_timer = tokio::time::interval(HEARTBEAT_INTERVAL);
    'connect: loop {
        if *shutdown.borrow() {
            return;
        }
        if shared.write(|g| g.take()).is_some() {
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
                _ = heartbeat_timer.tick() => {
                    heartbeat(&shared).await;
                    continue;
                }
                _ = tokio::time::sleep_until(deadline.into()) => tracker.check_timeout(Instant::now()),
                event = subscriber.recv() => match event {
                    Ok(event) => {
                        // A SYNC follows every batch's events: once it is processed, a
                        // worker in step has applied everything up to its counter.
                        if event.kind == EventKind::Sync {
                            shared.metrics.reducer_counter.store(event.state_counter, std::sync::atomic::Ordering::Relaxed);
                        }
                        Some(tracker.on_event(event, Instant::now()))
                    }
                    Err(e) => {
                        tracing::warn!("{}: event stream failed: {e}; reconnecting", shared.name);
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
                    if let Err(e) = load(&shared, &store, state_counter, tick).await {
                        tracing::error!("{}: cannot load the game: {e:#}; retrying", shared.name);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue 'connect;
                    }
                }
                Some(SyncDecision::Apply(event)) => {
                    if !apply(&shared, event) {
                        continue 'connect;
                    }
                }
                Some(SyncDecision::Resync(reason)) => {
                    tracing::warn!("{}: resynchronizing: {reason:?}", shared.name);
                    // A fresh subscriber also avoids the socket's slow reconnect backoff.
                    continue 'connect;
                }
            }
        }
    }
}
