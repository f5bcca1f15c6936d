//! The non-wish endpoints over real HTTP: manual login, su and logout with their cookies,
//! site templates with ETags, attachments, the anti-cheat log, writeups and the WebSocket.

mod common;
mod http_support;

use futures::{SinkExt, StreamExt};
use gs::crypto::admin_2fa_value;
use gs::state::PushMessage;
use http_support::{auth_token, start, Setup, TestWorker, TOKEN, WISH_VERSION};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_login_registers_then_logs_in() {
    let w = start(Setup::contest("running")).await;
    let res = w.get("/service/auth/manual?identity=alice", None).await;
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(location(&res).as_deref(), Some("/#/user/terms"));
    let cookies = set_cookies(&res);
    let token = cookie_value(&cookies, "auth_token").expect("auth_token cookie");
    let line = cookies
        .iter()
        .find(|c| c.starts_with("auth_token="))
        .expect("line");
    for part in ["HttpOnly", "SameSite=Lax", "Max-Age=2592000", "Path=/"] {
        assert!(line.contains(part), "{line} lacks {part}");
    }
    assert!(!line.contains("Secure"));
    assert!(
        cookie_value(&cookies, "admin_2fa").is_none(),
        "not an admin"
    );
    let (_, info) = w.wish("game_info", Some(&token), &json!({})).await;
    assert_eq!(info["user"]["login_key"], "manual:alice");
    assert_eq!(info["user"]["group"], "staff");
    assert_eq!(info["user"]["terms_agreed"], false);
    // Known now: a plain login to the portal with the same token.
    let res = w.get("/service/auth/manual?identity=alice", None).await;
    assert_eq!(location(&res).as_deref(), Some("/"));
    assert_eq!(cookie_value(&set_cookies(&res), "auth_token"), Some(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_get_the_second_factor_cookie_and_su() {
    let w = start(Setup {
        env: vec![("GS_AUTH__BACKEND_SCHEME", "https")],
        ..Setup::contest("running")
    })
    .await;
    let res = w.get("/service/auth/manual?identity=staff1", None).await;
    assert_eq!(location(&res).as_deref(), Some("/"));
    let cookies = set_cookies(&res);
    assert_eq!(cookie_value(&cookies, "auth_token"), Some(auth_token(1)));
    let two_fa = cookies
        .iter()
        .find(|c| c.starts_with("admin_2fa="))
        .expect("admin_2fa");
    assert!(
        two_fa.contains("Path=/admin") && two_fa.contains("HttpOnly") && two_fa.contains("Secure")
    );
    assert_eq!(
        cookie_value(&cookies, "admin_2fa"),
        Some(admin_2fa_value(TOKEN, &auth_token(1)))
    );
    assert!(
        cookies.iter().all(|c| c.contains("Secure")),
        "https: {cookies:?}"
    );

    // su: admins into non-admins only.
    let res = w.get("/service/auth/su?uid=2", Some(&auth_token(1))).await;
    assert_eq!(location(&res).as_deref(), Some("/"));
    assert_eq!(
        cookie_value(&set_cookies(&res), "auth_token"),
        Some(auth_token(2))
    );
    for (who, uid, message) in [
        (Some(auth_token(2)), 4, "没有权限"),
        (None, 4, "没有权限"),
        (Some(auth_token(1)), 1, "不能切换到管理员账号"),
        (Some(auth_token(1)), 99999, "用户不存在"),
        (Some(auth_token(1)), 7, "账号不允许登录"),
    ] {
        let res = w
            .get(&format!("/service/auth/su?uid={uid}"), who.as_deref())
            .await;
        assert!(set_cookies(&res).is_empty());
        let text = res.text().await.expect("body");
        assert!(
            text.contains("登录失败") && text.contains(message),
            "su {uid}: {text}"
        );
    }

    let res = w.get("/service/auth/logout", Some(&auth_token(1))).await;
    assert_eq!(location(&res).as_deref(), Some("/"));
    let cookies = set_cookies(&res);
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("auth_token=;") && c.contains("Max-Age=0")));
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("admin_2fa=;") && c.contains("Path=/admin")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_can_be_closed_and_disabled_users_are_logged_out() {
    let w = start(Setup {
        env: vec![("GS_AUTH__REGISTRATION_ENABLED", "false")],
        ..Setup::contest("running")
    })
    .await;
    let res = w
        .get("/service/auth/manual?identity=%3Cb%3Ebob", None)
        .await;
    assert!(set_cookies(&res).is_empty());
    let text = res.text().await.expect("body");
    assert!(text.contains("目前不允许注册新账户") && text.contains("<title>登录失败</title>"));
    // Known identities still log in.
    let res = w.get("/service/auth/manual?identity=staff1", None).await;
    assert_eq!(
        cookie_value(&set_cookies(&res), "auth_token"),
        Some(auth_token(1))
    );
    // User 7 is disabled: not logged in.
    let (_, info) = w.wish("game_info", Some(&auth_token(7)), &json!({})).await;
    assert_eq!(info["user"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_render_per_group_with_etags() {
    let w = start(Setup::contest("running")).await;
    let path = w.shared.config.paths.templates.join("faq.md");
    std::fs::write(
        &path,
        "# FAQ\n\n% if group == 'staff'\nstaff only\n% endif\ntick {{ tick }}\n",
    )
    .expect("write");
    let res = w.get("/service/template/faq", None).await;
    assert_eq!(res.status().as_u16(), 200);
    let etag = res
        .headers()
        .get("etag")
        .expect("etag")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let guest = res.text().await.expect("body");
    assert!(
        guest.contains("<h1>FAQ</h1>")
            && guest.contains("tick 2000")
            && !guest.contains("staff only")
    );
    let staff = w.get("/service/template/faq", Some(&auth_token(1))).await;
    assert!(staff.text().await.expect("body").contains("staff only"));
    // Revalidation.
    let res = w
        .http
        .get(format!("{}/service/template/faq", w.base))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 304);
    assert!(res.text().await.expect("body").is_empty());
    // A changed file is rendered again, with a new tag.
    std::fs::write(&path, "# FAQ v2, longer\n").expect("write");
    let res = w
        .http
        .get(format!("{}/service/template/faq", w.base))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    assert_ne!(
        res.headers()
            .get("etag")
            .expect("etag")
            .to_str()
            .expect("ascii"),
        etag
    );
    assert!(res.text().await.expect("body").contains("v2"));
    // A broken template shows the placeholder instead of failing.
    std::fs::write(&path, "{% if %}").expect("write");
    let res = w.get("/service/template/faq", None).await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().await.expect("body").contains("模板渲染失败"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_need_a_player_who_may_see_them() {
    let w = start(Setup::contest("running")).await;
    let att = w.shared.config.paths.attachments.clone();
    for dir in ["tutorial", "never_open"] {
        std::fs::create_dir_all(att.join(dir)).expect("mkdir");
    }
    let zip: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(att.join("tutorial/tutorial.zip"), &zip).expect("write");
    std::fs::write(att.join("never_open/never_open.zip"), b"hidden").expect("write");

    let res = w
        .get(
            "/service/attachment/tutorial/tutorial.zip?token=GgT-token-of-2",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers().get("content-disposition").expect("cd"),
        "attachment"
    );
    assert_eq!(res.bytes().await.expect("body").as_ref(), zip.as_slice());
    // The login cookie works too.
    let res = w
        .get(
            "/service/attachment/tutorial/tutorial.zip",
            Some(&auth_token(2)),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);

    for (path, cookie, status, text) in [
        (
            "/service/attachment/tutorial/tutorial.zip?token=wrong",
            None,
            403,
            "未登录",
        ),
        (
            "/service/attachment/tutorial/tutorial.zip",
            None,
            403,
            "未登录",
        ),
        (
            "/service/attachment/tutorial/tutorial.zip?token=GgT-token-of-3",
            None,
            403,
            "请阅读参赛须知",
        ),
        (
            "/service/attachment/tutorial/nope.zip?token=GgT-token-of-2",
            None,
            404,
            "附件不存在",
        ),
        (
            "/service/attachment/nope/tutorial.zip?token=GgT-token-of-2",
            None,
            404,
            "题目不存在",
        ),
        (
            "/service/attachment/never_open/never_open.zip?token=GgT-token-of-2",
            None,
            404,
            "题目不存在",
        ),
        (
            "/service/attachment/tutorial/tutorial_hint.txt",
            Some(auth_token(2)),
            404,
            "附件不存在",
        ),
    ] {
        let res = w.get(path, cookie.as_deref()).await;
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert_eq!(res.text().await.expect("body"), text, "{path}");
    }
    // Admins see challenges before they open.
    let res = w
        .get(
            "/service/attachment/never_open/never_open.zip?token=GgT-token-of-1",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text().await.expect("body"), "hidden");
}

async fn log_lines(w: &TestWorker, uid: i64) -> Vec<Value> {
    // Lines are written by the worker's log thread: wait until it has written them.
    w.shared.anticheat.flush().await;
    let path = w
        .shared
        .config
        .paths
        .anticheat_log
        .join(format!("{uid}.jsonl"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anticheat_entries_are_appended_per_user() {
    let w = start(Setup::contest("running")).await;
    let res = w
        .http
        .post(format!("{}/service/anticheat/report?tabid=tab9", w.base))
        .header("Cookie", format!("auth_token={}", auth_token(2)))
        .header("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
        .header("User-Agent", "test-agent")
        .body(r#"{"screen": [1920, 1080]}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    let canary = cookie_value(&set_cookies(&res), "anticheat_canary").expect("canary set");
    assert_eq!(res.json::<Value>().await.expect("json"), json!({}));
    for name in ["focus", "blur", "paste", "visit_action"] {
        let res = w
            .http
            .post(format!(
                "{}/service/anticheat/event?name={name}&tabid=tab9",
                w.base
            ))
            .header(
                "Cookie",
                format!("auth_token={}; anticheat_canary={canary}", auth_token(2)),
            )
            .body("")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 200);
        assert!(set_cookies(&res).is_empty(), "the canary is kept");
    }
    // Guests are answered but not logged.
    let res = w
        .http
        .post(format!("{}/service/anticheat/event?name=focus", w.base))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    let lines = log_lines(&w, 2).await;
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[0]["ip"], "203.0.113.7");
    assert_eq!(lines[0]["tabid"], "tab9");
    assert_eq!(lines[0]["canary"], canary.as_str());
    assert_eq!(lines[0]["data"]["kind"], "report");
    assert_eq!(lines[0]["data"]["frontend"]["screen"], json!([1920, 1080]));
    assert_eq!(lines[0]["data"]["http"]["user_agent"], "test-agent");
    assert_eq!(lines[4]["data"]["name"], "visit_action");
    assert!(lines.iter().all(|l| l["canary"] == canary.as_str()));
    assert_eq!(lines[1]["ip"], "127.0.0.1");
    // Flag submissions are logged too.
    let (_, answer) = w
        .wish(
            "submit_flag",
            Some(&auth_token(2)),
            &json!({"challenge_key": "misc_static", "flag": "flag{wrong}"}),
        )
        .await;
    assert_eq!(answer["error"], "REDUCER_ERROR");
    let lines = log_lines(&w, 2).await;
    let last = lines.last().expect("line");
    assert_eq!(last["data"]["kind"], "submit_flag");
    assert_eq!(last["data"]["flag"], "flag{wrong}");
    assert_eq!(last["data"]["result"], "Flag错误");
}

/// Users of the running contest who may upload a writeup (not the admin).
fn writeup_users(w: &TestWorker) -> Vec<i64> {
    w.shared
        .read(|g| {
            g.users
                .iter()
                .filter(|u| u.check_submit_writeup().is_ok() && !g.is_admin(u.id()))
                .map(|u| u.id())
                .collect()
        })
        .expect("game")
}

async fn upload(w: &TestWorker, uid: i64, name: &str, bytes: Vec<u8>, publish: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        )
        .text("publish", publish.to_owned())
        .text("rights", "CC0");
    let res = w
        .http
        .put(format!("{}/service/wish/writeup", w.base))
        .header("X-Wish-Version", WISH_VERSION)
        .header("Cookie", format!("auth_token={}", auth_token(uid)))
        .multipart(form)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writeups_are_stored_with_metadata_and_a_cooldown() {
    let w = start(Setup::contest("running")).await;
    let users = writeup_users(&w);
    assert!(users.len() >= 3, "{users:?}");
    let uid = users[0];
    let (_, status) = w.wish("writeup", Some(&auth_token(uid)), &json!({})).await;
    assert_eq!(status["error"], Value::Null);
    assert_eq!(status["submitted_metadata"], Value::Null);
    assert_eq!(status["max_size_mb"], 20);
    assert!(status["writeup_required"].is_boolean());

    let content = b"%PDF-1.4 my writeup".to_vec();
    let answer = upload(&w, uid, "../My Report.PDF", content.clone(), "Maybe").await;
    assert_eq!(answer, json!({"error": null}));
    let (_, status) = w.wish("writeup", Some(&auth_token(uid)), &json!({})).await;
    let meta = &status["submitted_metadata"];
    let filename = meta["filename"].as_str().expect("filename");
    assert!(
        filename.starts_with(&format!("{uid}_writeup_")) && filename.ends_with(".pdf"),
        "{filename}"
    );
    assert_eq!(meta["size"], content.len());
    assert_eq!(meta["publish"], "Maybe");
    assert_eq!(meta["rights"], "CC0");
    use sha2::Digest;
    assert_eq!(meta["sha256"], hex::encode(sha2::Sha256::digest(&content)));
    let dir = w.shared.config.paths.writeups.join(uid.to_string());
    assert_eq!(std::fs::read(dir.join(filename)).expect("stored"), content);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "the file and metadata.json only: {names:?}");

    let again = upload(&w, uid, "x.pdf", b"x".to_vec(), "Maybe").await;
    assert_eq!(again["error"], "RATE_LIMIT");

    let bad = upload(&w, users[1], "x.pdf", b"x".to_vec(), "Sometimes").await;
    assert_eq!(bad["error"], "INVALID_ARGUMENT");
    let big = upload(
        &w,
        users[2],
        "big.zip",
        vec![7u8; 20 * 1024 * 1024 + 1],
        "Maybe",
    )
    .await;
    assert_eq!(big["error"], "FILE_TOO_LARGE");
    for u in [users[1], users[2]] {
        let dir = w.shared.config.paths.writeups.join(u.to_string());
        let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "nothing is left behind for U#{u}");
    }
    // Users who passed nothing may not upload.
    let (_, v) = w.wish("writeup", None, &json!({})).await;
    assert_eq!(v["error"], "NO_USER");
}

async fn wait_for_clients(w: &TestWorker, n: u64) {
    for _ in 0..200 {
        if w.shared.ws.clients.load(Ordering::Relaxed) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "expected {n} clients, have {}",
        w.shared.ws.clients.load(Ordering::Relaxed)
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(w: &TestWorker, token: Option<&str>) -> Ws {
    let url = w.base.replace("http://", "ws://") + "/service/ws/push";
    let mut req = url.into_client_request().expect("request");
    if let Some(t) = token {
        req.headers_mut()
            .insert("cookie", format!("auth_token={t}").parse().expect("header"));
    }
    tokio_tungstenite::connect_async(req)
        .await
        .expect("connects")
        .0
}

/// The next text message, or the close frame as `(code, reason)` in an error.
async fn ws_next(ws: &mut Ws) -> Result<Value, (u16, String)> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).expect("JSON")),
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map_or((0, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                }))
            }
            Some(Ok(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_refuses_who_may_not_play() {
    let w = start(Setup::contest("running")).await;
    let mut ws = ws_connect(&w, None).await;
    assert_eq!(ws_next(&mut ws).await, Err((4337, "未登录".to_owned())));
    let mut ws = ws_connect(&w, Some(&auth_token(3))).await;
    assert_eq!(
        ws_next(&mut ws).await,
        Err((4337, "请阅读参赛须知".to_owned()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_forwards_pushes_meant_for_the_user() {
    let mut tables = http_support::contest_tables("running");
    let mut fresh = tables.challenge[0].clone();
    fresh.id = 1000;
    fresh.key = "fresh".into();
    fresh.title = "Fresh".into();
    fresh.effective_after = 0;
    fresh.flags = json!([{"name": "", "type": "static", "base_score": 100, "val": "flag{fresh}"}]);
    tables.challenge.push(fresh);
    let mut w = start(Setup {
        tables: Some(tables),
        env: Vec::new(),
        reducer: true,
    })
    .await;
    let mut ws = ws_connect(&w, Some(&auth_token(2))).await;
    // The upgrade finishes asynchronously.
    wait_for_clients(&w, 1).await;
    assert_eq!(w.shared.ws.clients.load(Ordering::Relaxed), 1);
    assert_eq!(w.shared.ws.users.load(Ordering::Relaxed), 1);

    // User 2 is in group thu: a pku-only message is skipped, the next one arrives.
    let send = |m: PushMessage| {
        w.shared.publish_push(m);
    };
    send(PushMessage {
        payload: json!({"type": "tick_update", "new_tick_name": "pku only"}),
        to_groups: Some(vec!["pku".into()]),
        to_uids: None,
    });
    send(PushMessage {
        payload: json!({"type": "reload_user"}),
        to_groups: None,
        to_uids: Some(vec![4]),
    });
    send(PushMessage::broadcast(
        json!({"type": "new_announcement", "title": "hello"}),
    ));
    assert_eq!(
        ws_next(&mut ws).await,
        Ok(json!({"type": "new_announcement", "title": "hello"}))
    );

    // First bloods made through the API reach the sockets of the board's groups.
    let mut by_group = Vec::new();
    for (uid, group) in [(4, "pku"), (6, "other")] {
        by_group.push((group, ws_connect(&w, Some(&auth_token(uid))).await));
    }
    by_group.push(("thu", ws));
    wait_for_clients(&w, 3).await;
    let mut seen = w.shared.pushes.subscribe();
    // `fresh` (added to the contest below) has no solver yet: each pass is a first blood
    // of its group's board, pushed to that group only.
    for uid in [2, 4] {
        let (_, answer) = w
            .wish(
                "submit_flag",
                Some(&auth_token(uid)),
                &json!({"challenge_key": "fresh", "flag": "flag{fresh}"}),
            )
            .await;
        assert_eq!(answer, json!({"error": null}), "U#{uid}");
    }
    let mut first_bloods = Vec::new();
    while let Ok(m) = seen.try_recv() {
        let kind = m.message.payload["type"].as_str().unwrap_or_default();
        if kind.ends_with("first_blood") {
            first_bloods.push(m.message.clone());
        }
    }
    assert_eq!(first_bloods.len(), 2, "{first_bloods:?}");
    for (group, socket) in &mut by_group {
        let expected: Vec<Value> = first_bloods
            .iter()
            .filter(|m| {
                m.to_groups
                    .as_ref()
                    .is_none_or(|g| g.iter().any(|g| g == group))
            })
            .map(|m| m.payload.clone())
            .collect();
        for e in &expected {
            assert_eq!(ws_next(socket).await.as_ref(), Ok(e), "group {group}");
        }
    }
    let mut ws = by_group.pop().expect("thu").1;

    // Shutdown closes the socket with "going away".
    w.shutdown().await;
    let closed = loop {
        match ws_next(&mut ws).await {
            Ok(_) => continue,
            Err(close) => break close,
        }
    };
    assert_eq!(closed.0, 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_per_user_are_limited() {
    let w = start(Setup::contest("running")).await;
    let token = auth_token(2);
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(ws_connect(&w, Some(&token)).await);
    }
    wait_for_clients(&w, 16).await;
    let mut extra = ws_connect(&w, Some(&token)).await;
    let refused = ws_next(&mut extra).await;
    assert_eq!(refused.map_err(|(code, _)| code), Err(4337));
    // Another user still gets in.
    let _other = ws_connect(&w, Some(&auth_token(4))).await;
    wait_for_clients(&w, 17).await;
    assert_eq!(w.shared.ws.users.load(Ordering::Relaxed), 2);
    // Closing one frees a place.
    let mut one = open.pop().expect("one");
    one.close(None).await.expect("close");
    drop(one);
    wait_for_clients(&w, 16).await;
    let mut again = ws_connect(&w, Some(&token)).await;
    wait_for_clients(&w, 17).await;
    w.shared
        .publish_push(PushMessage::broadcast(json!({"type": "x"})));
    assert_eq!(ws_next(&mut again).await, Ok(json!({"type": "x"})));
    again.send(Message::Close(None)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_can_be_left_to_nginx() {
    let mut setup = Setup::contest("running");
    setup.env = vec![("GS_API__ATTACHMENT_ACCEL_URL", "/internal-attachments/")];
    let w = start(setup).await;
    let res = w
        .get(
            "/service/attachment/tutorial/tutorial.zip?token=GgT-token-of-2",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()
            .get("x-accel-redirect")
            .expect("X-Accel-Redirect"),
        "/internal-attachments/tutorial/tutorial.zip"
    );
    // Access is still checked by us, not by nginx.
    let res = w
        .get(
            "/service/attachment/tutorial/tutorial.zip?token=wrong",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.headers().get("x-accel-redirect").is_none());
}

/// Posts a wish with the given `Accept-Encoding`; returns the response undecoded.
async fn wish_encoded(w: &TestWorker, endpoint: &str, accept: Option<&str>) -> reqwest::Response {
    let mut req = w
        .http
        .post(format!("{}/service/wish/{endpoint}", w.base))
        .header("X-Wish-Version", WISH_VERSION)
        .json(&json!({}));
    if let Some(a) = accept {
        req = req.header("Accept-Encoding", a);
    }
    req.send().await.expect("request")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn header_of(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_come_gzipped_to_clients_that_accept_it() {
    let w = start(Setup::contest("running")).await;
    // A board: the same bytes as before for plain clients, gzip for the others, both
    // marked as varying with Accept-Encoding.
    let plain = wish_encoded(&w, "board/score_all", None).await;
    assert_eq!(header_of(&plain, "content-encoding"), None);
    assert_eq!(
        header_of(&plain, "vary").as_deref(),
        Some("accept-encoding")
    );
    let plain = plain.bytes().await.expect("body");
    assert!(plain.len() > 1024, "the golden board is large");
    for accept in ["gzip", "gzip, deflate, br, zstd", "br;q=1, gzip;q=0.5", "*"] {
        let res = wish_encoded(&w, "board/score_all", Some(accept)).await;
        assert_eq!(
            header_of(&res, "content-encoding").as_deref(),
            Some("gzip"),
            "{accept}"
        );
        assert_eq!(header_of(&res, "vary").as_deref(), Some("accept-encoding"));
        let gz = res.bytes().await.expect("body");
        assert!(
            gz.len() < plain.len() / 3,
            "{} of {}",
            gz.len(),
            plain.len()
        );
        assert_eq!(gunzip(&gz), plain, "{accept}");
    }
    for refused in ["identity", "gzip;q=0", "br"] {
        let res = wish_encoded(&w, "board/score_all", Some(refused)).await;
        assert_eq!(header_of(&res, "content-encoding"), None, "{refused}");
        assert_eq!(res.bytes().await.expect("body"), plain);
    }
    // Small answers stay plain whatever the client accepts.
    let res = wish_encoded(&w, "game_info", Some("gzip")).await;
    assert_eq!(header_of(&res, "content-encoding"), None);
    assert_eq!(header_of(&res, "vary"), None);

    // A template: compressed when cached, with its ETag, and still revalidated.
    let page = format!("# Rules\n\n{}", "Be nice to each other. ".repeat(200));
    std::fs::write(w.shared.config.paths.templates.join("rules.md"), page).expect("write");
    let plain = w.get("/service/template/rules", None).await;
    let etag = header_of(&plain, "etag").expect("etag");
    let plain = plain.bytes().await.expect("body");
    let res = w
        .http
        .get(format!("{}/service/template/rules", w.base))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("request");
    assert_eq!(header_of(&res, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header_of(&res, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(gunzip(&res.bytes().await.expect("body")), plain);
    let res = w
        .http
        .get(format!("{}/service/template/rules", w.base))
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 304);
    assert_eq!(header_of(&res, "content-encoding"), None);
}
