//! Fault injection with `gs` processes under a submission load (issue 10): a database
//! stall, kill -9 of the reducer and of a worker, MariaDB connection kills, a full disk,
//! and ports that are taken. After each: no acknowledged submission lost, none stored
//! twice, no "failed" one stored, and the service back without a restart (the recovery
//! time is printed).

mod cluster_support;
mod common;
mod fault_support;
mod store_support;

use cluster_support::{wait_serving, wish, Cluster, Proc};
use common::SmallDisk;
use fault_support::{
    counters, import_contest, spawn_load, spawn_reader, Ledger, PacedLoad, Players, Told,
};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store_support::{Kind, TestDb};

/// A running cluster: its reducer and workers (killed when dropped) and the players of
/// its generated contest.
struct Running {
    cluster: Cluster,
    players: Players,
    reducer: Proc,
    workers: Vec<Proc>,
}

/// A cluster on `database_url` (default: SQLite in its directory) with a generated
/// contest of `users` players, a reducer and `workers` workers, all serving.
async fn start_cluster(database_url: Option<&str>, users: usize, workers: usize) -> Running {
    let cluster = Cluster::with_database(database_url);
    let players = import_contest(&cluster.database_url, users).await;
    let reducer = cluster.spawn(&["reducer"], "reducer.log");
    // A worker that cannot reach the reducer's socket at start-up exits: wait for it.
    let started = Instant::now();
    while !cluster.log("reducer.log").contains("action server bound") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reducer did not start:\n{}",
            cluster.log("reducer.log")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let workers: Vec<Proc> = (0..workers)
        .map(|i| {
            let index = i.to_string();
            cluster.spawn(&["worker", "--index", &index], &format!("worker{i}.log"))
        })
        .collect();
    let client = reqwest::Client::new();
    for i in 0..workers.len() {
        wait_serving(
            &client,
            cluster.api_port + i as u16,
            Duration::from_secs(30),
        )
        .await;
    }
    Running {
        cluster,
        players,
        reducer,
        workers,
    }
}

/// How many batches the reducer logged as failed (rolled back or with a failed commit).
fn failed_batches(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("failed and was rolled back") || l.contains("commit of a batch"))
        .count()
}

/// How many times a worker loaded its game after the first load (its resynchronizations).
fn worker_reloads(log: &str) -> usize {
    log.matches("serving at state counter")
        .count()
        .saturating_sub(1)
}

/// How many times the reducer made the workers reload: only after a commit whose fate it
/// could not settle (a failed batch that surely stored nothing, or surely everything,
/// leaves the workers' games right).
fn reducer_jumps(log: &str) -> usize {
    log.matches("workers reload too").count()
}

/// An external writer holds SQLite's write lock for 8 s while players submit: every
/// submission is answered once the lock is gone, each stored exactly once (the worker
/// resends an unanswered action under the same id), and reads never fail meanwhile
/// (SYNC does not wait for the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_database_stall_exactly_once_and_reads_stay_up() {
    let run = start_cluster(None, 200, 1).await;
    let port = run.cluster.api_port;
    let stop_reads = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(port, stop_reads.clone());

    let db_path = run.cluster.dir.path().join("gs.db");
    let lock = rusqlite::Connection::open(&db_path).expect("open the database");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let locked_at = Instant::now();
    let ledger = Ledger::default();
    let stop = Arc::new(AtomicBool::new(false));
    let some = Players {
        tokens: run.players.tokens[..32].to_vec(),
        challenges: run.players.challenges.clone(),
    };
    let load = spawn_load(
        port,
        &some,
        32,
        Duration::ZERO,
        false,
        &ledger,
        stop.clone(),
    );
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
    ledger
        .check(&run.cluster.database_url, "database stall")
        .await;
    let counts = ledger.counts();
    // Players with an incomplete profile are refused by the worker (never sent); every
    // other submission is judged once the database is back: none failed, none unknown.
    let judged = counts.get("acknowledged").copied().unwrap_or(0);
    assert!(
        judged >= 16 && judged + counts.get("not_sent").copied().unwrap_or(0) == 32,
        "all answered once the database came back: {counts:?}\n{}",
        run.cluster.log("worker0.log")
    );
    assert_eq!(bad_reads, 0, "reads failed during the stall");
    assert!(
        answered_after < Duration::from_secs(3),
        "{answered_after:?}"
    );
}

/// SIGTERM of a worker while submissions wait for the database: the worker finishes them
/// (judged, applied, answered) before it exits, and exits as soon as they are done.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_sigterm_finishes_the_actions_in_flight() {
    let mut run = start_cluster(None, 200, 1).await;
    let worker = &mut run.workers[0];
    sigterm_with_actions_in_flight(&run.cluster, &run.players, worker, "worker0.log").await;
}

