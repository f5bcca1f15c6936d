//! deploy/nginx/gs.conf in front of two real workers: Debian's nginx runs the site (its
//! paths, ports and certificate substituted, everything else as shipped) from a temporary
//! prefix, and the player API, the WebSocket push, an X-Accel-Redirect attachment, the
//! admin restriction and the closed metrics path are checked through it.
//! Skipped, saying so, when /usr/sbin/nginx is missing (CI installs it).

mod admin_support;
mod common;
mod http_support;

use admin_support::{free_port, Panel};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const NGINX: &str = "/usr/sbin/nginx";

/// The running nginx; stopped with `nginx -s stop` (killing the master alone would
/// leave its worker process behind).
struct Nginx {
    master: Child,
    args: Vec<std::ffi::OsString>,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let stopped = Command::new(NGINX)
            .args(&self.args)
            .args(["-s", "stop"])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.master.kill();
        }
        let _ = self.master.wait();
    }
}

/// Replaces `from` (which must occur) in the site.
fn sub(text: &mut String, from: &str, to: &str) {
    assert!(
        text.contains(from),
        "deploy/nginx/gs.conf no longer has `{from}`"
    );
    *text = text.replace(from, to);
}

/// The shipped site with this test's paths and ports.
fn site(prefix: &Path, p: &Panel, tls: u16, plain: u16, redirect: u16) -> String {
    let api = p.config.api.listen.port();
    let mut s =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx/gs.conf"))
            .expect("deploy/nginx/gs.conf");
    sub(
        &mut s,
        "server 127.0.0.1:8010 ",
        &format!("server 127.0.0.1:{api} "),
    );
    sub(
        &mut s,
        "server 127.0.0.1:8011 ",
        &format!("server 127.0.0.1:{} ", api + 1),
    );
    sub(
        &mut s,
        "server 127.0.0.1:5000;",
        &format!("server {};", p.config.admin.listen),
    );
    sub(
        &mut s,
        "    listen 80;\n",
        &format!("    listen 127.0.0.1:{redirect};\n"),
    );
    sub(&mut s, "    listen [::]:80;\n", "");
    sub(
        &mut s,
        "    listen 443 ssl http2;",
        &format!("    listen 127.0.0.1:{tls} ssl;\n    listen 127.0.0.1:{plain};"),
    );
    sub(&mut s, "    listen [::]:443 ssl http2;\n", "");
    sub(
        &mut s,
        "/etc/letsencrypt/live/ctf.example.com/fullchain.pem",
        &prefix.join("cert.pem").display().to_string(),
    );
    sub(
        &mut s,
        "/etc/letsencrypt/live/ctf.example.com/privkey.pem",
        &prefix.join("key.pem").display().to_string(),
    );
    let attachments = p.config.paths.attachments.canonicalize().unwrap();
    sub(
        &mut s,
        "alias /srv/gs/data/attachments/;",
        &format!("alias {}/;", attachments.display()),
    );
    sub(
        &mut s,
        "root /srv/gs/frontend;",
        &format!("root {};", prefix.join("frontend").display()),
    );
    s
}

