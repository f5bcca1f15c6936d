//! The worker's operations endpoints: request metrics (a middleware), `/metrics`,
//! `/healthz`, `/readyz` and the CTFtime feed, all answered from RAM.

use super::{lock, HttpState};
use crate::metrics::worker::WorkerSnapshot;
use crate::worker::WorkerShared;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Counts each request and its latency under its route pattern and status.
pub(super) async fn track(State(st): State<Arc<HttpState>>, req: Request, next: Next) -> Response {
    let metrics = &st.shared.metrics.http;
    let endpoint = metrics.endpoint(req.extensions().get::<MatchedPath>().map(|p| p.as_str()));
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.record(&endpoint, response.status().as_u16(), started.elapsed());
    response
}

/// The figures of a worker that change without a metric being touched.
pub fn snapshot(shared: &WorkerShared) -> WorkerSnapshot {
    let game = shared.read(|g| {
        (
            g.users.len() as u64,
            g.submissions.len() as u64,
            g.challenges.len() as u64,
            g.cur_tick,
        )
    });
    let (users, submissions, challenges, tick) = game.unwrap_or_default();
    WorkerSnapshot {
        game_loaded: game.is_some(),
        applied_counter: shared.applied_counter(),
        reducer_counter: shared.metrics.reducer_counter.load(Ordering::Relaxed),
        reducer_silent_ms: match shared.metrics.reducer_heard_ms.load(Ordering::Relaxed) {
            0 => None,
            heard => Some(u64::try_from(crate::clock::now_ms() - heard).unwrap_or(0)),
        },
        users,
        submissions,
        challenges,
        tick,
        ws_connections: shared.ws_clients(),
        ws_users: shared.ws.users.load(Ordering::Relaxed),
    }
}

/// `GET /metrics` (the configured path): the text exposition, for allowed peers only.
pub(super) async fn metrics(State(st): State<Arc<HttpState>>, req: Request) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>();
    let allowed = peer.is_some_and(|ConnectInfo(a)| st.shared.config.metrics.allows(a.ip()));
    if !allowed {
        return (
            StatusCode::FORBIDDEN,
            "metrics are not served to this address\n",
        )
            .into_response();
    }
    let m = &st.shared.metrics;
    m.set_snapshot(&snapshot(&st.shared));
    let body = crate::metrics::render(&m.registry);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}

fn json_status(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// `GET /healthz`: the process runs and answers.
pub(super) async fn healthz(State(st): State<Arc<HttpState>>) -> Response {
    json_status(
        StatusCode::OK,
        &json!({"status": "ok", "process": st.shared.name}),
    )
}

/// Whether a worker can serve, and why not: it holds a game at the state counter the
/// reducer last announced (a game is only loaded on a SYNC, so one was seen).
pub fn readiness(s: &WorkerSnapshot) -> Result<(), &'static str> {
    if !s.game_loaded {
        return Err("no game loaded: the worker is (re)synchronizing with the reducer");
    }
    if s.applied_counter < s.reducer_counter {
        return Err("behind the reducer's state counter");
    }
    // Reads are still served from the last game for a while without the reducer, but
    // actions cannot be: a load balancer should prefer workers that hear it.
    let limit = crate::glitter::DEFAULT_SYNC_TIMEOUT.as_millis() as u64;
    if s.reducer_silent_ms.is_some_and(|ms| ms > limit) {
        return Err("no word from the reducer within the sync timeout (serving stale reads)");
    }
    Ok(())
}

/// `GET /readyz`: 200 while the worker holds a game at the reducer's state counter, else 503.
pub(super) async fn readyz(State(st): State<Arc<HttpState>>) -> Response {
    let s = snapshot(&st.shared);
    let verdict = readiness(&s);
    let mut body = json!({
        "ready": verdict.is_ok(),
        "process": st.shared.name,
        "game_loaded": s.game_loaded,
        "state_counter": s.applied_counter,
        "reducer_state_counter": s.reducer_counter,
    });
    match verdict {
        Ok(()) => json_status(StatusCode::OK, &body),
        Err(reason) => {
            body["reason"] = json!(reason);
            json_status(StatusCode::SERVICE_UNAVAILABLE, &body)
        }
    }
}

/// The cached feed: the board's ranking and render it was built from, and its text.
pub(super) type CtftimeCache = Option<(CtftimeKey, Bytes)>;

/// What the feed depends on: the ranking (scores) and the board's render (names, tick).
#[derive(Debug)]
pub(super) struct CtftimeKey {
    ranking: Arc<crate::state::board::Ranking>,
    render: Arc<Value>,
}

/// `GET /service/ctftime.json` (the configured path): the CTFtime scoreboard feed of the
/// configured board, rebuilt only when the board changed.
pub(super) async fn ctftime(State(st): State<Arc<HttpState>>) -> Response {
    let key = &st.shared.config.ctftime.board;
    let now = crate::clock::now_ms() / 1000;
    let current = st.shared.read(|g| {
        let board = g.board(key)?;
        Some((g.ranking(board), g.answer_board(None, key, now)))
    });
    let Some(Some((ranking, render))) = current else {
        return json_status(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "NO_GAME", "error_msg": "服务暂时不可用"}),
        );
    };
    let cached = lock(&st.ctftime).as_ref().and_then(|(k, bytes)| {
        (Arc::ptr_eq(&k.ranking, &ranking) && Arc::ptr_eq(&k.render, &render))
            .then(|| bytes.clone())
    });
    let bytes = match cached {
        Some(b) => b,
        None => {
            let feed = st.shared.read(|g| g.ctftime_feed(key)).flatten();
            let text = feed.map_or_else(String::new, |f| crate::state::ctftime::ascii_json(&f));
            let bytes = Bytes::from(text);
            // Holding both `Arc`s keeps their addresses from being reused by a newer render.
            *lock(&st.ctftime) = Some((CtftimeKey { ranking, render }, bytes.clone()));
            bytes
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}
