//! The police and the staff notifier end to end: `gs serve` (reducer, two workers, police)
//! as a real process over tcp:// glitter, a mock webhook in the test (a local HTTP server
//! on port 0), the log table read from the SQLite file and the admin anti-cheat page.

mod common;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GS: &str = env!("CARGO_BIN_EXE_gs");
const WISH_VERSION: &str = "2025.v1";
const GLITTER_TOKEN: &str = "a-test-token-shared-by-the-processes";
const FEISHU_SECRET: &str = "feishu-test-secret";
const HONEYPOT: &str = "flag{honeypot_of_misc_leet}";

/// What the mock webhook received: (path, text).
#[derive(Clone, Default)]
struct Hook {
    received: Arc<Mutex<Vec<(String, String)>>>,
    hang: Arc<AtomicBool>,
    bad_signatures: Arc<Mutex<u32>>,
}

impl Hook {
    fn texts(&self, path: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Waits until `path` received a text matching `pred`, or panics after `limit`.
    async fn wait_for(&self, path: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(t) = self.texts(path).into_iter().find(|t| pred(t)) {
                return t;
            }
            assert!(
                start.elapsed() < limit,
                "no matching message at {path} within {limit:?}; got {:#?}",
                self.texts(path)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn generic(State(h): State<Hook>, Json(body): Json<Value>) -> Json<Value> {
    if h.hang.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let text = body["text"].as_str().unwrap_or("").to_owned();
    h.received.lock().unwrap().push(("generic".into(), text));
    Json(json!({"ok": true}))
}

async fn feishu(State(h): State<Hook>, Json(body): Json<Value>) -> Json<Value> {
    if h.hang.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let ts: i64 = body["timestamp"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if body["sign"].as_str() != Some(&gs::notify::target::feishu_sign(ts, FEISHU_SECRET)) {
        *h.bad_signatures.lock().unwrap() += 1;
        return Json(json!({"code": 19021, "msg": "sign match fail"}));
    }
    assert_eq!(body["msg_type"], "text");
    let text = body["content"]["text"].as_str().unwrap_or("").to_owned();
    h.received.lock().unwrap().push(("feishu".into(), text));
    Json(json!({"code": 0, "msg": "success"}))
}

/// Starts the mock webhook; returns it and its port.
async fn start_hook() -> (Hook, u16) {
    let hook = Hook::default();
    let app = Router::new()
        .route("/generic", post(generic))
        .route("/feishu", post(feishu))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (hook, port)
}

use common::{free_port, gs_command, Proc};

struct Cluster {
    dir: tempfile::TempDir,
    api_port: u16,
    admin_port: u16,
    _serve: Proc,
}

fn user_token(uid: i64) -> String {
    format!("{uid}_authtoken{uid:0>40}")
}

impl Cluster {
    /// The golden running contest (a honeypot on misc_leet, an attachment whose path leaves
    /// its directory on tutorial) under `gs serve` with two workers and the police.
    async fn start(hook_port: u16, notify_extra: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().display().to_string();
        let paths = common::paths_toml(&d);
        let api_port = (0..50)
            .map(|_| free_port())
            .find(|&p| {
                p < 60_000
                    && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok())
            })
            .expect("free ports");
        let admin_port = free_port();
        let config = dir.path().join("gs.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[database]
url = "sqlite://{d}/gs.db"
{paths}[glitter]
action_addr = "tcp://127.0.0.1:{}"
event_addr = "tcp://127.0.0.1:{}"
token = "{GLITTER_TOKEN}"
[api]
listen = "127.0.0.1:{api_port}"
workers = 2
[admin]
listen = "127.0.0.1:{admin_port}"
uids = [1]
destructive_uids = [1]
timezone = "UTC"
[notify]
feishu_webhook = "http://127.0.0.1:{hook_port}/feishu"
feishu_secret = "{FEISHU_SECRET}"
webhook_url = "http://127.0.0.1:{hook_port}/generic"
{notify_extra}
"#,
                free_port(),
                free_port()
            ),
        )
        .unwrap();
        let mut contest = common::golden_json("running.contest.json");
        let tables = if contest.get("tables").is_some() {
            &mut contest["tables"]
        } else {
            &mut contest
        };
        for ch in tables["challenge"].as_array_mut().unwrap() {
            if ch["key"] == "misc_leet" {
                ch["chall_metadata"]["honeypot_flags"] = json!([HONEYPOT]);
            }
            if ch["key"] == "tutorial" {
                ch["actions"].as_array_mut().unwrap().push(json!({
                    "type": "attachment", "name": "escape", "effective_after": 0,
                    "filename": "escape.txt", "file_path": "../outside.txt"}));
            }
        }
        let dump = dir.path().join("contest.json");
        std::fs::write(&dump, contest.to_string()).unwrap();
        let run = |args: &[&str], log: &str| gs_command(GS, dir.path(), &config, args, log);
        let status = run(&["db", "import", &dump.display().to_string()], "import.log")
            .status()
            .unwrap();
        assert!(status.success(), "import failed");
        let serve = Proc(run(&["serve"], "serve.log").spawn().unwrap());
        let cluster = Cluster {
            dir,
            api_port,
            admin_port,
            _serve: serve,
        };
        cluster.wait_ready().await;
        cluster
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let start = Instant::now();
        for port in [self.api_port, self.api_port + 1] {
            loop {
                let a = self
                    .wish_on(&client, port, "game_info", None, json!({}))
                    .await;
                if a["error"].is_null() && a["cur_tick"].is_i64() {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "not serving: {}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        while !self.log().contains("police: indexed") {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "police not ready: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wish_on(
        &self,
        client: &reqwest::Client,
        port: u16,
        endpoint: &str,
        uid: Option<i64>,
        body: Value,
    ) -> Value {
        let mut req = client
            .post(format!("http://127.0.0.1:{port}/service/wish/{endpoint}"))
            .header("X-Wish-Version", WISH_VERSION)
            .json(&body);
        if let Some(uid) = uid {
            req = req.header("Cookie", format!("auth_token={}", user_token(uid)));
        }
        match req.send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("gs.db")).unwrap()
    }

    fn last_submission(&self, uid: i64) -> i64 {
        self.db()
            .query_row(
                "SELECT id FROM submission WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
                [uid],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Police log rows (level, message).
    fn police_rows(&self) -> Vec<(String, String)> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT level, message FROM \"log\" WHERE module = 'police.check_submission' ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    async fn wait_police_row(&self, head: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some((level, msg)) = self
                .police_rows()
                .into_iter()
                .find(|(_, m)| m.starts_with(head))
            {
                assert_eq!(level, "success");
                return msg;
            }
            assert!(
                start.elapsed() < limit,
                "no police row `{head}` within {limit:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn admin_page(&self, path: &str) -> String {
        let auth = user_token(1);
        let twofa = gs::crypto::admin_2fa_value(GLITTER_TOKEN, &auth);
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/admin{path}", self.admin_port))
            .header("Cookie", format!("auth_token={auth}; admin_2fa={twofa}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/")
    }
}

fn login_key(uid: i64) -> String {
    let contest = common::golden_json("running.contest.json");
    let tables = contest.get("tables").unwrap_or(&contest);
    tables["user"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == uid)
        .and_then(|u| u["login_key"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn police_reports_shared_flags_and_honeypots_within_a_second() {
    let (hook, hook_port) = start_hook().await;
    let c = Cluster::start(hook_port, "").await;
    let client = reqwest::Client::new();

    // User 4 submits user 2's leet flag of misc_leet (through worker 1).
    let a_flag = "flag{tHis_is_a_leetablE_flag_fOR_mIsc_leet_nUmber_0}";
    let answer = c
        .wish_on(
            &client,
            c.api_port + 1,
            "submit_flag",
            Some(4),
            json!({"challenge_key": "misc_leet", "flag": a_flag}),
        )
        .await;
    let submitted = Instant::now();
    assert_eq!(answer["error_msg"], "Flag错误", "{answer}");
    let sid = c.last_submission(4);
    let head = format!(
        "S#{sid} (U#4 {} ch=misc_leet) matches 1 origin users:\n- U#2 {} (",
        login_key(4),
        login_key(2)
    );
    let row = c.wait_police_row(&head, Duration::from_secs(1)).await;
    let staff = hook
        .wait_for("generic", Duration::from_secs(1), |t| {
            t.starts_with("[POLICE] S#")
        })
        .await;
    println!(
        "report in the log table and at the webhook {:?} after the answer",
        submitted.elapsed()
    );
    assert_eq!(staff, format!("[POLICE] {row}"));
    hook.wait_for("feishu", Duration::from_secs(1), |t| *t == staff)
        .await;
    assert_eq!(*hook.bad_signatures.lock().unwrap(), 0);
    let page = c.admin_page("/anticheat").await;
    assert!(
        page.contains(&format!("/admin/submissions/{sid}\">S#{sid}</a>")),
        "{page}"
    );
    assert!(
        page.contains("/admin/users/4\">U#4</a>") && page.contains("/admin/users/2\">U#2</a>"),
        "{page}"
    );

    // A honeypot: answered as a wrong flag, reported the same way.
    let answer = c
        .wish_on(
            &client,
            c.api_port,
            "submit_flag",
            Some(6),
            json!({"challenge_key": "misc_leet", "flag": HONEYPOT}),
        )
        .await;
    assert_eq!(answer["error_msg"], "Flag错误", "{answer}");
    let sid = c.last_submission(6);
    let text = format!(
        "honeypot S#{sid} (U#6 {} ch=misc_leet) submitted a honeypot flag",
        login_key(6)
    );
    assert_eq!(c.wait_police_row(&text, Duration::from_secs(1)).await, text);
    hook.wait_for("generic", Duration::from_secs(1), |t| {
        *t == format!("[POLICE] {text}")
    })
    .await;
    let page = c.admin_page("/anticheat?challenge=misc_leet&uid=6").await;
    assert!(
        page.contains("<b>honeypot</b>") && page.contains(&format!("S#{sid}")),
        "{page}"
    );
    assert!(
        !page.contains("/admin/users/2\">"),
        "the filter keeps only U#6's reports: {page}"
    );

    // A partitioned flag shared by many users lists them all, in the reference's order.
    let part = |uid: i64| gs::state::flag::partition(uid, "algo_part", 4);
    let users: Vec<i64> = (1..=60).collect();
    let values = [
        "flag{algo_part_part_0_0_532510}",
        "flag{algo_part_part_0_1_896580}",
        "flag{algo_part_part_0_2_615917}",
        "flag{algo_part_part_0_3_199126}",
    ];
    let value = values[part(2) as usize];
    let mut holders: Vec<i64> = users
        .iter()
        .copied()
        .filter(|&u| part(u) == part(2))
        .collect();
    holders.sort();
    let mut submitter = 0;
    for u in (3..=60).filter(|&u| part(u) != part(2)) {
        let answer = c
            .wish_on(
                &client,
                c.api_port,
                "submit_flag",
                Some(u),
                json!({"challenge_key": "algo_part", "flag": value}),
            )
            .await;
        if answer["error_msg"] == "Flag错误" {
            submitter = u;
            break;
        }
    }
    assert!(submitter > 0, "no user could submit");
    let sid = c.last_submission(submitter);
    let row = c
        .wait_police_row(&format!("S#{sid} (U#{submitter} "), Duration::from_secs(1))
        .await;
    let lines: Vec<&str> = row.lines().skip(1).collect();
    assert!(
        row.lines()
            .next()
            .unwrap()
            .ends_with(&format!("matches {} origin users:", holders.len())),
        "{row}"
    );
    let mut listed: Vec<i64> = lines
        .iter()
        .map(|l| {
            l.strip_prefix("- U#")
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    // Order: passers by pass time, then "does not pass", then "empty user", uids rising.
    let rank = |l: &str| {
        if l.ends_with("(does not pass)") {
            1
        } else if l.ends_with("(empty user)") {
            2
        } else {
            0
        }
    };
    let ranks: Vec<u8> = lines.iter().map(|l| rank(l)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{row}");
    let times: Vec<&str> = lines
        .iter()
        .filter(|l| rank(l) == 0)
        .map(|l| l.rsplit_once(" (").unwrap().1)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{row}");
    for r in [1u8, 2] {
        let uids: Vec<i64> = lines
            .iter()
            .zip(&listed)
            .filter(|(l, _)| rank(l) == r)
            .map(|(_, u)| *u)
            .collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "{row}");
    }
    listed.sort();
    assert_eq!(listed, holders);
    let staff = hook
        .wait_for("generic", Duration::from_secs(1), |t| {
            t.starts_with(&format!("[POLICE] S#{sid} "))
        })
        .await;
    let shown = holders.len().min(7);
    assert_eq!(
        staff.lines().filter(|l| l.starts_with("- U#")).count(),
        shown
    );
    assert_eq!(
        staff.ends_with("(showing first 7)"),
        holders.len() > 7,
        "{staff}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_writeup_and_error_messages_once_with_two_workers() {
    let (hook, hook_port) = start_hook().await;
    let c = Cluster::start(hook_port, "").await;
    let client = reqwest::Client::new();

    let answer = c
        .wish_on(&client, c.api_port + 1, "submit_feedback", Some(4), json!({"challenge_key": "misc_leet", "feedback": "line one\nline two: the checker is broken"}))
        .await;
    assert_eq!(answer["error"], Value::Null, "{answer}");
    let fb = hook
        .wait_for("generic", Duration::from_secs(2), |t| {
            t.starts_with("[FEEDBACK]")
        })
        .await;
    assert!(
        fb.starts_with(&format!("[FEEDBACK] U#4 {} ", login_key(4))),
        "{fb}"
    );
    assert!(
        fb.contains("misc_leet") && fb.ends_with("line one line two: the checker is broken"),
        "{fb}"
    );

    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 wp".to_vec()).file_name("report.pdf"),
        )
        .text("publish", "Maybe")
        .text("rights", "CC0");
    let res = client
        .put(format!(
            "http://127.0.0.1:{}/service/wish/writeup",
            c.api_port
        ))
        .header("X-Wish-Version", WISH_VERSION)
        .header("Cookie", format!("auth_token={}", user_token(4)))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"], Value::Null, "{answer}");
    let wp = hook
        .wait_for("generic", Duration::from_secs(2), |t| {
            t.starts_with("[WRITEUP]")
        })
        .await;
    assert!(
        wp.starts_with(&format!("[WRITEUP] U#4 {} ", login_key(4)))
            && wp.ends_with("report.pdf, 11 bytes"),
        "{wp}"
    );

    // An error log row: an attachment whose path leaves its directory.
    let res = client
        .get(format!(
            "http://127.0.0.1:{}/service/attachment/tutorial/escape.txt",
            c.api_port + 1
        ))
        .header("Cookie", format!("auth_token={}", user_token(4)))
        .send()
        .await
        .unwrap();
    assert!(!res.status().is_success());
    let err = hook
        .wait_for("generic", Duration::from_secs(3), |t| {
            t.starts_with("[ERROR worker.http.attachment]")
        })
        .await;
    assert!(err.contains("leaves the attachment directory"), "{err}");

    // Each exactly once, on both targets, however many workers run.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for path in ["generic", "feishu"] {
        let texts = hook.texts(path);
        for prefix in ["[FEEDBACK]", "[WRITEUP]", "[ERROR worker.http.attachment]"] {
            let n = texts.iter().filter(|t| t.starts_with(prefix)).count();
            assert_eq!(n, 1, "{prefix} at {path}: {texts:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifier_throttles_per_channel_and_summarizes_later() {
    let (hook, hook_port) = start_hook().await;
    let config = gs::config::NotifyConfig {
        webhook_url: Some(gs::config::Secret::new(format!(
            "http://127.0.0.1:{hook_port}/generic"
        ))),
        throttle_max: 5,
        throttle_window_s: 1,
        ..Default::default()
    };
    let n = gs::notify::Notifier::start(&config);
    for i in 0..8 {
        n.notify("police:9", format!("[POLICE] report {i}"));
    }
    n.notify("feedback:3", "[FEEDBACK] other channel".into());
    hook.wait_for("generic", Duration::from_secs(2), |t| {
        t == "[FEEDBACK] other channel"
    })
    .await;
    hook.wait_for("generic", Duration::from_secs(2), |t| {
        t == "[POLICE] report 4"
    })
    .await;
    let stats = n.stats();
    assert_eq!((stats.throttled, stats.dropped), (3, 0), "{stats:?}");
    assert!(hook
        .texts("generic")
        .iter()
        .all(|t| !t.contains("report 5")));
    // Once the window has passed, the held-back messages are summarized, not lost.
    let summary = hook
        .wait_for("generic", Duration::from_secs(3), |t| {
            t.starts_with("[THROTTLED]")
        })
        .await;
    assert_eq!(
        summary,
        "[THROTTLED] 3 message(s) on channel police:9 were held back:\n- [POLICE] report 5\n- [POLICE] report 6\n- [POLICE] report 7"
    );
    // The notifier counts a message as sent once the hook's answer is back, a moment
    // after the hook has recorded it: wait for the counters to settle.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut stats = n.stats();
    while (stats.sent, stats.failed, stats.queued) != (7, 0, 0)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = n.stats();
    }
    assert_eq!(
        (stats.sent, stats.failed, stats.queued),
        (7, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_delays_no_player_request() {
    let (hook, hook_port) = start_hook().await;
    hook.hang.store(true, Ordering::SeqCst);
    let c = Cluster::start(hook_port, "timeout_s = 30\nretries = 0").await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    // Staff messages pile up behind the hanging webhook: honeypots (police) and pushes.
    let mut latencies = Vec::new();
    let players: Vec<i64> = [2i64, 4, 6].to_vec();
    for round in 0..3 {
        let mut tasks = Vec::new();
        for i in 0..200usize {
            let uid = players[i % players.len()];
            let port = c.api_port + (i % 2) as u16;
            let client = client.clone();
            let (endpoint, body) = if i % 4 == 0 {
                (
                    "submit_flag",
                    json!({"challenge_key": "misc_leet", "flag": HONEYPOT}),
                )
            } else {
                ("game_info", json!({}))
            };
            let url = format!("http://127.0.0.1:{port}/service/wish/{endpoint}");
            tasks.push(tokio::spawn(async move {
                let start = Instant::now();
                let res = client
                    .post(url)
                    .header("X-Wish-Version", WISH_VERSION)
                    .header("Cookie", format!("auth_token={}", user_token(uid)))
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                assert!(res.status().is_success());
                let _ = res.bytes().await;
                start.elapsed()
            }));
        }
        for t in tasks {
            let d = t.await.unwrap();
            if round > 0 {
                latencies.push(d);
            }
        }
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "200 concurrent player requests with a hanging webhook: p50 {:?}, p99 {:?}",
        latencies[latencies.len() / 2],
        p99
    );
    assert!(hook.texts("generic").is_empty());
    assert!(p99 < Duration::from_millis(50), "p99 {p99:?}");
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The police's resident memory against an API worker's on the same 20,000-user contest.
/// Run by hand: `cargo nextest run --release --run-ignored only --test police --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (20,000 users); run by hand in release mode"]
async fn police_rss_against_an_api_worker() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let api_port = free_port();
    let config = dir.path().join("gs.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{d}/gs.db\"\n[paths]\ndata = \"{d}/data\"\n\
             [glitter]\naction_addr = \"tcp://127.0.0.1:{}\"\nevent_addr = \"tcp://127.0.0.1:{}\"\ntoken = \"{GLITTER_TOKEN}\"\n\
             [api]\nlisten = \"127.0.0.1:{api_port}\"\n[admin]\nlisten = \"127.0.0.1:{}\"\n",
            free_port(),
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    let gs = |args: &[&str], log: &str| gs_command(GS, dir.path(), &config, args, log);
    let dump = format!("{d}/contest.json");
    let ok = Command::new(GS)
        .args([
            "db",
            "generate",
            &dump,
            "--users",
            "20000",
            "--submissions",
            "400000",
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert!(gs(&["db", "import", &dump], "import.log")
        .status()
        .unwrap()
        .success());
    let _reducer = Proc(gs(&["reducer"], "reducer.log").spawn().unwrap());
    let worker = Proc(
        gs(&["worker", "--index", "0"], "worker.log")
            .spawn()
            .unwrap(),
    );
    let police = Proc(gs(&["police"], "police.log").spawn().unwrap());
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let start = Instant::now();
    while !(log("worker.log").contains("serving at state counter")
        && log("police.log").contains("police: indexed"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{}\n{}",
            log("worker.log"),
            log("police.log")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (w, p) = (rss_kib(worker.0.id()), rss_kib(police.0.id()));
    let indexed = log("police.log");
    let indexed = indexed
        .lines()
        .find(|l| l.contains("police: indexed"))
        .unwrap_or("");
    println!(
        "API worker RSS {} MiB, police RSS {} MiB, ratio {:.2}; {indexed}",
        w / 1024,
        p / 1024,
        p as f64 / w as f64
    );
    assert!(
        p as f64 <= 1.5 * w as f64,
        "police {p} KiB vs worker {w} KiB"
    );
}
