//! A stand-in reducer on real glitter sockets for testing a worker's follower and its
//! actions in-process: it answers hello, holds or answers other actions as the test
//! says, and publishes whatever events the test gives it.
#![allow(dead_code)]

use gs::config::Config;
use gs::glitter::{Action, ActionClient, ActionReply, ActionServer, Event, EventPublisher};
use gs::rows::Dump;
use gs::store::Store;
use gs::worker::WorkerShared;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub const TOKEN: &str = "follower-test-token";

/// How the stand-in answers an action other than hello: `None` holds it unanswered.
pub type Answerer = Arc<dyn Fn(&Action) -> Option<ActionReply> + Send + Sync>;

/// The stand-in reducer, a worker's shared state, and the worker's database.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub publisher: Arc<EventPublisher>,
    pub shared: Arc<WorkerShared>,
    pub store: Store,
    /// Every action received, in order.
    pub received: Arc<Mutex<Vec<Action>>>,
    pub stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Rig {
    /// Binds the sockets, writes a small contest into a SQLite database, and makes a
    /// worker (no follower yet).
    pub async fn new(answer: Answerer) -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = ActionServer::bind("tcp://127.0.0.1:0", TOKEN)
            .await
            .expect("bind actions");
        let publisher = Arc::new(
            EventPublisher::bind("tcp://127.0.0.1:0")
                .await
                .expect("bind events"),
        );
        let d = dir.path().display();
        let paths = crate::common::paths_toml(&d);
        let text = format!(
            r#"
[database]
url = "sqlite://{d}/gs.db"
{paths}[glitter]
action_addr = "{}"
event_addr = "{}"
token = "{TOKEN}"
"#,
            server.endpoint(),
            publisher.endpoint()
        );
        let path = dir.path().join("gs.toml");
        std::fs::write(&path, text).expect("config");
        let config =
            Arc::new(Config::load_with_env(Some(&path), &BTreeMap::new()).expect("config"));
        let store = Store::connect(&config.database.url).await.expect("store");
        store.migrate().await.expect("migrate");
        let tables = gs::demo::generate(&gs::demo::ContestShape::default());
        store.import(&Dump { tables }, false).await.expect("import");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let reducer = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some((action, responder)) = server.recv().await {
                log.lock().unwrap().push(action.clone());
                let reply = match &action {
                    Action::WorkerHello { .. } => Some(ActionReply::ok(0)),
                    other => answer(other),
                };
                match reply {
                    Some(reply) => {
                        let _ = responder.reply(reply).await;
                    }
                    None => held.push(responder),
                }
            }
        });
        let client = ActionClient::connect(&config.glitter.action_addr, TOKEN)
            .await
            .expect("connect");
        let shared = Arc::new(WorkerShared::new(config, 0, client));
        Rig {
            dir,
            publisher,
            shared,
            store,
            received,
            stop: watch::channel(false).0,
            tasks: vec![reducer],
        }
    }

    /// Starts the worker's follower.
    pub fn follow(&mut self) {
        let task = tokio::spawn(gs::worker::follow::run(
            self.shared.clone(),
            self.store.clone(),
            self.stop.subscribe(),
        ));
        self.tasks.push(task);
    }

    /// Publishes `event` every `period` from a task of its own.
    pub fn repeat(&mut self, event: Event, period: std::time::Duration) {
        let publisher = self.publisher.clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                let _ = publisher.publish(&event).await;
                tokio::time::sleep(period).await;
            }
        }));
    }

    /// The current tick of the stored contest (what a SYNC must say).
    pub async fn tick(&self) -> i64 {
        let (tables, _) = self.store.load_all().await.expect("load");
        gs::state::trigger::Timeline::new(tables.trigger).tick_at(gs::clock::now_s())
    }
}
