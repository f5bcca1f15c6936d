//! The fault tests' support: the ledger of every submission sent and how it was answered,
//! with the check that no acknowledged one is lost, none is stored twice and no "failed"
//! one is stored; submission loads and readers; network namespaces (`netns`) and a proxy
//! that impairs a link (`proxy`).
#![allow(dead_code)]

pub mod netns;
pub mod proxy;

use crate::cluster_support::{wish, WISH_VERSION};
use gs::rows::Dump;
use gs::store::Store;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a player was told about one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// Judged by the reducer (stored): `Flag错误` or success.
    Acknowledged,
    /// Told it failed: it must not be stored.
    Failed,
    /// Told the outcome is unknown (or no answer): stored at most once.
    Unknown,
    /// Refused before the reducer (NO_GAME, rate limit): never sent.
    NotSent,
}

/// Classifies a `submit_flag` answer.
pub fn told(answer: &Value) -> Told {
    let msg = answer["error_msg"].as_str().unwrap_or("");
    match answer["error"].as_str() {
        None if answer.is_object() && answer["error"].is_null() => Told::Acknowledged,
        Some("REDUCER_ERROR") if msg == "Flag错误" => Told::Acknowledged,
        Some("REDUCER_ERROR")
            if msg == "数据库暂时不可用" || msg == "服务暂时不可用，请稍后重试" =>
        {
            Told::Failed
        }
        Some("REDUCER_ERROR") => Told::Unknown,
        Some(_) => Told::NotSent,
        None => Told::Unknown,
    }
}

/// Players who may submit, with their auth tokens, and open challenges.
#[derive(Debug, Clone)]
pub struct Players {
    pub tokens: Vec<String>,
    pub challenges: Vec<String>,
}

/// A generated running contest of `users` players imported into the cluster's database.
pub async fn import_contest(url: &str, users: usize) -> Players {
    let now = gs::clock::now_s();
    let shape = gs::demo::ContestShape {
        seed: 7,
        users,
        submissions: users * 2,
        start_s: now - 86_400,
        now_s: Some(now),
        ..gs::demo::ContestShape::default()
    };
    let tables = gs::demo::generate(&shape);
    // Those the worker lets submit (an incomplete profile is refused before the reducer).
    let tick = gs::state::trigger::Timeline::new(tables.trigger.clone()).tick_at(now);
    let game = gs::state::Game::build(tables.clone(), tick, Default::default());
    let tokens = game
        .users
        .iter()
        .filter(|u| u.check_play_game().is_ok() && u.row.id != 1)
        .filter_map(|u| u.row.auth_token.clone())
        .collect();
    let challenges = tables
        .challenge
        .iter()
        .filter(|c| c.effective_after <= 1000)
        .map(|c| c.key.clone())
        .collect();
    let store = Store::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
        .import(&Dump { tables }, true)
        .await
        .expect("import the contest");
    store.close().await;
    Players { tokens, challenges }
}

/// Every submission sent and what its sender was told.
#[derive(Debug, Default, Clone)]
pub struct Ledger(pub Arc<Mutex<Vec<(String, Told, Instant)>>>);

impl Ledger {
    pub fn record(&self, flag: String, told: Told) {
        self.0.lock().unwrap().push((flag, told, Instant::now()));
    }

    /// Counts per kind.
    pub fn counts(&self) -> HashMap<&'static str, usize> {
        let mut out = HashMap::new();
        for (_, told, _) in self.0.lock().unwrap().iter() {
            let k = match told {
                Told::Acknowledged => "acknowledged",
                Told::Failed => "failed",
                Told::Unknown => "unknown",
                Told::NotSent => "not_sent",
            };
            *out.entry(k).or_insert(0) += 1;
        }
        out
    }

    /// The longest time between two acknowledgements after `from` (the outage as players see it).
    pub fn longest_gap_after(&self, from: Instant) -> Duration {
        let mut times: Vec<Instant> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, t, at)| *t == Told::Acknowledged && *at >= from)
            .map(|(_, _, at)| *at)
            .collect();
        times.sort();
        let mut prev = from;
        let mut gap = Duration::ZERO;
        for t in times {
            gap = gap.max(t - prev);
            prev = t;
        }
        gap
    }

    /// How long after `from` the first acknowledgement came (the service back), if any.
    pub fn first_ack_after(&self, from: Instant) -> Option<Duration> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, t, at)| *t == Told::Acknowledged && *at >= from)
            .map(|(_, _, at)| *at - from)
            .min()
    }

    /// Checks the database against the ledger; panics with the first violation.
    pub async fn check(&self, url: &str, what: &str) {
        let store = Store::connect(url).await.expect("connect");
        let (tables, _) = store.load_all().await.expect("load");
        store.close().await;
        let mut stored: HashMap<&str, usize> = HashMap::new();
        for s in &tables.submission {
            *stored.entry(s.flag.as_str()).or_insert(0) += 1;
        }
        let entries = self.0.lock().unwrap().clone();
        let (mut lost, mut twice, mut failed_but_stored) = (Vec::new(), Vec::new(), Vec::new());
        for (flag, told, _) in &entries {
            let n = stored.get(flag.as_str()).copied().unwrap_or(0);
            if n > 1 {
                twice.push(flag.clone());
            }
            match told {
                Told::Acknowledged if n == 0 => lost.push(flag.clone()),
                Told::Failed | Told::NotSent if n > 0 => failed_but_stored.push(flag.clone()),
                _ => {}
            }
        }
        println!(
            "{what}: {:?}; lost {}, stored twice {}, failed but stored {}",
            self.counts(),
            lost.len(),
            twice.len(),
            failed_but_stored.len()
        );
        assert!(lost.is_empty(), "{what}: acknowledged but lost: {lost:?}");
        assert!(twice.is_empty(), "{what}: stored twice: {twice:?}");
        assert!(
            failed_but_stored.is_empty(),
            "{what}: answered failed but stored: {failed_but_stored:?}"
        );
    }
}

