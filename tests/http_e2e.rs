//! End to end through the real reducer: a golden dump imported into SQLite, the reducer and
//! one worker started as `gs serve` starts them (tasks talking over glitter), then the
//! golden `live` and `after_live` questions over HTTP, and a first blood pushed to a
//! WebSocket.

mod common;
mod http_support;

use common::{first_difference, golden_json, normalize};
use futures::StreamExt;
use gs::rows::{Dump, Tables};
use gs::store::Store;
use http_support::{auth_token, test_config, WISH_VERSION};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The reducer and one worker on a fresh database holding `tables`.
struct Cluster {
    _dir: tempfile::TempDir,
    base: String,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    requests: mpsc::Sender<gs::reducer::ReducerRequest>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    async fn start(tables: Tables) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let listen = format!("127.0.0.1:{}", free_port());
        let config = Arc::new(test_config(dir.path(), &[("GS_API__LISTEN", &listen)]));
        let store = Store::connect(&config.database.url).await.expect("db");
        store.migrate().await.expect("migrate");
        store.import(&Dump { tables }, false).await.expect("import");
        store.close().await;
        let (stop, stopped) = watch::channel(false);
        let (requests, task_rx) = mpsc::channel(4);
        let mut reducer_stop = stopped.clone();
        let reducer = tokio::spawn(gs::serve::run_reducer(
            config.clone(),
            task_rx,
            async move {
                let _ = reducer_stop.wait_for(|s| *s).await;
            },
        ));
        // The worker says hello to a bound reducer socket.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let worker = tokio::spawn(gs::serve::run_worker(config.clone(), 0, stopped));
        let cluster = Cluster {
            _dir: dir,
            base: format!("http://{listen}"),
            http: reqwest::Client::new(),
            stop,
            tasks: vec![reducer, worker],
            requests,
        };
        cluster.wait_serving(Duration::from_secs(20)).await;
        cluster
    }

    async fn wish(&self, endpoint: &str, auth: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/service/wish/{endpoint}", self.base))
            .header("X-Wish-Version", WISH_VERSION)
            .json(body);
        if let Some(t) = auth {
            req = req.header("Cookie", format!("auth_token={t}"));
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                (status, res.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    async fn wait_serving(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            let (_, v) = self.wish("game_info", None, &json!({})).await;
            if v.get("error") == Some(&Value::Null) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the worker did not serve the game within {limit:?}");
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            match tokio::time::timeout(Duration::from_secs(10), t).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("a task did not stop cleanly: {other:?}"),
            }
        }
    }
}

