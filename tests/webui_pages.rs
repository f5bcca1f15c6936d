//! The player UI over real HTTP: pages render what the wish answers hold, language and
//! preference handling, readable NO_GAME, the per-field profile check, and
//! `[api] frontend_dir` (files, single-page fallback, no path or link leaving the folder).

mod common;
mod http_support;

use http_support::{auth_token, start, Setup};
use serde_json::{json, Value};

async fn player(w: &http_support::TestWorker) -> (String, Value) {
    for uid in 2..60 {
        let token = auth_token(uid);
        let (_, game) = w.wish("game", Some(&token), &json!({})).await;
        if game["error"].is_null() && game["user_info"].is_object() {
            return (token, game);
        }
    }
    panic!("no player who can play in the golden contest");
}

async fn page(w: &http_support::TestWorker, path: &str, cookie: &str, lang: &str) -> (u16, String) {
    let res = w
        .http
        .get(format!("{}{path}", w.base))
        .header("Cookie", cookie)
        .header("Accept-Language", lang)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[tokio::test]
async fn pages_show_the_game_in_both_languages() {
    let w = start(Setup::contest("running")).await;
    let (token, game) = player(&w).await;
    let cookie = format!("auth_token={token}");
    let (s, html) = page(&w, "/", &cookie, "en-US,en;q=0.9").await;
    assert_eq!(s, 200);
    assert!(
        html.contains("<html lang=\"en\""),
        "English from Accept-Language"
    );
    let list = game["challenge_list"].as_array().expect("challenges");
    assert!(!list.is_empty());
    for ch in list {
        let title = ch["title"].as_str().expect("title");
        assert!(html.contains(&escaped(title)), "{title} on the game page");
    }
    let score = game["user_info"]["tot_score"].to_string();
    assert!(html.contains(&format!("<span id=\"my-score\">{score}</span>")));
    // The cookie wins over the header.
    let (_, html) = page(&w, "/", &format!("{cookie}; lang=zh"), "en").await;
    assert!(html.contains("<html lang=\"zh-CN\"") && html.contains("我的总分"));
    // A challenge page shows its rendered description.
    let key = list[0]["key"].as_str().expect("key");
    let (_, detail) = w
        .wish(&format!("challenge/{key}"), Some(&token), &json!({}))
        .await;
    let (s, html) = page(&w, &format!("/challenge/{key}"), &cookie, "zh").await;
    assert_eq!(s, 200);
    let desc = detail["desc"].as_str().expect("desc");
    assert!(html.contains(desc), "description of {key}");
    // Boards: search narrows, unknown boards are a 404 page.
    let (_, board) = w.wish("board/score_all", None, &json!({})).await;
    let first = board["list"][0]["nickname"].as_str().expect("a leader");
    let (s, html) = page(
        &w,
        &format!("/board/score_all?q={}", urlencode(first)),
        "",
        "en",
    )
    .await;
    assert_eq!(s, 200);
    assert!(html.contains(&escaped(first)));
    assert!(html.contains("<svg class=\"chart\""), "score chart");
    let (s, html) = page(&w, "/board/nope", "", "en").await;
    assert_eq!(s, 404);
    assert!(
        html.contains("Not found") || html.contains("排行榜不存在"),
        "{html}"
    );
    let (s, _) = page(&w, "/no/such/page", "", "en").await;
    assert_eq!(s, 404);
    // Guests are sent to the login page from their own pages.
    let res = w.get("/submissions", None).await;
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(res.headers()["location"], "/login");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn preferences_stay_on_this_site() {
    let w = start(Setup::contest("running")).await;
    for (back, want) in [
        ("/board/score_all", "/board/score_all"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ] {
        let res = w
            .get(
                &format!("/pref?lang=en&theme=dark&back={}", urlencode(back)),
                None,
            )
            .await;
        assert_eq!(res.status().as_u16(), 302);
        assert_eq!(res.headers()["location"], want, "back={back}");
        let cookies: Vec<_> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_string())
            .collect();
        assert!(
            cookies.iter().any(|c| c.starts_with("lang=en;")),
            "{cookies:?}"
        );
        assert!(
            cookies.iter().any(|c| c.starts_with("theme=dark;")),
            "{cookies:?}"
        );
    }
    let res = w.get("/pref?lang=xx&theme=<b>", None).await;
    assert!(
        res.headers().get("set-cookie").is_none(),
        "bad values are ignored"
    );
}

#[tokio::test]
async fn no_game_is_a_readable_page() {
    let w = start(Setup {
        tables: None,
        env: Vec::new(),
        reducer: false,
    })
    .await;
    let (s, html) = page(&w, "/", "", "en").await;
    assert_eq!(s, 503);
    assert!(html.contains("resynchronizing"), "{html}");
    let (s, html) = page(&w, "/", "", "zh-CN").await;
    assert_eq!(s, 503);
    assert!(html.contains("正在同步"), "{html}");
}

#[tokio::test]
async fn profile_fields_are_checked_one_by_one() {
    let w = start(Setup::contest("running")).await;
    let (token, _) = player(&w).await;
    let res = w
        .http
        .post(format!("{}/ui/profile_check", w.base))
        .header("Cookie", format!("auth_token={token}"))
        .json(
            &json!({"profile": {"nickname": "", "qq": "12", "tel": "13800000000", "comment": ""}}),
        )
        .send()
        .await
        .expect("request");
    let answer: Value = res.json().await.expect("json");
    let errors = answer["errors"].as_object().expect("errors");
    assert_eq!(errors["nickname"], "昵称格式错误");
    assert_eq!(errors["qq"], "QQ号格式错误");
    assert!(
        !errors.contains_key("tel") && !errors.contains_key("comment"),
        "{errors:?}"
    );
    let res = w
        .http
        .post(format!("{}/ui/profile_check", w.base))
        .json(&json!({"profile": {}}))
        .send()
        .await
        .expect("request");
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["error"], "NO_USER");
}

#[tokio::test]
async fn frontend_dir_serves_a_static_build() {
    let outside = tempfile::tempdir().expect("tempdir");
    let site = outside.path().join("site");
    std::fs::create_dir_all(site.join("assets")).expect("mkdir");
    std::fs::write(site.join("index.html"), "<html>the other frontend</html>").expect("write");
    std::fs::write(site.join("assets/app.js"), "console.log(1)").expect("write");
    std::fs::write(outside.path().join("secret.txt"), "top secret").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), site.join("link.txt"))
        .expect("symlink");
    let dir: &'static str = Box::leak(site.display().to_string().into_boxed_str());
    let w = start(Setup {
        env: vec![("GS_API__FRONTEND_DIR", dir)],
        ..Setup::contest("running")
    })
    .await;
    let res = w.get("/", None).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text().await.unwrap(), "<html>the other frontend</html>");
    let res = w.get("/assets/app.js", None).await;
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(res.text().await.unwrap(), "console.log(1)");
    // Routes of the single-page app get index.html.
    let res = w.get("/game/challenge/x", None).await;
    assert_eq!(res.text().await.unwrap(), "<html>the other frontend</html>");
    // Nothing outside the folder, neither by `..` nor through a link.
    for path in [
        "/..%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/link.txt",
    ] {
        let res = w.get(path, None).await;
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(!body.contains("top secret"), "{path} leaked the file");
        assert_eq!(status, 404, "{path}");
    }
    // The API is unchanged.
    let (s, info) = w.wish("game_info", None, &json!({})).await;
    assert_eq!(s, 200);
    assert!(info["error"].is_null());
    // The built-in UI's routes are gone.
    let res = w.get("/ui/app.js", None).await;
    assert!(
        !res.text().await.unwrap().contains("push"),
        "built-in script served"
    );
}

#[tokio::test]
async fn login_page_has_a_button_per_provider() {
    let w = start(Setup {
        env: vec![
            ("GS_OAUTH_GITHUB__CLIENT_ID", "id"),
            ("GS_OAUTH_GITHUB__CLIENT_SECRET", "secret"),
        ],
        ..Setup::contest("running")
    })
    .await;
    let (s, html) = page(&w, "/login", "", "en").await;
    assert_eq!(s, 200);
    let html = html.replace("&#x2f;", "/");
    assert!(
        html.contains("href=\"/service/auth/github/login\" data-provider=\"github\""),
        "{html}"
    );
    assert!(
        !html.contains("data-provider=\"carsi\""),
        "only enabled providers"
    );
    assert!(
        html.contains("action=\"/service/auth/manual\""),
        "manual login form"
    );
    let w = start(Setup {
        env: vec![("GS_AUTH__MANUAL_ENABLED", "false")],
        ..Setup::contest("running")
    })
    .await;
    let (_, html) = page(&w, "/login", "", "en").await;
    assert!(!html.contains("/service/auth/manual") && html.contains("No login method"));
}
