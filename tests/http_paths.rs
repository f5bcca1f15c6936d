//! Paths that must not escape their folder, over real HTTP (issue 10, finding 9): a
//! site template that is a symbolic link out of the templates folder is not served, and
//! writeups are stored under an allowed extension whatever the uploader called them.

mod common;
mod http_support;

use http_support::{auth_token, start, Setup, TestWorker, WISH_VERSION};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_linking_out_of_its_folder_is_not_served() {
    let w = start(Setup::contest("running")).await;
    let templates = w.shared.config.paths.templates.clone();
    std::fs::create_dir_all(&templates).expect("templates dir");
    let outside = w.dir.path().join("secret.md");
    std::fs::write(&outside, "# the secret outside\n").expect("write");
    std::os::unix::fs::symlink(&outside, templates.join("leak.md")).expect("symlink");
    let res = w.get("/service/template/leak", None).await;
    let status = res.status().as_u16();
    let body = res.text().await.expect("body");
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("secret"), "{body}");
    // A link that stays inside is fine.
    std::fs::write(templates.join("real.md"), "# inside\n").expect("write");
    std::os::unix::fs::symlink(templates.join("real.md"), templates.join("alias.md"))
        .expect("symlink");
    let res = w.get("/service/template/alias", None).await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().await.expect("body").contains("inside"));
}

async fn upload(w: &TestWorker, uid: i64, name: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"<?php system($_GET['c']); ?>".to_vec())
                .file_name(name.to_owned()),
        )
        .text("publish", "Maybe")
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
    res.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writeups_are_stored_under_an_allowed_extension() {
    let w = start(Setup::contest("running")).await;
    let users: Vec<i64> = w
        .shared
        .read(|g| {
            g.users
                .iter()
                .filter(|u| u.check_submit_writeup().is_ok() && !g.is_admin(u.id()))
                .map(|u| u.id())
                .collect()
        })
        .expect("game");
    for (uid, name) in users
        .iter()
        .zip(["shell.php", ".htaccess", "run.sh", "page.html"])
    {
        assert_eq!(
            upload(&w, *uid, name).await,
            json!({"error": null}),
            "{name}"
        );
        let (_, status) = w.wish("writeup", Some(&auth_token(*uid)), &json!({})).await;
        let stored = status["submitted_metadata"]["filename"]
            .as_str()
            .expect("filename")
            .to_owned();
        assert!(stored.ends_with(".bin"), "{name} stored as {stored}");
    }
}
