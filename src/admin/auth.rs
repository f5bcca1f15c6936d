//! Access control of the panel: admins by `auth_token` + `admin_2fa` cookies, writers by
//! `destructive_uids`, and a CSRF token (HMAC of the auth token) on every POST.

use super::Admin;
use crate::crypto::admin_2fa_value;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Largest urlencoded form body the CSRF check reads.
const MAX_FORM_BYTES: usize = 16 * 1024 * 1024;

/// Who is looking at the panel (a request extension set by [`guard`]).
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Their uid.
    pub uid: i64,
    /// Whether they may change data.
    pub can_write: bool,
    /// The CSRF token every form of theirs carries.
    pub csrf: String,
}

/// The CSRF token of a session: HMAC-SHA256 of its auth token with a per-process key.
pub fn csrf_token(key: &[u8], auth_token: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(b"admin_csrf:");
    mac.update(auth_token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn refused() -> Response {
    (StatusCode::FORBIDDEN, "").into_response()
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    crate::web::form_pairs(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The access check in front of every route.
pub async fn guard(State(admin): State<Arc<Admin>>, mut req: Request, next: Next) -> Response {
    let Some(auth_token) = crate::web::cookie(req.headers(), "auth_token") else {
        return refused();
    };
    let uid = admin
        .shared
        .read(|g| g.user_by_auth_token(&auth_token).map(|u| u.id()))
        .flatten();
    let Some(uid) = uid.filter(|u| admin.config.admin.uids.contains(u)) else {
        return refused();
    };
    let expected_2fa = admin_2fa_value(admin.config.glitter.token.expose(), &auth_token);
    if !crate::web::cookie(req.headers(), "admin_2fa").is_some_and(|v| eq(&v, &expected_2fa)) {
        return refused();
    }
    let viewer = Viewer {
        uid,
        can_write: admin.config.admin.destructive_uids.contains(&uid),
        csrf: csrf_token(&admin.csrf_key, &auth_token),
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if !viewer.can_write {
            return refused();
        }
        let from_query = req
            .uri()
            .query()
            .and_then(|q| form_value(q.as_bytes(), "_csrf"));
        let from_header = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let mut token = from_query.or(from_header);
        if token.is_none() && is_form {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, "").into_response();
            };
            token = form_value(&bytes, "_csrf");
            req = Request::from_parts(parts, Body::from(bytes));
        }
        if !token.is_some_and(|t| eq(&t, &viewer.csrf)) {
            return refused();
        }
    }
    req.extensions_mut().insert(viewer);
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
