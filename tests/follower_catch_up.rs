//! A worker that misses events catches up from the reducer's replay buffer instead of
//! reloading its game (issue 10, finding 5).

mod common;
mod follower_support;

use follower_support::Rig;
use gs::glitter::{Action, ActionReply, Event, EventKind};
use gs::state::Change;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EPOCH: u64 = 7;

/// State change `counter` of the stand-in reducer: the tick moves to `base + counter`.
fn tick_change(counter: u64, base: i64) -> Event {
    let tick = base + counter as i64;
    let mut event = Event::tick_update(counter, tick).with_epoch(EPOCH);
    event.data = serde_json::to_value(Change::TickUpdate { tick }).ok();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_events_are_fetched_not_reloaded() {
    // Filled in once the tick is known; the stand-in serves FETCH_EVENTS from it.
    let base = Arc::new(std::sync::OnceLock::<i64>::new());
    let known = base.clone();
    let mut rig = Rig::new(Arc::new(move |action: &Action| match action {
        Action::FetchEvents { after, epoch } if *epoch == EPOCH => {
            let base = *known.get()?;
            let events: Vec<Event> = (after + 1..=4).map(|c| tick_change(c, base)).collect();
            Some(ActionReply::ok(4).with_data(json!({ "events": events })))
        }
        Action::FetchEvents { .. } => Some(ActionReply::error("another reducer", 0)),
        _ => Some(ActionReply::ok(0)),
    }))
    .await;
    let tick = rig.tick().await;
    base.set(tick).unwrap();
    let publisher = rig.publisher.clone();
    rig.follow();
    // The first SYNC (repeated until the worker has subscribed and loaded).
    let started = Instant::now();
    while rig.shared.read(|_| ()).is_none() {
        publisher
            .publish(&Event::sync(0, tick).with_epoch(EPOCH))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "never loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rig.shared.loads.load(Ordering::Relaxed), 1);
    // Change 1 arrives; 2 and 3 are lost; 4 reveals the gap.
    publisher.publish(&tick_change(1, tick)).await.unwrap();
    publisher.publish(&tick_change(4, tick)).await.unwrap();
    let started = Instant::now();
    while rig.shared.applied_counter() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "not caught up: at {}",
            rig.shared.applied_counter()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rig.shared.read(|g| g.cur_tick), Some(tick + 4));
    // A SYNC at 4 is accepted; nothing was reloaded.
    publisher
        .publish(&Event::sync(4, tick + 4).with_epoch(EPOCH))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        rig.shared.loads.load(Ordering::Relaxed),
        1,
        "reloaded instead"
    );
    assert!(rig.shared.read(|_| ()).is_some());
    let fetched = rig
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|a| matches!(a, Action::FetchEvents { after: 1, .. }))
        .count();
    assert_eq!(fetched, 1, "fetched the lost events once");
    assert!(EventKind::TickUpdate.changes_state());
}