/// The same for `gs serve`, whose reducer is in the process: it stops only after the
/// workers have answered what was in flight (stopped together, the reducer dropped the
/// actions still queued, and their players waited 10 s for an error).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_sigterm_finishes_the_actions_in_flight() {
    let cluster = Cluster::new();
    let players = import_contest(&cluster.database_url, 200).await;
    let mut serve = cluster.spawn(&["serve"], "serve.log");
    wait_serving(
        &reqwest::Client::new(),
        cluster.api_port,
        Duration::from_secs(30),
    )
    .await;
    sigterm_with_actions_in_flight(&cluster, &players, &mut serve, "serve.log").await;
    // The last log lines reach the `log` table before the reducer closes its store.
    let db = rusqlite::Connection::open(cluster.dir.path().join("gs.db")).expect("open");
    let kept: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM log WHERE message = 'reducer: shutting down'",
            [],
            |r| r.get(0),
        )
        .expect("read the log table");
    let log = cluster.log("serve.log");
    assert_eq!(
        kept, 1,
        "the shutdown's log line is in the database:\n{log}"
    );
    assert!(!log.contains("cannot write a log line"), "{log}");
}

/// Players submit through the cluster's first worker while an external writer holds
/// SQLite's write lock; `process` (the worker, or `gs serve`) gets SIGTERM 0.5 s later and
/// the lock is released 1 s after that. Every submission in flight must be judged and
/// answered, checked against the database, and the process must exit within 3 s.
async fn sigterm_with_actions_in_flight(
    cluster: &Cluster,
    players: &Players,
    process: &mut Proc,
    log: &str,
) {
    let lock =
        rusqlite::Connection::open(cluster.dir.path().join("gs.db")).expect("open the database");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let ledger = Ledger::default();
    let stop = Arc::new(AtomicBool::new(false));
    let some = Players {
        tokens: players.tokens[..8].to_vec(),
        challenges: players.challenges.clone(),
    };
    let load = spawn_load(
        cluster.api_port,
        &some,
        8,
        Duration::ZERO,
        false,
        &ledger,
        stop,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &process.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let asked = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    lock.execute_batch("ROLLBACK").expect("release the lock");
    drop(lock);
    let exited = loop {
        if let Some(status) = process.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "{log}: the process did not exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let exited_after = asked.elapsed();
    for task in load {
        task.await.expect("load task");
    }
    println!(
        "{log}: SIGTERM with 8 submissions waiting 1 s on the database: exited ({exited}) {exited_after:?} after the signal; {:?}",
        ledger.counts()
    );
    ledger.check(&cluster.database_url, log).await;
    assert_eq!(
        ledger.counts().get("acknowledged"),
        Some(&8),
        "every submission in flight judged and answered:\n{}",
        cluster.log(log)
    );
    assert!(
        exited_after < Duration::from_secs(3),
        "{log}: the process took {exited_after:?} to stop"
    );
}

/// kill -9 of the reducer under a submission load, restarted at once: nothing
/// acknowledged is lost, nothing is stored twice, and the service is back within 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_reducer_kill9_under_load() {
    let mut run = start_cluster(None, 1500, 1).await;
    let load = PacedLoad::start(run.cluster.api_port, &run.players);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    run.reducer.0.kill().expect("kill -9 the reducer");
    let _ = run.reducer.0.wait();
    let killed = Instant::now();
    let _reducer = run.cluster.spawn(&["reducer"], "reducer2.log");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let ledger = load.finish().await;
    let outage = ledger.longest_gap_after(killed);
    println!("reducer kill -9: longest time without an acknowledgement after the kill {outage:?}");
    ledger
        .check(&run.cluster.database_url, "reducer kill -9")
        .await;
    assert!(
        outage <= Duration::from_secs(3),
        "service back only after {outage:?}"
    );
    assert_eq!(ledger.counts().get("failed"), None, "{:?}", ledger.counts());
}

/// kill -9 of one of two workers under load and its restart, while the reducer keeps
/// going through the other: the other's players see no outage, the restarted worker
/// serves within 3 s and reaches the same state as the other, nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_worker_kill9_and_restart_while_the_reducer_keeps_going() {
    let mut run = start_cluster(None, 1500, 2).await;
    let (port0, port1) = (run.cluster.api_port, run.cluster.api_port + 1);
    let half = run.players.tokens.len() / 2;
    let players_of = |range: std::ops::Range<usize>| Players {
        tokens: run.players.tokens[range].to_vec(),
        challenges: run.players.challenges.clone(),
    };
    let load0 = PacedLoad::start(port0, &players_of(0..half));
    let load1 = PacedLoad::start(port1, &players_of(half..run.players.tokens.len()));
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let worker = &mut run.workers[0];
    worker.0.kill().expect("kill -9 worker 0");
    let _ = worker.0.wait();
    let killed = Instant::now();
    // Down for a second while the reducer takes worker 1's actions: the restarted worker
    // must come back with them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.workers[0] = run
        .cluster
        .spawn(&["worker", "--index", "0"], "worker0b.log");
    let restarted = Instant::now();
    let client = reqwest::Client::new();
    let back = wait_serving(&client, port0, Duration::from_secs(10)).await;
    println!("worker kill -9: serving again {back:?} after its restart");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gap0 = load0.ledger.longest_gap_after(restarted);
    let gap1 = load1.ledger.longest_gap_after(killed);
    println!(
        "worker kill -9: longest time without an acknowledgement: {gap0:?} on worker 0 after its restart, {gap1:?} on worker 1 meanwhile"
    );
    let (ledger0, ledger1) = (load0.finish().await, load1.finish().await);
    // Once the load is over both workers reach the reducer's counter.
    let settled = Instant::now();
    let (c0, c1) = loop {
        let (a, b) = (
            counters(&client, port0).await,
            counters(&client, port1).await,
        );
        if let (Some((c0, r0)), Some((c1, r1))) = (a, b) {
            if c0 == r0 && c1 == r1 && c0 == c1 {
                break (c0, c1);
            }
        }
        assert!(
            settled.elapsed() < Duration::from_secs(5),
            "the workers do not agree: {a:?} {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let board = |port| {
        let client = client.clone();
        async move { wish(&client, port, "board/score_all", None, json!({})).await }
    };
    let (board0, board1) = (board(port0).await, board(port1).await);
    assert!(board0.is_object(), "{board0}");
    assert_eq!(board0, board1, "the restarted worker serves another board");
    println!("both workers at state counter {c0} = {c1}, same board");
    ledger0
        .check(&run.cluster.database_url, "worker kill -9, worker 0")
        .await;
    ledger1
        .check(&run.cluster.database_url, "worker kill -9, worker 1")
        .await;
    assert!(
        back <= Duration::from_secs(3),
        "worker back only after {back:?}"
    );
    assert!(
        gap1 <= Duration::from_secs(1),
        "worker 1's players waited {gap1:?}"
    );
}

/// Kills every connection on the test's database but `admin`'s: the reducer's (and the
/// worker's idle ones, which it only uses to load). Returns how many were killed.
async fn kill_connections(admin: &mut sqlx::MySqlConnection, only_inserting: bool) -> usize {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM information_schema.processlist \
         WHERE db = DATABASE() AND id <> CONNECTION_ID() AND (? = 0 OR info LIKE 'INSERT%')",
    )
    .bind(i64::from(only_inserting))
    .fetch_all(&mut *admin)
    .await
    .expect("the process list");
    let mut kills = 0;
    for id in ids {
        // It may have closed by itself meanwhile.
        if sqlx::query(sqlx::AssertSqlSafe(format!("KILL {id}")))
            .execute(&mut *admin)
            .await
            .is_ok()
        {
            kills += 1;
        }
    }
    kills
}

