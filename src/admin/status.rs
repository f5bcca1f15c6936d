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
use std::path::Path;
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

/// Bytes as whole MiB, as the page shows every size.
fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Space on the filesystem that holds `path`, by statvfs(2) (no `df` process per view).
fn disk_space(path: &Path) -> std::io::Result<DiskSpace> {
    let s = rustix::fs::statvfs(path)?;
    Ok(DiskSpace {
        total: s.f_blocks.saturating_mul(s.f_frsize),
        free: s.f_bfree.saturating_mul(s.f_frsize),
        available: s.f_bavail.saturating_mul(s.f_frsize),
        filesystem: s.f_fsid,
    })
}

/// One filesystem's space in bytes.
#[derive(Debug, Clone, Copy)]
struct DiskSpace {
    total: u64,
    /// Free for root (includes the reserved blocks).
    free: u64,
    /// Free for everyone else.
    available: u64,
    /// The filesystem's id: two paths on one filesystem share it.
    filesystem: u64,
}

impl DiskSpace {
    /// The used share as `df` computes it: of what non-root users could have (used plus
    /// available), rounded up.
    fn used_percent(&self) -> u64 {
        let used = self.total.saturating_sub(self.free);
        let usable = used.saturating_add(self.available);
        if usable == 0 {
            return 0;
        }
        (u128::from(used) * 100).div_ceil(u128::from(usable)) as u64
    }

    fn describe(&self) -> String {
        format!(
            "{} free of {} ({}% used)",
            mib(self.available),
            mib(self.total),
            self.used_percent()
        )
    }
}

/// The page's line for a disk: its space, or why it is unknown.
fn describe_disk(space: &std::io::Result<DiskSpace>) -> String {
    match space {
        Ok(d) => d.describe(),
        Err(e) => format!("unknown ({e})"),
    }
}

/// Load, memory, swap and disk: what the machine has left.
fn system_figures(admin: &Admin) -> Vec<(&'static str, String)> {
    let load = match sysinfo::System::load_average() {
        Ok(l) => format!("{:.2}, {:.2}, {:.2}", l.one, l.five, l.fifteen),
        Err(e) => format!("unknown ({e})"),
    };
    let (ram, swap) = match sysinfo::System::new() {
        Ok(mut sys) => {
            sys.refresh_memory();
            (
                format!(
                    "{} available of {}",
                    mib(sys.available_memory()),
                    mib(sys.total_memory())
                ),
                format!("{} free of {}", mib(sys.free_swap()), mib(sys.total_swap())),
            )
        }
        Err(e) => (format!("unknown ({e})"), format!("unknown ({e})")),
    };
    let data = disk_space(&admin.config.paths.data);
    let mut lines = vec![
        ("load (1, 5, 15 min)", load),
        ("RAM", ram),
        ("swap", swap),
        ("disk (data dir)", describe_disk(&data)),
    ];
    // A SQLite file elsewhere than the data dir's filesystem gets its own line.
    if let Some(dir) = admin.store.sqlite_file().and_then(Path::parent) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let db = disk_space(dir);
        let same = matches!((&data, &db), (Ok(a), Ok(b)) if a.filesystem == b.filesystem);
        if !same {
            lines.push(("disk (SQLite database)", describe_disk(&db)));
        }
    }
    lines
}

/// `GET /`: the status page.
pub async fn page(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut system = system_figures(&admin);
    system.push(("now", admin.time_s(crate::clock::now_s())));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_space_agrees_with_df() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ours = disk_space(dir.path()).expect("statvfs");
        let out = std::process::Command::new("df")
            .arg("-Pk")
            .arg(dir.path())
            .output()
            .expect("df runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let cols: Vec<u64> = text
            .lines()
            .nth(1)
            .expect("df's line")
            .split_whitespace()
            .filter_map(|c| c.trim_end_matches('%').parse().ok())
            .collect();
        // 1024-blocks, used, available, capacity.
        let [total_k, _, available_k, percent] = cols[..] else {
            panic!("df columns: {text}");
        };
        assert_eq!(ours.total / 1024, total_k, "{text}");
        // Other writers on the machine may move the free space a little between the calls.
        let drift = (ours.available / 1024).abs_diff(available_k);
        assert!(drift <= total_k / 100, "{ours:?} vs {text}");
        assert!(
            ours.used_percent().abs_diff(percent) <= 1,
            "{ours:?} vs {text}"
        );
        assert!(ours
            .describe()
            .ends_with(&format!("({}% used)", ours.used_percent())));
    }

    #[test]
    fn used_share_rounds_up_like_df() {
        let space = |total, free, available| DiskSpace {
            total,
            free,
            available,
            filesystem: 0,
        };
        // 90 used of 95 usable (5 reserved for root): 94.7 % shows as 95 %.
        assert_eq!(space(100, 10, 5).used_percent(), 95);
        assert_eq!(space(100, 100, 100).used_percent(), 0);
        assert_eq!(space(100, 0, 0).used_percent(), 100);
        assert_eq!(space(0, 0, 0).used_percent(), 0);
        assert_eq!(
            space(3 << 30, 1 << 30, 1 << 30).describe(),
            "1024 MiB free of 3072 MiB (67% used)"
        );
    }

    #[test]
    fn a_missing_path_is_unknown_with_the_reason() {
        let line = describe_disk(&disk_space(Path::new("/nonexistent/gs-status-test")));
        assert!(
            line.starts_with("unknown (") && line.contains("No such file"),
            "{line}"
        );
    }
}
