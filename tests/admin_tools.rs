//! The admin panel's tools end to end: challenge import (all or nothing) and export, the
//! flag test, moving users between groups, the status page's buttons and the file manager.

mod admin_support;
mod common;
mod http_support;

use admin_support::Panel;
use common::html_text;
use futures_util::StreamExt;
use gs::rows::ChallengeRow;
use gs::state::flag::FlagSpec;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// POST a form as the writing admin; answers the status and the `Location` header.
async fn post_form(panel: &Panel, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r = panel
        .http
        .post(format!("{}{path}", panel.base))
        .header("Cookie", panel.cookies(1))
        .form(form)
        .send()
        .await
        .expect("sent");
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, location, r.text().await.unwrap_or_default())
}

/// The decoded flash message of a redirect.
fn flash(location: &str) -> String {
    let msg = location.split("msg=").nth(1).unwrap_or_default().as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < msg.len() {
        let hex = msg
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (msg[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The player API's `game_info` answer for `uid`.
async fn game_info(panel: &Panel, uid: i64) -> Value {
    let r = panel
        .http
        .post(format!("{}/service/wish/game_info?tabid=t1", panel.api))
        .header("X-Wish-Version", http_support::WISH_VERSION)
        .header("Cookie", format!("auth_token={}", panel.token(uid)))
        .json(&json!({}))
        .send()
        .await
        .expect("game_info sent");
    r.json().await.expect("game_info JSON")
}

/// Polls `game_info` of `uid` until `field` of its user equals `want` (the worker follows
/// the reducer asynchronously).
async fn wait_user_field(panel: &Panel, uid: i64, field: &str, want: &str) {
    let started = Instant::now();
    loop {
        let info = game_info(panel, uid).await;
        if info["user"][field] == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "user {uid}: {field} is not {want}: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn export(panel: &Panel, query: &str) -> Vec<ChallengeRow> {
    let (s, body) = panel.get(1, &format!("/challenges/export{query}")).await;
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).expect("export is a JSON list of challenges")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_import_is_all_or_nothing_and_export_selects() {
    let panel = Panel::start(http_support::contest_tables("running")).await;
    let csrf = panel.csrf(1).await;

    // Export of selected challenges.
    let picked = export(&panel, "?ids=1&ids=4").await;
    let keys: Vec<&str> = picked.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["tutorial", "web_two"]);
    let all = export(&panel, "").await;
    assert_eq!(all.len(), 11);

    // Import: one update (by key, whatever id the file says) and one new challenge.
    let mut tutorial = serde_json::to_value(&picked[0]).expect("row");
    tutorial["title"] = json!("Tutorial, imported");
    tutorial["id"] = json!(777);
    let fresh = json!({
        "key": "imported_new", "title": "Imported", "category": "Misc", "sorting_index": 20,
        "effective_after": 0, "desc_template": "new", "chall_metadata": {}, "actions": [],
        "flags": [{"name": "", "type": "static", "base_score": 100, "val": "flag{imported}"}],
    });
    let file = json!([tutorial, fresh]).to_string();
    let (s, location, body) = post_form(
        &panel,
        "/challenges/import",
        &[("_csrf", &csrf), ("json", &file)],
    )
    .await;
    assert_eq!(s, 303, "{body}");
    assert!(
        flash(&location).contains("imported 2 challenges: tutorial, imported_new"),
        "{location}"
    );
    let after = export(&panel, "").await;
    assert_eq!(after.len(), 12);
    let t = after
        .iter()
        .find(|c| c.key == "tutorial")
        .expect("tutorial");
    assert_eq!((t.id, t.title.as_str()), (1, "Tutorial, imported"));
    let n = after
        .iter()
        .find(|c| c.key == "imported_new")
        .expect("the new challenge");
    assert!(n.id > 11, "new id {}", n.id);
    assert_eq!(n.flags, fresh["flags"]);

    // Refusals: the bad entry is named and nothing at all is applied.
    let mut changed = serde_json::to_value(t).expect("row");
    changed["title"] = json!("must not be saved");
    let valid_new = json!({
        "key": "must_not_exist", "title": "X", "category": "Misc", "sorting_index": 1,
        "effective_after": 0, "desc_template": "", "chall_metadata": {}, "actions": [],
        "flags": [{"name": "", "type": "static", "base_score": 100, "val": "flag{x}"}],
    });
    let mut no_flags = valid_new.clone();
    no_flags["key"] = json!("bad_one");
    no_flags["flags"] = json!([]);
    let mut dup = valid_new.clone();
    dup["title"] = json!("duplicate");
    let mut long_key = valid_new.clone();
    long_key["key"] = json!("k".repeat(40));
    let mut missing = valid_new.clone();
    missing["key"] = json!("no_title");
    if let Some(o) = missing.as_object_mut() {
        o.remove("title");
    }
    let cases: Vec<(String, &[&str])> = vec![
        (
            json!([changed, valid_new, no_flags]).to_string(),
            &["#3", "bad_one", "1 to 3 flags", "nothing changed"],
        ),
        (
            json!([changed, valid_new, dup]).to_string(),
            &["#3", "must_not_exist", "#2"],
        ),
        (
            json!([changed, long_key]).to_string(),
            &["#2", "1 to 32 characters"],
        ),
        (
            json!([changed, valid_new, missing]).to_string(),
            &["#3", "no_title", "title"],
        ),
        ("[".to_string(), &["invalid JSON"]),
        ("42".to_string(), &["JSON array"]),
        ("[]".to_string(), &["no challenges"]),
    ];
    for (file, wanted) in cases {
        let (s, _, body) = post_form(
            &panel,
            "/challenges/import",
            &[("_csrf", &csrf), ("json", &file)],
        )
        .await;
        assert_eq!(s, 422, "{file}: {body}");
        let text = html_text(&body);
        for w in wanted {
            assert!(text.contains(w), "{file}: `{w}` not in {text}");
        }
        assert_eq!(export(&panel, "").await, after, "{file} changed data");
    }
    panel.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_test_and_group_moves() {
    let panel = Panel::start(http_support::contest_tables("running")).await;
    let all = export(&panel, "").await;
    for (uid, key) in [(5, "bin_three"), (5, "web_words"), (12, "algo_part")] {
        let (s, body) = panel.get(1, &format!("/tools?uid={uid}&key={key}")).await;
        assert_eq!(s, 200, "{body}");
        let text = html_text(&body);
        let row = all.iter().find(|c| c.key == key).expect("challenge");
        let flags = row.flags.as_array().expect("flags");
        assert!(!flags.is_empty());
        for (i, f) in flags.iter().enumerate() {
            let spec = FlagSpec::parse(f).expect("flag");
            let want = spec.correct_value(key, uid, None).expect("a value");
            assert!(text.contains(&want), "{key} flag {i}: {want} not in {text}");
            // A partitioned flag shows only this user's part.
            if let Some(parts) = f["val"].as_array() {
                for p in parts
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|p| *p != want)
                {
                    assert!(!text.contains(p), "{key}: another part {p} shown");
                }
            }
        }
        let token = game_info(&panel, uid).await["user"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!token.is_empty());
        assert!(text.contains(&token), "token {token} not in {text}");
    }
    for (q, want) in [
        ("uid=9999&key=tutorial", "user #9999 does not exist"),
        ("uid=5&key=nope", "challenge `nope` does not exist"),
        ("uid=abc&key=tutorial", "`abc` is not a uid"),
    ] {
        let (s, body) = panel.get(1, &format!("/tools?{q}")).await;
        assert_eq!(s, 200);
        assert!(html_text(&body).contains(want), "{q}: {body}");
    }

    // Group moves.
    let csrf = panel.csrf(1).await;
    for uid in [4, 5, 8] {
        assert_eq!(game_info(&panel, uid).await["user"]["group"], "pku");
    }
    let (s, location, _) = post_form(
        &panel,
        "/users/move-group",
        &[("_csrf", &csrf), ("group", "thu"), ("uids", "4, 5\n8")],
    )
    .await;
    assert_eq!(s, 303);
    assert!(
        flash(&location).contains("3 users moved to thu"),
        "{location}"
    );
    for uid in [4, 5, 8] {
        wait_user_field(&panel, uid, "group", "thu").await;
    }
    // Unknown or bad uids: nobody moves.
    for uids in ["4,99999", "4,x"] {
        let (s, location, _) = post_form(
            &panel,
            "/users/move-group",
            &[("_csrf", &csrf), ("group", "other"), ("uids", uids)],
        )
        .await;
        assert_eq!(s, 303);
        assert!(flash(&location).contains("not moved"), "{location}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(game_info(&panel, 4).await["user"]["group"], "thu");
    panel.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_buttons_work() {
    let panel = Panel::start(http_support::contest_tables("running")).await;
    let csrf = panel.csrf(1).await;

    let (s, location, _) = post_form(&panel, "/status/clear-telemetry", &[("_csrf", &csrf)]).await;
    assert_eq!(s, 303);
    assert_eq!(flash(&location), "telemetry cleared");
    let (s, _) = panel.get(1, "").await;
    assert_eq!(s, 200);

    // A player's push socket receives the test push.
    let url = panel.api.replace("http://", "ws://") + "/service/ws/push";
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "cookie",
        format!("auth_token={}", panel.token(4))
            .parse()
            .expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, location, _) = post_form(&panel, "/status/test-push", &[("_csrf", &csrf)]).await;
    assert_eq!(s, 303);
    // No [notify] webhook in this panel: the staff test message is only logged, and said so.
    assert_eq!(
        flash(&location),
        "test push sent; no staff webhook is configured ([notify])"
    );
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
    assert_eq!(push["type"], "push_test", "{push}");

    // New tokens are the configured key's signatures.
    let signer = gs::token::TokenSigner::from_seed(panel.config.token_signing_seed());
    let (s, location, _) =
        post_form(&panel, "/status/regenerate-tokens", &[("_csrf", &csrf)]).await;
    assert_eq!(s, 303);
    assert_eq!(flash(&location), "tokens regenerated");
    for uid in [3, 5, 12] {
        wait_user_field(&panel, uid, "token", &signer.sign(uid)).await;
    }
    panel.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_files_round_trip_and_render() {
    let panel = Panel::start(http_support::contest_tables("running")).await;
    let csrf = panel.csrf(1).await;
    let upload = |name: &str, content: &str| {
        let part = reqwest::multipart::Part::bytes(content.as_bytes().to_vec())
            .file_name(name.to_string());
        panel
            .http
            .post(format!(
                "{}/files/templates/upload?_csrf={csrf}&dir=",
                panel.base
            ))
            .header("Cookie", panel.cookies(1))
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    let r = upload("hello.md", "# Uploaded page\n").await.expect("sent");
    assert_eq!(r.status().as_u16(), 303);
    let r = upload("../escape.md", "x").await.expect("sent");
    assert_eq!(r.status().as_u16(), 400);

    let render = |uid: i64| {
        panel
            .http
            .get(format!("{}/service/template/hello", panel.api))
            .header("Cookie", format!("auth_token={}", panel.token(uid)))
            .send()
    };
    let r = render(4).await.expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap_or_default().contains("Uploaded page"));

    let edited = "# Edited page\n\nYour group is **{{ group }}**. Ünïcode ✓\n";
    let (s, location, _) = post_form(
        &panel,
        "/files/templates/save",
        &[("_csrf", &csrf), ("path", "hello.md"), ("content", edited)],
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(flash(&location), "saved hello.md");
    let (s, body) = panel.get(1, "/files/templates/edit?path=hello.md").await;
    assert_eq!(s, 200);
    assert!(html_text(&body).contains("Your group is **{{ group }}**"));
    let (s, listing) = panel.get(1, "/files/templates").await;
    assert_eq!(s, 200);
    assert!(listing.contains("hello.md"));
    let r = panel
        .http
        .get(format!(
            "{}/files/templates/download?path=hello.md",
            panel.base
        ))
        .header("Cookie", panel.cookies(1))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.expect("body").as_ref(), edited.as_bytes());

    let r = render(4).await.expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains("Edited page"), "{html}");
    assert!(html.contains("pku"), "{html}");
    assert!(!html.contains("Uploaded page"), "{html}");
    panel.stop().await;
}

/// The generate button for one user runs the generators and reports what it made; the
/// test-a-flag tool shows (and makes) that user's dynamic flag value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_button_and_dynamic_flag_test() {
    let mut tables = http_support::contest_tables("running");
    let mut chall = tables.challenge[0].clone();
    chall.id = 500;
    chall.key = "dynchal".into();
    chall.flags =
        json!([{"name": "", "type": "dynamic", "base_score": 100, "val": "dynchal/flag"}]);
    chall.actions = json!([]);
    tables.challenge.push(chall);
    let panel = Panel::start(tables).await;
    let folder = panel.attachments().join("dynchal/flag");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(
        folder.join("flag.py"),
        "def flag(user, flag):\n    return 'flag{admin_%d_%s}' % (user._store.id, flag.challenge._store.key)\n",
    )
    .expect("write");
    let csrf = panel.csrf(1).await;
    let (s, _) = panel
        .post(
            1,
            "/tools/generate",
            &[("_csrf", csrf.as_str()), ("key", "dynchal"), ("uid", "4")],
        )
        .await;
    assert!(s == 303 || s == 302 || s == 200, "{s}");
    let (s, body) = panel.get(1, "/tools?uid=4&key=dynchal").await;
    assert_eq!(s, 200);
    let text = html_text(&body);
    assert!(text.contains("flag{admin_4_dynchal}"), "{text}");
    assert!(text.contains("dynamic from dynchal/flag/"), "{text}");
    // Another user's value is made by the test tool itself.
    let (_, body) = panel.get(1, "/tools?uid=6&key=dynchal").await;
    assert!(html_text(&body).contains("flag{admin_6_dynchal}"));
}
