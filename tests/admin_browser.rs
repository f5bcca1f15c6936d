//! The admin panel in a real browser: headless Chromium (Debian's package) driven over
//! the DevTools protocol logs in as the admin, creates a trigger, a policy and a
//! challenge, sees the challenge on the player API within a second, then edits a
//! submission's override and sees the board change. Skips only without /usr/bin/chromium.

mod admin_support;
mod browser_support;
mod common;
mod http_support;

use admin_support::Panel;
use browser_support::{Browser, Page};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Fills `fields` of the main form, saves (accepting the confirmation) and waits for the
/// next page.
async fn fill_and_save(page: &mut Page, fields: &[(&str, &str)]) -> String {
    let mut js = String::from("window.confirm = () => true;");
    for (name, value) in fields {
        js.push_str(&format!(
            "(function(){{var e=document.querySelector('#main-form [name=\"{name}\"]:not([type=hidden])'); var v={}; if(e.type==='checkbox'){{e.checked=(v==='true');}}else{{e.value=v;}}}})();",
            json!(value)
        ));
    }
    js.push_str("window.__before = location.href; document.getElementById('save').click(); true");
    page.eval(&js).await;
    page.wait_for("window.__before === undefined && document.readyState === 'complete'")
        .await;
    page.text("document.body.innerText").await
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
    let Some(browser) = Browser::start().await else {
        return;
    };
    let panel = Panel::start(http_support::contest_tables("running")).await;
    let mut page = browser.first_page().await;
    // Log in as the admin: the cookies the player API sets at login.
    let auth = panel.token(1);
    let twofa = gs::crypto::admin_2fa_value(panel.config.glitter.token.expose(), &auth);
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
    let text = fill_and_save(
        &mut page,
        &[
            ("tick", "4242"),
            ("timestamp", "2099-01-01 00:00:00"),
            ("name", "Browser trigger"),
        ],
    )
    .await;
    assert!(
        text.contains("trigger saved") && text.contains("Browser trigger"),
        "{text}"
    );
    // A policy.
    page.goto(&format!("{}/policies/0", panel.base)).await;
    let text = fill_and_save(
        &mut page,
        &[
            ("effective_after", "4242"),
            ("can_view_problem", "true"),
            ("can_submit_flag", "false"),
        ],
    )
    .await;
    assert!(
        text.contains("game policy saved") && text.contains("4242"),
        "{text}"
    );
    // A challenge, visible to players within a second.
    page.goto(&format!("{}/challenges/0", panel.base)).await;
    let flags =
        r#"[{"name": "", "type": "static", "base_score": 100, "val": "flag{from_the_browser}"}]"#;
    let text = fill_and_save(
        &mut page,
        &[
            ("key", "browser_chal"),
            ("title", "From the browser"),
            ("category", "Misc"),
            ("effective_after", "0"),
            ("flags", flags),
        ],
    )
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
    let text = fill_and_save(&mut page, &[("score_override", "10000")]).await;
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
    browser.stop().await;
    panel.stop().await;
}
