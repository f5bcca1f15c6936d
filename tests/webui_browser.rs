//! The built-in player UI in a real browser: on the demo contest, four new players (zh and
//! en, 360 px and 1280 px, light and dark) each play the whole journey at the same time,
//! each in a private browser context: log in, accept the terms, fill the profile at once,
//! open a challenge, download its attachment, submit a wrong flag (and see the cooldown
//! refused readably), send feedback, submit the right flag, see the score and the board
//! change, see the push notification of an admin's announcement, upload a writeup. The
//! main pages are checked with axe-core (no serious or critical violation).
//! Set GS_SCREENSHOT_DIR to keep a PNG of every page. Skips without /usr/bin/chromium.

mod admin_support;
mod browser_support;
mod common;
mod http_support;

use admin_support::Panel;
use browser_support::{Browser, Page};
use gs::state::flag::FlagSpec;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AXE: &str = include_str!("fixtures/axe-core/axe.min.js");

/// One player's way through the UI.
#[derive(Clone, Copy)]
struct Journey {
    name: &'static str,
    width: u32,
    accept_language: &'static str,
    /// Switch the language with the header link after logging in.
    switch_to_english: bool,
    dark: bool,
    axe: bool,
}

const JOURNEYS: [Journey; 4] = [
    Journey {
        name: "zh-360-light",
        width: 360,
        accept_language: "zh-CN,zh;q=0.9",
        switch_to_english: false,
        dark: false,
        axe: true,
    },
    Journey {
        name: "en-1280-light",
        width: 1280,
        accept_language: "en-US,en;q=0.9",
        switch_to_english: false,
        dark: false,
        axe: false,
    },
    Journey {
        name: "zh-1280-dark",
        width: 1280,
        accept_language: "zh-CN",
        switch_to_english: false,
        dark: true,
        axe: false,
    },
    Journey {
        name: "en-360-dark",
        width: 360,
        accept_language: "zh-CN",
        switch_to_english: true,
        dark: true,
        axe: true,
    },
];

/// The demo contest as `gs serve` loads it, with writeups open in the current phase.
fn demo_tables() -> gs::rows::Tables {
    let now = http_support::now_ms() / 1000;
    let mut tables = gs::demo::generate(&gs::demo::ContestShape {
        seed: 2026,
        start_s: now - 86_400,
        now_s: Some(now),
        ..gs::demo::ContestShape::default()
    });
    for p in &mut tables.game_policy {
        if p.effective_after == 1000 {
            p.can_submit_writeup = true;
        }
    }
    tables
}

struct Shared {
    panel: Panel,
    tables: gs::rows::Tables,
    csrf: String,
    shots: Option<std::path::PathBuf>,
}

async fn shot(page: &mut Page, sh: &Shared, j: &Journey, what: &str) {
    if let Some(dir) = &sh.shots {
        let png = page.screenshot().await;
        std::fs::write(dir.join(format!("{}-{what}.png", j.name)), png).expect("screenshot");
    }
}

/// Runs axe-core on the current page; fails on serious or critical violations.
async fn accessible(page: &mut Page, j: &Journey, what: &str) {
    if !j.axe {
        return;
    }
    if page.eval("typeof axe").await != json!("object") {
        page.eval(&format!("{AXE}\n;true")).await;
    }
    let found = page
        .eval(
            "axe.run(document).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.html).join(' | ')))",
        )
        .await;
    assert_eq!(found, json!([]), "{}: accessibility of {what}", j.name);
}

async fn click(page: &mut Page, selector: &str) {
    page.eval(&format!(
        "document.querySelector({}).click(); true",
        json!(selector)
    ))
    .await;
}

async fn set_value(page: &mut Page, selector: &str, value: &str) {
    page.eval(&format!(
        "(function(){{var e=document.querySelector({}); e.value={}; return true}})()",
        json!(selector),
        json!(value)
    ))
    .await;
}

async fn path_is(page: &mut Page, path: &str) {
    page.wait_for(&format!(
        "location.pathname === {} && document.readyState === 'complete'",
        json!(path)
    ))
    .await;
}

