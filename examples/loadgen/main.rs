//! Load generator for a running `gs serve` (see scripts/load-test.sh):
//!
//! - `loadgen submit URL DUMP DB_URL [CONCURRENCY] [SECONDS] [RATE]`: correct flags of
//!   every player who can play, as fast as the server takes them (or RATE per second,
//!   each request at its scheduled time, reporting latency percentiles from that time);
//!   then checks that every acknowledged submission is in the database.
//! - `loadgen ws URL DUMP CONNECTIONS [SERVER_PID]`: opens that many WebSockets (up to 16
//!   per player), waits for the next broadcast (the contest's next trigger) and reports
//!   how long it took to reach every connection (each connection keeps reading and notes
//!   when its frame arrived; all stay open until the end); with the server's pid, also
//!   the server's CPU time around the broadcast and its memory before, with the
//!   connections idle, and 1, 3, 10 and 20 s after they closed.
//! - `loadgen soak --config GS_TOML --dump CONTEST_JSON --gs GS_BINARY [options]`: a
//!   reducer and workers under a mixed load and random faults (`soak.rs`, scripts/soak.sh).

mod soak;

use futures_util::StreamExt;
use gs::rows::Dump;
use gs::state::user::FlagRef;
use gs::state::{Game, GameOptions};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn load_game(dump: &str) -> Result<Game, BoxError> {
    let dump: Dump = serde_json::from_str(&std::fs::read_to_string(dump)?)?;
    let now = gs::clock::now_s();
    let tick = gs::state::trigger::Timeline::new(dump.tables.trigger.clone()).tick_at(now);
    Ok(Game::build(dump.tables, tick, GameOptions::default()))
}

/// Players who can play, with their auth tokens.
fn players(game: &Game) -> Vec<(u32, String)> {
    game.users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.check_play_game().is_ok())
        .filter_map(|(i, u)| Some((i as u32, u.row.auth_token.clone()?)))
        .collect()
}

/// One correct flag a player has not submitted yet: (auth token, challenge key, flag, uid).
type FlagJob = (String, String, String, i64);

/// Every (player, flag) not passed yet, interleaved across players (each player's first,
/// then each one's second, …).
fn correct_flags(game: &Game) -> Vec<FlagJob> {
    let mut per_user: Vec<Vec<FlagJob>> = Vec::new();
    for (ui, token) in players(game) {
        let uid = game.users[ui as usize].id();
        let mut jobs = Vec::new();
        for ch in game
            .challenges_in_order()
            .filter(|c| c.effective_at(game.cur_tick))
        {
            let ci = game.chall_idx(&ch.row.key).unwrap_or(0);
            for (fi, f) in ch.flags.iter().enumerate() {
                if game
                    .user_passed(
                        ui,
                        FlagRef {
                            chall: ci,
                            flag: fi as u32,
                        },
                    )
                    .is_some()
                {
                    continue;
                }
                if let Ok(flag) = f.spec.correct_value(&ch.row.key, uid, None) {
                    jobs.push((token.clone(), ch.row.key.clone(), flag, uid));
                }
            }
        }
        per_user.push(jobs);
    }
    let mut jobs = Vec::new();
    let longest = per_user.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..longest {
        for list in &per_user {
            if let Some(j) = list.get(round) {
                jobs.push(j.clone());
            }
        }
    }
    jobs
}

