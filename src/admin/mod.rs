//! The admin panel: a server-rendered web UI the reducer process serves at
//! `[admin] listen` under `url_prefix`, reading a game replica and writing through the reducer.
//!
//! Layout: `auth` (who may see and change what, CSRF), `view` (templates, page frame,
//! times; `table`, `form`), `status`, `crud` (announcements, challenges, policies,
//! triggers), `players` (one file per entity: users, profiles, submissions, feedback,
//! logs), `tools` (import/export, flag test, group moves, writeups, anti-cheat) and `files`
//! (the four file managers).

mod auth;
mod charts;
mod crud;
mod files;
mod ops;
mod players;
mod police;
mod status;
mod tools;
mod view;

use crate::config::Config;
use crate::glitter::ActionClient;
use crate::reducer::{AdminWrite, ReducerRequest};
use crate::store::Store;
use crate::worker::{follow, WorkerShared};
use anyhow::Context as _;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

use crate::clock::TimeZone;
pub use auth::csrf_token;
pub use files::resolve;

/// Everything a request handler of the panel needs.
pub struct Admin {
    /// The configuration.
    pub config: Arc<Config>,
    /// The panel's own synchronized game replica.
    pub shared: Arc<WorkerShared>,
    /// The database (for feedback, logs and profiles, which live only there).
    pub store: Store,
    requests: mpsc::Sender<ReducerRequest>,
    csrf_key: [u8; 32],
    env: minijinja::Environment<'static>,
    tz: TimeZone,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

impl Admin {
    /// Builds the panel's state around a replica (started separately) and the reducer channel.
    pub fn new(
        config: Arc<Config>,
        shared: Arc<WorkerShared>,
        store: Store,
        requests: mpsc::Sender<ReducerRequest>,
    ) -> Admin {
        let csrf_key: [u8; 32] = rand::random();
        let tz = TimeZone::configured(&config.admin.timezone);
        Admin {
            config,
            shared,
            store,
            requests,
            csrf_key,
            env: view::environment(),
            tz,
        }
    }

    /// Sends an edit to the reducer and waits until the replica has applied it.
    pub async fn write(&self, write: AdminWrite) -> Result<u64, String> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(ReducerRequest::Write(Box::new(write), tx))
            .await
            .map_err(|_| "the reducer is not running".to_string())?;
        let counter = rx
            .await
            .map_err(|_| "the reducer dropped the request".to_string())??;
        // The replica is in this process and follows the same reducer: wait for the
        // change like a worker does, so that the page after the redirect shows it.
        self.shared
            .wait_applied(Duration::from_secs(3), |a| a.counter >= counter)
            .await;
        Ok(counter)
    }

    /// Runs a read on the reducer task and returns its answer.
    pub async fn read_reducer<R: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::reducer::Reducer) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let req = ReducerRequest::Read(Box::new(move |r| {
            let _ = tx.send(f(r));
        }));
        self.requests.send(req).await.ok()?;
        rx.await.ok()
    }

    /// The anti-cheat log file of `uid`.
    pub fn anticheat_log(&self, uid: i64) -> std::path::PathBuf {
        self.config.paths.anticheat_log.join(format!("{uid}.jsonl"))
    }

    /// A path inside the panel.
    pub fn url(&self, path: &str) -> String {
        let path = path.strip_prefix("/?").map_or(path, |_| &path[1..]);
        let path = if path == "/" { "" } else { path };
        format!("{}{}", self.config.admin.url_prefix, path)
    }

    /// A 303 redirect to a panel path with a flash message.
    pub fn back(&self, path: &str, msg: &str) -> Response {
        let sep = if path.contains('?') { '&' } else { '?' };
        let to = format!("{}{sep}msg={}", self.url(path), crate::web::urlencode(msg));
        Redirect::to(&to).into_response()
    }
}

/// Every route of the panel (without the prefix) behind the access check.
pub fn router(admin: Arc<Admin>) -> Router {
    let inner = Router::new()
        .route("/", get(status::page))
        .route("/status/clear-telemetry", post(status::clear_telemetry))
        .route("/status/test-push", post(status::test_push))
        .route("/status/regenerate-tokens", post(status::regenerate_tokens))
        .merge(crud::routes())
        .merge(players::routes())
        .merge(tools::routes())
        .merge(files::routes())
        .merge(police::routes())
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            auth::guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(admin.clone());
    let prefix = admin.config.admin.url_prefix.clone();
    let home = prefix.clone();
    let router = Router::new()
        .route(
            &format!("{prefix}/"),
            get(move || async move { Redirect::permanent(&home) }),
        )
        .nest(&prefix, inner)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz).with_state(admin.clone()));
    if admin.config.metrics.enabled {
        let path = admin.config.metrics.path.clone();
        router.route(&path, get(ops::metrics).with_state(admin))
    } else {
        router
    }
}

/// A game replica of the panel's own, connected to the reducer (retried while it starts).
async fn own_replica(config: &Arc<Config>) -> anyhow::Result<Arc<WorkerShared>> {
    let mut tries = 0;
    let actions = loop {
        match ActionClient::connect(&config.glitter.action_addr, config.glitter.token.expose())
            .await
        {
            Ok(a) => break a,
            Err(e) if tries >= 40 => {
                return Err(e).context("the admin panel cannot reach the reducer")
            }
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    Ok(Arc::new(WorkerShared::named(
        config.clone(),
        u16::MAX,
        "admin".into(),
        actions,
    )))
}

/// Serves the panel on `listener` until `shutdown` flips to true, reading `replica` (an
/// API worker's game in the same process) or, without one, a replica of its own.
pub async fn serve(
    config: Arc<Config>,
    requests: mpsc::Sender<ReducerRequest>,
    listener: tokio::net::TcpListener,
    shutdown: watch::Receiver<bool>,
    replica: Option<Arc<WorkerShared>>,
) -> anyhow::Result<()> {
    let store = Store::connect_with(&config.database.url, &config.database.tls).await?;
    let (shared, follower) = match replica {
        Some(shared) => (shared, None),
        None => {
            let shared = own_replica(&config).await?;
            let follower = follow::run(shared.clone(), store.clone(), shutdown.clone());
            (shared, Some(tokio::spawn(follower)))
        }
    };
    let admin = Arc::new(Admin::new(config.clone(), shared, store, requests));
    let app = router(admin);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("admin panel on http://{addr}{}/", config.admin.url_prefix);
    }
    let mut stop = shutdown;
    let limits = config.api.limits;
    let result = crate::http_server::serve(listener, app, limits, async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await;
    if let Some(follower) = follower {
        follower.abort();
    }
    result.context("the admin panel's HTTP server failed")
}