/// Submits one unique wrong flag as `token` and records the answer.
pub async fn submit(
    client: &reqwest::Client,
    port: u16,
    token: &str,
    challenge: &str,
    ledger: &Ledger,
) -> Told {
    let flag = format!("flag{{probe_{:016x}}}", rand::random::<u64>());
    let answer = client
        .post(format!("http://127.0.0.1:{port}/service/wish/submit_flag"))
        .header("X-Wish-Version", WISH_VERSION)
        .header("Cookie", format!("auth_token={token}"))
        .json(&json!({"challenge_key": challenge, "flag": flag}))
        .send()
        .await;
    let answer = match answer {
        Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let t = told(&answer);
    if t == Told::NotSent {
        println!("not sent: {answer}");
    }
    ledger.record(flag, t);
    t
}

/// Players submitting through `port` until `stop` flips, `parallel` at a time, each
/// pausing `pace` between two. Without `cycle` each player submits at most once (the flag
/// cooldown is 10 s); with it, a player submits again once the cooldown has passed.
pub fn spawn_load(
    port: u16,
    players: &Players,
    parallel: usize,
    pace: Duration,
    cycle: bool,
    ledger: &Ledger,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let now = Instant::now();
    let queue: VecDeque<(String, Instant)> =
        players.tokens.iter().map(|t| (t.clone(), now)).collect();
    let queue = Arc::new(Mutex::new(queue));
    let challenges = Arc::new(players.challenges.clone());
    let cooldown = Duration::from_secs_f64(gs::rules::FLAG_COOLDOWN_S + 0.5);
    (0..parallel)
        .map(|_| {
            let (queue, challenges, ledger, stop) = (
                queue.clone(),
                challenges.clone(),
                ledger.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client");
                // Spread over the pace: the tasks must not submit in bursts.
                tokio::time::sleep(pace.mul_f64(rand::random::<f64>())).await;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Some((token, ready)) = queue.lock().unwrap().pop_front() else {
                        return;
                    };
                    tokio::time::sleep_until(ready.into()).await;
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let challenge = &challenges[rand::random_range(0..challenges.len())];
                    submit(&client, port, &token, challenge, &ledger).await;
                    if cycle {
                        queue
                            .lock()
                            .unwrap()
                            .push_back((token, Instant::now() + cooldown));
                    }
                    tokio::time::sleep(pace).await;
                }
            })
        })
        .collect()
}

/// Polls a read endpoint every 50 ms until `stop`; counts NO_GAME and other failures.
pub fn spawn_reader(port: u16, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(usize, usize)> {
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

/// A steady load: 32 players at a time, each submitting again after the flag cooldown,
/// paced so that players off cooldown never run out (at most one per 100 ms per task).
pub struct PacedLoad {
    pub ledger: Ledger,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PacedLoad {
    pub fn start(port: u16, players: &Players) -> PacedLoad {
        let ledger = Ledger::default();
        let stop = Arc::new(AtomicBool::new(false));
        const PARALLEL: usize = 32;
        let cooldown = gs::rules::FLAG_COOLDOWN_S + 0.5;
        let pace = Duration::from_secs_f64(
            (PARALLEL as f64 * cooldown / players.tokens.len().max(1) as f64).max(0.1),
        );
        let tasks = spawn_load(port, players, PARALLEL, pace, true, &ledger, stop.clone());
        PacedLoad {
            ledger,
            stop,
            tasks,
        }
    }

    /// Stops the load and waits for every answer; returns the ledger.
    pub async fn finish(self) -> Ledger {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("load task");
        }
        self.ledger
    }
}

/// A worker's state counter and the reducer's, from its `/readyz`.
pub async fn counters(client: &reqwest::Client, port: u16) -> Option<(u64, u64)> {
    let answer: Value = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some((
        answer["state_counter"].as_u64()?,
        answer["reducer_state_counter"].as_u64()?,
    ))
}
