//! The admin panel over HTTP: every route refuses non-admins, read-only admins cannot
//! write, POSTs need the CSRF token; edits reach the replica; big lists page fast.

mod admin_support;
mod common;
mod http_support;

use admin_support::Panel;
use std::time::{Duration, Instant};

const GET_ROUTES: &[&str] = &[
    "",
    "/announcements",
    "/announcements/0",
    "/challenges",
    "/challenges/0",
    "/policies",
    "/policies/0",
    "/triggers",
    "/triggers/0",
    "/submissions",
    "/users",
    "/users/1",
    "/users/1/profile",
    "/profiles",
    "/feedback",
    "/logs",
    "/tools",
    "/tools/writeups",
    "/tools/anticheat?uid=1",
    "/anticheat",
    "/anticheat?challenge=misc_leet&uid=2",
    "/challenges/export",
    "/files/templates",
    "/files/media",
    "/files/writeups",
    "/files/attachments",
];

const POST_ROUTES: &[&str] = &[
    "/status/clear-telemetry",
    "/status/test-push",
    "/status/regenerate-tokens",
    "/announcements/0",
    "/announcements/1/delete",
    "/challenges/0",
    "/challenges/1/delete",
    "/policies/0",
    "/policies/1/delete",
    "/triggers/0",
    "/triggers/1/delete",
    "/submissions/1",
    "/users/3",
    "/users/3/profile",
    "/users/move-group",
    "/feedback/check",
    "/challenges/import",
    "/tools/generate",
    "/files/templates/save",
    "/files/media/upload",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_access_and_csrf() {
    let panel = Panel::start(http_support::contest_tables("running")).await;
    for route in GET_ROUTES {
        assert_eq!(panel.get(0, route).await.0, 403, "anonymous GET {route}");
        let (s, body) = panel.get(3, route).await;
        assert!(s == 403 && body.is_empty(), "player GET {route}: {s}");
        // An admin's auth token without the 2FA cookie.
        let r = panel
            .http
            .get(format!("{}{route}", panel.base))
            .header("Cookie", format!("auth_token={}", panel.token(1)))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status().as_u16(), 403, "admin without 2fa GET {route}");
        let (s, body) = panel.get(1, route).await;
        assert_eq!(s, 200, "admin GET {route}: {body}");
        assert_eq!(
            panel.get(2, route).await.0,
            200,
            "read-only admin GET {route}"
        );
    }
    let csrf1 = panel.csrf(1).await;
    let csrf2 = panel.csrf(2).await;
    assert_ne!(csrf1, csrf2);
    let before = panel.get(1, "/announcements").await.1;
    for route in POST_ROUTES {
        let form = [
            ("_csrf", csrf2.as_str()),
            ("title", "x"),
            ("group", "pku"),
            ("ids", "3"),
        ];
        assert_eq!(
            panel.post(0, route, &form).await.0,
            403,
            "anonymous POST {route}"
        );
        assert_eq!(
            panel.post(3, route, &form).await.0,
            403,
            "player POST {route}"
        );
        assert_eq!(
            panel.post(2, route, &form).await.0,
            403,
            "read-only admin POST {route}"
        );
        let no_csrf = [("title", "x"), ("group", "pku"), ("ids", "3")];
        assert_eq!(
            panel.post(1, route, &no_csrf).await.0,
            403,
            "POST {route} without CSRF"
        );
        let wrong = [("_csrf", csrf2.as_str()), ("title", "x")];
        assert_eq!(
            panel.post(1, route, &wrong).await.0,
            403,
            "POST {route} with another's CSRF"
        );
    }
    assert_eq!(
        panel.get(1, "/announcements").await.1,
        before,
        "a refused POST changed data"
    );
    // With the token, the writer's edit lands and shows in the replica at once.
    let (s, _) = panel
        .post(
            1,
            "/announcements/0",
            &[
                ("_csrf", &csrf1),
                ("title", "<b>Hello</b> admins"),
                ("timestamp", "2026-01-01 08:00:00"),
                ("content_template", "hi"),
            ],
        )
        .await;
    assert_eq!(s, 303);
    let list = panel.get(1, "/announcements").await.1;
    assert!(
        list.contains("&lt;b&gt;Hello") && !list.contains("<b>Hello"),
        "escaped title in {list}"
    );
    assert!(
        list.contains("2026-01-01 08:00:00"),
        "time in the configured zone"
    );
    // A bad challenge gets a clear error and nothing is saved.
    let (s, body) = panel
        .post(
            1,
            "/challenges/0",
            &[
                ("_csrf", &csrf1),
                ("key", "bad"),
                ("title", "Bad"),
                ("category", "Misc"),
                ("sorting_index", "1"),
                ("effective_after", "0"),
                ("desc_template", ""),
                ("chall_metadata", "{}"),
                ("actions", "[]"),
                ("flags", "[]"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    assert!(body.contains("1 to 3 flags"), "{body}");
    let (s, body) = panel
        .post(1, "/challenges/0", &[("_csrf", &csrf1), ("flags", "[")])
        .await;
    assert_eq!(s, 422, "{body}");
    // Path escapes are refused by the file managers.
    for bad in ["../x", "/etc/passwd", "a/../../x"] {
        let (s, _) = panel
            .get(
                1,
                &format!("/files/templates/download?path={}", urlenc(bad)),
            )
            .await;
        assert_eq!(s, 400, "{bad}");
        let (s, _) = panel
            .post(
                1,
                "/files/templates/save",
                &[("_csrf", &csrf1), ("path", bad), ("content", "x")],
            )
            .await;
        assert_eq!(s, 400, "{bad}");
    }
    panel.stop().await;
}

fn urlenc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_render_their_first_page_fast() {
    let now = gs::clock::now_s();
    let shape = gs::demo::ContestShape {
        seed: 7,
        users: 10_000,
        submissions: 10_000,
        start_s: now - 86_400,
        now_s: Some(now),
        ..gs::demo::ContestShape::default()
    };
    let mut tables = gs::demo::generate(&shape);
    for i in 0..10_000i64 {
        tables.feedback.push(gs::rows::FeedbackRow {
            id: i + 1,
            user_id: 1 + i % 100,
            timestamp_ms: now * 1000 - i,
            challenge_key: "x".into(),
            content: format!("feedback {i}"),
            checked: i % 2 == 0,
        });
        tables.log.push(gs::rows::LogRow {
            id: i + 1,
            timestamp_ms: now * 1000 - i,
            level: "INFO".into(),
            process: "reducer".into(),
            module: "test".into(),
            message: format!("line {i}"),
        });
        tables.user_profile.len();
    }
    let panel = Panel::start(tables).await;
    let mut report = Vec::new();
    for route in [
        "/users",
        "/submissions",
        "/profiles",
        "/feedback",
        "/logs",
        "/users?sort=score&desc=1",
        "/submissions?q=flag&sort=time",
    ] {
        panel.get(1, route).await; // warm up
        let started = Instant::now();
        let (s, body) = panel.get(1, route).await;
        let took = started.elapsed();
        assert_eq!(s, 200, "{route}");
        assert!(body.contains("rows"), "{route}");
        report.push(format!("{route}: {took:?}"));
        assert!(took <= Duration::from_millis(300), "{route} took {took:?}");
    }
    println!("first pages: {}", report.join(", "));
    panel.stop().await;
}