fn golden_tables(contest: &str) -> Tables {
    let dump: Dump =
        serde_json::from_value(golden_json(&format!("{contest}.contest.json"))).expect("dump");
    dump.tables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_after_live_through_the_real_reducer() {
    let (mut equal, mut total) = (0, 0);
    let mut report = Vec::new();
    for contest in common::CONTESTS {
        let cluster = Cluster::start(golden_tables(contest)).await;
        let answers = golden_json(&format!("{contest}.answers.json"));
        for (list, live_times) in [("live", false), ("after_live", true)] {
            for q in answers[list].as_array().expect("list") {
                let endpoint = q["endpoint"].as_str().expect("endpoint");
                let token = q["auth_token"].as_str();
                let (status, answer) = cluster.wish(endpoint, token, &q["body"]).await;
                total += 1;
                let expected = normalize(&q["answer"], live_times);
                match first_difference(&expected, &normalize(&answer, live_times), "") {
                    None if status == 200 => equal += 1,
                    None => report.push(format!("{contest} {list} {endpoint}: HTTP {status}")),
                    Some(d) => {
                        report.push(format!("{contest} {list} {endpoint} as {token:?}: {d}"))
                    }
                }
            }
        }
        cluster.stop().await;
    }
    println!("golden live + after_live through the reducer: {equal}/{total} equal");
    for line in report.iter().take(40) {
        println!("  {line}");
    }
    assert_eq!(equal, total, "{} answers differ", total - equal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_blood_reaches_the_websocket_and_registration_works() {
    let mut tables = golden_tables("running");
    let mut fresh = tables.challenge[0].clone();
    fresh.id = 1000;
    fresh.key = "fresh".into();
    fresh.title = "Fresh".into();
    fresh.effective_after = 0;
    fresh.flags = json!([{"name": "", "type": "static", "base_score": 100, "val": "flag{fresh}"}]);
    tables.challenge.push(fresh);
    let cluster = Cluster::start(tables).await;

    let url = cluster.base.replace("http://", "ws://") + "/service/ws/push";
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "cookie",
        format!("auth_token={}", auth_token(2))
            .parse()
            .expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
    // The upgrade completes asynchronously; give the server a moment to subscribe.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (_, answer) = cluster
        .wish(
            "submit_flag",
            Some(&auth_token(2)),
            &json!({"challenge_key": "fresh", "flag": "flag{fresh}"}),
        )
        .await;
    assert_eq!(answer, json!({"error": null}));
    let push = loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a push within 5 s");
        match msg {
            Some(Ok(Message::Text(t))) => break serde_json::from_str::<Value>(&t).expect("JSON"),
            Some(Ok(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(push["type"], "challenge_first_blood", "{push}");
    assert_eq!(push["board_name"], "清华大学一血榜");
    assert_eq!(push["challenge"], "Fresh");

    // Read-your-writes: the board shows the pass right away.
    let (_, board) = cluster.wish("board/first_thu", None, &json!({})).await;
    assert!(board.to_string().contains("Fresh"));

    // Manual registration goes through the reducer's RegisterUser.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = client
        .get(format!(
            "{}/service/auth/manual?identity=newbie",
            cluster.base
        ))
        .send()
        .await
        .expect("login");
    assert_eq!(
        res.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/#/user/terms")
    );
    let token = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("auth_token="))
        .and_then(|c| c.split(';').next())
        .expect("auth cookie")
        .to_owned();
    let (_, info) = cluster.wish("game_info", Some(&token), &json!({})).await;
    assert_eq!(info["user"]["login_key"], "manual:newbie");
    let (_, agreed) = cluster.wish("agree_term", Some(&token), &json!({})).await;
    assert_eq!(agreed, json!({"error": null}));
    let (_, info) = cluster.wish("game_info", Some(&token), &json!({})).await;
    assert_eq!(info["user"]["terms_agreed"], true);
    assert_eq!(
        info["feature"]["push"], false,
        "an empty profile may not play"
    );
    let (_, game) = cluster.wish("game", Some(&token), &json!({})).await;
    assert_eq!(game["error"], "SHOULD_UPDATE_PROFILE", "{game}");
    // The journey of a new player: the profile filled in right after the terms is saved
    // (the first profile is stamped 0, as in the reference), and the game opens.
    let profile = json!({"profile": {"nickname": "Newbie", "tel": "13800000000", "qq": "123456", "comment": ""}});
    let (status, updated) = cluster.wish("update_profile", Some(&token), &profile).await;
    assert_eq!((status, &updated), (200, &json!({"error": null})));
    let (_, game) = cluster.wish("game", Some(&token), &json!({})).await;
    assert_eq!(game["error"], Value::Null, "{game}");
    assert!(game["challenge_list"]
        .as_array()
        .is_some_and(|l| !l.is_empty()));
    let (_, info) = cluster.wish("game_info", Some(&token), &json!({})).await;
    assert_eq!(info["user"]["profile"]["nickname"], "Newbie");
    // The second edit is cooled down, as in the reference.
    let (_, again) = cluster.wish("update_profile", Some(&token), &profile).await;
    assert_eq!(again["error"], "RATE_LIMIT", "{again}");

    // A player whose profile is old enough changes it through the reducer.
    let four = auth_token(4);
    let missing = json!({"profile": {"nickname": "Four"}});
    let (_, refused) = cluster.wish("update_profile", Some(&four), &missing).await;
    assert_eq!(refused["error"], "INVALID_PARAM", "{refused}");
    let profile = json!({"profile": {"nickname": "Four v2", "tel": "13800000004", "qq": "40004", "comment": "hi", "ignored": "x"}});
    let (_, updated) = cluster.wish("update_profile", Some(&four), &profile).await;
    assert_eq!(updated, json!({"error": null}));
    let (_, info) = cluster.wish("game_info", Some(&four), &json!({})).await;
    assert_eq!(
        info["user"]["profile"],
        json!({"nickname": "Four v2", "tel": "13800000004", "qq": "40004", "comment": "hi"})
    );
    cluster.stop().await;
}

/// Sends an admin edit to the reducer and waits for its answer.
async fn admin(cluster: &Cluster, write: gs::reducer::AdminWrite) -> Result<u64, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    cluster
        .requests
        .send(gs::reducer::ReducerRequest::Write(Box::new(write), tx))
        .await
        .expect("reducer running");
    rx.await.expect("reducer answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_edits_reach_the_workers_within_a_second() {
    let cluster = Cluster::start(http_support::contest_tables("running")).await;
    // A new announcement appears on the worker.
    let row = gs::rows::AnnouncementRow {
        id: 0,
        timestamp_s: 1_790_000_000,
        title: "Admin says hi".into(),
        content_template: "Hello **{{ group }}**".into(),
    };
    admin(&cluster, gs::reducer::AdminWrite::UpsertAnnouncement(row))
        .await
        .expect("saved");
    let start = Instant::now();
    loop {
        let (_, answer) = cluster.wish("announcements", None, &json!({})).await;
        if answer["list"][0]["title"] == "Admin says hi" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "announcement not visible: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // An invalid challenge is refused with a clear message and changes nothing.
    let mut bad = http_support::contest_tables("running").challenge[0].clone();
    bad.id = 0;
    bad.key = "brand_new".into();
    bad.flags = json!([]);
    let refused = admin(
        &cluster,
        gs::reducer::AdminWrite::UpsertChallenge(bad.clone()),
    )
    .await;
    assert!(refused.is_err_and(|e| e.contains("1 to 3 flags")));
    // A valid one is created and playable at once.
    bad.flags =
        json!([{"name": "", "type": "static", "base_score": 100, "val": "flag{brand_new}"}]);
    bad.effective_after = 0;
    admin(&cluster, gs::reducer::AdminWrite::UpsertChallenge(bad))
        .await
        .expect("saved");
    let start = Instant::now();
    loop {
        let (_, game) = cluster.wish("game", Some(&auth_token(2)), &json!({})).await;
        if game["challenge_list"]
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c["key"] == "brand_new"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "challenge not visible: {game}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A score override changes the board.
    let (_, before) = cluster.wish("board/score_all", None, &json!({})).await;
    let top = before["list"][0]["uid"].as_i64().expect("a leader");
    let tables = http_support::contest_tables("running");
    // A passing submission of the leader: its time is one of the board's flag times.
    let passed_at: Vec<i64> = before["list"][0]["flag_status"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v[0].as_i64()).collect())
        .unwrap_or_default();
    let sub = tables
        .submission
        .iter()
        .find(|s| s.user_id == top && passed_at.contains(&(s.timestamp_ms / 1000)))
        .expect("a passing submission of the leader");
    admin(
        &cluster,
        gs::reducer::AdminWrite::SetSubmissionOverrides {
            id: sub.id,
            score_override: Some(10_000),
            percentage_override: None,
        },
    )
    .await
    .expect("saved");
    let start = Instant::now();
    loop {
        let (_, after) = cluster.wish("board/score_all", None, &json!({})).await;
        if after["list"] != before["list"] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the board did not change"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.stop.send(true).ok();
}
