//! Fault injection with `gs` processes under a submission load (issue 10): a database
//! stall, kill -9 of the reducer and of a worker, MariaDB connection kills, a full disk,
//! and ports that are taken. After each: no acknowledged submission lost, none stored
//! twice, no "failed" one stored, and the service back without a restart (the recovery
//! time is printed).

mod cluster_support;
mod common;
mod fault_support;

use cluster_support::{wait_serving, wish, Cluster, Proc};
use fault_support::{import_contest, spawn_load, sqlite_url, Ledger};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cluster on SQLite with a generated contest, a reducer and one worker, serving.
async fn sqlite_cluster(users: usize) -> (Cluster, fault_support::Players, Proc, Proc) {
    let cluster = Cluster::new();
    let players = import_contest(&sqlite_url(&cluster), users).await;
    let reducer = cluster.spawn(&["reducer"], "reducer.log");
    // A worker that cannot reach the reducer's socket at start-up exits: wait for it.
    let started = Instant::now();
    while !cluster.log("reducer.log").contains("action server bound") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reducer did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let worker = cluster.spawn(&["worker", "--index", "0"], "worker0.log");
    let client = reqwest::Client::new();
    wait_serving(&client, cluster.api_port, Duration::from_secs(30)).await;
    (cluster, players, reducer, worker)
}

/// Polls a read endpoint every 50 ms until `stop`; counts NO_GAME and other failures.
fn spawn_reader(port: u16, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(usize, usize)> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        let (mut reads, mut bad) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            let answer = wish(&client, port, "game_info", None, json!({})).await;
            reads += 1;
            if !answer["error"].is_null() || !answer["cur_tick"].is_i64() {
                bad += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (reads, bad)
    })
}

/// An external writer holds SQLite's write lock for 8 s while players submit: every
/// submission is answered once the lock is gone, each stored exactly once (the worker
/// resends an unanswered action under the same id), and reads never fail meanwhile
/// (SYNC does not wait for the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_database_stall_exactly_once_and_reads_stay_up() {
    let (cluster, players, _reducer, _worker) = sqlite_cluster(200).await;
    let port = cluster.api_port;
    let stop_reads = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(port, stop_reads.clone());

    let db_path = cluster.dir.path().join("gs.db");
    let lock = rusqlite::Connection::open(&db_path).expect("open the database");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let locked_at = Instant::now();
    let ledger = Ledger::default();
    let stop = Arc::new(AtomicBool::new(false));
    let some = fault_support::Players {
        tokens: players.tokens[..32].to_vec(),
        challenges: players.challenges.clone(),
    };
    let load = spawn_load(port, &some, 32, Duration::ZERO, &ledger, stop.clone());
    tokio::time::sleep(Duration::from_secs(8)).await;
    lock.execute_batch("ROLLBACK").expect("release the lock");
    drop(lock);
    let released = Instant::now();
    for task in load {
        task.await.expect("load task");
    }
    let answered_after = released.elapsed();
    stop_reads.store(true, Ordering::Relaxed);
    let (reads, bad_reads) = reader.await.expect("reader");
    println!(
        "database stall of {:?}: every submission answered {answered_after:?} after the lock was released; {bad_reads} of {reads} reads failed",
        released - locked_at
    );
    ledger.check(&sqlite_url(&cluster), "database stall").await;
    let counts = ledger.counts();
    // Players with an incomplete profile are refused by the worker (never sent); every
    // other submission is judged once the database is back: none failed, none unknown.
    let judged = counts.get("acknowledged").copied().unwrap_or(0);
    assert!(
        judged >= 16 && judged + counts.get("not_sent").copied().unwrap_or(0) == 32,
        "all answered once the database came back: {counts:?}\n{}",
        cluster.log("worker0.log")
    );
    assert_eq!(bad_reads, 0, "reads failed during the stall");
    assert!(
        answered_after < Duration::from_secs(3),
        "{answered_after:?}"
    );
}

/// 32 players submitting every 100 ms through `port`, running for 1.5 s already.
async fn paced_load(
    port: u16,
    players: &fault_support::Players,
) -> (Ledger, Arc<AtomicBool>, Vec<tokio::task::JoinHandle<()>>) {
    let ledger = Ledger::default();
    let stop = Arc::new(AtomicBool::new(false));
    let pace = Duration::from_millis(100);
    let load = spawn_load(port, players, 32, pace, &ledger, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    (ledger, stop, load)
}

/// kill -9 of the reducer under a submission load, restarted at once: nothing
/// acknowledged is lost, nothing is stored twice, and the service is back within 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_reducer_kill9_under_load() {
    let (cluster, players, mut reducer, _worker) = sqlite_cluster(1500).await;
    let port = cluster.api_port;
    let (ledger, stop, load) = paced_load(port, &players).await;
    reducer.0.kill().expect("kill -9 the reducer");
    let _ = reducer.0.wait();
    let killed = Instant::now();
    let _reducer = cluster.spawn(&["reducer"], "reducer2.log");
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    let outage = ledger.longest_gap_after(killed);
    println!("reducer kill -9: longest time without an acknowledgement after the kill {outage:?}");
    ledger.check(&sqlite_url(&cluster), "reducer kill -9").await;
    assert!(
        outage <= Duration::from_secs(3),
        "service back only after {outage:?}"
    );
    assert_eq!(ledger.counts().get("failed"), None, "{:?}", ledger.counts());
}

/// kill -9 of the worker under load and a restart while the reducer keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_worker_kill9_and_restart_under_load() {
    let (cluster, players, _reducer, mut worker) = sqlite_cluster(1500).await;
    let port = cluster.api_port;
    let (ledger, stop, load) = paced_load(port, &players).await;
    worker.0.kill().expect("kill -9 the worker");
    let _ = worker.0.wait();
    let killed = Instant::now();
    let _worker = cluster.spawn(&["worker", "--index", "0"], "worker0b.log");
    let client = reqwest::Client::new();
    let back = wait_serving(&client, port, Duration::from_secs(10)).await;
    println!(
        "worker kill -9: serving again {:?} after the kill",
        killed.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outage = ledger.longest_gap_after(killed);
    println!("worker kill -9: longest time without an acknowledgement after the kill {outage:?}");
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    ledger.check(&sqlite_url(&cluster), "worker kill -9").await;
    assert!(
        back <= Duration::from_secs(3),
        "worker back only after {back:?}"
    );
}

/// `gs serve` with its API port or its admin port taken exits non-zero at once, naming it.
#[test]
fn serve_exits_when_a_port_is_taken() {
    for which in ["api", "admin"] {
        let cluster = Cluster::new();
        let port = if which == "api" {
            cluster.api_port
        } else {
            cluster.admin_port
        };
        let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).expect("take the port");
        let mut serve = cluster.spawn(&["serve"], "serve.log");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = serve.0.try_wait().expect("wait") {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "gs serve still running with its {which} port taken:\n{}",
                cluster.log("serve.log")
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = cluster.log("serve.log");
        assert!(!status.success(), "{which}: exit status {status}");
        assert!(
            log.contains(&port.to_string()),
            "{which}: the error names the port:\n{log}"
        );
        println!(
            "{which} port taken: exited with {status} after {:?}",
            started.elapsed()
        );
    }
}
