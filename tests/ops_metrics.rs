//! Prometheus metrics, health and the CTFtime feed over real HTTP, with a real reducer,
//! worker and admin listener: the exposition parses with a strict text-format parser and
//! its values move when players act; `/metrics` is refused outside `[metrics] allow`.

mod admin_support;
mod common;
mod http_support;

use admin_support::Panel;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use serde_json::{json, Value};
use std::collections::HashMap;

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;

/// Fetches and parses an exposition; fails on any line the parser refuses.
async fn scrape(http: &reqwest::Client, url: &str) -> Exposition {
    let resp = http.get(url).send().await.expect("scrape");
    assert_eq!(resp.status(), 200, "{url}");
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = resp.text().await.expect("body");
    openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("{url}: the exposition does not parse: {e:?}\n{text}"))
}

/// The value of a counter or gauge sample with these labels (0 if the series is absent).
fn value(e: &Exposition, family: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(f) = e.families.get(family) else {
        return 0.0;
    };
    let want: HashMap<&str, &str> = labels.iter().copied().collect();
    for s in f.iter_samples() {
        let set = s
            .get_labelset()
            .expect("samples of a family have label names");
        let ok = want.iter().all(|(k, v)| set.get_label_value(k) == Some(*v));
        if !ok {
            continue;
        }
        return match &s.value {
            PrometheusValue::Gauge(n) => n.as_f64(),
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Unknown(n) => n.as_f64(),
            PrometheusValue::Histogram(h) => h.count.map_or(0.0, |c| c as f64),
            PrometheusValue::Summary(s) => s.count.map_or(0.0, |c| c as f64),
        };
    }
    0.0
}

async fn wish(p: &Panel, endpoint: &str, uid: i64, body: Value) -> Value {
    p.http
        .post(format!("{}/service/wish/{endpoint}", p.api))
        .header("X-Wish-Version", http_support::WISH_VERSION)
        .header("Cookie", format!("auth_token={}", p.token(uid)))
        .json(&body)
        .send()
        .await
        .expect("wish")
        .json()
        .await
        .expect("json")
}

