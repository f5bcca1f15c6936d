//! `loadgen soak`: a reducer and workers run as child processes of this one under a mixed
//! load (submissions of wrong and correct flags, reads, WebSockets, admin edits) while
//! random faults hit them (kill -9 of the reducer or a worker, a worker's SIGTERM restart,
//! a database stall, MariaDB connection kills). Prints acknowledged, lost and duplicated
//! submissions, recovery times and memory over time; at the end it checks the database
//! and fails on any submission or admin edit lost, stored twice, or stored after a
//! "failed" answer, and on any process that exited by itself. See `scripts/soak.sh`.

use super::{correct_flags, load_game, players, rss_kib, BoxError};
use futures_util::StreamExt;
use gs::store::Store;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "loadgen soak --config GS_TOML --dump CONTEST_JSON --gs GS_BINARY \
[--workers 2] [--seconds 300] [--rate 20] [--readers 4] [--websockets 40] \
[--fault-every 30] [--sample-every 60] [--admin-every 20]";

/// A recovery slower than this misses the target.
const TARGET: Duration = Duration::from_secs(3);

struct Options {
    config: PathBuf,
    dump: PathBuf,
    gs: PathBuf,
    workers: u16,
    seconds: u64,
    rate: f64,
    readers: usize,
    websockets: usize,
    fault_every: f64,
    sample_every: u64,
    admin_every: f64,
}

fn parse_options(args: &[String]) -> Result<Options, BoxError> {
    let mut given: HashMap<&str, &str> = HashMap::new();
    let mut rest = args.iter();
    while let Some(key) = rest.next() {
        let name = key
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {key:?}; usage: {USAGE}"))?;
        let value = rest
            .next()
            .ok_or_else(|| format!("--{name} needs a value; usage: {USAGE}"))?;
        given.insert(name, value);
    }
    let mut path = |k: &str| -> Result<PathBuf, BoxError> {
        Ok(PathBuf::from(given.remove(k).ok_or_else(|| {
            format!("--{k} is required; usage: {USAGE}")
        })?))
    };
    let (config, dump, gs) = (path("config")?, path("dump")?, path("gs")?);
    fn number<T: std::str::FromStr>(
        given: &mut HashMap<&str, &str>,
        k: &str,
        default: T,
    ) -> Result<T, BoxError> {
        match given.remove(k) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{k} {v}: not a number; usage: {USAGE}").into()),
        }
    }
    let options = Options {
        config,
        dump,
        gs,
        workers: number(&mut given, "workers", 2)?,
        seconds: number(&mut given, "seconds", 300)?,
        rate: number(&mut given, "rate", 20.0)?,
        readers: number(&mut given, "readers", 4)?,
        websockets: number(&mut given, "websockets", 40)?,
        fault_every: number(&mut given, "fault-every", 30.0)?,
        sample_every: number(&mut given, "sample-every", 60)?,
        admin_every: number(&mut given, "admin-every", 20.0)?,
    };
    if let Some(k) = given.keys().next() {
        return Err(format!("unknown option --{k}; usage: {USAGE}").into());
    }
    if options.workers == 0 || options.rate <= 0.0 || options.fault_every <= 0.0 {
        return Err("--workers, --rate and --fault-every must be positive".into());
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------
// The processes
// ---------------------------------------------------------------------------------------

/// A process of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Reducer,
    Worker(u16),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Reducer => f.write_str("reducer"),
            Part::Worker(i) => write!(f, "worker{i}"),
        }
    }
}

/// The reducer and the workers, each logging to `<part>.log` beside the configuration.
struct Cluster {
    gs: PathBuf,
    config: PathBuf,
    dir: PathBuf,
    children: HashMap<Part, Child>,
    parts: Vec<Part>,
}

impl Cluster {
    fn log_path(&self, part: Part) -> PathBuf {
        self.dir.join(format!("{part}.log"))
    }

