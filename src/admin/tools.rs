//! Tools: challenge import (create or update by key; every entry is checked before any
//! is written) and export, flag test (a user's token
//! and every correct flag of a challenge), writeup statistics and the anti-cheat log.

use super::auth::Viewer;
use super::view::ser;
use super::Admin;
use crate::reducer::AdminWrite;
use crate::rows::ChallengeRow;
use crate::worker::pregenerate;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Most anti-cheat lines shown (the newest).
const MAX_ANTICHEAT_LINES: usize = 2000;

#[derive(Serialize)]
struct WriteupLine {
    uid: i64,
    nickname: String,
    group: String,
    score: i64,
    required: bool,
    submitted: bool,
    metadata: String,
    download: Option<String>,
}

/// The user's token and every correct flag of the challenge; dynamic flags not generated
/// yet are generated first (as a submission would), and their errors shown.
async fn flag_test(admin: &Admin, uid: i64, key: &str) -> Vec<(String, String)> {
    let errors = admin.shared.ensure_dynamic_flags(uid, key, true).await;
    let mut out = admin
        .shared
        .read(|g| {
            let Some(u) = g.user_by_id(uid) else {
                return vec![("error".into(), format!("user #{uid} does not exist"))];
            };
            let Some(c) = g.challenge(key) else {
                return vec![("error".into(), format!("challenge `{key}` does not exist"))];
            };
            let mut out = vec![("token".into(), u.row.token.clone().unwrap_or_default())];
            for (i, f) in c.flags.iter().enumerate() {
                let value = f
                    .spec
                    .correct_value(key, uid, g.dynamic_value(uid, key, i))
                    .unwrap_or_else(|e| format!("error: {e}"));
                let kind = match f.spec.generator() {
                    Some(folder) => format!(", dynamic from {folder}/"),
                    None => String::new(),
                };
                out.push((
                    format!("flag #{i} {:?} ({} pts{kind})", f.spec.name, f.cur_score),
                    value,
                ));
            }
            out
        })
        .unwrap_or_default();
    out.extend(errors.into_iter().map(|e| ("generator error".into(), e)));
    out
}

/// Generates attachments and dynamic flags now: for one user (answered when done) or for
/// everyone (in the background; progress and failures go to the log).
async fn generate(
    State(admin): State<Arc<Admin>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let uid = match field("uid").map(str::parse::<i64>) {
        None => None,
        Some(Ok(uid)) => Some(uid),
        Some(Err(_)) => return admin.back("/tools", "generate: the uid must be a number"),
    };
    let sel = pregenerate::Selection {
        challenge: field("key").map(str::to_owned),
        uid,
        force: form.contains_key("force"),
    };
    if sel.force {
        admin.shared.generators.forget_failures();
    }
    let items = pregenerate::items(&admin.shared, &sel);
    if items.is_empty() {
        return admin.back("/tools", "generate: nothing to generate for this selection");
    }
    if uid.is_some() {
        let done = pregenerate::run(&admin.shared, &sel, |_, _, _| {}).await;
        let failed: Vec<String> = done
            .iter()
            .filter_map(|d| Some(format!("{} {}", d.item.key, d.error.as_ref()?)))
            .collect();
        let msg = format!(
            "generated {} of {} items{}{}",
            done.len() - failed.len(),
            done.len(),
            if failed.is_empty() { "" } else { "; failed: " },
            failed.join("; ")
        );
        return admin.back("/tools", &msg);
    }
    let shared = admin.shared.clone();
    let n = items.len();
    tokio::spawn(async move {
        let done = pregenerate::run(&shared, &sel, |_, _, _| {}).await;
        let failed = done.iter().filter(|d| d.error.is_some()).count();
        tracing::info!("admin generation: {} items, {failed} failed", done.len());
    });
    admin.back(
        "/tools",
        &format!("generating {n} items in the background; failures are in the log"),
    )
}

async fn page(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let uid_in = q.get("uid").cloned().unwrap_or_default();
    let key_in = q.get("key").cloned().unwrap_or_default();
    let flag_result = match uid_in.trim().parse::<i64>() {
        Ok(uid) if !key_in.is_empty() => Some(flag_test(&admin, uid, key_in.trim()).await),
        Err(_) if !uid_in.is_empty() => {
            Some(vec![("error".into(), format!("`{uid_in}` is not a uid"))])
        }
        _ => None,
    };
    let ctx = minijinja::context! {
        uid_in => uid_in, key_in => key_in, flag_result => ser(flag_result),
        msg => q.get("msg").cloned(), ac_lines => None::<String>, writeups => None::<String>,
        error => q.get("error").cloned(),
    };
    admin.render(&v, "tools.html", "Tools", ctx)
}

async fn anticheat(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(uid) = q.get("uid").and_then(|u| u.trim().parse::<i64>().ok()) else {
        return admin.back("/tools", "anti-cheat log: give a numeric uid");
    };
    let path = admin.anticheat_log(uid);
    let text = tokio::fs::read(&path).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(MAX_ANTICHEAT_LINES);
    let lines: Vec<String> = lines[start..].iter().map(|l| l.to_string()).collect();
    let ctx =
        minijinja::context! { ac_uid => uid, ac_lines => ser(lines), writeups => None::<String> };
    admin.render(
        &v,
        "tools.html",
        &format!("Anti-cheat log of user #{uid}"),
        ctx,
    )
}

