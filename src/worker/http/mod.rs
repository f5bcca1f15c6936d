//! The worker's HTTP layer (api.md) on axum: wish endpoints, login, WebSocket push,
//! attachments, site templates and the anti-cheat log, all answered from RAM.
//!
//! # Layout
//!
//! **request** / **reply** — what every handler reads (cookies, client address, JSON
//! bodies) and writes (JSON bytes, plain text, HTML info pages, cookies).
//!
//! **wish** — `POST /service/wish/<name>`: the game's answers and the mutations that are
//! pre-checked here and performed by the reducer; **writeup** is the one wish endpoint
//! that touches files.
//!
//! **auth** — manual login, logout and `su`, with the cookies they set, and the
//! register-or-login step every login ends with.
//!
//! **oauth** — the identity providers (GitHub, Microsoft, CARSI, IAAA, OpenID Connect).
//!
//! **push** — the WebSocket that forwards the reducer's push messages to players.
//!
//! **attachment**, **template**, **anticheat** — the file-backed endpoints.
//!
//! No handler holds the game lock across an await: each computes what it needs from the
//! game inside one `WorkerShared::read` closure, then does its IO.

// Early returns carry a finished `Response` as the error; it is built once per request,
// so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod anticheat;
mod attachment;
pub mod auth;
mod compress;
pub mod oauth;
mod ops;
mod push;
mod reply;
mod request;
mod template;
mod ui;
mod wish;
mod writeup;

use super::WorkerShared;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// The wish protocol version the frontend must send in `X-Wish-Version`.
pub const WISH_VERSION: &str = "2025.v1";

/// Largest JSON body of a wish endpoint: feedback (1,200 characters) fits many times over.
pub const MAX_WISH_BODY_BYTES: usize = 64 * 1024;

/// Largest body of an anti-cheat report or event.
pub const MAX_ANTICHEAT_BODY_BYTES: usize = 64 * 1024;

/// Settings of the HTTP layer that do not come from `Config` (yet).
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Internal URL prefix under which nginx serves the attachment directory; when set,
    /// attachments are answered with `X-Accel-Redirect` instead of their bytes.
    pub attachment_accel_url: Option<String>,
}