/// MariaDB connections killed again and again (`KILL` from the process list) under a
/// submission load, idle ones at random and, three times, the reducer's in the middle of
/// a transaction (held up by a row lock so that the kill lands inside it): nothing
/// acknowledged is lost, nothing is stored twice, no "failed" one is stored, and the
/// service is back within 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_mariadb_connection_kills_under_load() {
    use sqlx::Connection;
    let db = TestDb::new(Kind::MySql).await;
    let run = start_cluster(Some(&db.url), 600, 1).await;
    let port = run.cluster.api_port;
    let stop_reads = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(port, stop_reads.clone());
    let load = PacedLoad::start(port, &run.players);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut admin = sqlx::MySqlConnection::connect(&db.url)
        .await
        .expect("connect to MariaDB");
    let started = Instant::now();
    let (mut rounds, mut kills) = (0, 0);
    while started.elapsed() < Duration::from_secs(3) {
        kills += kill_connections(&mut admin, false).await;
        rounds += 1;
        let pause = 50 + rand::random::<u64>() % 250;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    // Inside a transaction: a lock on the last submission and the gap after it holds the
    // reducer's next INSERT; its connection is killed while it waits, then the lock goes.
    let mut in_transaction = 0;
    let mut released = Vec::new();
    for _ in 0..3 {
        let mut lock = admin.begin().await.expect("begin");
        sqlx::query(
            "SELECT id FROM submission WHERE id >= (SELECT MAX(id) FROM submission) FOR UPDATE",
        )
        .fetch_all(&mut *lock)
        .await
        .expect("lock the end of the submission table");
        let waiting = Instant::now();
        let mut killed = 0;
        while killed == 0 && waiting.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut other = sqlx::MySqlConnection::connect(&db.url)
                .await
                .expect("connect to MariaDB");
            killed = kill_connections(&mut other, true).await;
            other.close().await.expect("close");
        }
        lock.rollback().await.expect("release the lock");
        released.push(Instant::now());
        assert!(killed > 0, "no INSERT of the reducer waited on the lock");
        in_transaction += killed;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ended = Instant::now();
    admin.close().await.expect("close");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ledger = load.finish().await;
    stop_reads.store(true, Ordering::Relaxed);
    let (reads, bad_reads) = reader.await.expect("reader");
    let back: Vec<Option<Duration>> = released
        .iter()
        .map(|&at| ledger.first_ack_after(at))
        .collect();
    let outage = ledger.longest_gap_after(started);
    let failed = failed_batches(&run.cluster.log("reducer.log"));
    let reloads = worker_reloads(&run.cluster.log("worker0.log"));
    let happened = run
        .cluster
        .log("reducer.log")
        .matches("reported an error but happened")
        .count();
    println!(
        "MariaDB: {kills} idle connections killed in {rounds} rounds, then {in_transaction} inside a \
         transaction; {failed} batches failed, {happened} commits reported failed but happened (settled \
         from their action ids), the worker reloaded its game {reloads} times; first \
         acknowledgement after each in-transaction kill: {back:?}; longest time without an \
         acknowledgement {outage:?}; {bad_reads} of {reads} reads failed",
    );
    ledger
        .check(&run.cluster.database_url, "MariaDB connection kills")
        .await;
    assert!(kills >= 5, "only {kills} connections killed");
    assert!(failed >= 3, "the kills inside transactions failed no batch");
    assert!(
        back.iter()
            .all(|b| b.is_some_and(|b| b <= Duration::from_secs(3))),
        "service not back within 3 s after a kill: {back:?}\n{}",
        run.cluster.log("reducer.log")
    );
    assert!(
        ledger.first_ack_after(ended).is_some(),
        "nothing acknowledged after the kills"
    );
    assert!(
        outage <= Duration::from_secs(3),
        "players waited {outage:?} for an acknowledgement"
    );
    assert_eq!(bad_reads, 0, "reads failed during the kills");
    let jumps = reducer_jumps(&run.cluster.log("reducer.log"));
    assert!(
        reloads <= jumps,
        "the worker reloaded {reloads} times, the reducer asked {jumps} times"
    );
}

