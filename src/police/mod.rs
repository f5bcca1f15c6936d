//! The police: an anti-cheat worker that follows the reducer like an API worker, serves
//! no players, and reports wrong submissions that are another user's flag or a honeypot.
//!
//! The checks run on the follower task right after each submission is applied (µs, on the
//! flag index); reports go through a channel to a task that writes the log row and tells
//! the staff, so a slow database or webhook never delays following. Push messages are
//! forwarded to the staff as `[PUSH]`. After a resynchronization the submissions missed
//! meanwhile are checked from the reloaded game instead of being dropped.

pub mod report;

use crate::clock::TimeZone;
use crate::config::Config;
use crate::glitter::ActionClient;
use crate::notify::{messages, Notifier};
use crate::rows::LogRow;
use crate::state::police::{FlagIndex, Report};
use crate::state::Game;
use crate::store::Store;
use crate::worker::follow::{self, Applied, FollowObserver};
use crate::worker::WorkerShared;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, watch};

/// The police's name in the reducer's telemetry.
pub const POLICE_NAME: &str = "police";

#[derive(Debug, Default)]
struct PoliceState {
    index: Option<FlagIndex>,
    /// The last submission checked (or present at the first load).
    last_checked: Option<i64>,
}

/// The police's observer of the followed game: keeps the index and runs the checks.
#[derive(Debug)]
pub struct Police {
    state: Mutex<PoliceState>,
    reports: mpsc::UnboundedSender<Report>,
    reported: AtomicU64,
    notifier: Arc<Notifier>,
}