/// Serialized board answers: (board key, admin view) → (the render, its JSON text and
/// the gzip of it).
type BoardCache = HashMap<(&'static str, bool), (Arc<Value>, compress::Encoded)>;

/// Everything the handlers share: the worker and the HTTP layer's own caches.
#[derive(Debug)]
struct HttpState {
    /// The worker: game, action client, push channel, telemetry.
    shared: Arc<WorkerShared>,
    /// HTTP-only settings.
    options: HttpOptions,
    /// Serialized board answers keyed by (board, admin view), valid while the game
    /// hands out the same `Arc` (it renders a new one when the board changes).
    boards: Mutex<BoardCache>,
    /// Rendered site templates.
    templates: Mutex<template::Cache>,
    /// Open WebSocket connections per uid.
    ws_per_user: Mutex<HashMap<i64, usize>>,
    /// Becomes true when the server shuts down, so that WebSockets close cleanly.
    stopping: watch::Sender<bool>,
    /// The enabled login providers.
    oauth: oauth::Providers,
    /// The CTFtime feed, until the board changes.
    ctftime: Mutex<ops::CtftimeCache>,
    /// The built-in player web UI.
    ui: ui::Ui,
}

/// Locks a mutex even if a panicking thread poisoned it: every cache here stays
/// consistent between statements, so the data is still good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn build(
    shared: Arc<WorkerShared>,
    options: HttpOptions,
) -> Result<(Router, Arc<HttpState>), oauth::SetupError> {
    let providers = oauth::Providers::from_config(&shared.config)?;
    let ui = ui::Ui::new(&shared.config, &providers.names());
    let frontend_dir = shared.config.api.frontend_dir.clone();
    let state = Arc::new(HttpState {
        shared,
        options,
        boards: Mutex::new(HashMap::new()),
        templates: Mutex::new(template::Cache::default()),
        ws_per_user: Mutex::new(HashMap::new()),
        stopping: watch::Sender::new(false),
        oauth: providers,
        ctftime: Mutex::new(None),
        ui,
    });
    let wish = wish::routes()
        .route_layer(axum::middleware::from_fn(request::check_wish_version))
        .layer(DefaultBodyLimit::max(MAX_WISH_BODY_BYTES));
    // The upload has its own limit: the file may be large, and exceeding it must be
    // answered with FILE_TOO_LARGE rather than a bare 413 where possible.
    let upload = Router::new()
        .route(
            "/service/wish/writeup",
            post(writeup::status).put(writeup::upload),
        )
        .route_layer(axum::middleware::from_fn(request::check_wish_version))
        .layer(DefaultBodyLimit::max(writeup::MAX_REQUEST_BYTES));
    let anticheat = Router::new()
        .route("/service/anticheat/report", post(anticheat::report))
        .route("/service/anticheat/event", post(anticheat::event))
        .layer(DefaultBodyLimit::max(MAX_ANTICHEAT_BODY_BYTES));
    let router = Router::new()
        .merge(wish)
        .merge(upload)
        .merge(anticheat)
        .route("/service/auth/manual", get(auth::manual))
        .route("/service/auth/logout", get(auth::logout))
        .route("/service/auth/su", get(auth::su))
        .merge(oauth::routes())
        .route("/service/ws/push", get(push::push))
        .route(
            "/service/attachment/{key}/{filename}",
            get(attachment::download),
        )
        .route(
            "/service/template/{name}",
            get(template::template).layer(axum::middleware::from_fn(compress::negotiate)),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz));
    let config = &state.shared.config;
    let router = if config.ctftime.enabled {
        router.route(&config.ctftime.path, get(ops::ctftime))
    } else {
        router
    };
    // The player pages at `/`: another frontend's build when configured, else the UI.
    let router = match frontend_dir {
        Some(dir) => router.merge(ui::frontend::routes(dir)),
        None => router.merge(ui::routes()),
    };
    let router = if config.metrics.enabled {
        router
            .route(&config.metrics.path, get(ops::metrics))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                ops::track,
            ))
    } else {
        router
    };
    let router = router
        .layer(axum::middleware::map_response(close_after_unread_body))
        .with_state(state.clone());
    Ok((router, state))
}

/// A body refused as too large was not read to its end: the connection closes after the
/// answer (`Connection: close`), so that a client does not send its next request on a
/// connection the server is closing.
async fn close_after_unread_body(mut res: axum::response::Response) -> axum::response::Response {
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    res
}

/// The worker's player API as an axum router (state included); fails if the login
/// providers cannot be set up.
pub fn router(shared: Arc<WorkerShared>) -> Result<Router, oauth::SetupError> {
    router_with(shared, HttpOptions::default())
}

/// The router with explicit HTTP options.
pub fn router_with(
    shared: Arc<WorkerShared>,
    options: HttpOptions,
) -> Result<Router, oauth::SetupError> {
    build(shared, options).map(|(router, _)| router)
}

/// Serves the player API on `listener` until `shutdown` completes, then closes the open
/// WebSockets and waits for the requests in flight.
pub async fn serve(
    shared: Arc<WorkerShared>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = HttpOptions {
        attachment_accel_url: shared.config.api.attachment_accel_url.clone(),
    };
    let limits = shared.config.api.limits;
    let (router, state) = build(shared, options).map_err(std::io::Error::other)?;
    let enabled = state.oauth.names();
    if !enabled.is_empty() {
        tracing::info!("login providers: {}", enabled.join(", "));
    }
    let stop = async move {
        shutdown.await;
        // WebSocket tasks outlive their HTTP connection; they watch this flag.
        state.stopping.send_replace(true);
    };
    crate::http_server::serve(listener, router, limits, stop).await
}