fn admin_root(p: &Panel) -> String {
    p.base.trim_end_matches("/admin").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_actions() {
    let p = Panel::start(http_support::contest_tables("running")).await;
    let worker_url = format!("{}/metrics", p.api);
    let reducer_url = format!("{}/metrics", admin_root(&p));
    let game = [("endpoint", "/service/wish/game"), ("status", "200")];
    let submit = [("kind", "submit_flag"), ("outcome", "ok")];

    let w0 = scrape(&p.http, &worker_url).await;
    let r0 = scrape(&p.http, &reducer_url).await;
    for e in [&w0, &r0] {
        assert!(value(e, "process_resident_memory_bytes", &[]) > 1e6);
        assert!(e.families.contains_key("process_cpu_seconds_total"));
    }
    assert_eq!(value(&w0, "gs_worker_game_loaded", &[]), 1.0);
    assert!(value(&w0, "gs_game_users", &[]) > 0.0);
    assert!(value(&r0, "gs_game_challenges", &[]) > 0.0);

    for _ in 0..3 {
        let answer = wish(&p, "game", 2, json!({})).await;
        assert!(answer["error"].is_null(), "{answer}");
    }
    let answer = wish(
        &p,
        "submit_flag",
        4,
        json!({"challenge_key": "misc_static", "flag": "flag{not_the_flag}"}),
    )
    .await;
    assert_eq!(answer["error_msg"], "Flag错误", "{answer}");

    let w1 = scrape(&p.http, &worker_url).await;
    let r1 = scrape(&p.http, &reducer_url).await;
    let delta = |a: &Exposition, b: &Exposition, f: &str, l: &[(&str, &str)]| {
        value(b, f, l) - value(a, f, l)
    };
    assert_eq!(delta(&w0, &w1, "gs_http_requests_total", &game), 3.0);
    assert_eq!(
        delta(&w0, &w1, "gs_http_request_duration_seconds", &game),
        3.0,
        "histogram count"
    );
    assert_eq!(delta(&w0, &w1, "gs_worker_actions_sent_total", &[]), 1.0);
    assert!(delta(&w0, &w1, "gs_worker_state_counter", &[]) >= 1.0);
    assert!(delta(&w0, &w1, "gs_worker_events_applied_total", &[]) >= 1.0);
    assert_eq!(
        delta(&r0, &r1, "gs_submissions_total", &[("result", "wrong")]),
        1.0
    );
    assert_eq!(delta(&r0, &r1, "gs_reducer_actions_total", &submit), 1.0);
    assert!(delta(&r0, &r1, "gs_reducer_batch_size", &[]) >= 1.0);
    assert!(delta(&r0, &r1, "gs_reducer_commit_seconds", &[]) >= 1.0);
    assert!(delta(&r0, &r1, "gs_game_submissions", &[]) == 1.0);
    // The checkpoint task (every 250 ms) reports the WAL the submission's commit wrote to.
    let mut frames = value(&r1, "gs_reducer_wal_frames", &[]);
    for _ in 0..30 {
        if frames > 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        frames = value(
            &scrape(&p.http, &reducer_url).await,
            "gs_reducer_wal_frames",
            &[],
        );
    }
    assert!(frames > 0.0, "gs_reducer_wal_frames stayed at {frames}");
    // The staff notifier's figures are exposed with the reducer's.
    for family in ["gs_notifier_queue", "gs_notifier_messages"] {
        assert!(r1.families.contains_key(family), "{family} missing");
    }
    let fates: Vec<String> = r1.families["gs_notifier_messages"]
        .iter_samples()
        .filter_map(|s| {
            s.get_labelset()
                .ok()?
                .get_label_value("fate")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(fates.len(), 4, "{fates:?}");

    // Health: both processes live and ready, with JSON bodies.
    for base in [p.api.clone(), admin_root(&p)] {
        let r = p.http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        let r = p.http.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["ready"], true, "{body}");
    }
    // Every metric the Grafana dashboard asks for exists on a worker or the reducer.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/gs-dashboard.json"
    ))
    .unwrap();
    let names = regex::Regex::new(r"\b(gs|process)_[a-z_]+").unwrap();
    let mut asked = 0;
    for m in names.find_iter(&dashboard) {
        let name = m.as_str();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        assert!(
            [&w1, &r1].iter().any(|e| e.families.contains_key(family)),
            "the dashboard asks for {name}, which no process exposes"
        );
        asked += 1;
    }
    assert!(asked > 20, "{asked}");

    // The status page draws its charts server-side: inline SVG, no script.
    let (status, html) = p.get(1, "").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<svg").count(), 2, "two charts");
    assert!(html.contains("Submissions per minute") && html.contains("Solves per challenge"));
    assert!(
        html.contains("Challenge Misc Static"),
        "a line per challenge in the legend"
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_refused_outside_the_allow_list() {
    let mut setup = http_support::Setup::contest("running");
    setup.env = vec![("GS_METRICS__ALLOW", "10.0.0.0/8,192.168.1.7")];
    let w = http_support::start(setup).await;
    let r = w.get("/metrics", None).await;
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains("gs_"));
    // Health stays open to load balancers.
    assert_eq!(w.get("/healthz", None).await.status(), 200);

    let mut setup = http_support::Setup::contest("running");
    setup.env = vec![("GS_METRICS__PATH", "/internal/prom")];
    let w = http_support::start(setup).await;
    assert_eq!(w.get("/metrics", None).await.status(), 404);
    assert_eq!(w.get("/internal/prom", None).await.status(), 200);

    let mut setup = http_support::Setup::contest("running");
    setup.env = vec![("GS_METRICS__ENABLED", "false")];
    let w = http_support::start(setup).await;
    assert_eq!(w.get("/metrics", None).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctftime_feed_has_the_fields_and_follows_the_board() {
    let tables = gs::demo::generate(&gs::demo::ContestShape {
        seed: 7,
        users: 80,
        submissions: 1500,
        ..gs::demo::ContestShape::default()
    });
    let w = http_support::start(http_support::Setup {
        tables: Some(tables),
        env: Vec::new(),
        reducer: true,
    })
    .await;
    let resp = w.get("/service/ctftime.json", None).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.is_ascii(), "non-ASCII must be escaped as \\uXXXX");
    let feed: Value = serde_json::from_str(&text).expect("valid JSON");
    let tasks: Vec<&str> = feed["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t.as_str().expect("task names are strings"))
        .collect();
    assert!(!tasks.is_empty());
    let standings = feed["standings"].as_array().expect("standings");
    assert!(standings.len() > 10, "{}", standings.len());
    // The board's own answer: same order, names and scores.
    let board = w.wish("board/score_all", None, &json!({})).await.1;
    let listed = board["list"].as_array().unwrap();
    for (i, s) in standings.iter().enumerate() {
        assert_eq!(s["pos"], i + 1);
        let stats = s["taskStats"].as_object().expect("taskStats");
        let points: i64 = stats.values().map(|t| t["points"].as_i64().unwrap()).sum();
        assert_eq!(points, s["score"].as_i64().unwrap(), "{s}");
        for (task, t) in stats {
            assert!(tasks.contains(&task.as_str()), "{task}");
            assert!(t["time"].as_i64().unwrap() <= s["lastAccept"].as_i64().unwrap());
        }
        if let Some(b) = listed.get(i) {
            assert_eq!(s["team"], b["nickname"]);
            assert_eq!(s["score"], b["score"]);
            assert_eq!(s["lastAccept"], b["last_succ_submission_ts"]);
        }
    }
    // Banned users are not on the feed.
    let banned: Vec<String> = w
        .shared
        .read(|g| {
            g.users
                .iter()
                .filter(|u| u.row.group == "banned")
                .filter_map(|u| u.nickname().map(str::to_owned))
                .collect()
        })
        .unwrap();
    for s in standings {
        assert!(!banned.contains(&s["team"].as_str().unwrap().to_owned()));
    }
    // Cached: the same bytes until the board changes.
    let again = w
        .get("/service/ctftime.json", None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(again, text);
}
