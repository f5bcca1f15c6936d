//! `GET /service/template/<name>`: a site template (`<templates>/<name>.md`) rendered for
//! the caller's group and the current tick, cached per file version, with a weak ETag.

use super::compress::Encoded;
use super::reply::{text, Answer};
use super::request::{viewer, Session};
use super::{lock, HttpState};
use crate::state::template::render_or_placeholder;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

/// More cached renders than this and the cache starts over (groups × ticks × files
/// stays far below it in a real contest).
const MAX_CACHED: usize = 512;

/// Which viewers a render is for: (template name, group, tick).
type Key = (String, Option<String>, i64);

/// One cached render, valid while the file keeps its modification time and size.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    stamp: (Option<SystemTime>, u64),
    html: Encoded,
    etag: HeaderValue,
}

/// Rendered templates.
#[derive(Debug, Default)]
pub(super) struct Cache {
    entries: HashMap<Key, Entry>,
}

/// Whether a template name matches `^[a-zA-Z0-9\-_]+$` (so it cannot name another path).
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(tags) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    // Weak comparison: `W/"x"` and `"x"` match.
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    tags.split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(ours))
}

fn etag_of(html: &[u8]) -> HeaderValue {
    let digest = hex::encode(Sha256::digest(html));
    // Hex digits and quotes only: always a valid header value.
    HeaderValue::from_str(&format!("W/\"{}\"", &digest[..16]))
        .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
}

/// `GET /service/template/<name>`.
pub(super) async fn template(
    State(st): State<Arc<HttpState>>,
    session: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    let not_found = || text(StatusCode::NOT_FOUND, "没有这个模板");
    let token = session.auth_token.as_deref();
    let Some((tick, group)) = st.shared.read(|g| {
        let group = viewer(g, token).map(|ui| g.users[ui as usize].row.group.clone());
        (g.cur_tick, group)
    }) else {
        return text(StatusCode::FORBIDDEN, "服务暂时不可用");
    };
    if !valid_name(&name) {
        return not_found();
    }
    let root = st.shared.config.paths.templates.clone();
    let file = format!("{name}.md");
    // Symbolic links are followed only while they stay inside the templates folder.
    let path = match tokio::task::spawn_blocking(move || {
        crate::safe_path::resolve_inside(&root, std::path::Path::new(&file))
    })
    .await
    {
        Ok(Ok(path)) => path,
        _ => return not_found(),
    };
    let meta = match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() => m,
        _ => return not_found(),
    };
    let stamp = (meta.modified().ok(), meta.len());
    let key: Key = (name, group, tick);
    let cached = lock(&st.templates)
        .entries
        .get(&key)
        .filter(|e| e.stamp == stamp)
        .cloned();
    let entry = match cached {
        Some(e) => e,
        None => {
            let Ok(source) = tokio::fs::read_to_string(&path).await else {
                tracing::error!("template {}: cannot read it as UTF-8", path.display());
                return text(StatusCode::INTERNAL_SERVER_ERROR, "模板暂时不可用");
            };
            let group = key.1.clone();
            // Rendering is CPU work (Jinja, Markdown): off the async threads.
            let rendered = tokio::task::spawn_blocking(move || {
                render_or_placeholder(&source, group.as_deref(), tick)
            })
            .await;
            let Ok((html, error)) = rendered else {
                return text(StatusCode::INTERNAL_SERVER_ERROR, "模板暂时不可用");
            };
            if let Some(e) = error {
                tracing::error!("template {} failed to render: {e}", key.0);
            }
            let html = Bytes::from(html);
            let entry = Entry {
                stamp,
                etag: etag_of(&html),
                html: Encoded::new(html),
            };
            let mut cache = lock(&st.templates);
            if cache.entries.len() >= MAX_CACHED {
                cache.entries.clear();
            }
            cache.entries.insert(key, entry.clone());
            entry
        }
    };
    let (status, body) = if not_modified(&headers, &entry.etag) {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        (StatusCode::OK, Body::from(entry.html.identity.clone()))
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    entry.html.attach(&mut res);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::ETAG, entry.etag);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("faq"));
        assert!(valid_name("Credits-2025_x"));
        assert!(!valid_name("../etc"));
        assert!(!valid_name("a.md"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
    }

    #[test]
    fn etags_match_weakly() {
        let tag = etag_of(b"<p>hi</p>");
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, tag.clone());
        assert!(not_modified(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"y\""),
        );
        assert!(!not_modified(&h, &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }
}