async fn writeups(State(admin): State<Arc<Admin>>, Extension(v): Extension<Viewer>) -> Response {
    let users = admin
        .shared
        .read(|g| {
            g.users
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    let idx = crate::state::user::idx(i);
                    (
                        u.id(),
                        u.nickname().unwrap_or_default().to_string(),
                        u.row.group.clone(),
                        u.tot_score,
                        g.writeup_required(idx),
                    )
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let dir = &admin.config.paths.writeups;
    let mut out = Vec::new();
    for (uid, nickname, group, score, required) in users {
        let meta_path = dir.join(uid.to_string()).join("metadata.json");
        let meta = tokio::fs::read(&meta_path).await.ok();
        if !required && meta.is_none() {
            continue;
        }
        let meta: Option<serde_json::Value> = meta.and_then(|m| serde_json::from_slice(&m).ok());
        let download = meta
            .as_ref()
            .and_then(|m| {
                m.get("filename")
                    .and_then(|f| f.as_str())
                    .map(str::to_owned)
            })
            .map(|f| {
                admin.url(&format!(
                    "/files/writeups/download?path={}",
                    crate::web::urlencode(&format!("{uid}/{f}"))
                ))
            });
        out.push(WriteupLine {
            uid,
            nickname,
            group,
            score,
            required,
            submitted: meta.is_some(),
            metadata: meta.map(|m| m.to_string()).unwrap_or_default(),
            download,
        });
    }
    let ctx = minijinja::context! { writeups => ser(out), ac_lines => None::<String> };
    admin.render(&v, "tools.html", "Writeups", ctx)
}

async fn export(
    State(admin): State<Arc<Admin>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let ids: Vec<i64> = q
        .iter()
        .filter(|(k, _)| k == "ids")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let rows: Vec<ChallengeRow> = admin
        .shared
        .read(|g| {
            g.challenges
                .iter()
                .filter(|c| ids.is_empty() || ids.contains(&c.row.id))
                .map(|c| c.row.clone())
                .collect()
        })
        .unwrap_or_default();
    let body = serde_json::to_string_pretty(&rows).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"challenges.json\"",
            ),
        ],
        body,
    )
        .into_response()
}

async fn import(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let text = form.get("json").cloned().unwrap_or_default();
    let fail = |e: String| {
        let ctx = minijinja::context! { error => e, ac_lines => None::<String>, writeups => None::<String> };
        let mut r = admin.render(&v, "tools.html", "Tools", ctx);
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        r
    };
    let rows: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(a)) => a,
        Ok(o @ serde_json::Value::Object(_)) => vec![o],
        Ok(_) => return fail("import: expected a JSON array of challenges".into()),
        Err(e) => return fail(format!("import: invalid JSON: {e}")),
    };
    // All or nothing: every entry is parsed and checked before anything is written.
    let mut parsed: Vec<ChallengeRow> = Vec::new();
    for (i, mut r) in rows.into_iter().enumerate() {
        let n = i + 1;
        let label = r
            .get("key")
            .and_then(|k| k.as_str())
            .map(|k| format!(" `{k}`"))
            .unwrap_or_default();
        if let Some(o) = r.as_object_mut() {
            o.entry("id").or_insert(0.into());
        }
        let mut row = match serde_json::from_value::<ChallengeRow>(r) {
            Ok(row) => row,
            Err(e) => {
                return fail(format!(
                    "import refused, nothing changed: challenge #{n}{label}: {e}"
                ))
            }
        };
        row.key = row.key.trim().to_string();
        if let Some(j) = parsed.iter().position(|p| p.key == row.key) {
            return fail(format!(
                "import refused, nothing changed: challenge #{n}{label}: key `{}` is also the key of challenge #{}",
                row.key,
                j + 1
            ));
        }
        if let Err(e) = crate::state::challenge::validate_challenge(&row) {
            return fail(format!(
                "import refused, nothing changed: challenge #{n}{label}: {e}"
            ));
        }
        parsed.push(row);
    }
    if parsed.is_empty() {
        return fail("import: the file has no challenges".into());
    }
    let ids: Vec<i64> = admin
        .shared
        .read(|g| {
            parsed
                .iter()
                .map(|r| g.challenge(&r.key).map_or(0, |c| c.row.id))
                .collect()
        })
        .unwrap_or_default();
    if ids.len() != parsed.len() {
        return fail("import refused, nothing changed: the game is not loaded".into());
    }
    let mut done = Vec::new();
    for (mut row, id) in parsed.into_iter().zip(ids) {
        row.id = id;
        let key = row.key.clone();
        if let Err(e) = admin.write(AdminWrite::UpsertChallenge(row)).await {
            return fail(format!(
                "import stopped at `{key}` by the reducer ({} imported before: {}): {e}",
                done.len(),
                done.join(", ")
            ));
        }
        done.push(key);
    }
    admin.back(
        "/challenges",
        &format!("imported {} challenges: {}", done.len(), done.join(", ")),
    )
}

/// The tool routes.
pub fn routes() -> Router<Arc<Admin>> {
    Router::new()
        .route("/tools", get(page))
        .route("/tools/anticheat", get(anticheat))
        .route("/tools/writeups", get(writeups))
        .route("/tools/generate", post(generate))
        .route("/challenges/export", get(export))
        .route("/challenges/import", post(import))
}