async fn play(sh: Arc<Shared>, j: Journey, mut page: Page) {
    let base = sh.panel.api.clone();
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": j.width, "height": 900, "deviceScaleFactor": 1, "mobile": j.width < 600}),
    )
    .await;
    page.call(
        "Emulation.setUserAgentOverride",
        json!({"userAgent": "gs-webui-test", "acceptLanguage": j.accept_language}),
    )
    .await;
    let start = if j.dark {
        format!("{base}/pref?theme=dark&back=/login")
    } else {
        format!("{base}/login")
    };
    page.call("Page.navigate", json!({ "url": start })).await;
    path_is(&mut page, "/login").await;
    shot(&mut page, &sh, &j, "1-login").await;
    accessible(&mut page, &j, "login").await;
    let zh = !j.accept_language.starts_with("en");
    assert_eq!(
        page.text("document.documentElement.lang").await,
        if zh { "zh-CN" } else { "en" },
        "{}: language from Accept-Language",
        j.name
    );
    // Log in as a new player through the manual form.
    set_value(&mut page, "#identity", &format!("player-{}", j.name)).await;
    click(&mut page, "#manual-login button").await;
    path_is(&mut page, "/terms").await;
    if j.switch_to_english {
        click(&mut page, "#lang-switch").await;
        page.wait_for("document.documentElement.lang === 'en' && location.pathname === '/terms'")
            .await;
    }
    let english = !zh || j.switch_to_english;
    // Manual logins register into the staff group, which no board ranks: the organizer
    // moves this player into a ranked group, as for any test account.
    let uid = page
        .eval("fetch('/service/wish/game_info', {method: 'POST', headers: {'X-Wish-Version': '2025.v1', 'Content-Type': 'application/json'}, body: '{}'}).then(r => r.json()).then(a => a.user.id)")
        .await
        .as_i64()
        .expect("uid");
    let (s, _) = sh
        .panel
        .post(
            1,
            "/users/move-group",
            &[
                ("_csrf", &sh.csrf),
                ("group", "pku"),
                ("uids", &uid.to_string()),
            ],
        )
        .await;
    assert_eq!(s, 303, "{}: moved", j.name);
    page.wait_for("fetch('/service/wish/game_info', {method: 'POST', headers: {'X-Wish-Version': '2025.v1', 'Content-Type': 'application/json'}, body: '{}'}).then(r => r.json()).then(a => a.user.group === 'pku')")
        .await;

    shot(&mut page, &sh, &j, "2-terms").await;
    accessible(&mut page, &j, "terms").await;
    click(&mut page, "#agree").await;
    path_is(&mut page, "/profile").await;
    shot(&mut page, &sh, &j, "3-profile").await;
    accessible(&mut page, &j, "profile").await;
    // A field error shows next to its field, and nothing is saved.
    set_value(&mut page, "#f-nickname", "").await;
    set_value(&mut page, "#f-qq", "12").await;
    click(&mut page, "#save-profile").await;
    page.wait_for("document.getElementById('e-qq').textContent.length > 0")
        .await;
    let qq_error = page
        .text("document.getElementById('e-qq').textContent")
        .await;
    assert!(
        if english {
            qq_error.contains("5 to 50")
        } else {
            qq_error.contains("QQ号格式错误")
        },
        "{}: {qq_error}",
        j.name
    );
    assert!(
        !page
            .text("document.getElementById('e-nickname').textContent")
            .await
            .is_empty(),
        "{}: nickname error",
        j.name
    );
    shot(&mut page, &sh, &j, "3b-profile-errors").await;
    // The first real edit after registering succeeds.
    set_value(&mut page, "#f-nickname", &format!("Nick {}", j.name)).await;
    set_value(&mut page, "#f-qq", "123456").await;
    set_value(&mut page, "#f-tel", "13800000000").await;
    click(&mut page, "#save-profile").await;
    path_is(&mut page, "/").await;
    page.wait_for("document.querySelector('.challenges') !== null")
        .await;
    shot(&mut page, &sh, &j, "4-game").await;
    accessible(&mut page, &j, "game").await;
    let score_before = page
        .text("document.getElementById('my-score').textContent")
        .await;
    assert_eq!(score_before, "0", "{}", j.name);
    // A challenge with one flag and an attachment, open now.
    let ch = sh
        .tables
        .challenge
        .iter()
        .find(|c| c.effective_after <= 1000 && c.flags.as_array().is_some_and(|f| f.len() == 1))
        .expect("a one-flag challenge");
    click(&mut page, &format!("#c-{} a.title", ch.key)).await;
    path_is(&mut page, &format!("/challenge/{}", ch.key)).await;
    shot(&mut page, &sh, &j, "5-challenge").await;
    accessible(&mut page, &j, "challenge").await;
    let href = page
        .text("document.querySelector('a[data-attachment]').href")
        .await;
    let status = page
        .eval(&format!(
            "fetch({}).then(r => r.arrayBuffer().then(b => [r.status, b.byteLength]))",
            json!(href)
        ))
        .await;
    assert_eq!(status, json!([200, 22]), "{}: attachment {href}", j.name);
    // A wrong flag, then at once another: the cooldown is refused readably.
    set_value(&mut page, "#flag", "flag{certainly_wrong}").await;
    click(&mut page, "#flag-form button").await;
    page.wait_for("document.getElementById('flag-result').classList.contains('err')")
        .await;
    let wrong_at = Instant::now();
    let msg = page
        .text("document.getElementById('flag-result').textContent")
        .await;
    assert!(
        msg.contains(if english { "Wrong flag" } else { "Flag错误" }),
        "{}: {msg}",
        j.name
    );
    let spec = FlagSpec::parse(&ch.flags[0]).expect("flag");
    let right = spec.correct_value(&ch.key, uid, None).expect("the flag");
    set_value(&mut page, "#flag", &right).await;
    click(&mut page, "#flag-form button").await;
    page.wait_for("/(请等待|wait)/.test(document.getElementById('flag-result').textContent)")
        .await;
    shot(&mut page, &sh, &j, "6-rate-limit").await;
    // Feedback meanwhile.
    set_value(&mut page, "#feedback", &format!("Feedback from {}", j.name)).await;
    click(&mut page, "#feedback-form button").await;
    page.wait_for("document.getElementById('feedback-result').classList.contains('ok')")
        .await;
    // After the cooldown, the right flag.
    let cooldown = Duration::from_millis(10_300);
    if let Some(rest) = cooldown.checked_sub(wrong_at.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    set_value(&mut page, "#flag", &right).await;
    click(&mut page, "#flag-form button").await;
    page.wait_for("document.getElementById('flag-result').classList.contains('ok')")
        .await;
    page.wait_for("/passed/.test(document.getElementById('ch-status').className)")
        .await;
    shot(&mut page, &sh, &j, "7-solved").await;
    // The score and the board changed.
    click(&mut page, "nav a[href='/']").await;
    path_is(&mut page, "/").await;
    let score = page
        .text("document.getElementById('my-score').textContent")
        .await;
    assert_ne!(score, "0", "{}: score after solving", j.name);
    page.goto(&format!("{base}/board/score_pku?q={}", j.name))
        .await;
    let row = page
        .text("Array.from(document.querySelectorAll('table.board tbody tr')).map(r => r.innerText).join('\\n')")
        .await;
    // Scores decay while the other journeys solve the same challenge: the row is there
    // with a positive score.
    let board_score: i64 = row
        .split('\t')
        .nth(2)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        row.contains(&format!("Nick {}", j.name)) && board_score > 0,
        "{}: board row {row}",
        j.name
    );
    page.goto(&format!("{base}/board/score_pku")).await;
    assert!(
        page.eval("document.querySelectorAll('svg.chart polyline').length > 0")
            .await
            == json!(true),
        "{}: score chart",
        j.name
    );
    shot(&mut page, &sh, &j, "8-board").await;
    accessible(&mut page, &j, "board").await;
    page.goto(&format!("{base}/board/first_all")).await;
    shot(&mut page, &sh, &j, "8b-first-blood").await;
    page.goto(&format!("{base}/submissions")).await;
    let mine = page
        .text("document.getElementById('submissions').innerText")
        .await;
    assert!(
        mine.contains(&ch.title),
        "{}: my submissions {mine}",
        j.name
    );
    shot(&mut page, &sh, &j, "9-submissions").await;
    accessible(&mut page, &j, "submissions").await;
    page.goto(&format!("{base}/user/{uid}")).await;
    shot(&mut page, &sh, &j, "9b-user").await;
    // An admin's announcement appears as a notification on the game page.
    page.goto(&format!("{base}/")).await;
    page.wait_for("document.body.dataset.pushState === 'open'")
        .await;
    let title = format!("Notice for {}", j.name);
    let (s, _) = sh
        .panel
        .post(
            1,
            "/announcements/0",
            &[
                ("_csrf", &sh.csrf),
                ("title", &title),
                ("timestamp", "2026-01-01 08:00:00"),
                ("content_template", "Read me"),
            ],
        )
        .await;
    assert_eq!(s, 303, "{}: announcement posted", j.name);
    page.wait_for(&format!(
        "document.getElementById('toasts').innerText.includes({})",
        json!(title)
    ))
    .await;
    // textContent, not innerText: the journeys run at once and post theirs too, so this
    // one may already be among the older ones, inside the collapsed "all announcements".
    page.wait_for(&format!(
        "document.getElementById('live-ann').textContent.includes({})",
        json!(title)
    ))
    .await;
    shot(&mut page, &sh, &j, "10-push").await;
    // A writeup.
    page.goto(&format!("{base}/writeup")).await;
    shot(&mut page, &sh, &j, "11-writeup").await;
    accessible(&mut page, &j, "writeup").await;
    page.eval(
        "(function(){var dt = new DataTransfer(); dt.items.add(new File(['my writeup'], 'wp.md', {type: 'text/markdown'})); document.getElementById('wfile').files = dt.files; document.querySelector('input[name=rights][value=CC0]').checked = true; return true})()",
    )
    .await;
    click(&mut page, "#writeup-form button").await;
    page.wait_for("document.getElementById('writeup-result').classList.contains('ok')")
        .await;
    page.wait_for("document.getElementById('writeup-current') !== null")
        .await;
    let current = page
        .text("document.getElementById('writeup-current').innerText")
        .await;
    assert!(
        current.contains(&format!("{uid}_writeup_")) && current.contains("10 B"),
        "{}: {current}",
        j.name
    );
    shot(&mut page, &sh, &j, "12-writeup-done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn players_play_the_demo_in_the_browser() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    let tables = demo_tables();
    let panel = Panel::start(tables.clone()).await;
    gs::serve::write_demo_attachments(&panel.config, &tables);
    let csrf = panel.csrf(1).await;
    let shots = std::env::var_os("GS_SCREENSHOT_DIR").map(std::path::PathBuf::from);
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).expect("screenshot dir");
    }
    let sh = Arc::new(Shared {
        panel,
        tables,
        csrf,
        shots,
    });
    let mut runs = Vec::new();
    for j in JOURNEYS {
        let page = browser.isolated_page().await;
        runs.push(tokio::spawn(play(sh.clone(), j, page)));
    }
    for r in runs {
        r.await.expect("journey");
    }
    // The first load of the game page for a player (empty cache) stays small.
    let player = sh
        .tables
        .user
        .iter()
        .find(|u| u.enabled && u.terms_agreed && u.group == "pku")
        .expect("a demo player");
    let mut page = browser.isolated_page().await;
    page.call(
        "Network.setCookie",
        json!({"name": "auth_token", "value": sh.panel.token(player.id), "url": sh.panel.api}),
    )
    .await;
    page.goto(&format!("{}/", sh.panel.api)).await;
    assert!(
        page.eval("document.getElementById('my-score') !== null")
            .await
            == json!(true),
        "the player's game page"
    );
    let bytes = page
        .eval("performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).reduce((s, e) => s + e.transferSize, 0)")
        .await
        .as_f64()
        .unwrap_or(f64::MAX);
    eprintln!("game page first load: {bytes} bytes transferred");
    assert!(
        bytes > 0.0 && bytes <= 100_000.0,
        "game page first load: {bytes} bytes"
    );
    browser.stop().await;
    if let Ok(sh) = Arc::try_unwrap(sh) {
        sh.panel.stop().await;
    }
}
