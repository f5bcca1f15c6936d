//! The reducer's event stream: publishes changes in counter order, keeps the recent ones
//! for workers that missed some, and sends SYNC from its own task, independent of the database.

use crate::glitter::{Event, EventKind, EventPublisher, MAX_FETCHED_EVENTS, SYNC_INTERVAL};
use std::collections::VecDeque;
use std::sync::Arc;

/// State changes kept for FETCH_EVENTS: a worker that fell this far behind reloads.
pub const REPLAY_EVENTS: usize = 20_000;

/// What has been published: the position SYNC announces, and the recent changes.
#[derive(Debug)]
struct Published {
    counter: u64,
    tick: i64,
    recent: VecDeque<Event>,
}

/// The event socket with the published position; shared by the reducer task and the
/// SYNC task.
#[derive(Debug)]
pub struct Broadcaster {
    publisher: EventPublisher,
    /// Random per reducer start; workers notice a restart by it.
    pub epoch: u64,
    // One lock around "send, then record": a SYNC never overtakes a change it counts.
    published: tokio::sync::Mutex<Published>,
}

impl Broadcaster {
    /// A broadcaster at `counter` and `tick` with a new random epoch.
    pub fn new(publisher: EventPublisher, counter: u64, tick: i64) -> Broadcaster {
        Broadcaster {
            publisher,
            epoch: rand::random::<u64>() | 1,
            published: tokio::sync::Mutex::new(Published {
                counter,
                tick,
                recent: VecDeque::new(),
            }),
        }
    }

    /// Publishes an event stamped with the epoch; a state change moves the position and
    /// is kept for replay. A failure is logged.
    pub async fn publish(&self, event: Event) {
        let mut event = event.with_epoch(self.epoch);
        event.sent_us = crate::clock::now_us();
        let mut published = self.published.lock().await;
        if let Err(e) = self.publisher.publish(&event).await {
            tracing::error!(
                "reducer: cannot publish {:?} #{}: {e}",
                event.kind,
                event.state_counter
            );
        }
        if event.kind.changes_state() {
            published.counter = event.state_counter;
            if event.kind == EventKind::TickUpdate {
                published.tick = event.tick;
            }
            if published.recent.len() >= REPLAY_EVENTS {
                published.recent.pop_front();
            }
            published.recent.push_back(event);
        }
    }

    /// Publishes a SYNC at the published position.
    pub async fn sync(&self) {
        let published = self.published.lock().await;
        let mut event = Event::sync(published.counter, published.tick).with_epoch(self.epoch);
        event.sent_us = crate::clock::now_us();
        if let Err(e) = self.publisher.publish(&event).await {
            tracing::error!("reducer: cannot publish SYNC: {e}");
        }
    }

    /// Moves the position without an event (after the game was reloaded: the counter
    /// jumps so that workers see a gap); the kept changes no longer lead there.
    pub async fn jump(&self, counter: u64, tick: i64) {
        let mut published = self.published.lock().await;
        published.counter = counter;
        published.tick = tick;
        published.recent.clear();
    }

    /// The kept state changes after `after` (at most [`MAX_FETCHED_EVENTS`]), or why
    /// they cannot be given.
    pub async fn events_after(&self, after: u64, epoch: u64) -> Result<Vec<Event>, String> {
        if epoch != self.epoch {
            return Err("another reducer instance: reload".to_owned());
        }
        let published = self.published.lock().await;
        if after >= published.counter {
            return Ok(Vec::new());
        }
        let Some(first) = published.recent.front() else {
            return Err("no events kept: reload".to_owned());
        };
        if first.state_counter > after + 1 {
            return Err(format!(
                "events after {after} are no longer kept (oldest {}): reload",
                first.state_counter
            ));
        }
        let skip = (after + 1 - first.state_counter) as usize;
        Ok(published
            .recent
            .iter()
            .skip(skip)
            .take(MAX_FETCHED_EVENTS)
            .cloned()
            .collect())
    }

    /// Publishes a SYNC every [`SYNC_INTERVAL`] from a task of its own, so that workers
    /// see the reducer alive while it waits on the database. Stops when dropped.
    pub fn spawn_sync_task(self: &Arc<Self>) -> SyncTask {
        let me = Arc::downgrade(self);
        SyncTask(tokio::spawn(async move {
            let mut timer = tokio::time::interval(SYNC_INTERVAL);
            loop {
                timer.tick().await;
                let Some(me) = me.upgrade() else { return };
                me.sync().await;
            }
        }))
    }

    /// The bound event address.
    pub fn endpoint(&self) -> &str {
        self.publisher.endpoint()
    }
}

/// The SYNC task; aborted when dropped.
#[derive(Debug)]
pub struct SyncTask(tokio::task::JoinHandle<()>);

impl Drop for SyncTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
