//! A worker's follower and actions against a stand-in reducer on real glitter sockets:
//! a refusal is reported as a refusal (not "submitted, not yet synced"), and a reducer
//! that never answers heartbeats does not hold up the event loop (issue 10, findings 3, 6).

mod common;
mod follower_support;

use follower_support::Rig;
use gs::glitter::{Action, ActionReply, Event};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A worker without a game gets a refusal: the player is told the refusal at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_answered_as_a_refusal_without_waiting() {
    let rig = Rig::new(Arc::new(|_: &Action| {
        Some(ActionReply::error("目前不允许注册新账户", 99))
    }))
    .await;
    let started = Instant::now();
    let result = rig.shared.perform(Action::AgreeTerm { uid: 5 }).await;
    let took = started.elapsed();
    let reply = result.expect("the reducer's verdict, not a timeout");
    assert_eq!(reply.error_msg.as_deref(), Some("目前不允许注册新账户"));
    assert!(
        took < Duration::from_secs(1),
        "answered only after {took:?}"
    );
}

/// The reducer answers hello but never a heartbeat: the worker still loads at the first
/// SYNC and serves within 2 s (the heartbeat used to block the event loop for 5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_heartbeat_does_not_hold_up_the_event_loop() {
    let mut rig = Rig::new(Arc::new(|_: &Action| None)).await;
    let tick = rig.tick().await;
    rig.repeat(
        Event::sync(0, tick).with_epoch(7),
        Duration::from_millis(100),
    );
    let started = Instant::now();
    rig.follow();
    while rig.shared.read(|_| ()).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not serving after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("serving {:?} after start", started.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let heartbeats = rig
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|a| matches!(a, Action::WorkerHeartbeat { .. }))
        .count();
    assert!(heartbeats >= 1, "the heartbeat was sent (and is pending)");
}
