//! What handlers read from a request: the wish version check, cookies and the current
//! user, the client's address, and JSON bodies (malformed or ill-typed → HTTP 400).

use super::reply::{bad_request, json_value, Answer};
use super::WISH_VERSION;
use crate::state::challenge::UserIdx;
use crate::state::Game;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;

/// Answers WISH_VERSION_MISMATCH (HTTP 200, as the frontend expects) unless the request
/// carries the current `X-Wish-Version`; runs before the body is read.
pub(super) async fn check_wish_version(req: Request, next: Next) -> Response {
    let version = req.headers().get("x-wish-version").map(|v| v.as_bytes());
    if version == Some(WISH_VERSION.as_bytes()) {
        return next.run(req).await;
    }
    let shown = version.map_or_else(
        || "(none)".to_owned(),
        |v| String::from_utf8_lossy(v).into_owned(),
    );
    json_value(&json!({
        "error": "WISH_VERSION_MISMATCH",
        "error_msg": format!("比赛平台前端（{shown}）有更新，请刷新页面"),
    }))
}

pub(super) use crate::web::cookie;

/// The request's `auth_token` cookie: who the player says they are. Resolved against
/// the game with [`viewer`] inside a read.
#[derive(Debug, Clone, Default)]
pub(super) struct Session {
    /// The cookie's value, if any.
    pub auth_token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Session {
            auth_token: cookie(&parts.headers, "auth_token"),
        })
    }
}

/// The logged-in user holding `auth_token`; disabled users count as logged out.
pub(super) fn viewer(game: &Game, auth_token: Option<&str>) -> Option<UserIdx> {
    let user = game.user_by_auth_token(auth_token?)?;
    game.user_idx(user.id())
}

/// Who is asking, for logs and anti-cheat metadata.
#[derive(Debug, Clone, Default)]
pub(super) struct Client {
    /// First hop of `X-Forwarded-For` (set by the reverse proxy), else the peer address.
    pub ip: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Accept-Language`.
    pub language: Option<String>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|hop| hop.trim().to_owned())
            .filter(|hop| !hop.is_empty());
        // Absent when the router runs without `serve` (e.g. inside another server).
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(Client {
            ip: forwarded.or(peer),
            user_agent: header(&parts.headers, "user-agent"),
            language: header(&parts.headers, "accept-language"),
        })
    }
}

/// Parses a JSON body into `T`; anything malformed, missing or of the wrong type is a 400.
pub(super) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(|_| bad_request())
}
