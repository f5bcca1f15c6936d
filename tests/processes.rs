//! A reducer and two workers as separate OS processes over tcp:// glitter: an action
//! through one worker is visible on the other within 50 ms; kill -9 and restart of the
//! reducer makes both workers resynchronize and serve again within 3 s; a worker started
//! late catches up; `/readyz` flips to 503 while the workers have no game and back.

mod cluster_support;
mod common;

use cluster_support::{user_token, wait_serving, wish, Cluster};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reducer_and_two_workers_as_processes() {
    let cluster = Cluster::new();
    cluster.import(&common::golden_dir().join("running.contest.json"));
    let (w0, w1) = (cluster.api_port, cluster.api_port + 1);
    let mut reducer = cluster.spawn(&["reducer"], "reducer.log");
    let _worker0 = cluster.spawn(&["worker", "--index", "0"], "worker0.log");
    let _worker1 = cluster.spawn(&["worker", "--index", "1"], "worker1.log");
    let client = reqwest::Client::new();
    wait_serving(&client, w0, Duration::from_secs(30)).await;
    wait_serving(&client, w1, Duration::from_secs(30)).await;

    // An action through worker 0 is visible on worker 1 within 50 ms.
    let token = user_token(2);
    assert_eq!(token, "2_authtoken0000000000000000000000000000000000000002");
    let flag = "flag{tHis_is_a_leetablE_flag_fOR_mIsc_leet_nUmber_0}";
    let answer = wish(
        &client,
        w0,
        "submit_flag",
        Some(&token),
        json!({"challenge_key": "misc_leet", "flag": flag}),
    )
    .await;
    let acknowledged = Instant::now();
    assert_eq!(answer["error"], Value::Null, "{answer}");
    let visible_after = loop {
        let game = wish(&client, w1, "game", Some(&token), json!({})).await;
        let passed = game["challenge_list"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["key"] == "misc_leet"))
            .is_some_and(|c| {
                c["status"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("passed"))
            });
        if passed {
            break acknowledged.elapsed();
        }
        assert!(
            acknowledged.elapsed() < Duration::from_secs(2),
            "never visible on worker 1"
        );
    };
    println!("action through worker 0 visible on worker 1 after {visible_after:?}");
    assert!(
        visible_after <= Duration::from_millis(50),
        "visible only after {visible_after:?}"
    );

    // kill -9 the reducer, restart it: both workers serve actions again within 3 s.
    for port in [w0, w1] {
        assert_ready(&client, port, true, Duration::from_secs(5)).await;
    }
    reducer.0.kill().expect("kill -9 the reducer");
    let _ = reducer.0.wait();
    drop(reducer);
    // Readiness flips: without the reducer the workers keep serving their last game
    // (stale reads) but tell the load balancer they cannot take actions.
    for port in [w0, w1] {
        let body = assert_ready(&client, port, false, Duration::from_secs(10)).await;
        assert!(
            body["reason"]
                .as_str()
                .is_some_and(|r| r.contains("reducer")),
            "{body}"
        );
    }
    let _reducer = cluster.spawn(&["reducer"], "reducer2.log");
    let restarted = Instant::now();
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .expect("client");
    for (port, uid) in [(w0, 4), (w1, 6)] {
        loop {
            // A wrong flag answered by the new reducer proves the worker resynchronized:
            // read-your-writes waits until the worker applied the new reducer's event.
            let body = json!({"challenge_key": "misc_static", "flag": "flag{wrong_after_restart}"});
            let answer = wish(&quick, port, "submit_flag", Some(&user_token(uid)), body).await;
            let judged = answer["error_msg"] == "Flag错误" || answer["error"] == "RATE_LIMIT";
            if judged {
                break;
            }
            assert!(
                restarted.elapsed() < Duration::from_secs(3),
                "worker on {port} not serving 3 s after the restart: {answer}\n{}",
                cluster.log(if port == w0 {
                    "worker0.log"
                } else {
                    "worker1.log"
                })
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!(
        "both workers serve again {:?} after the reducer restarted",
        restarted.elapsed()
    );
    for port in [w0, w1] {
        assert_ready(&client, port, true, Duration::from_secs(5)).await;
    }

    // A worker started late catches up: it answers exactly as the others.
    let _worker2 = cluster.spawn(&["worker", "--index", "2"], "worker2.log");
    wait_serving(&client, cluster.api_port + 2, Duration::from_secs(30)).await;
    let reference = wish(&client, w0, "board/score_all", None, json!({})).await;
    let late = wish(
        &client,
        cluster.api_port + 2,
        "board/score_all",
        None,
        json!({}),
    )
    .await;
    assert_eq!(late["list"], reference["list"]);
    assert!(reference["list"].as_array().is_some_and(|l| !l.is_empty()));
}

/// Waits until the worker's `/readyz` says `ready` (its status agreeing with its body),
/// or panics after `limit`.
async fn assert_ready(client: &reqwest::Client, port: u16, ready: bool, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let resp = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await;
        if let Ok(resp) = resp {
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_eq!(body["ready"] == true, status == 200, "{status} {body}");
            if body["ready"] == ready {
                return body;
            }
        }
        assert!(
            start.elapsed() < limit,
            "worker on {port}: readyz not {ready} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
