//! Shared helpers of the HTTP tests: a worker serving a golden contest on 127.0.0.1:0, a
//! stand-in reducer that applies actions to the worker's game, and a small HTTP client.
#![allow(dead_code)]

use crate::common::golden_json;
use gs::config::Config;
use gs::glitter::{Action, ActionClient, ActionReply, ActionServer};
use gs::rows::{Dump, Tables, UserRow};
use gs::state::trigger::Timeline;
use gs::state::{Game, GameOptions};
use gs::worker::WorkerShared;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
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
    /// Golden contest to install, if any (none: the worker answers NO_GAME).
    pub game: Option<Game>,
    /// Extra `GS_SECTION__KEY` settings.
    pub env: Vec<(&'static str, &'static str)>,
    /// Whether actions are applied by the stand-in reducer (else nobody answers them).
    pub reducer: bool,
}

impl Setup {
    /// A worker serving golden contest `name`, with the stand-in reducer.
    pub fn contest(name: &str) -> Setup {
        Setup {
            game: Some(build_game(contest_tables(name))),
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
    reducer: JoinHandle<()>,
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.reducer.abort();
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
    let server = ActionServer::bind(&config.glitter.action_addr, TOKEN)
        .await
        .expect("bind action socket");
    let client = ActionClient::connect(&config.glitter.action_addr, TOKEN)
        .await
        .expect("connect action socket");
    let shared = Arc::new(WorkerShared::new(config, 0, client));
    if let Some(game) = setup.game {
        shared.install(game, 1);
    }
    let reducer = tokio::spawn(stand_in_reducer(server, shared.clone(), setup.reducer));
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
        reducer,
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

/// Answers actions like the reducer would, applying them to a copy of the worker's game
/// and installing it one state counter later (the real reducer lives in src/reducer).
async fn stand_in_reducer(mut server: ActionServer, shared: Arc<WorkerShared>, apply: bool) {
    // Unanswered actions are held: dropping a responder would answer with an error.
    let mut held = Vec::new();
    while let Some((action, responder)) = server.recv().await {
        let reply = match action {
            Action::WorkerHello { .. } | Action::WorkerHeartbeat { .. } => {
                ActionReply::ok(shared.applied_counter())
            }
            // Nobody home: the caller times out, as with a hung reducer.
            _ if !apply => {
                held.push(responder);
                continue;
            }
            action => reduce(&shared, action),
        };
        let _ = responder.reply(reply).await;
    }
}

fn refused(msg: impl Into<String>, counter: u64) -> ActionReply {
    ActionReply::error(msg, counter)
}

fn reduce(shared: &WorkerShared, action: Action) -> ActionReply {
    let now = now_ms();
    let counter = shared.applied_counter();
    let Some(mut game) = shared.read(|g| g.clone()) else {
        return refused("no game", counter);
    };
    let mut verdict = None;
    let mut data = None;
    let pushes = match action {
        Action::SubmitFlag {
            uid,
            challenge_key,
            flag,
            ..
        } => {
            let new = match game.reduce_submit_flag(uid, &challenge_key, &flag, now) {
                Ok(n) => n,
                Err(msg) => return refused(msg, counter),
            };
            let id = game.submissions.last().map_or(1, |s| s.id + 1);
            let pushes = game.apply_submission(new.into_row(id)).expect("applies");
            verdict = game.submission_verdict(id).map(str::to_owned);
            pushes
        }
        Action::SubmitFeedback {
            uid,
            challenge_key,
            content,
        } => match game.reduce_feedback(uid, &challenge_key, &content, now) {
            Ok((_feedback, user)) => game.upsert_user(user, None),
            Err(msg) => return refused(msg, counter),
        },
        Action::AgreeTerm { uid } => match game.reduce_agree_term(uid) {
            Ok(Some(user)) => game.upsert_user(user, None),
            Ok(None) => return ActionReply::ok(counter),
            Err(msg) => return refused(msg, counter),
        },
        Action::UpdateProfile { uid, profile } => {
            match game.reduce_update_profile(uid, &profile, now) {
                Ok(mut row) => {
                    row.id = 100_000 + counter as i64;
                    let mut user = game.user_by_id(uid).expect("user").row.clone();
                    user.profile_id = Some(row.id);
                    game.upsert_user(user, Some(row))
                }
                Err(msg) => return refused(msg, counter),
            }
        }
        Action::RegisterUser {
            login_key,
            login_properties,
            group,
        } => {
            if let Err(msg) = game.reduce_register(&login_key) {
                return refused(msg, counter);
            }
            let uid = game.users.iter().map(|u| u.id()).max().unwrap_or(0) + 1;
            let auth_token = format!("reg{uid}x{:016x}", rand::random::<u64>());
            data = Some(json!({"uid": uid, "auth_token": auth_token}));
            game.upsert_user(
                UserRow {
                    id: uid,
                    login_key,
                    login_properties,
                    timestamp_ms: now,
                    enabled: true,
                    group,
                    token: Some(format!("GgT-token-of-{uid}")),
                    auth_token: Some(auth_token),
                    profile_id: None,
                    terms_agreed: false,
                    last_feedback_ms: None,
                },
                None,
            )
        }
        other => return refused(format!("unexpected {}", other.type_name()), counter),
    };
    shared.install(game, counter + 1);
    for p in pushes {
        shared.publish_push(p);
    }
    ActionReply {
        error_msg: verdict,
        data,
        ..ActionReply::ok(counter + 1)
    }
}