async fn submit(
    url: &str,
    dump: &str,
    db_url: &str,
    concurrency: usize,
    seconds: u64,
    rate: Option<f64>,
) -> Result<(), BoxError> {
    let game = load_game(dump)?;
    let jobs = correct_flags(&game);
    println!(
        "{} correct submissions available from {} players",
        jobs.len(),
        players(&game).len()
    );
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (jobs, next, ack, refused, client, url, latencies) = (
            jobs.clone(),
            next.clone(),
            acknowledged.clone(),
            refused.clone(),
            client.clone(),
            url.to_owned(),
            latencies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((token, key, flag, uid)) = jobs.get(i) else {
                    break;
                };
                // Open loop: request i is due at i / rate, whether or not earlier ones
                // were answered, so a slow server shows up as latency.
                let due = match rate {
                    Some(r) => {
                        let due = started + Duration::from_secs_f64(i as f64 / r);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                let resp = client
                    .post(format!("{url}/service/wish/submit_flag"))
                    .header("X-Wish-Version", "2025.v1")
                    .header("Cookie", format!("auth_token={token}"))
                    .json(&serde_json::json!({"challenge_key": key, "flag": flag}))
                    .send()
                    .await;
                let answer: serde_json::Value = match resp {
                    Ok(r) => r.json().await.unwrap_or_default(),
                    Err(_) => serde_json::Value::Null,
                };
                latencies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(due.elapsed());
                if answer.get("error").is_some_and(serde_json::Value::is_null) {
                    ack.lock().unwrap_or_else(|e| e.into_inner()).push((
                        *uid,
                        key.clone(),
                        flag.clone(),
                    ));
                } else if refused.fetch_add(1, Ordering::Relaxed) < 3 {
                    println!("refused: {key} {flag}: {answer}");
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    let ack = std::mem::take(&mut *acknowledged.lock().unwrap_or_else(|e| e.into_inner()));
    println!(
        "submit_flag: {} acknowledged in {elapsed:?} = {:.0}/s ({} refused) with {concurrency} concurrent clients",
        ack.len(),
        ack.len() as f64 / elapsed.as_secs_f64(),
        refused.load(Ordering::Relaxed)
    );
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    lat.sort();
    if !lat.is_empty() {
        let at = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
        println!(
            "submit_flag latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3
        );
    }
    let store = gs::store::Store::connect(db_url).await?;
    let (tables, _) = store.load_all().await?;
    let stored: HashSet<(i64, &str, &str)> = tables
        .submission
        .iter()
        .map(|s| (s.user_id, s.challenge_key.as_str(), s.flag.as_str()))
        .collect();
    let missing = ack
        .iter()
        .filter(|(u, k, f)| !stored.contains(&(*u, k.as_str(), f.as_str())))
        .count();
    println!(
        "durability: {} acknowledged, {missing} missing from the database",
        ack.len()
    );
    if missing > 0 {
        return Err("acknowledged submissions are missing from the database".into());
    }
    Ok(())
}

/// Resident memory of a process in KiB (Linux), if it can be read.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) a process has used so far, in seconds, from `/proc/PID/stat`
/// (`self` for this one); its clock ticks are USER_HZ, 100 per second on Linux.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The machine's load averages (`/proc/loadavg`, first three fields).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The time since `base` in nanoseconds, never 0 (0 marks "nothing received").
fn nanos_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

async fn ws(url: &str, dump: &str, connections: usize, pid: Option<u32>) -> Result<(), BoxError> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    let game = load_game(dump)?;
    let rss_before = pid.and_then(rss_kib);
    let players = players(&game);
    if players.is_empty() {
        return Err("no player can play".into());
    }
    if connections > players.len() * 16 {
        return Err("more connections than 16 per player".into());
    }
    let ws_url = format!("{}/service/ws/push", url.replacen("http", "ws", 1));
    // When each connection received its first push message, in ns after `base` (0: not
    // yet), stored by the connection's own task the moment the frame is read: no lock.
    let base = Instant::now();
    let base_wall = std::time::SystemTime::now();
    let arrivals: Arc<Vec<AtomicU64>> =
        Arc::new((0..connections).map(|_| AtomicU64::new(0)).collect());
    let opened = Arc::new(AtomicUsize::new(0));
    // 4 KiB read buffers (the library's default, 128 KiB allocated up front, made 10,000
    // connections cost this process 1.3 GB), frames written at once, Nagle off.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut tasks = Vec::new();
    for i in 0..connections {
        let token = players[i % players.len()].1.clone();
        let (ws_url, arrivals, opened) = (ws_url.clone(), arrivals.clone(), opened.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(mut req) = ws_url.as_str().into_client_request() else {
                return;
            };
            let Ok(cookie) = format!("auth_token={token}").parse() else {
                return;
            };
            req.headers_mut().insert("Cookie", cookie);
            let Ok((mut stream, _)) =
                tokio_tungstenite::connect_async_with_config(req, Some(config), true).await
            else {
                return;
            };
            opened.fetch_add(1, Ordering::Relaxed);
            // Stays connected (answering pings) until the end of the test, so that no
            // close is under way on either side while the broadcast is delivered.
            while let Some(Ok(msg)) = stream.next().await {
                if msg.is_text() {
                    let t = nanos_since(base);
                    let _ =
                        arrivals[i].compare_exchange(0, t, Ordering::Relaxed, Ordering::Relaxed);
                }
            }
        }));
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The broadcast is the contest's next trigger; give it a few seconds after that.
    let now = gs::clock::now_s();
    let next = game
        .timeline
        .next_after(now)
        .map(|t| t.timestamp_s)
        .ok_or("no trigger ahead")?;
    println!(
        "{} of {connections} WebSockets open after {:?}; the next trigger is in {} s",
        opened.load(Ordering::Relaxed),
        base.elapsed(),
        next - now
    );
    if next - now > 3 {
        // Idle connections: what each costs the server, once they are all open.
        let open_by = Instant::now() + Duration::from_secs((next - now - 3) as u64);
        while opened.load(Ordering::Relaxed) < connections && Instant::now() < open_by {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let open = opened.load(Ordering::Relaxed) as u64;
        if let (Some(before), Some(idle)) = (rss_before, pid.and_then(rss_kib)) {
            println!(
                "server memory: {} MiB before, {} MiB with {open} idle WebSockets: {:.1} KiB per connection",
                before / 1024,
                idle / 1024,
                idle.saturating_sub(before) as f64 / open.max(1) as f64
            );
        }
    }
    // CPU used by the server and by this client from 1 s before the trigger to 3 s after.
    let wall_ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    };
    let until_ms = |at_ms: i64| {
        Duration::from_millis((at_ms - wall_ms(std::time::SystemTime::now())).max(0) as u64)
    };
    tokio::time::sleep(until_ms(next * 1000 - 1000)).await;
    let cpu = |pid: Option<u32>| pid.and_then(|p| cpu_seconds(&p.to_string()));
    let (server_cpu0, own_cpu0) = (cpu(pid), cpu_seconds("self"));
    tokio::time::sleep(until_ms(next * 1000 + 3000)).await;
    let (server_cpu1, own_cpu1) = (cpu(pid), cpu_seconds("self"));
    let load = load_average();
    tokio::time::sleep(until_ms(next * 1000 + 5000)).await;
    println!("{} WebSockets were open", opened.load(Ordering::Relaxed));
    let mut times: Vec<u64> = arrivals
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .filter(|&t| t > 0)
        .collect();
    for t in &tasks {
        t.abort();
    }
    times.sort_unstable();
    match (times.first(), times.last()) {
        (Some(&first), Some(&last)) => {
            let ms = |ns: u64| ns as f64 / 1e6;
            let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize] - first;
            let trigger_ms = next * 1000 - wall_ms(base_wall);
            println!(
                "broadcast reached {} connections; first {:.1} ms after the trigger time; spread from first to last: {:.1} ms (p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms)",
                times.len(),
                ms(first) - trigger_ms as f64,
                ms(last - first),
                ms(at(0.5)),
                ms(at(0.9)),
                ms(at(0.99)),
            );
        }
        _ => println!("no broadcast received"),
    }
    if let (Some(a), Some(b)) = (server_cpu0, server_cpu1) {
        println!(
            "server CPU from 1 s before the trigger to 3 s after: {:.2} s",
            b - a
        );
    }
    if let (Some(a), Some(b)) = (own_cpu0, own_cpu1) {
        println!(
            "this client's CPU in the same 4 s: {:.2} s; load average then: {load}",
            b - a
        );
    }
    if let Some(pid) = pid {
        // Closed connections give their memory back (after the server notices them).
        let closed = Instant::now();
        for after_s in [1, 3, 10, 20] {
            tokio::time::sleep_until((closed + Duration::from_secs(after_s)).into()).await;
            if let Some(after) = rss_kib(pid) {
                println!(
                    "server memory {after_s} s after the connections closed: {} MiB",
                    after / 1024
                );
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "submit" => {
            let concurrency = arg(5).parse().unwrap_or(64);
            let seconds = arg(6).parse().unwrap_or(10);
            let rate = arg(7).parse().ok();
            submit(&arg(2), &arg(3), &arg(4), concurrency, seconds, rate).await
        }
        "soak" => soak::run(&args[2..]).await,
        "ws" => ws(&arg(2), &arg(3), arg(4).parse().unwrap_or(10_000), arg(5).parse().ok()).await,
        _ => Err("usage: loadgen submit URL DUMP DB_URL [CONCURRENCY] [SECONDS] [RATE] | loadgen ws URL DUMP CONNECTIONS [SERVER_PID] | loadgen soak --config GS_TOML --dump CONTEST_JSON --gs GS_BINARY [options]".into()),
    }
}
