//! A reducer, one worker and the admin panel on a fresh database, with cookies for
//! admins and players, shared by the admin panel's tests.
#![allow(dead_code)]

use gs::rows::{Dump, Tables};
use gs::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use crate::http_support;

/// uid 1 writes, uid 2 only reads; every other uid is a player.
pub struct Panel {
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT/admin`
    pub base: String,
    /// Player API base.
    pub api: String,
    /// Client without redirects.
    pub http: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The configuration.
    pub config: Arc<gs::config::Config>,
    tokens: std::collections::HashMap<i64, String>,
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Panel {
    /// Starts everything on `tables`.
    pub async fn start(tables: Tables) -> Panel {
        Panel::start_with(tables, &[], 1).await
    }

    /// Starts everything on `tables` with `workers` API workers (on the API port + N) and
    /// extra `GS_*` settings.
    pub async fn start_with(tables: Tables, env: &[(&str, &str)], workers: u16) -> Panel {
        let dir = tempfile::tempdir().expect("tempdir");
        // Workers listen on the API port + N: make sure those are free too.
        let api_port = (0..50)
            .map(|_| free_port())
            .find(|&p| {
                p < 60_000
                    && (1..workers)
                        .all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok())
            })
            .expect("free API ports");
        let listen = format!("127.0.0.1:{api_port}");
        let admin_port = free_port();
        let admin_listen = format!("127.0.0.1:{admin_port}");
        let mut settings = vec![
            ("GS_API__LISTEN", listen.as_str()),
            ("GS_ADMIN__LISTEN", admin_listen.as_str()),
            ("GS_ADMIN__UIDS", "1,2"),
            ("GS_ADMIN__DESTRUCTIVE_UIDS", "1"),
        ];
        settings.extend_from_slice(env);
        let config = Arc::new(http_support::test_config(dir.path(), &settings));
        let tokens = tables
            .user
            .iter()
            .filter_map(|u| Some((u.id, u.auth_token.clone()?)))
            .collect();
        let store = Store::connect(&config.database.url).await.expect("db");
        store.migrate().await.expect("migrate");
        store.import(&Dump { tables }, false).await.expect("import");
        store.close().await;
        let (stop, stopped) = watch::channel(false);
        let (requests, task_rx) = mpsc::channel(16);
        let mut reducer_stop = stopped.clone();
        let reducer = tokio::spawn(gs::serve::run_reducer(
            config.clone(),
            task_rx,
            async move {
                let _ = reducer_stop.wait_for(|s| *s).await;
            },
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut tasks = Vec::new();
        for index in 0..workers {
            tasks.push(tokio::spawn(gs::serve::run_worker(
                config.clone(),
                index,
                stopped.clone(),
            )));
        }
        let listener = tokio::net::TcpListener::bind(&admin_listen)
            .await
            .expect("bind admin");
        let admin = tokio::spawn(gs::admin::serve(
            config.clone(),
            requests,
            listener,
            stopped,
            None,
        ));
        let panel = Panel {
            _dir: dir,
            base: format!("http://{admin_listen}/admin"),
            api: format!("http://{listen}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            stop,
            tasks: {
                tasks.extend([reducer, admin]);
                tasks
            },
            config,
            tokens,
        };
        let started = Instant::now();
        loop {
            let (status, _) = panel.get(1, "").await;
            if status == 200 {
                break;
            }
            let (status, body) = (status, panel.get(1, "").await.1);
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "admin panel not up: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The API workers load the game on their own: wait until each serves it.
        for index in 0..workers {
            let ready = format!("http://127.0.0.1:{}/readyz", api_port + index);
            loop {
                let status = panel.http.get(&ready).send().await.map(|r| r.status());
                if status.as_ref().is_ok_and(|s| s.is_success()) {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "worker {index} not ready: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panel
    }

    /// The cookies of `uid` (with a valid `admin_2fa`).
    pub fn cookies(&self, uid: i64) -> String {
        let auth = self.token(uid);
        let twofa = gs::crypto::admin_2fa_value(self.config.glitter.token.expose(), &auth);
        format!("auth_token={auth}; admin_2fa={twofa}")
    }

    /// The panel's attachment directory.
    pub fn attachments(&self) -> std::path::PathBuf {
        self.config.paths.attachments.clone()
    }

    /// The auth token of `uid`.
    pub fn token(&self, uid: i64) -> String {
        self.tokens.get(&uid).cloned().unwrap_or_default()
    }

    /// GET as `uid` (0: no cookies).
    pub async fn get(&self, uid: i64, path: &str) -> (u16, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if uid != 0 {
            req = req.header("Cookie", self.cookies(uid));
        }
        match req.send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    /// POST a form as `uid` (0: no cookies).
    pub async fn post(&self, uid: i64, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if uid != 0 {
            req = req.header("Cookie", self.cookies(uid));
        }
        match req.send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    /// The CSRF token of `uid`, read from a page.
    pub async fn csrf(&self, uid: i64) -> String {
        let (_, html) = self.get(uid, "/announcements/0").await;
        let at = html.find("name=\"_csrf\" value=\"").expect("a csrf field") + 20;
        html[at..at + 64].to_string()
    }

    /// Stops every task.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}
