//! Shared helpers of the HTTP tests: a worker serving a golden contest on 127.0.0.1:0, a
//! stand-in reducer that applies actions to the worker's game, and a small HTTP client.
#![allow(dead_code)]

use crate::common::golden_json;
use gs::config::Config;
use gs::glitter::{Action, ActionClient, ActionReply, ActionServer};
use gs::rows::{Dump, Tables};
use gs::state::trigger::Timeline;
use gs::state::{Game, GameOptions};
use gs::store::Store;
use gs::worker::WorkerShared;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The glitter token of the test configurations.
pub const TOKEN: &str = "http-test-token-5a7c";

/// The wish version the frontend sends.
pub const WISH_VERSION: &str = "2025.v1";

pub use gs::clock::now_ms;

/// A golden contest's tables, for tests that edit rows before building.
pub fn contest_tables(name: &str) -> Tables {
    let dump: Dump =
        serde_json::from_value(golden_json(&format!("{name}.contest.json"))).expect("dump parses");
    dump.tables
}

/// Builds a game from tables at the current tick, user 1 being the admin.
pub fn build_game(tables: Tables) -> Game {
    let tick = Timeline::new(tables.trigger.clone()).tick_at(now_ms() / 1000);
    let options = GameOptions {
        admins: [1].into_iter().collect(),
    };
    let game = Game::build(tables, tick, options);
    assert!(game.problems.is_empty(), "bad rows: {:?}", game.problems);
    game
}

/// How to start a test worker.
pub struct Setup {
    /// Contest rows to serve (none: the worker has no game and answers NO_GAME).
    pub tables: Option<Tables>,
    /// Extra `GS_SECTION__KEY` settings.
    pub env: Vec<(&'static str, &'static str)>,
    /// Whether the real reducer runs on the rows in a SQLite database (the worker then
    /// follows it as in production); else the worker serves the rows' game and nobody
    /// answers its actions, as with a hung reducer.
    pub reducer: bool,
}

impl Setup {
    /// A worker following the real reducer on golden contest `name`.
    pub fn contest(name: &str) -> Setup {
        Setup {
            tables: Some(contest_tables(name)),
            env: Vec::new(),
            reducer: true,
        }
    }
}

/// A running worker with its HTTP server.
pub struct TestWorker {
    /// The worker's shared state.
    pub shared: Arc<WorkerShared>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Holds the configuration's directories.
    pub dir: tempfile::TempDir,
    /// An HTTP client that does not follow redirects.
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// The reducer (real, or the silent stand-in) and the follower.
    tasks: Vec<JoinHandle<()>>,
    /// Stops the reducer and the follower.
    _shutdown: watch::Sender<bool>,
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
        if let Some(s) = &self.server {
            s.abort();
        }
    }
}

/// Writes a configuration under `dir` and loads it with `env` overrides.
pub fn test_config(dir: &std::path::Path, env: &[(&str, &str)]) -> Config {
    let d = dir.display();
    let paths = crate::common::paths_toml(&d);
    let text = format!(
        r#"
[database]
url = "sqlite://{d}/gs.db"
{paths}[glitter]
action_addr = "ipc://{d}/action.sock"
event_addr = "ipc://{d}/event.sock"
token = "{TOKEN}"
[api]
listen = "127.0.0.1:0"
[auth]
manual_enabled = true
registration_enabled = true
"#
    );
    let path = dir.join("gs.toml");
    std::fs::write(&path, text).expect("write config");
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load_with_env(Some(&path), &env).expect("config loads")
}

/// Starts a worker as `setup` says.
pub async fn start(setup: Setup) -> TestWorker {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Arc::new(test_config(dir.path(), &setup.env));
    let (shutdown, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let real_reducer = setup.reducer && setup.tables.is_some();
    if real_reducer {
        let store = Store::connect(&config.database.url).await.expect("db");
        store.migrate().await.expect("migrate");
        let tables = setup.tables.clone().expect("rows");
        store.import(&Dump { tables }, false).await.expect("import");
        store.close().await;
        let (_requests, requests_rx) = mpsc::channel(4);
        let mut stop = stopped.clone();
        let reducer = gs::serve::run_reducer(config.clone(), requests_rx, async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        tasks.push(tokio::spawn(async move {
            let _requests = _requests;
            reducer.await.expect("the reducer runs");
        }));
    } else {
        let server = ActionServer::bind(&config.glitter.action_addr, TOKEN)
            .await
            .expect("bind action socket");
        tasks.push(tokio::spawn(silent_reducer(server)));
    }
    let client = connect_actions(&config).await;
    let shared = Arc::new(WorkerShared::new(config.clone(), 0, client));
    if real_reducer {
        let store = Store::connect(&config.database.url).await.expect("db");
        let follower = gs::worker::follow::run(shared.clone(), store, stopped.clone());
        tasks.push(tokio::spawn(async move {
            let _ = follower.await;
        }));
        let serving = shared
            .wait_applied(Duration::from_secs(30), |a| a.serving)
            .await;
        assert!(
            serving.is_some(),
            "the worker did not load the reducer's game"
        );
    } else if let Some(tables) = setup.tables {
        shared.install(build_game(tables), 1);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind http");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gs::worker::http::serve(
        shared.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    TestWorker {
        shared,
        base,
        dir,
        http,
        stop: Some(stop),
        server: Some(server),
        tasks,
        _shutdown: shutdown,
    }
}

/// Connects to the action socket (the reducer binds it while it starts).
async fn connect_actions(config: &Config) -> ActionClient {
    let mut tries = 0;
    loop {
        match ActionClient::connect(&config.glitter.action_addr, TOKEN).await {
            Ok(client) => return client,
            Err(e) if tries >= 100 => panic!("cannot reach the reducer: {e}"),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl TestWorker {
    /// Asks a wish endpoint as the frontend does; returns the status and the JSON body.
    pub async fn wish(
        &self,
        endpoint: &str,
        auth_token: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/service/wish/{endpoint}?tabid=t1", self.base))
            .header("X-Wish-Version", WISH_VERSION)
            .json(body);
        if let Some(t) = auth_token {
            req = req.header("Cookie", format!("auth_token={t}"));
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// A GET with an optional auth cookie.
    pub async fn get(&self, path: &str, auth_token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = auth_token {
            req = req.header("Cookie", format!("auth_token={t}"));
        }
        req.send().await.expect("request")
    }

    /// Stops the HTTP server gracefully and waits for it.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }
}

/// The auth token of golden user `uid`.
pub fn auth_token(uid: i64) -> String {
    format!("{uid}_authtoken{uid:0>40}")
}

/// A reducer that says hello and answers heartbeats but never answers an action, as a
/// hung reducer would (the callers time out).
async fn silent_reducer(mut server: ActionServer) {
    // Unanswered actions are held: dropping a responder would answer with an error.
    let mut held = Vec::new();
    while let Some((action, responder)) = server.recv().await {
        match action {
            Action::WorkerHello { .. } | Action::WorkerHeartbeat { .. } => {
                let _ = responder.reply(ActionReply::ok(0)).await;
            }
            _ => held.push(responder),
        }
    }
}
