//! The anti-cheat log: browser fingerprint reports and focus/blur/paste events, plus flag
//! submissions, appended as JSON lines to `<anticheat_log>/<uid>.jsonl` per logged-in user.

use super::reply::{bad_request, json_bytes, Answer, SetCookie};
use super::request::{cookie, viewer, Client, Session};
use super::HttpState;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

/// Longest line written; a longer entry keeps its context but not its data.
pub const MAX_LINE_BYTES: usize = 128 * 1024;

/// Name of the cookie that marks a browser across accounts.
pub const CANARY_COOKIE: &str = "anticheat_canary";

/// How long the canary cookie lives: one year.
const CANARY_MAX_AGE_S: u64 = 365 * 86400;

/// Events the frontend reports.
const EVENTS: &[&str] = &["focus", "blur", "paste", "visit_action"];

/// The context logged with every entry: address, canary cookie and tab id.
#[derive(Debug, Clone, Default)]
pub(super) struct Trace {
    /// Address and headers.
    pub client: Client,
    /// The browser's canary cookie, if it has one.
    pub canary: Option<String>,
    /// The frontend's `?tabid=`.
    pub tabid: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Trace {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let client = Client::from_request_parts(parts, state).await?;
        let tabid = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|Query(mut q)| q.remove("tabid"));
        Ok(Trace {
            client,
            canary: cookie(&parts.headers, CANARY_COOKIE),
            tabid,
        })
    }
}

fn line(trace: &Trace, data: Value) -> Vec<u8> {
    let time = crate::clock::now_f64();
    let mut entry = json!({
        "time": time,
        "ip": trace.client.ip,
        "canary": trace.canary,
        "tabid": trace.tabid,
        "data": data,
    });
    let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
    if bytes.len() > MAX_LINE_BYTES {
        entry["data"] = json!({"truncated_bytes": bytes.len()});
        bytes = serde_json::to_vec(&entry).unwrap_or_default();
    }
    bytes.push(b'\n');
    bytes
}

/// Appends one entry for user `uid` (written by the worker's log thread, in order).
pub(super) async fn append(st: &HttpState, uid: i64, trace: &Trace, data: Value) {
    st.shared.anticheat.append(uid, line(trace, data)).await;
}

/// The logged-in user's uid, if any (None also without a game: nothing is logged then).
fn uid_of(st: &HttpState, session: &Session) -> Option<i64> {
    let token = session.auth_token.as_deref();
    st.shared
        .read(|g| viewer(g, token).map(|ui| g.users[ui as usize].id()))
        .flatten()
}

/// An empty body is `null`; anything else must be JSON.
fn body_json(body: &[u8]) -> Result<Value, Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| bad_request())
}

/// `{}`, giving the browser a canary cookie if it has none.
async fn log_and_answer(
    st: &HttpState,
    session: &Session,
    mut trace: Trace,
    data: Value,
) -> Answer {
    let new_canary = trace
        .canary
        .is_none()
        .then(|| hex::encode(rand::random::<[u8; 16]>()));
    if let Some(c) = &new_canary {
        trace.canary = Some(c.clone());
    }
    if let Some(uid) = uid_of(st, session) {
        append(st, uid, &trace, data).await;
    }
    let mut res = json_bytes(Bytes::from_static(b"{}"));
    if let Some(c) = &new_canary {
        SetCookie {
            name: CANARY_COOKIE,
            value: c,
            path: "/",
            max_age_s: CANARY_MAX_AGE_S,
            secure: st.shared.config.auth.backend_scheme == "https",
        }
        .add_to(&mut res);
    }
    res
}

/// `POST /service/anticheat/report`: the frontend's fingerprint report.
pub(super) async fn report(
    State(st): State<Arc<HttpState>>,
    session: Session,
    trace: Trace,
    body: Bytes,
) -> Answer {
    let frontend = match body_json(&body) {
        Ok(v) => v,
        Err(a) => return a,
    };
    let data = json!({
        "kind": "report",
        "frontend": frontend,
        "http": {"language": trace.client.language, "user_agent": trace.client.user_agent},
    });
    log_and_answer(&st, &session, trace, data).await
}

/// `POST /service/anticheat/event?name=focus|blur|paste|visit_action`.
pub(super) async fn event(
    State(st): State<Arc<HttpState>>,
    session: Session,
    trace: Trace,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Answer {
    let Some(name) = query.get("name").filter(|n| EVENTS.contains(&n.as_str())) else {
        return super::reply::text(StatusCode::NOT_FOUND, "bad event");
    };
    let payload = match body_json(&body) {
        Ok(v) => v,
        Err(a) => return a,
    };
    let data = json!({"kind": "event", "name": name, "payload": payload});
    log_and_answer(&st, &session, trace, data).await
}