fn start_nginx(prefix: &Path, site: &str) -> Nginx {
    std::fs::create_dir_all(prefix.join("frontend")).unwrap();
    std::fs::write(prefix.join("frontend/index.html"), "<p>the frontend</p>").unwrap();
    std::fs::write(prefix.join("gs.conf"), site).unwrap();
    let d = prefix.display();
    // As root, worker processes would switch to `nobody`, who cannot read the temp dirs.
    let main = format!(
        "user root;\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/access.log;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n  include {d}/gs.conf;\n}}\n"
    );
    std::fs::write(prefix.join("nginx.conf"), main).unwrap();
    let conf = prefix.join("nginx.conf");
    let check = Command::new(NGINX)
        .args(["-t", "-p"])
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        .output()
        .expect("nginx -t");
    assert!(
        check.status.success(),
        "nginx -t refuses the site: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let args = vec!["-p".into(), prefix.into(), "-c".into(), conf.into()];
    let master = Command::new(NGINX)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nginx");
    Nginx { master, args }
}

fn certificate(prefix: &Path) {
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(prefix.join("key.pem"))
        .arg("-out")
        .arg(prefix.join("cert.pem"))
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_site_in_front_of_two_workers() {
    if !Path::new(NGINX).exists() {
        println!("SKIPPED: {NGINX} is missing (apt-get install nginx)");
        return;
    }
    let p = Panel::start_with(
        http_support::contest_tables("running"),
        &[("GS_API__ATTACHMENT_ACCEL_URL", "/internal-attachments")],
        2,
    )
    .await;
    let attachment = p.config.paths.attachments.join("tutorial/tutorial.zip");
    std::fs::create_dir_all(attachment.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&attachment, &bytes).unwrap();

    let prefix = tempfile::tempdir().unwrap();
    certificate(prefix.path());
    let (tls, plain, redirect) = (free_port(), free_port(), free_port());
    let _nginx = start_nginx(
        prefix.path(),
        &site(prefix.path(), &p, tls, plain, redirect),
    );
    let https = format!("https://127.0.0.1:{tls}");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let player = p.token(2);
    let wish = |endpoint: &str| {
        client
            .post(format!("{https}/service/wish/{endpoint}"))
            .header("X-Wish-Version", http_support::WISH_VERSION)
            .header("Cookie", format!("auth_token={player}"))
            .json(&json!({}))
    };

    // The player API through TLS; both workers serve (nginx spreads the requests).
    let started = Instant::now();
    let answer: Value = loop {
        let r = wish("game").send().await;
        if let Ok(r) = r {
            if r.status() == 200 {
                let v: Value = r.json().await.unwrap();
                if v["challenge_list"].is_array() {
                    break v;
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no game through nginx"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(answer["user_info"].is_object(), "{answer}");
    let api = p.config.api.listen.port();
    for port in [api, api + 1] {
        let started = Instant::now();
        loop {
            let ready = p
                .http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "worker on {port} not ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Plain HTTP on the redirect server goes to https.
    let r = client
        .get(format!("http://127.0.0.1:{redirect}/service/wish/game"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);

    // The attachment: the worker answers X-Accel-Redirect, nginx sends the bytes.
    let r = client
        .get(format!("{https}/service/attachment/tutorial/tutorial.zip"))
        .header("Cookie", format!("auth_token={player}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-accel-redirect").is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // The internal location is not reachable from outside.
    let r = client
        .get(format!(
            "{https}/internal-attachments/tutorial/tutorial.zip"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The WebSocket push through nginx: an admin's test push reaches the player.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://127.0.0.1:{plain}/service/ws/push"),
    )
    .unwrap();
    req.headers_mut()
        .insert("Cookie", format!("auth_token={player}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("WebSocket through nginx");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let csrf = p.csrf(1).await;
    let (status, _) = p.post(1, "/status/test-push", &[("_csrf", &csrf)]).await;
    assert!(status == 303 || status == 200, "{status}");
    let msg = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => return t.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("WebSocket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a push message within 10 s");
    assert!(msg.contains("type"), "{msg}");

    // The admin panel: open to the organizers' networks (127.0.0.1) …
    let r = client
        .get(format!("{https}/admin"))
        .header("Cookie", p.cookies(1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Status"));
    // … and refused by nginx to anyone else (a client from 127.0.0.2).
    let outsider = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let r = outsider
        .get(format!("{https}/admin"))
        .header("Cookie", p.cookies(1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text().await.unwrap().contains("nginx"),
        "refused by nginx itself"
    );
    // The player API stays open to them; metrics and health are not public.
    let r = outsider
        .post(format!("{https}/service/wish/game_info"))
        .header("X-Wish-Version", http_support::WISH_VERSION)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for path in ["/metrics", "/healthz", "/readyz"] {
        let r = client.get(format!("{https}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    // The frontend.
    let r = client
        .get(format!("{https}/some/page"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("the frontend"));
    p.stop().await;
}
