//! The status page: machine load, memory and disk, feature switches, users per group and
//! state, every worker's telemetry with its age; clear telemetry, test push, new tokens.

use super::auth::Viewer;
use super::view::ser;
use super::Admin;
use crate::notify::NotifyStats;
use crate::reducer::AdminWrite;
use crate::state::PushMessage;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Default, Serialize)]
struct GroupCounts {
    group: String,
    total: u64,
    disabled: u64,
    terms: u64,
    profile: u64,
    no_score: u64,
    has_score: u64,
}

#[derive(Debug, Serialize)]
struct WorkerLine {
    name: String,
    age: String,
    telemetry: String,
}

fn meminfo() -> BTreeMap<String, u64> {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let kb = v.split_whitespace().next()?.parse().ok()?;
            Some((k.to_string(), kb))
        })
        .collect()
}

fn mib(kb: u64) -> String {
    format!("{:.0} MiB", kb as f64 / 1024.0)
}

async fn disk(path: &std::path::Path) -> String {
    let out = tokio::process::Command::new("df")
        .arg("-Pk")
        .arg(path)
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let cols: Vec<&str> = text
                .lines()
                .nth(1)
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            match (cols.get(1), cols.get(3), cols.get(4)) {
                (Some(t), Some(a), Some(p)) => format!(
                    "{} free of {} ({p} used)",
                    mib(a.parse().unwrap_or(0)),
                    mib(t.parse().unwrap_or(0))
                ),
                _ => "unknown".into(),
            }
        }
        _ => "unknown (df failed)".into(),
    }
}

/// `GET /`: the status page.
pub async fn page(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let m = meminfo();
    let get = |k: &str| m.get(k).copied().unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let system = vec![
        (
            "load (1, 5, 15 min)",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "RAM",
            format!(
                "{} available of {}",
                mib(get("MemAvailable")),
                mib(get("MemTotal"))
            ),
        ),
        (
            "swap",
            format!("{} free of {}", mib(get("SwapFree")), mib(get("SwapTotal"))),
        ),
        ("disk (data dir)", disk(&admin.config.paths.data).await),
        ("now", admin.time_s(crate::clock::now_s())),
    ];
    let c = &admin.config;
    let features = vec![
        ("auth.manual_enabled", c.auth.manual_enabled.to_string()),
        (
            "auth.registration_enabled",
            c.auth.registration_enabled.to_string(),
        ),
        ("api.workers", c.api.workers.to_string()),
        ("database", crate::store::redact_url(&c.database.url)),
        ("admin.uids", format!("{:?}", c.admin.uids)),
        (
            "admin.destructive_uids",
            format!("{:?}", c.admin.destructive_uids),
        ),
    ];
    let counts = admin.shared.read(|g| {
        let mut by: BTreeMap<String, GroupCounts> = BTreeMap::new();
        for u in &g.users {
            let e = by
                .entry(u.row.group.clone())
                .or_insert_with(|| GroupCounts {
                    group: u.row.group.clone(),
                    ..GroupCounts::default()
                });
            e.total += 1;
            if !u.row.enabled {
                e.disabled += 1;
            } else if !u.row.terms_agreed {
                e.terms += 1;
            } else if u.profile_problem().is_some() {
                e.profile += 1;
            } else if u.tot_score == 0 {
                e.no_score += 1;
            } else {
                e.has_score += 1;
            }
        }
        let pol = g.policy();
        let game = vec![
            ("tick", g.cur_tick.to_string()),
            ("users", g.users.len().to_string()),
            ("submissions", g.submissions.len().to_string()),
            ("challenges", g.challenges.len().to_string()),
            (
                "policy",
                format!(
                    "view {} · submit flag {} · writeup {} · deducted {}",
                    pol.can_view_problem,
                    pol.can_submit_flag,
                    pol.can_submit_writeup,
                    pol.is_submission_deducted
                ),
            ),
            (
                "replica state counter",
                admin.shared.applied_counter().to_string(),
            ),
        ];
        let charts = vec![
            super::charts::submissions_per_minute(g, &admin.tz),
            super::charts::solves_per_challenge(g, &admin.tz),
        ];
        (by.into_values().collect::<Vec<_>>(), game, charts)
    });
    let (groups, game, charts) = counts.unwrap_or_default();
    let workers = admin
        .read_reducer(|r| {
            let now = std::time::Instant::now();
            r.health
                .workers
                .iter()
                .map(|(name, s)| WorkerLine {
                    name: name.clone(),
                    age: format!("{:.1} s ago", now.duration_since(s.last_seen).as_secs_f64()),
                    telemetry: s
                        .telemetry
                        .as_ref()
                        .and_then(|t| serde_json::to_string(t).ok())
                        .unwrap_or_else(|| "-".into()),
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
    let notify = notify_lines(&admin).await;
    let ctx = minijinja::context! {
        system => ser(system), features => ser(features), groups => ser(groups), game => ser(game),
        workers => ser(workers), notify => ser(notify), msg => q.get("msg").cloned(), charts => charts,
    };
    admin.render(&v, "status.html", "Status", ctx)
}

async fn done(admin: &Admin, r: Result<u64, String>, ok: &str) -> Response {
    match r {
        Ok(_) => admin.back("/", ok),
        Err(e) => admin.back("/", &format!("failed: {e}")),
    }
}

/// `POST /status/clear-telemetry`
pub async fn clear_telemetry(State(admin): State<Arc<Admin>>) -> Response {
    let r = admin.write(AdminWrite::ClearTelemetry).await;
    done(&admin, r, "telemetry cleared").await
}

/// The staff notifiers' counters: the reducer's, and those workers report (the police).
async fn notify_lines(admin: &Admin) -> Vec<(String, NotifyStats)> {
    admin
        .read_reducer(|r| {
            let mut lines = vec![("reducer".to_owned(), r.notifier.stats())];
            for (name, s) in &r.health.workers {
                let stats = s
                    .telemetry
                    .as_ref()
                    .and_then(|t| t.extra.get("notify"))
                    .and_then(|v| serde_json::from_value(v.clone()).ok());
                if let Some(stats) = stats {
                    lines.push((name.clone(), stats));
                }
            }
            lines
        })
        .await
        .unwrap_or_default()
}

/// `POST /status/test-push`: a push to every player and a test message to the staff.
pub async fn test_push(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
) -> Response {
    let msg = PushMessage::broadcast(serde_json::json!({
        "type": "push_test",
        "title": "Test push",
        "message": "A test message from the admin panel",
    }));
    let r = admin.write(AdminWrite::Push(msg)).await;
    let uid = v.uid;
    let staff = admin
        .read_reducer(move |r| {
            let (channel, text) = crate::notify::messages::test(uid);
            r.notifier.notify(&channel, text);
            r.notifier.stats().configured
        })
        .await;
    let ok = match staff {
        Some(true) => "test push sent; staff test message queued",
        _ => "test push sent; no staff webhook is configured ([notify])",
    };
    done(&admin, r, ok).await
}

/// `POST /status/regenerate-tokens`
pub async fn regenerate_tokens(State(admin): State<Arc<Admin>>) -> Response {
    let r = admin.write(AdminWrite::RegenerateTokens).await;
    done(&admin, r, "tokens regenerated").await
}