    fn spawn(&mut self, part: Part) -> Result<(), BoxError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(part))?;
        let mut cmd = Command::new(&self.gs);
        match part {
            Part::Reducer => cmd.arg("reducer"),
            Part::Worker(i) => cmd.args(["worker", "--index", &i.to_string()]),
        };
        let child = cmd
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.children.insert(part, child);
        Ok(())
    }

    /// Starts the reducer, waits until its action socket is bound (a worker that cannot
    /// reach it at start-up exits), then the workers.
    async fn start(gs: &Path, config: &Path, workers: u16) -> Result<Cluster, BoxError> {
        let dir = config
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut parts = vec![Part::Reducer];
        parts.extend((0..workers).map(Part::Worker));
        let mut cluster = Cluster {
            gs: gs.to_path_buf(),
            config: config.to_path_buf(),
            dir,
            children: HashMap::new(),
            parts,
        };
        cluster.spawn(Part::Reducer)?;
        cluster.wait_bound(0).await?;
        for i in 0..workers {
            cluster.spawn(Part::Worker(i))?;
        }
        Ok(cluster)
    }

    /// Waits until the reducer's log says its action socket is bound for the `n+1`-th time.
    async fn wait_bound(&self, n: usize) -> Result<(), BoxError> {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(self.log_path(Part::Reducer)).unwrap_or_default();
            if log.matches("action server bound").count() > n {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err("the reducer did not bind its action socket within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn pid(&self, part: Part) -> Option<u32> {
        self.children.get(&part).map(Child::id)
    }

    /// kill -9 and reap.
    fn kill(&mut self, part: Part) {
        if let Some(mut child) = self.children.remove(&part) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit (kill -9 after 10 s).
    async fn terminate(&mut self, part: Part) {
        let Some(mut child) = self.children.remove(&part) else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("  {part} did not stop within 10 s of SIGTERM: killed");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Parts that exited by themselves (each is started again).
    fn exited(&mut self) -> Vec<(Part, String)> {
        let mut out = Vec::new();
        for part in self.parts.clone() {
            let status = match self.children.get_mut(&part).map(Child::try_wait) {
                Some(Ok(Some(status))) => status.to_string(),
                _ => continue,
            };
            self.children.remove(&part);
            out.push((part, status));
            if let Err(e) = self.spawn(part) {
                println!("  cannot start {part} again: {e}");
            }
        }
        out
    }

    fn stop_all(&mut self) {
        for part in self.parts.clone() {
            self.kill(part);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The load and its ledger
// ---------------------------------------------------------------------------------------

/// What a player was told about one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Told {
    /// Judged (stored): success or "Flag错误".
    Acknowledged,
    /// Told it was not stored.
    Failed,
    /// Told the outcome is unknown, or no answer: stored at most once.
    Unknown,
    /// Refused by the reducer (nothing written).
    Refused,
    /// Never reached the reducer (worker down, NO_GAME, rate limit).
    NotSent,
}

/// Classifies a `submit_flag` answer (the worker's texts, `src/worker/http/wish.rs`).
fn told(answer: &Value) -> Told {
    let msg = answer["error_msg"].as_str().unwrap_or("");
    match answer["error"].as_str() {
        None if answer.is_object() && answer["error"].is_null() => Told::Acknowledged,
        Some("REDUCER_ERROR") if msg == "Flag错误" => Told::Acknowledged,
        Some("REDUCER_ERROR")
            if msg == gs::reducer::batch::NOT_STORED || msg == "服务暂时不可用，请稍后重试" =>
        {
            Told::Failed
        }
        Some("REDUCER_ERROR")
            if msg.starts_with("服务暂时不可用，操作结果未知") || msg.starts_with("操作已提交") =>
        {
            Told::Unknown
        }
        Some("REDUCER_ERROR") => Told::Refused,
        Some(_) => Told::NotSent,
        None => Told::Unknown,
    }
}

/// One submission sent.
struct Sent {
    uid: i64,
    key: String,
    flag: String,
    told: Told,
    at: Instant,
    worker: usize,
}

/// Everything the load saw, shared by its tasks.
struct Shared {
    base_urls: Vec<String>,
    client: reqwest::Client,
    stop: AtomicBool,
    /// Players who can play: (auth token, uid), and when each may submit again.
    players: Vec<(String, i64)>,
    ready: Mutex<VecDeque<(usize, Instant)>>,
    /// Correct flags not sent yet, per uid: (challenge key, flag).
    correct: Mutex<HashMap<i64, Vec<(String, String)>>>,
    challenges: Vec<String>,
    sent: Mutex<Vec<Sent>>,
    in_flight: AtomicU64,
    skipped: AtomicU64,
    refusals_shown: AtomicU64,
    /// Successful reads per worker (times), and failures.
    reads_ok: Mutex<Vec<Vec<Instant>>>,
    reads_failed: AtomicU64,
    reads_down: AtomicU64,
    ws_open: AtomicU64,
    ws_opened: AtomicU64,
    ws_messages: AtomicU64,
    /// Admin edits: (announcement title, told).
    admin: Mutex<Vec<(String, Told)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A player whose flag cooldown has passed, if any.
    fn take_player(&self) -> Option<usize> {
        let mut ready = lock(&self.ready);
        match ready.front() {
            Some(&(i, at)) if at <= Instant::now() => {
                ready.pop_front();
                Some(i)
            }
            _ => None,
        }
    }

    fn release_player(&self, i: usize) {
        let cooldown = Duration::from_secs_f64(gs::rules::FLAG_COOLDOWN_S + 0.5);
        lock(&self.ready).push_back((i, Instant::now() + cooldown));
    }

    /// The first time after `from` that every worker acknowledged a submission and
    /// answered a read, if each did.
    fn service_back_after(&self, from: Instant) -> Option<Instant> {
        let workers = self.base_urls.len();
        let mut acked: Vec<Option<Instant>> = vec![None; workers];
        for s in lock(&self.sent).iter().rev() {
            if s.at < from {
                break;
            }
            if s.told == Told::Acknowledged {
                let slot = &mut acked[s.worker];
                *slot = Some(slot.map_or(s.at, |t: Instant| t.min(s.at)));
            }
        }
        let reads = lock(&self.reads_ok);
        let mut back = from;
        for w in 0..workers {
            let read = reads[w].iter().rev().take_while(|t| **t >= from).last()?;
            back = back.max(*read).max(acked[w]?);
        }
        Some(back)
    }

    /// The longest time without any acknowledgement between `from` and `to`.
    fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let mut times: Vec<Instant> = lock(&self.sent)
            .iter()
            .filter(|s| s.told == Told::Acknowledged && s.at >= from && s.at <= to)
            .map(|s| s.at)
            .collect();
        times.sort();
        times.push(to);
        let mut prev = from;
        let mut gap = Duration::ZERO;
        for t in times {
            gap = gap.max(t - prev);
            prev = t;
        }
        gap
    }

    fn counts(&self) -> HashMap<Told, usize> {
        let mut out = HashMap::new();
        for s in lock(&self.sent).iter() {
            *out.entry(s.told).or_insert(0) += 1;
        }
        out
    }
}

/// Sends one submission through worker `w` as player `i`: a correct flag while the player
/// has one left (one in five), else a unique wrong one.
async fn submit(shared: Arc<Shared>, i: usize, w: usize) {
    let (token, uid) = shared.players[i].clone();
    let correct = if rand::random::<f64>() < 0.2 {
        lock(&shared.correct).get_mut(&uid).and_then(Vec::pop)
    } else {
        None
    };
    let (key, flag) = correct.unwrap_or_else(|| {
        let key = &shared.challenges[rand::random_range(0..shared.challenges.len())];
        (
            key.clone(),
            format!("flag{{soak_{:016x}}}", rand::random::<u64>()),
        )
    });
    let resp = shared
        .client
        .post(format!("{}/service/wish/submit_flag", shared.base_urls[w]))
        .header("X-Wish-Version", "2025.v1")
        .header("Cookie", format!("auth_token={token}"))
        .json(&json!({"challenge_key": key, "flag": flag}))
        .send()
        .await;
    let told = match resp {
        Ok(r) => told(&r.json::<Value>().await.unwrap_or(Value::Null)),
        Err(e) if e.is_connect() => Told::NotSent,
        Err(_) => Told::Unknown,
    };
    if told == Told::Refused && shared.refusals_shown.fetch_add(1, Ordering::Relaxed) < 5 {
        println!("  refused by the reducer: {key} as uid {uid}");
    }
    lock(&shared.sent).push(Sent {
        uid,
        key,
        flag,
        told,
        at: Instant::now(),
        worker: w,
    });
    shared.release_player(i);
}

/// Submissions at `rate` per second, each on its own task, through the workers in turn.
async fn submissions(shared: Arc<Shared>, rate: f64) {
    let mut timer = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0usize;
    while !shared.stopped() {
        timer.tick().await;
        // Bounded: a long outage must not pile up unbounded requests.
        if shared.in_flight.load(Ordering::Relaxed) > 2000 {
            shared.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let Some(i) = shared.take_player() else {
            shared.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let w = n % shared.base_urls.len();
        n += 1;
        let s = shared.clone();
        s.in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            submit(s.clone(), i, w).await;
            s.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// A reader: every 100 ms one of `game_info`, `game` (logged in) or the score board from
/// a random worker.
async fn reader(shared: Arc<Shared>) {
    const ENDPOINTS: [&str; 3] = ["game_info", "game", "board/score_all"];
    while !shared.stopped() {
        let w = rand::random_range(0..shared.base_urls.len());
        let endpoint = ENDPOINTS[rand::random_range(0..ENDPOINTS.len())];
        let token = &shared.players[rand::random_range(0..shared.players.len())].0;
        let resp = shared
            .client
            .post(format!("{}/service/wish/{endpoint}", shared.base_urls[w]))
            .header("X-Wish-Version", "2025.v1")
            .header("Cookie", format!("auth_token={token}"))
            .json(&json!({}))
            .send()
            .await;
        match resp {
            Ok(r) => match r.json::<Value>().await {
                Ok(v) if v.get("error").is_none_or(Value::is_null) => {
                    lock(&shared.reads_ok)[w].push(Instant::now());
                }
                answer => {
                    let n = shared.reads_failed.fetch_add(1, Ordering::Relaxed);
                    if n < 5 {
                        println!("  read {endpoint} from worker{w} failed: {answer:?}");
                    }
                }
            },
            Err(e) if e.is_connect() => {
                shared.reads_down.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                shared.reads_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One player's WebSocket on worker `w`, opened again a second after it closes.
async fn websocket(shared: Arc<Shared>, w: usize, token: String) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!(
        "{}/service/ws/push",
        shared.base_urls[w].replacen("http", "ws", 1)
    );
    while !shared.stopped() {
        let request = url.as_str().into_client_request().ok().and_then(|mut r| {
            r.headers_mut()
                .insert("Cookie", format!("auth_token={token}").parse().ok()?);
            Some(r)
        });
        let Some(request) = request else { return };
        if let Ok((mut stream, _)) = tokio_tungstenite::connect_async(request).await {
            shared.ws_opened.fetch_add(1, Ordering::Relaxed);
            shared.ws_open.fetch_add(1, Ordering::Relaxed);
            while !shared.stopped() {
                let next = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
                match next {
                    Ok(Some(Ok(msg))) if msg.is_text() => {
                        shared.ws_messages.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(Some(Err(_)) | None) => break,
                }
            }
            shared.ws_open.fetch_sub(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The admin panel as uid 1: an announcement with a unique title every `every` seconds
/// (on average), each pushed to the players' WebSockets.
async fn admin_edits(shared: Arc<Shared>, panel: String, cookies: String, every: f64) {
    // The panel answers a stored edit with 303: see it rather than follow it.
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return;
    };
    let mut n = 0u64;
    while !shared.stopped() {
        let pause = every * (0.5 + rand::random::<f64>());
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        n += 1;
        let title = format!("soak announcement {n} {:08x}", rand::random::<u32>());
        let page = client
            .get(format!("{panel}/announcements/0"))
            .header("Cookie", &cookies)
            .send()
            .await;
        let html = match page {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => {
                lock(&shared.admin).push((title, Told::NotSent));
                continue;
            }
        };
        let Some(at) = html.find("name=\"_csrf\" value=\"") else {
            lock(&shared.admin).push((title, Told::NotSent));
            continue;
        };
        let csrf = html[at + 20..].chars().take(64).collect::<String>();
        let resp = client
            .post(format!("{panel}/announcements/0"))
            .header("Cookie", &cookies)
            .form(&[
                ("_csrf", csrf.as_str()),
                ("title", title.as_str()),
                ("timestamp", "2026-01-01 08:00:00"),
                ("content_template", "soak"),
            ])
            .send()
            .await;
        let told = match resp {
            Ok(r) if r.status().as_u16() == 303 => Told::Acknowledged,
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                let text: String = body.chars().take(200).collect();
                println!("  admin edit refused: {status}: {text}");
                Told::Failed
            }
            Err(e) if e.is_connect() => Told::NotSent,
            Err(_) => Told::Unknown,
        };
        lock(&shared.admin).push((title, told));
    }
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum FaultKind {
    ReducerKill,
    WorkerKill,
    WorkerRestart,
    DatabaseStall,
    ConnectionKills,
}

impl FaultKind {
    fn label(self) -> &'static str {
        match self {
            FaultKind::ReducerKill => "reducer kill -9, restarted",
            FaultKind::WorkerKill => "worker kill -9, restarted",
            FaultKind::WorkerRestart => "worker SIGTERM, restarted",
            FaultKind::DatabaseStall => "database stall (2-8 s)",
            FaultKind::ConnectionKills => "MariaDB connection kills",
        }
    }
}

/// Holds the database's write lock for `hold`: SQLite's from another connection,
/// MariaDB's `submission` table with `LOCK TABLES`.
async fn stall_database(url: &str, hold: Duration) -> Result<(), BoxError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path).to_owned();
        tokio::task::spawn_blocking(move || -> Result<(), BoxError> {
            let conn = rusqlite::Connection::open(path)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.execute_batch("BEGIN IMMEDIATE")?;
            std::thread::sleep(hold);
            conn.execute_batch("ROLLBACK")?;
            Ok(())
        })
        .await??;
        return Ok(());
    }
    use sqlx::Connection;
    let mut conn = sqlx::MySqlConnection::connect(url).await?;
    sqlx::query("LOCK TABLES submission WRITE")
        .execute(&mut conn)
        .await?;
    tokio::time::sleep(hold).await;
    sqlx::query("UNLOCK TABLES").execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Kills every connection on the MariaDB database of `url`, 10 times over about 3 s;
/// returns how many were killed.
async fn kill_connections(url: &str) -> Result<usize, BoxError> {
    use sqlx::Connection;
    let mut conn = sqlx::MySqlConnection::connect(url).await?;
    let mut kills = 0;
    for _ in 0..10 {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()",
        )
        .fetch_all(&mut conn)
        .await?;
        for id in ids {
            if sqlx::query(sqlx::AssertSqlSafe(format!("KILL {id}")))
                .execute(&mut conn)
                .await
                .is_ok()
            {
                kills += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50 + rand::random::<u64>() % 500)).await;
    }
    conn.close().await?;
    Ok(kills)
}

/// Injects one fault; returns when it ends (the process restarted, the lock released).
async fn inject(
    kind: FaultKind,
    cluster: &mut Cluster,
    workers: u16,
    url: &str,
) -> Result<String, BoxError> {
    let worker = Part::Worker(rand::random::<u16>() % workers);
    let down = Duration::from_millis(rand::random::<u64>() % 2000);
    Ok(match kind {
        FaultKind::ReducerKill => {
            cluster.kill(Part::Reducer);
            tokio::time::sleep(down).await;
            cluster.spawn(Part::Reducer)?;
            format!("down {down:?}")
        }
        FaultKind::WorkerKill => {
            cluster.kill(worker);
            tokio::time::sleep(down).await;
            cluster.spawn(worker)?;
            format!("{worker}, down {down:?}")
        }
        FaultKind::WorkerRestart => {
            let asked = Instant::now();
            cluster.terminate(worker).await;
            let stopped = asked.elapsed();
            cluster.spawn(worker)?;
            format!("{worker}, stopped in {stopped:?}")
        }
        FaultKind::DatabaseStall => {
            let hold = Duration::from_millis(2000 + rand::random::<u64>() % 6000);
            stall_database(url, hold).await?;
            format!("held {hold:?}")
        }
        FaultKind::ConnectionKills => {
            let kills = kill_connections(url).await?;
            format!("{kills} connections killed")
        }
    })
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

/// What the database holds of one (uid, challenge, flag) now, minus what it held before.
type Key = (i64, String, String);

async fn stored_counts(url: &str) -> Result<(HashMap<Key, usize>, Vec<String>), BoxError> {
    let store = Store::connect(url).await?;
    let (tables, _) = store.load_all().await?;
    store.close().await;
    let mut counts = HashMap::new();
    for s in tables.submission {
        *counts
            .entry((s.user_id, s.challenge_key, s.flag))
            .or_insert(0) += 1;
    }
    let titles = tables.announcement.into_iter().map(|a| a.title).collect();
    Ok((counts, titles))
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".to_owned(), |k| format!("{}", k / 1024))
}

/// The machine's 1-minute load average (Linux), if it can be read.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs the soak; `Err` when a check failed.
pub async fn run(args: &[String]) -> Result<(), BoxError> {
    let o = parse_options(args)?;
    let config = gs::config::Config::load(Some(&o.config))?;
    let url = config.database.url.clone();
    let mariadb = url.starts_with("mysql:") || url.starts_with("mariadb:");
    let game = load_game(&o.dump.display().to_string())?;
    let players: Vec<(String, i64)> = players(&game)
        .into_iter()
        .map(|(i, token)| (token, game.users[i as usize].id()))
        .collect();
    if players.is_empty() {
        return Err("no player in the contest can play".into());
    }
    let mut correct: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (_, key, flag, uid) in correct_flags(&game) {
        correct.entry(uid).or_default().push((key, flag));
    }
    let challenges: Vec<String> = game
        .challenges_in_order()
        .filter(|c| c.effective_at(game.cur_tick))
        .map(|c| c.row.key.clone())
        .collect();
    let admin_token = game
        .user_by_id(1)
        .and_then(|u| u.row.auth_token.clone())
        .ok_or("uid 1 (the admin) has no auth token")?;
    let cookies = format!(
        "auth_token={admin_token}; admin_2fa={}",
        gs::crypto::admin_2fa_value(config.glitter.token.expose(), &admin_token)
    );
    let panel = format!("http://{}{}", config.admin.listen, config.admin.url_prefix);
    let api = config.api.listen;
    let base_urls: Vec<String> = (0..o.workers)
        .map(|i| format!("http://{}:{}", api.ip(), api.port() + i))
        .collect();
    let (before, _) = stored_counts(&url).await?;

    println!(
        "soak: {} s, {} submissions/s, {} readers, {} WebSockets, {} workers, {}, a fault every ~{} s",
        o.seconds,
        o.rate,
        o.readers,
        o.websockets,
        o.workers,
        if mariadb { "MariaDB" } else { "SQLite" },
        o.fault_every
    );
    let mut cluster = Cluster::start(&o.gs, &o.config, o.workers).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()?;
    // Serving before the load starts.
    for base in &base_urls {
        let started = Instant::now();
        loop {
            let answer = client
                .post(format!("{base}/service/wish/game_info"))
                .header("X-Wish-Version", "2025.v1")
                .json(&json!({}))
                .send()
                .await;
            if let Ok(r) = answer {
                if r.json::<Value>()
                    .await
                    .is_ok_and(|v| v["cur_tick"].is_i64())
                {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(120) {
                cluster.stop_all();
                return Err(format!("{base} not serving after 120 s").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let now = Instant::now();
    let shared = Arc::new(Shared {
        base_urls,
        client,
        stop: AtomicBool::new(false),
        ready: Mutex::new((0..players.len()).map(|i| (i, now)).collect()),
        players,
        correct: Mutex::new(correct),
        challenges,
        sent: Mutex::new(Vec::new()),
        in_flight: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        refusals_shown: AtomicU64::new(0),
        reads_ok: Mutex::new(vec![Vec::new(); o.workers as usize]),
        reads_failed: AtomicU64::new(0),
        reads_down: AtomicU64::new(0),
        ws_open: AtomicU64::new(0),
        ws_opened: AtomicU64::new(0),
        ws_messages: AtomicU64::new(0),
        admin: Mutex::new(Vec::new()),
    });
    let mut tasks = vec![tokio::spawn(submissions(shared.clone(), o.rate))];
    for _ in 0..o.readers {
        tasks.push(tokio::spawn(reader(shared.clone())));
    }
    for i in 0..o.websockets {
        let token = shared.players[i % shared.players.len()].0.clone();
        let w = i % shared.base_urls.len();
        tasks.push(tokio::spawn(websocket(shared.clone(), w, token)));
    }
    tasks.push(tokio::spawn(admin_edits(
        shared.clone(),
        panel,
        cookies,
        o.admin_every,
    )));

    let started = Instant::now();
    let deadline = started + Duration::from_secs(o.seconds);
    let mut kinds = vec![
        FaultKind::ReducerKill,
        FaultKind::WorkerKill,
        FaultKind::WorkerRestart,
        FaultKind::DatabaseStall,
    ];
    if mariadb {
        kinds.push(FaultKind::ConnectionKills);
    }
    let mut recoveries: Vec<(FaultKind, Option<Duration>, Duration)> = Vec::new();
    let mut exits: Vec<(Part, String)> = Vec::new();
    let mut memory: HashMap<Part, (Option<u64>, Option<u64>, u64)> = HashMap::new();
    let mut loads: Vec<f64> = Vec::new();
    let mut next_fault = started + Duration::from_secs_f64(o.fault_every / 2.0);
    let mut next_sample = started;
    let mut last_acknowledged = 0usize;
    while Instant::now() < deadline {
        for (part, status) in cluster.exited() {
            println!("  !! {part} exited by itself ({status}); started again");
            exits.push((part, status));
        }
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(o.sample_every);
            let counts = shared.counts();
            let get = |t| counts.get(&t).copied().unwrap_or(0);
            let acknowledged = get(Told::Acknowledged);
            let reads: usize = lock(&shared.reads_ok).iter().map(Vec::len).sum();
            let mut rss = Vec::new();
            for part in cluster.parts.clone() {
                let kib = cluster.pid(part).and_then(rss_kib);
                let slot = memory.entry(part).or_insert((kib, kib, 0));
                slot.1 = kib;
                slot.2 = slot.2.max(kib.unwrap_or(0));
                rss.push(format!("{part} {}", mib(kib)));
            }
            let load = load_average();
            loads.extend(load);
            println!(
                "[{:>5} s] acknowledged {acknowledged} (+{}), failed {}, unknown {}, not sent {} · reads {reads} ok, {} failed, {} worker down · WebSockets {} open, {} messages · RSS MiB: {} · load {}",
                started.elapsed().as_secs(),
                acknowledged - last_acknowledged,
                get(Told::Failed),
                get(Told::Unknown),
                get(Told::NotSent),
                shared.reads_failed.load(Ordering::Relaxed),
                shared.reads_down.load(Ordering::Relaxed),
                shared.ws_open.load(Ordering::Relaxed),
                shared.ws_messages.load(Ordering::Relaxed),
                rss.join(", "),
                load.map_or("-".to_owned(), |l| format!("{l:.2}"))
            );
            last_acknowledged = acknowledged;
        }
        if Instant::now() >= next_fault {
            let kind = kinds[rand::random_range(0..kinds.len())];
            let began = Instant::now();
            let what = match inject(kind, &mut cluster, o.workers, &url).await {
                Ok(what) => what,
                Err(e) => format!("could not inject: {e}"),
            };
            let ended = Instant::now();
            // Back: every worker acknowledged a submission and answered a read.
            let back = loop {
                if let Some(at) = shared.service_back_after(ended) {
                    break Some(at - ended);
                }
                if ended.elapsed() > Duration::from_secs(60) {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let outage = shared.longest_gap(began, ended + back.unwrap_or_default());
            println!(
                "[{:>5} s] fault: {} ({what}); service back {} after it ended{}; longest wait for an acknowledgement {outage:.2?}",
                began.duration_since(started).as_secs(),
                kind.label(),
                back.map_or("NOT within 60 s".to_owned(), |b| format!("{b:.2?}")),
                if back.is_some_and(|b| b <= TARGET) { "" } else { " (over the 3 s target)" },
            );
            recoveries.push((kind, back, outage));
            let pause = o.fault_every * (0.5 + rand::random::<f64>());
            next_fault = Instant::now() + Duration::from_secs_f64(pause);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Stop the load, let what is in flight be answered (workers retry for 10 s).
    shared.stop.store(true, Ordering::Relaxed);
    let drained = Instant::now();
    while shared.in_flight.load(Ordering::Relaxed) > 0
        && drained.elapsed() < Duration::from_secs(40)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.abort();
    }
    for (part, status) in cluster.exited() {
        println!("  !! {part} exited by itself ({status})");
        exits.push((part, status));
    }
    cluster.stop_all();

    // The database against what players were told.
    let counts = shared.counts();
    let (after, titles) = stored_counts(&url).await?;
    let (mut lost, mut twice, mut failed_stored, mut unknown_stored) = (0, 0, 0, 0);
    let sent = std::mem::take(&mut *lock(&shared.sent));
    let mut per_key: HashMap<Key, Vec<Told>> = HashMap::new();
    for s in &sent {
        per_key
            .entry((s.uid, s.key.clone(), s.flag.clone()))
            .or_default()
            .push(s.told);
    }
    // The same text can be sent twice on purpose (two flags of a challenge may share a
    // player's value): what is stored must lie between the acknowledged sends and those
    // plus the unknown ones; more is a duplicate, or a "failed" one stored.
    for (key, told) in &per_key {
        let n = after
            .get(key)
            .copied()
            .unwrap_or(0)
            .saturating_sub(before.get(key).copied().unwrap_or(0));
        let acknowledged = told.iter().filter(|t| **t == Told::Acknowledged).count();
        let unknown = told.iter().filter(|t| **t == Told::Unknown).count();
        let refused = told.len() - acknowledged - unknown;
        lost += acknowledged.saturating_sub(n);
        let extra = n.saturating_sub(acknowledged + unknown);
        if refused > 0 {
            failed_stored += extra.min(refused);
            twice += extra.saturating_sub(refused);
        } else {
            twice += extra;
        }
        unknown_stored += n.saturating_sub(acknowledged).min(unknown);
    }
    let mut title_counts: HashMap<&str, usize> = HashMap::new();
    for t in &titles {
        *title_counts.entry(t.as_str()).or_insert(0) += 1;
    }
    let admin = std::mem::take(&mut *lock(&shared.admin));
    let (mut admin_lost, mut admin_twice, mut admin_failed_stored) = (0, 0, 0);
    for (title, told) in &admin {
        let n = title_counts.get(title.as_str()).copied().unwrap_or(0);
        admin_twice += usize::from(n > 1);
        admin_lost += usize::from(*told == Told::Acknowledged && n == 0);
        admin_failed_stored += usize::from(matches!(told, Told::Failed | Told::NotSent) && n > 0);
    }

    let get = |t| counts.get(&t).copied().unwrap_or(0);
    println!(
        "\n== soak summary: {} s, {} submissions/s, {} workers, {}",
        o.seconds,
        o.rate,
        o.workers,
        if mariadb { "MariaDB" } else { "SQLite" }
    );
    println!(
        "submissions: {} sent; acknowledged {}, failed {}, unknown {}, refused {}, not sent {} ({} skipped: no player off cooldown)",
        sent.len(),
        get(Told::Acknowledged),
        get(Told::Failed),
        get(Told::Unknown),
        get(Told::Refused),
        get(Told::NotSent),
        shared.skipped.load(Ordering::Relaxed)
    );
    println!(
        "database: lost {lost}, duplicated {twice}, stored after a \"failed\" answer {failed_stored}; {unknown_stored} of {} unknown outcomes stored",
        get(Told::Unknown)
    );
    println!(
        "admin edits: {} acknowledged of {}; lost {admin_lost}, duplicated {admin_twice}, stored after a failure {admin_failed_stored}",
        admin.iter().filter(|(_, t)| *t == Told::Acknowledged).count(),
        admin.len()
    );
    println!(
        "reads: {} ok, {} failed, {} while their worker was down",
        lock(&shared.reads_ok).iter().map(Vec::len).sum::<usize>(),
        shared.reads_failed.load(Ordering::Relaxed),
        shared.reads_down.load(Ordering::Relaxed)
    );
    println!(
        "WebSockets: {} opened (incl. reopened after a worker restart), {} messages",
        shared.ws_opened.load(Ordering::Relaxed),
        shared.ws_messages.load(Ordering::Relaxed)
    );
    println!("faults (recovery: from the fault's end until every worker acknowledged a submission and answered a read; target 3 s):");
    let mut by_kind: HashMap<FaultKind, Vec<(Option<Duration>, Duration)>> = HashMap::new();
    for (kind, back, outage) in &recoveries {
        by_kind.entry(*kind).or_default().push((*back, *outage));
    }
    let mut kinds: Vec<_> = by_kind.keys().copied().collect();
    kinds.sort();
    let mut missed = 0;
    for kind in kinds {
        let list = &by_kind[&kind];
        let mut backs: Vec<Duration> = list.iter().filter_map(|(b, _)| *b).collect();
        backs.sort();
        let never = list.len() - backs.len();
        let over = backs.iter().filter(|b| **b > TARGET).count() + never;
        missed += over;
        let longest_outage = list.iter().map(|(_, o)| *o).max().unwrap_or_default();
        println!(
            "  {:<28} n={:<3} recovery median {:.2?}, max {:.2?}; over 3 s: {over}; longest wait for an acknowledgement {longest_outage:.2?}",
            kind.label(),
            list.len(),
            backs.get(backs.len() / 2).copied().unwrap_or_default(),
            backs.last().copied().unwrap_or_default(),
        );
    }
    let mut all: Vec<Duration> = recoveries.iter().filter_map(|(_, b, _)| *b).collect();
    all.sort();
    println!(
        "  {:<28} n={:<3} recovery median {:.2?}, max {:.2?}; not back within 60 s: {}",
        "all faults",
        recoveries.len(),
        all.get(all.len() / 2).copied().unwrap_or_default(),
        all.last().copied().unwrap_or_default(),
        recoveries.len() - all.len(),
    );
    let mut parts: Vec<_> = memory.keys().copied().collect();
    parts.sort_by_key(|p| p.to_string());
    let memory_line: Vec<String> = parts
        .iter()
        .map(|p| {
            let (first, last, max) = memory[p];
            format!(
                "{p} {} → {} (max {})",
                mib(first),
                mib(last),
                mib(Some(max))
            )
        })
        .collect();
    println!(
        "memory (RSS MiB, first sample → last, a restarted process starts afresh): {}",
        memory_line.join(", ")
    );
    loads.sort_by(f64::total_cmp);
    if let (Some(low), Some(high)) = (loads.first(), loads.last()) {
        println!(
            "machine load average (1 min) at the {} samples: min {low:.2}, median {:.2}, max {high:.2}",
            loads.len(),
            loads[loads.len() / 2]
        );
    }
    println!("processes that exited by themselves: {}", exits.len());
    let problems =
        lost + twice + failed_stored + admin_lost + admin_twice + admin_failed_stored + exits.len();
    if problems > 0 {
        println!("RESULT: FAILED");
        return Err(format!("{problems} problems (see the summary)").into());
    }
    println!(
        "RESULT: OK (no submission or admin edit lost, duplicated or stored after a failure; {missed} recoveries over 3 s)"
    );
    Ok(())
}
