//! The "Anti-cheat" page: the police's reports (from the log table), newest first, with
//! links to the submitter, the origin users and the submission, filterable by challenge
//! and user, and whether each user downloaded the challenge's attachments before solving.

use super::auth::Viewer;
use super::view::ser;
use super::Admin;
use crate::police::report::{self, Parsed};
use crate::state::Game;
use crate::store::ListQuery;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Newest report rows read per page view (filters apply to these).
const SCANNED_REPORTS: u32 = 1000;
/// Reports shown.
const SHOWN_REPORTS: usize = 200;

#[derive(Debug, Serialize)]
struct UserLine {
    uid: i64,
    login_key: String,
    status: String,
    hint: String,
}

#[derive(Debug, Serialize)]
struct ReportLine {
    id: i64,
    time: String,
    honeypot: bool,
    sid: i64,
    challenge_key: String,
    submitter: UserLine,
    n_origins: usize,
    origins: Vec<UserLine>,
}

/// Attachment downloads of one user: (challenge key, time in ms), from their log file.
async fn downloads(admin: &Admin, uid: i64) -> Vec<(String, i64)> {
    let path = admin.anticheat_log(uid);
    let text = tokio::fs::read(&path).await.unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| l.contains("download_attachment"))
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let data = v.get("data")?;
            (data.get("kind")?.as_str()? == "download_attachment").then_some(())?;
            let key = data.get("challenge_key")?.as_str()?.to_owned();
            let ms = (v.get("time")?.as_f64()? * 1000.0) as i64;
            Some((key, ms))
        })
        .collect()
}

/// When a user first passed a flag of the challenge (ms), from the replica.
fn solved_at(game: &Game, uid: i64, key: &str) -> Option<i64> {
    let ui = game.user_idx(uid)?;
    let chall = game.chall_idx(key)?;
    game.users[ui as usize]
        .passed_flags
        .iter()
        .filter(|(f, _)| f.chall == chall)
        .map(|&(_, s)| game.submissions[s as usize].timestamp_ms)
        .min()
}

/// The download hint: a hint, not a proof (a file can be shared outside the site).
fn hint(admin: &Admin, first_download: Option<i64>, done_at: Option<i64>, what: &str) -> String {
    match (first_download, done_at) {
        (None, _) => "no attachment download logged".into(),
        (Some(d), Some(t)) if d <= t => {
            format!("downloaded at {} (before {what})", admin.time_ms(d))
        }
        (Some(d), Some(_)) => format!("downloaded only after {what}, at {}", admin.time_ms(d)),
        (Some(d), None) => format!("downloaded at {}", admin.time_ms(d)),
    }
}

async fn page(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let challenge = q
        .get("challenge")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let user = q.get("uid").and_then(|s| s.trim().parse::<i64>().ok());
    let query = ListQuery {
        search: challenge.as_ref().map(|c| format!("ch={c})")),
        filters: vec![("module".into(), report::LOG_MODULE.into())],
        sort: Some("id".into()),
        desc: true,
        limit: SCANNED_REPORTS,
        offset: 0,
    };
    let (rows, total) = match admin.store.list_logs(&query).await {
        Ok(x) => x,
        Err(e) => {
            return (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("database error: {e}"),
            )
                .into_response()
        }
    };
    let parsed: Vec<(i64, i64, Parsed)> = rows
        .iter()
        .filter_map(|r| Some((r.id, r.timestamp_ms, report::parse(&r.message)?)))
        .filter(|(_, _, p)| challenge.as_ref().is_none_or(|c| *c == p.challenge_key))
        .filter(|(_, _, p)| user.is_none_or(|u| p.uid == u || p.origins.iter().any(|o| o.0 == u)))
        .take(SHOWN_REPORTS)
        .collect();
    // Times the replica knows: the submission's, and each origin user's solve.
    let times = admin.shared.read(|g| {
        parsed
            .iter()
            .map(|(_, _, p)| {
                let submitted = g.submission_by_id(p.sid).map(|s| s.timestamp_ms);
                let solved: Vec<Option<i64>> = p
                    .origins
                    .iter()
                    .map(|o| solved_at(g, o.0, &p.challenge_key))
                    .collect();
                (submitted, solved)
            })
            .collect::<Vec<_>>()
    });
    let times = times.unwrap_or_default();
    let mut cache: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    let first_download = |uid: i64, key: &str, cache: &HashMap<i64, Vec<(String, i64)>>| {
        cache
            .get(&uid)
            .and_then(|d| d.iter().filter(|(k, _)| k == key).map(|&(_, t)| t).min())
    };
    for (_, _, p) in &parsed {
        for uid in std::iter::once(p.uid).chain(p.origins.iter().map(|o| o.0)) {
            if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(uid) {
                e.insert(downloads(&admin, uid).await);
            }
        }
    }
    let mut lines = Vec::new();
    for (i, (id, ts, p)) in parsed.into_iter().enumerate() {
        let (submitted, solved) = times.get(i).cloned().unwrap_or_default();
        let key = p.challenge_key.clone();
        let submitter = UserLine {
            uid: p.uid,
            login_key: p.login_key.clone(),
            status: String::new(),
            hint: hint(
                &admin,
                first_download(p.uid, &key, &cache),
                submitted,
                "this submission",
            ),
        };
        let origins: Vec<UserLine> = p
            .origins
            .iter()
            .enumerate()
            .map(|(j, (uid, login_key, status))| UserLine {
                uid: *uid,
                login_key: login_key.clone(),
                status: status.clone(),
                hint: hint(
                    &admin,
                    first_download(*uid, &key, &cache),
                    solved.get(j).copied().flatten(),
                    "solving",
                ),
            })
            .collect();
        lines.push(ReportLine {
            id,
            time: admin.time_ms(ts),
            honeypot: p.honeypot,
            sid: p.sid,
            challenge_key: key,
            submitter,
            n_origins: origins.len(),
            origins,
        });
    }
    let ctx = minijinja::context! {
        reports => ser(lines), total => total, scanned => SCANNED_REPORTS,
        f_challenge => challenge, f_uid => user, msg => q.get("msg").cloned(),
    };
    admin.render(&v, "anticheat.html", "Anti-cheat", ctx)
}

/// The routes of the anti-cheat page.
pub fn routes() -> Router<Arc<Admin>> {
    Router::new().route("/anticheat", get(page))
}
