//! The admin panel in a real browser: headless Chromium (Debian's package) driven over
//! the DevTools protocol logs in as the admin, creates a trigger, a policy and a
//! challenge, sees the challenge on the player API within a second, then edits a
//! submission's override and sees the board change. Skips only without /usr/bin/chromium.

mod admin_support;
mod common;
mod http_support;

use admin_support::Panel;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

const CHROMIUM: &str = "/usr/bin/chromium";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One DevTools page session.
struct Page {
    ws: Ws,
    next_id: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("cdp send");
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("cdp answer in time")
                .expect("cdp open")
                .expect("cdp frame");
            if let Message::Text(t) = frame {
                let v: Value = serde_json::from_str(&t).expect("cdp json");
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(&format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        ))
        .await;
    }

    async fn wait_for(&mut self, js: &str) {
        let started = Instant::now();
        while self.eval(js).await != json!(true) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "never true: {js}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fills `fields` of the main form, saves (accepting the confirmation) and waits for
    /// the next page.
    async fn fill_and_save(&mut self, fields: &[(&str, &str)]) -> String {
        let mut js = String::from("window.confirm = () => true;");
        for (name, value) in fields {
            js.push_str(&format!(
                "(function(){{var e=document.querySelector('#main-form [name=\"{name}\"]:not([type=hidden])'); var v={}; if(e.type==='checkbox'){{e.checked=(v==='true');}}else{{e.value=v;}}}})();",
                json!(value)
            ));
        }
        js.push_str(
            "window.__before = location.href; document.getElementById('save').click(); true",
        );
        self.eval(&js).await;
        self.wait_for("window.__before === undefined && document.readyState === 'complete'")
            .await;
        self.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

async fn wish(panel: &Panel, endpoint: &str, uid: Option<i64>) -> Value {
    let mut req = panel
        .http
        .post(format!("{}/service/wish/{endpoint}", panel.api))
        .header("X-Wish-Version", http_support::WISH_VERSION)
        .json(&json!({}));
    if let Some(uid) = uid {
        req = req.header(
            "Cookie",
            format!("auth_token={}", http_support::auth_token(uid)),
        );
    }
    match req.send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_runs_the_contest_from_a_browser() {
    if !std::path::Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} is not installed (apt-get install -y chromium)");
        return;
    }
    let panel = Panel::start(http_support::contest_tables("running")).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let mut chrome = tokio::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let mut lines = BufReader::new(chrome.stderr.take().expect("stderr")).lines();
    let browser_ws = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("ws://") {
                return line[at..].trim().to_string();
            }
        }
        panic!("chromium exited without a DevTools address");
    })
    .await
    .expect("chromium's DevTools address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let port = browser_ws
        .trim_start_matches("ws://")
        .split(['/', ':'])
        .nth(1)
        .expect("port")
        .to_string();
    let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
        .await
        .expect("targets")
        .json()
        .await
        .expect("json");
    let page_ws = targets
        .as_array()
        .and_then(|l| l.iter().find(|t| t["type"] == "page"))
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_string();
    let (ws, _) = tokio_tungstenite::connect_async(page_ws)
        .await
        .expect("cdp connect");
    let mut page = Page { ws, next_id: 0 };
    page.call("Page.enable", json!({})).await;
    page.call("Network.enable", json!({})).await;
    // Log in as the admin: the cookies the player API sets at login.
    let auth = panel.token(1);
    let twofa = gs::worker::http::auth::admin_2fa_value(panel.config.glitter.token.expose(), &auth);
    for (name, value) in [("auth_token", auth), ("admin_2fa", twofa)] {
        page.call(
            "Network.setCookie",
            json!({"name": name, "value": value, "url": panel.base, "sameSite": "Strict"}),
        )
        .await;
    }
    page.goto(&panel.base).await;
    let text = page.eval("document.body.innerText").await;
    assert!(
        text.as_str()
            .unwrap_or_default()
            .contains("Users per group"),
        "{text}"
    );

    // The anti-cheat page, reached from the navigation bar.
    page.eval("[...document.querySelectorAll('nav a')].find(a => a.textContent == 'Anti-cheat').click(); true")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = page.eval("document.body.innerText").await;
    let text = text.as_str().unwrap_or_default();
    assert!(
        text.contains("Anti-cheat") && text.contains("no police report"),
        "{text}"
    );

    // A trigger.
    page.goto(&format!("{}/triggers/0", panel.base)).await;
    let text = page
        .fill_and_save(&[
            ("tick", "4242"),
            ("timestamp", "2099-01-01 00:00:00"),
            ("name", "Browser trigger"),
        ])
        .await;
    assert!(
        text.contains("trigger saved") && text.contains("Browser trigger"),
        "{text}"
    );
    // A policy.
    page.goto(&format!("{}/policies/0", panel.base)).await;
    let text = page
        .fill_and_save(&[
            ("effective_after", "4242"),
            ("can_view_problem", "true"),
            ("can_submit_flag", "false"),
        ])
        .await;
    assert!(
        text.contains("game policy saved") && text.contains("4242"),
        "{text}"
    );
    // A challenge, visible to players within a second.
    page.goto(&format!("{}/challenges/0", panel.base)).await;
    let flags =
        r#"[{"name": "", "type": "static", "base_score": 100, "val": "flag{from_the_browser}"}]"#;
    let text = page
        .fill_and_save(&[
            ("key", "browser_chal"),
            ("title", "From the browser"),
            ("category", "Misc"),
            ("effective_after", "0"),
            ("flags", flags),
        ])
        .await;
    assert!(
        text.contains("challenge saved") && text.contains("browser_chal"),
        "{text}"
    );
    let started = Instant::now();
    loop {
        let game = wish(&panel, "game", Some(2)).await;
        if game["challenge_list"]
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c["key"] == "browser_chal"))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "challenge not on the player API: {game}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A submission's override changes the board.
    let before = wish(&panel, "board/score_all", None).await;
    let top = before["list"][0]["uid"].as_i64().expect("a leader");
    let passed_at: Vec<i64> = before["list"][0]["flag_status"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v[0].as_i64()).collect())
        .unwrap_or_default();
    let sub = http_support::contest_tables("running")
        .submission
        .into_iter()
        .find(|s| s.user_id == top && passed_at.contains(&(s.timestamp_ms / 1000)))
        .expect("a passing submission of the leader");
    page.goto(&format!("{}/submissions/{}", panel.base, sub.id))
        .await;
    let text = page.fill_and_save(&[("score_override", "10000")]).await;
    assert!(text.contains("overrides saved"), "{text}");
    let started = Instant::now();
    loop {
        let after = wish(&panel, "board/score_all", None).await;
        if after["list"] != before["list"] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the board did not change"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(page);
    let _ = chrome.kill().await;
    panel.stop().await;
}