/// The SQLite file on a small tmpfs that fills up under a submission load, then is
/// freed: the batches that failed stored nothing (their players were told so), reads
/// stay up, and the service comes back by itself within 3 s of the space being freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_disk_full_under_load() {
    let Some(disk) = SmallDisk::mount("16m") else {
        println!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let url = format!("sqlite://{}/gs.db", disk.path().display());
    let run = start_cluster(Some(&url), 600, 1).await;
    let port = run.cluster.api_port;
    let stop_reads = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(port, stop_reads.clone());
    let load = PacedLoad::start(port, &run.players);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let filler = disk.fill();
    let filled = Instant::now();
    // SQLite reuses its WAL file's space: writes fail once the WAL must grow.
    while failed_batches(&run.cluster.log("reducer.log")) == 0 {
        assert!(
            filled.elapsed() < Duration::from_secs(20),
            "no batch failed on the full disk:\n{}",
            run.cluster.log("reducer.log")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_failure = filled.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::remove_file(&filler).expect("free the space");
    let freed = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let ledger = load.finish().await;
    stop_reads.store(true, Ordering::Relaxed);
    let (reads, bad_reads) = reader.await.expect("reader");
    let back = ledger.first_ack_after(freed);
    let failed = failed_batches(&run.cluster.log("reducer.log"));
    let reloads = worker_reloads(&run.cluster.log("worker0.log"));
    println!(
        "disk full: first failed batch {first_failure:?} after filling, {failed} batches failed, \
         the worker reloaded its game {reloads} times; first acknowledgement {back:?} after the \
         space was freed; {bad_reads} of {reads} reads failed"
    );
    ledger.check(&url, "disk full").await;
    assert!(
        ledger.counts().contains_key("failed"),
        "nobody was told that a submission failed: {:?}",
        ledger.counts()
    );
    assert!(
        back.is_some_and(|b| b <= Duration::from_secs(3)),
        "service not back within 3 s after freeing the space: {back:?}\n{}",
        run.cluster.log("reducer.log")
    );
    assert_eq!(bad_reads, 0, "reads failed while the disk was full");
    let jumps = reducer_jumps(&run.cluster.log("reducer.log"));
    assert!(
        reloads <= jumps,
        "the worker reloaded {reloads} times, the reducer asked {jumps} times"
    );
    let acknowledged_after = ledger
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, t, at)| *t == Told::Acknowledged && *at > freed)
        .count();
    assert!(acknowledged_after > 10, "{acknowledged_after}");
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
