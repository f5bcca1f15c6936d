//! Bad input over real HTTP: malformed or ill-typed bodies, huge bodies, a missing wish
//! version, no game, path tricks on templates and attachments, disabled logins.

mod common;
mod http_support;

use http_support::{auth_token, contest_tables, start, Setup, WISH_VERSION};
use serde_json::{json, Value};

async fn raw_wish(
    w: &http_support::TestWorker,
    endpoint: &str,
    body: &'static str,
) -> (u16, String) {
    let res = w
        .http
        .post(format!("{}/service/wish/{endpoint}", w.base))
        .header("X-Wish-Version", WISH_VERSION)
        .header("Cookie", format!("auth_token={}", auth_token(2)))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    (res.status().as_u16(), res.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_ill_typed_bodies_are_400() {
    let w = start(Setup::contest("running")).await;
    let cases = [
        ("submit_flag", "{"),
        ("submit_flag", "not json"),
        ("submit_flag", ""),
        ("submit_flag", "[]"),
        ("submit_flag", "{}"),
        ("submit_flag", r#"{"challenge_key": "tutorial"}"#),
        ("submit_flag", r#"{"challenge_key": 1, "flag": "flag{x}"}"#),
        (
            "submit_flag",
            r#"{"challenge_key": "tutorial", "flag": null}"#,
        ),
        (
            "submit_flag",
            r#"{"challenge_key": "tutorial", "flag": ["a"]}"#,
        ),
        ("submit_feedback", r#"{"challenge_key": "tutorial"}"#),
        (
            "submit_feedback",
            r#"{"challenge_key": "tutorial", "feedback": 5}"#,
        ),
        ("update_profile", r#"{"profile": "x"}"#),
        ("update_profile", r#"{"profile": {"nickname": 1}}"#),
        ("update_profile", r#"{}"#),
    ];
    for (endpoint, body) in cases {
        let (status, text) = raw_wish(&w, endpoint, body).await;
        assert_eq!(status, 400, "{endpoint} with {body:?}: {text}");
        let v: Value = serde_json::from_str(&text).expect("400 answers are JSON");
        assert_eq!(v["error"], "INVALID_ARGUMENT");
    }
    // A non-numeric uid in the path is an ill-typed parameter too.
    let (status, _) = w.wish("submissions/abc", None, &json!({})).await;
    assert_eq!(status, 400);
    // The server is still fine.
    let (status, v) = w.wish("game_info", None, &json!({})).await;
    assert_eq!((status, v["error"].clone()), (200, Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_bodies_are_refused() {
    let w = start(Setup::contest("running")).await;
    let flag = "a".repeat(2 * 1024 * 1024);
    let body = json!({"challenge_key": "tutorial", "flag": flag}).to_string();
    let res = w
        .http
        .post(format!("{}/service/wish/submit_flag", w.base))
        .header("X-Wish-Version", WISH_VERSION)
        .header("Cookie", format!("auth_token={}", auth_token(2)))
        .body(body)
        .send()
        .await;
    // The server answers 413 without reading the rest; the client may see that answer or,
    // still writing, the connection closing under it. Either way nothing was accepted.
    if let Ok(res) = res {
        let status = res.status().as_u16();
        assert!(status == 413 || status == 400, "got {status}");
        if status == 413 {
            // The rest of the body is unread: the server closes, and says so.
            assert_eq!(res.headers()["connection"], "close");
        }
    }
    let (status, _) = w.wish("game_info", None, &json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wish_version_is_checked_before_anything_else() {
    let w = start(Setup::contest("running")).await;
    for (version, shown) in [(None, "(none)"), (Some("2024.v9"), "2024.v9")] {
        let mut req = w
            .http
            .post(format!("{}/service/wish/submit_flag", w.base))
            .body("{ not json");
        if let Some(v) = version {
            req = req.header("X-Wish-Version", v);
        }
        let res = req.send().await.expect("request");
        assert_eq!(res.status().as_u16(), 200);
        let v: Value = res.json().await.expect("json");
        assert_eq!(
            v,
            json!({"error": "WISH_VERSION_MISMATCH", "error_msg": format!("比赛平台前端（{shown}）有更新，请刷新页面")})
        );
    }
    // Unknown wish endpoints are not found, whatever the version.
    let (status, _) = w.wish("no_such_endpoint", None, &json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_game_data_endpoints_answer_no_game() {
    let w = start(Setup {
        tables: None,
        env: Vec::new(),
        reducer: true,
    })
    .await;
    let no_game = json!({"error": "NO_GAME", "error_msg": "服务暂时不可用"});
    for endpoint in [
        "game_info",
        "announcements",
        "triggers",
        "game",
        "challenge/tutorial",
        "get_touched_users/tutorial",
        "board/score_all",
        "my_submissions",
        "submissions/2",
        "agree_term",
        "writeup",
    ] {
        let (status, v) = w.wish(endpoint, Some(&auth_token(2)), &json!({})).await;
        assert_eq!((status, &v), (200, &no_game), "{endpoint}");
    }
    let (status, v) = w
        .wish(
            "submit_flag",
            Some(&auth_token(2)),
            &json!({"challenge_key": "tutorial", "flag": "flag{x}"}),
        )
        .await;
    assert_eq!((status, v), (200, no_game));
    let res = w.get("/service/template/faq", None).await;
    assert_eq!(res.status().as_u16(), 403);
    let res = w.get("/service/auth/manual?identity=someone", None).await;
    assert!(res.headers().get("set-cookie").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_names_cannot_leave_the_template_directory() {
    let w = start(Setup::contest("running")).await;
    let templates = &w.shared.config.paths.templates;
    std::fs::write(templates.join("faq.md"), "# FAQ").expect("write");
    std::fs::write(w.dir.path().join("secret.md"), "# SECRET").expect("write");
    for path in [
        "/service/template/..%2Fsecret",
        "/service/template/../secret",
        "/service/template/%2E%2E%2Fsecret",
        "/service/template/faq.md",
        "/service/template/fa%00q",
        "/service/template/nope",
    ] {
        let res = w.get(path, None).await;
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert!(!text.contains("SECRET"), "{path} leaked the file");
    }
    assert_eq!(
        w.get("/service/template/faq", None).await.status().as_u16(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_paths_cannot_escape() {
    // Challenge file paths are admin data; a bad one must still never leave the directory.
    let mut tables = contest_tables("running");
    let tutorial = tables
        .challenge
        .iter_mut()
        .find(|c| c.key == "tutorial")
        .expect("tutorial");
    tutorial.actions = json!([
        {"name": "a", "effective_after": 0, "type": "attachment", "filename": "up.txt", "file_path": "../secret.txt"},
        {"name": "b", "effective_after": 0, "type": "attachment", "filename": "abs.txt", "file_path": "/etc/passwd"},
        {"name": "c", "effective_after": 0, "type": "attachment", "filename": "link.txt", "file_path": "link.txt"},
        {"name": "d", "effective_after": 0, "type": "attachment", "filename": "ok.txt", "file_path": "tutorial/ok.txt"},
        {"name": "e", "effective_after": 0, "type": "dyn_attachment", "filename": "dyn.bin", "module_path": "gen"},
    ]);
    let w = start(Setup {
        tables: Some(tables),
        env: Vec::new(),
        reducer: true,
    })
    .await;
    let att = w.shared.config.paths.attachments.clone();
    std::fs::write(w.dir.path().join("secret.txt"), "SECRET").expect("write");
    std::fs::create_dir_all(att.join("tutorial")).expect("mkdir");
    std::fs::write(att.join("tutorial/ok.txt"), "fine").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(w.dir.path().join("secret.txt"), att.join("link.txt"))
        .expect("symlink");
    let token = auth_token(2);
    for name in [
        "up.txt",
        "abs.txt",
        "link.txt",
        "..%2Fsecret.txt",
        "missing.txt",
    ] {
        let res = w
            .get(
                &format!("/service/attachment/tutorial/{name}"),
                Some(&token),
            )
            .await;
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert!(status == 403 || status == 404, "{name}: {status}");
        assert!(!text.contains("SECRET"), "{name} leaked the file");
        assert!(!text.contains("root:"), "{name} leaked /etc/passwd");
    }
    let res = w
        .get("/service/attachment/tutorial/ok.txt", Some(&token))
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text().await.expect("body"), "fine");
    let res = w
        .get("/service/attachment/tutorial/dyn.bin", Some(&token))
        .await;
    // A generated attachment whose generator folder does not exist: the reference's answer.
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(res.text().await.expect("body"), "附件暂时不可用");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_login_can_be_disabled() {
    let w = start(Setup {
        env: vec![("GS_AUTH__MANUAL_ENABLED", "false")],
        ..Setup::contest("running")
    })
    .await;
    let res = w.get("/service/auth/manual?identity=staff1", None).await;
    assert!(res.headers().get("set-cookie").is_none());
    assert!(res.headers().get("location").is_none());
    let text = res.text().await.expect("body");
    assert!(
        text.contains("登录失败") && text.contains("手动登录已禁用"),
        "{text}"
    );
    // A missing identity is a 400, never a 500.
    let w = start(Setup::contest("running")).await;
    let res = w.get("/service/auth/manual", None).await;
    assert_eq!(res.status().as_u16(), 400);
    let res = w
        .get("/service/auth/su?uid=abc", Some(&auth_token(1)))
        .await;
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_anticheat_and_writeup_requests() {
    let w = start(Setup::contest("running")).await;
    let token = auth_token(2);
    let res = w
        .http
        .post(format!("{}/service/anticheat/event?name=evil", w.base))
        .header("Cookie", format!("auth_token={token}"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 404);
    let res = w
        .http
        .post(format!("{}/service/anticheat/report", w.base))
        .header("Cookie", format!("auth_token={token}"))
        .body("{oops")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
    // A PUT that is not multipart is malformed.
    let res = w
        .http
        .put(format!("{}/service/wish/writeup", w.base))
        .header("X-Wish-Version", WISH_VERSION)
        .header("Cookie", format!("auth_token={token}"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_reducer_gives_an_error_answer_not_a_hang() {
    let w = start(Setup {
        reducer: false,
        ..Setup::contest("running")
    })
    .await;
    let started = std::time::Instant::now();
    let (status, v) = w
        .wish(
            "submit_flag",
            Some(&auth_token(2)),
            &json!({"challenge_key": "misc_static", "flag": "flag{wrong}"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["error"], "REDUCER_ERROR", "{v}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // Reads keep working meanwhile.
    let (status, v) = w.wish("game", Some(&auth_token(2)), &json!({})).await;
    assert_eq!((status, v["error"].clone()), (200, Value::Null));
}