impl Police {
    /// A police sending its reports to `reports`.
    pub fn new(reports: mpsc::UnboundedSender<Report>, notifier: Arc<Notifier>) -> Police {
        Police {
            state: Mutex::new(PoliceState::default()),
            reports,
            reported: AtomicU64::new(0),
            notifier,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoliceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn report(&self, r: Report) {
        self.reported.fetch_add(1, Ordering::Relaxed);
        let _ = self.reports.send(r);
    }
}

impl FollowObserver for Police {
    fn loaded(&self, game: &Game) {
        let started = std::time::Instant::now();
        let index = FlagIndex::build(game);
        tracing::info!(
            "police: indexed {} per-user flags in {:?}",
            index.len(),
            started.elapsed()
        );
        let mut st = self.lock();
        // Submissions made while we were resynchronizing are in the new game: check them.
        if let Some(last) = st.last_checked {
            let from = game.submissions.partition_point(|s| s.id <= last);
            for sub in from..game.submissions.len() {
                if let Some(r) = index.check(game, sub as u32) {
                    self.report(r);
                }
            }
        }
        st.last_checked = game.submissions.last().map(|s| s.id).or(st.last_checked);
        st.index = Some(index);
    }

    fn applied(&self, game: &Game, what: Applied) {
        let mut st = self.lock();
        let Some(index) = st.index.as_mut() else {
            return;
        };
        match what {
            Applied::NewSubmission(id) => {
                let last = game.submissions.len().checked_sub(1);
                let found = last
                    .filter(|&i| game.submissions[i].id == id)
                    .and_then(|i| index.check(game, i as u32));
                st.last_checked = Some(id);
                if let Some(r) = found {
                    drop(st);
                    self.report(r);
                }
            }
            Applied::User { uid, users_before } => index.user_changed(game, uid, users_before),
            Applied::Challenge(id) => index.challenge_changed(game, id),
            Applied::DynamicFlag { uid, key, flag_idx } => {
                index.dynamic_value_set(game, uid, &key, flag_idx)
            }
            Applied::Other => {}
        }
    }

    fn telemetry(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        let entries = self.lock().index.as_ref().map_or(0, FlagIndex::len);
        m.insert("police_index_entries".into(), entries.into());
        m.insert(
            "police_reports".into(),
            self.reported.load(Ordering::Relaxed).into(),
        );
        if let Ok(stats) = serde_json::to_value(self.notifier.stats()) {
            m.insert("notify".into(), stats);
        }
        m
    }
}

/// Writes each report's log row and tells the staff, until `stop` flips to true; the
/// reports already queued then are still written.
async fn write_reports(
    mut reports: mpsc::UnboundedReceiver<Report>,
    store: Store,
    notifier: Arc<Notifier>,
    tz: TimeZone,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let r = tokio::select! {
            r = reports.recv() => match r {
                Some(r) => Some(r),
                None => return,
            },
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(r) = r else {
            while let Ok(r) = reports.try_recv() {
                write_report(&r, &store, &notifier, &tz).await;
            }
            return;
        };
        write_report(&r, &store, &notifier, &tz).await;
    }
}

async fn write_report(r: &Report, store: &Store, notifier: &Notifier, tz: &TimeZone) {
    let row = LogRow {
        id: 0,
        timestamp_ms: crate::clock::now_ms(),
        level: "success".into(),
        process: POLICE_NAME.into(),
        module: report::LOG_MODULE.into(),
        message: report::text(r, tz, None),
    };
    let (channel, text) = report::staff_message(r, tz);
    notifier.notify(&channel, text);
    if let Err(e) = store.insert_log(&row).await {
        tracing::error!("police: cannot write the report on S#{}: {e}", r.sid);
    }
}

/// Forwards every push message sent to everyone or to groups as `[PUSH]`.
async fn forward_pushes(
    mut pushes: broadcast::Receiver<Arc<crate::worker::OutgoingPush>>,
    notifier: Arc<Notifier>,
) {
    loop {
        match pushes.recv().await {
            Ok(p) if p.message.to_uids.is_none() => {
                let (channel, text) = messages::push(&p.message);
                notifier.notify(&channel, text);
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("police: {n} push messages were not forwarded (too many at once)");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Runs the police as a process of its own (`gs police`): a follower of its own, until
/// `shutdown` flips to true.
pub async fn run(config: Arc<Config>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let store = Store::connect_with(&config.database.url, &config.database.tls).await?;
    let actions =
        ActionClient::connect(&config.glitter.action_addr, config.glitter.token.expose()).await?;
    let shared = Arc::new(WorkerShared::named(
        config.clone(),
        0,
        POLICE_NAME.into(),
        actions,
    ));
    let patrol = attach(&shared, store.clone());
    let follower = tokio::spawn(follow::run(shared, store, shutdown.clone()));
    tracing::info!(
        "police: following the reducer at {}",
        config.glitter.event_addr
    );
    let _ = shutdown.wait_for(|s| *s).await;
    follower.abort();
    patrol.finish().await;
    Ok(())
}

/// The police's tasks beside the game it watches.
#[derive(Debug)]
pub struct Patrol {
    stop: watch::Sender<bool>,
    writer: tokio::task::JoinHandle<()>,
    pusher: tokio::task::JoinHandle<()>,
}

impl Patrol {
    /// Stops forwarding pushes and writes the reports already found (at most 5 s more).
    pub async fn finish(self) {
        self.pusher.abort();
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.writer).await;
    }
}

/// Sets the police on a follower that has not started yet: it watches that game (an API
/// worker's, in `gs serve`, so that the process holds one copy of the game less) and
/// reports through its own tasks.
pub fn attach(shared: &WorkerShared, store: Store) -> Patrol {
    let config = &shared.config;
    let notifier = shared.notifier.clone();
    let (tx, rx) = mpsc::unbounded_channel();
    shared.set_observer(Arc::new(Police::new(tx, notifier.clone())));
    let tz = TimeZone::configured(&config.admin.timezone);
    let (stop, stopped) = watch::channel(false);
    let writer = tokio::spawn(write_reports(rx, store, notifier.clone(), tz, stopped));
    let pusher = tokio::spawn(forward_pushes(shared.pushes.subscribe(), notifier));
    Patrol {
        stop,
        writer,
        pusher,
    }
}
