//! The reducer's operations endpoints on its own listener (`admin.listen`, outside the
//! panel's prefix): `/metrics` for allowed peers, `/healthz` and `/readyz`.

use super::Admin;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a readiness or metrics request waits for the reducer task or the database.
const WAIT: Duration = Duration::from_secs(2);

fn json_status(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics` (the configured path): the reducer's metrics.
pub async fn metrics(State(admin): State<Arc<Admin>>, req: Request) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>();
    if !peer.is_some_and(|ConnectInfo(a)| admin.config.metrics.allows(a.ip())) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are not served to this address\n",
        )
            .into_response();
    }
    let read = tokio::time::timeout(
        WAIT,
        admin.read_reducer(|r| {
            r.metrics.set_notifier(&r.notifier.stats());
            r.metrics.clone()
        }),
    )
    .await;
    let Ok(Some(metrics)) = read else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the reducer does not answer\n",
        )
            .into_response();
    };
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(&metrics.registry),
    )
        .into_response()
}

/// `GET /healthz`: the reducer process runs.
pub async fn healthz() -> Response {
    json_status(
        StatusCode::OK,
        &json!({"status": "ok", "process": "reducer"}),
    )
}

/// `GET /readyz`: 200 when the reducer task answers and its database does, else 503.
pub async fn readyz(State(admin): State<Arc<Admin>>) -> Response {
    let read =
        tokio::time::timeout(WAIT, admin.read_reducer(|r| (r.store.clone(), r.counter))).await;
    let Ok(Some((store, counter))) = read else {
        return json_status(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"ready": false, "process": "reducer", "reason": "the reducer task does not answer"}),
        );
    };
    let database = match tokio::time::timeout(WAIT, store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {WAIT:?}")),
    };
    let mut body = json!({
        "ready": database.is_ok(),
        "process": "reducer",
        "state_counter": counter,
        "database": if database.is_ok() { "ok" } else { "unreachable" },
    });
    match database {
        Ok(()) => json_status(StatusCode::OK, &body),
        Err(reason) => {
            body["reason"] = json!(reason);
            json_status(StatusCode::SERVICE_UNAVAILABLE, &body)
        }
    }
}
