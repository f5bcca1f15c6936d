//! `GET /service/attachment/<key>/<filename>`: a challenge's attachment for a player who may
//! see it — static, or generated for that player on first download and cached — from the
//! attachment directory (never outside it) or via X-Accel-Redirect.

use super::anticheat::{self, Trace};
use super::reply::{text, Answer};
use super::request::{viewer, Session};
use super::HttpState;
use crate::safe_path::{relative_path, resolve_inside};
use crate::state::user::User;
use crate::state::Game;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::io::AsyncReadExt;

/// Size of the chunks a file is sent in.
const CHUNK_BYTES: usize = 64 * 1024;

/// What to send once the checks passed.
enum Serve {
    /// A file under the attachment directory, by its relative path.
    Static(String),
    /// A per-user file made by the generator in this folder, for this uid.
    Dynamic { module: String, uid: i64 },
}

/// Why a file is not served: the status and its plain-text message.
pub(super) type Refusal = (StatusCode, &'static str);

/// The enabled user whose player token is `token`.
fn user_by_player_token<'g>(game: &'g Game, token: &str) -> Option<&'g User> {
    // Compared in constant time: the token is the user's download secret.
    game.users.iter().find(|u| {
        u.row.enabled
            && u.row.token.as_deref().is_some_and(|t| {
                t.len() == token.len() && bool::from(t.as_bytes().ct_eq(token.as_bytes()))
            })
    })
}

fn decide(
    game: &Game,
    player_token: Option<&str>,
    auth_token: Option<&str>,
    key: &str,
    filename: &str,
) -> Result<Serve, Refusal> {
    let user = match player_token {
        Some(t) => user_by_player_token(game, t),
        None => viewer(game, auth_token).map(|ui| &game.users[ui as usize]),
    }
    .ok_or((StatusCode::FORBIDDEN, "未登录"))?;
    user.check_play_game()
        .map_err(|(_, msg)| (StatusCode::FORBIDDEN, msg))?;
    let admin = game.is_admin(user.id());
    if !game.policy().can_view_problem && !admin {
        return Err((StatusCode::FORBIDDEN, "现在不允许查看题目"));
    }
    let tick = game.cur_tick;
    let chall = game
        .challenge(key)
        .filter(|c| admin || c.effective_at(tick))
        .ok_or((StatusCode::NOT_FOUND, "题目不存在"))?;
    let not_found = (StatusCode::NOT_FOUND, "附件不存在");
    let action = chall
        .attachment(filename)
        .filter(|a| {
            admin
                || a.get("effective_after")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    <= tick
        })
        .ok_or(not_found)?;
    match action.get("type").and_then(Value::as_str) {
        Some("attachment") => action
            .get("file_path")
            .and_then(Value::as_str)
            .map(|p| Serve::Static(p.to_owned()))
            .ok_or(not_found),
        Some("dyn_attachment") => action
            .get("module_path")
            .and_then(Value::as_str)
            .map(|m| Serve::Dynamic {
                module: m.to_owned(),
                uid: user.id(),
            })
            .ok_or(not_found),
        _ => Err(not_found),
    }
}

/// `GET /service/attachment/<key>/<filename>?token=<player token>` (or the login cookie).
pub(super) async fn download(
    State(st): State<Arc<HttpState>>,
    session: Session,
    trace: Trace,
    Path((key, filename)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let player_token = query.get("token").map(String::as_str);
    let auth_token = session.auth_token.as_deref();
    let decided = st.shared.read(|g| {
        let d = decide(g, player_token, auth_token, &key, &filename);
        let uid = d.as_ref().ok().and_then(|_| match player_token {
            Some(t) => user_by_player_token(g, t).map(User::id),
            None => viewer(g, auth_token).map(|ui| g.users[ui as usize].id()),
        });
        (d, uid)
    });
    // The police's admin page shows whether a user downloaded before solving.
    if let Some((Ok(_), Some(uid))) = &decided {
        let data =
            json!({"kind": "download_attachment", "challenge_key": key, "filename": filename});
        anticheat::append(&st, *uid, &trace, data).await;
    }
    match decided.map(|(d, _)| d) {
        None => text(StatusCode::FORBIDDEN, "服务暂时不可用"),
        Some(Err((status, msg))) => text(status, msg),
        Some(Ok(Serve::Dynamic { module, uid })) => {
            match st
                .shared
                .dynamic_attachment(uid, &key, &module, false)
                .await
            {
                Ok(rel) => send_file(&st, &key, &rel.to_string_lossy()).await,
                // Already logged with the challenge, folder and uid.
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "附件暂时不可用"),
            }
        }
        Some(Ok(Serve::Static(rel))) => send_file(&st, &key, &rel).await,
    }
}

/// Percent-encodes a relative path for a URL, keeping the slashes between its parts.
fn url_path(rel: &std::path::Path) -> String {
    let mut out = String::new();
    for (i, part) in rel.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in part.as_encoded_bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(b) {
                out.push(*b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

async fn send_file(st: &HttpState, key: &str, rel: &str) -> Answer {
    let Some(rel_path) = relative_path(rel) else {
        tracing::error!("attachment of {key}: file_path {rel:?} leaves the attachment directory");
        return text(StatusCode::FORBIDDEN, "附件路径无效");
    };
    if let Some(prefix) = &st.options.attachment_accel_url {
        // nginx serves the file itself from its internal location.
        let location = format!("{}/{}", prefix.trim_end_matches('/'), url_path(&rel_path));
        let mut res = Response::new(Body::empty());
        match HeaderValue::from_str(&location) {
            Ok(v) => {
                res.headers_mut().insert("x-accel-redirect", v);
                return res;
            }
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "附件暂时不可用"),
        }
    }
    let base = st.shared.config.paths.attachments.clone();
    let opened = tokio::task::spawn_blocking(move || open_inside(&base, &rel_path)).await;
    let (file, len) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(refusal)) => {
            tracing::warn!("attachment of {key} ({rel}): {}", refusal.1);
            return text(refusal.0, refusal.1);
        }
        Err(e) => {
            tracing::error!("attachment task failed: {e}");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "附件暂时不可用");
        }
    };
    let file = tokio::fs::File::from_std(file);
    let stream = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = BytesMut::with_capacity(CHUNK_BYTES);
        match file.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok::<Bytes, std::io::Error>(buf.freeze()), Some(file))),
            // The error ends the body; nothing more is read.
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut res = Response::new(Body::from_stream(stream));
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res
}

/// Opens `base/rel` if, with every symlink resolved, it is a file inside `base`.
pub(super) fn open_inside(
    base: &std::path::Path,
    rel: &std::path::Path,
) -> Result<(std::fs::File, u64), Refusal> {
    let missing = (StatusCode::NOT_FOUND, "附件不存在");
    if !base.join(rel).exists() {
        return Err(missing);
    }
    let full = resolve_inside(base, rel).map_err(|_| (StatusCode::FORBIDDEN, "附件路径无效"))?;
    let file = std::fs::File::open(&full).map_err(|_| missing)?;
    let meta = file.metadata().map_err(|_| missing)?;
    if !meta.is_file() {
        return Err(missing);
    }
    Ok((file, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_are_percent_encoded() {
        assert_eq!(
            url_path(std::path::Path::new("dir/a b#.zip")),
            "dir/a%20b%23.zip"
        );
    }
}
