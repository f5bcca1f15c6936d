//! Submissions: the list (filterable by user) and the edit form, which changes only the
//! score and percentage overrides (saving rebuilds the scoreboard).

use crate::admin::auth::Viewer;
use crate::admin::view::{self, col, field, flash, Cell, FormPage, ListParams, Posted, Table};
use crate::admin::Admin;
use crate::reducer::AdminWrite;
use crate::state::Game;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::{Extension, Form};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) async fn list(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = ListParams::from(&q);
    let uid_filter: Option<i64> = q.get("f_uid").and_then(|u| u.parse().ok());
    let table = admin.shared.read(|g| {
        let href = |id: i64| admin.url(&format!("/submissions/{id}"));
        let rows = g
            .submissions
            .iter()
            .filter(|s| uid_filter.is_none_or(|u| g.users[s.user as usize].id() == u))
            .map(|s| {
                let uid = g.users[s.user as usize].id();
                let matched = match s.matched {
                    Some(f) => {
                        let name = &g.flag(f).spec.name;
                        if name.is_empty() {
                            "yes".to_string()
                        } else {
                            name.clone()
                        }
                    }
                    None if s.duplicate => "duplicate".into(),
                    None => "no".into(),
                };
                let ov = match (s.score_override(), s.percentage_override()) {
                    (None, None) => String::new(),
                    (a, b) => format!(
                        "score {} · {}%",
                        a.map_or("-".into(), |x| x.to_string()),
                        b.map_or("-".into(), |x| x.to_string())
                    ),
                };
                (
                    None,
                    vec![
                        Cell::int(s.id).link(href(s.id)),
                        admin.uid_cell(uid),
                        Cell::text(g.submission_key(s)),
                        Cell::text(g.submitted_flag(s).to_owned()),
                        admin.time_ms_cell(s.timestamp_ms),
                        Cell::text(matched),
                        Cell::int(g.gained_score(s)),
                        Cell::text(ov),
                    ],
                )
            })
            .collect();
        Table {
            columns: vec![
                col("id", "id", false),
                col("uid", "uid", false),
                col("key", "challenge", true),
                col("flag", "flag", false),
                col("time", "time", false),
                col("matched", "matched", true),
                col("gained", "gained", false),
                col("override", "overrides", false),
            ],
            rows,
            ..Table::default()
        }
    });
    let Some(table) = table else {
        return view::no_game();
    };
    let mut p = p;
    p.filters.retain(|(k, _)| k != "uid");
    admin.render_list(
        &v,
        "Submissions",
        table,
        &p,
        minijinja::context! { msg => flash(&q) },
    )
}

fn submission_form(
    admin: &Admin,
    g: &Game,
    id: i64,
    values: Option<&HashMap<String, String>>,
    error: Option<String>,
) -> Option<FormPage> {
    let s = g.submission_by_id(id)?;
    let u = &g.users[s.user as usize];
    let matched = s.matched.map(|f| {
        let c = &g.challenges[f.chall as usize];
        let spec = &g.flag(f).spec;
        format!(
            "{} flag #{} {:?} (current score {})",
            c.row.key,
            f.flag,
            spec.name,
            g.flag(f).cur_score
        )
    });
    let mut own: HashMap<String, String> = HashMap::new();
    own.insert(
        "score_override".into(),
        s.score_override()
            .map(|x| x.to_string())
            .unwrap_or_default(),
    );
    own.insert(
        "percentage_override".into(),
        s.percentage_override()
            .map(|x| x.to_string())
            .unwrap_or_default(),
    );
    Some(
        FormPage {
            action: admin.url(&format!("/submissions/{id}")),
            fields: vec![
                field(
                    "score_override",
                    "Score override",
                    "number",
                    "empty: none; wins over everything",
                ),
                field(
                    "percentage_override",
                    "Percentage override",
                    "number",
                    "empty: none; percentage of the flag's score",
                ),
            ],
            error,
            warning: Some("Changing an override rebuilds the scoreboard.".into()),
            info: vec![
                (
                    "user".into(),
                    format!("#{} {}", u.id(), u.nickname().unwrap_or_default()),
                ),
                ("challenge".into(), g.submission_key(s).to_string()),
                ("flag".into(), g.submitted_flag(s).to_owned()),
                ("time".into(), admin.time_ms(s.timestamp_ms)),
                (
                    "matched".into(),
                    matched.unwrap_or_else(|| {
                        if s.duplicate {
                            "duplicate".into()
                        } else {
                            "no".into()
                        }
                    }),
                ),
                ("gained score".into(), g.gained_score(s).to_string()),
            ],
            links: vec![("← submissions".into(), admin.url("/submissions"))],
            ..FormPage::default()
        }
        .fill(values.unwrap_or(&own)),
    )
}

pub(super) async fn edit(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match admin
        .shared
        .read(|g| submission_form(&admin, g, id, None, None))
        .flatten()
    {
        Some(page) => admin.render_form(&v, &format!("Submission #{id}"), &page, flash(&q)),
        None => view::not_found("submission"),
    }
}

pub(super) async fn save(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let posted = Posted(values);
    let parsed = posted
        .opt_int("score_override")
        .and_then(|s| Ok((s, posted.opt_int("percentage_override")?)));
    let result = match parsed {
        Ok((score_override, percentage_override)) => admin
            .write(AdminWrite::SetSubmissionOverrides {
                id,
                score_override,
                percentage_override,
            })
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => admin.back(&format!("/submissions/{id}"), "overrides saved"),
        Err(e) => match admin
            .shared
            .read(|g| {
                submission_form(
                    &admin,
                    g,
                    id,
                    Some(&posted.0),
                    Some(format!("not saved: {e}")),
                )
            })
            .flatten()
        {
            Some(page) => admin.render_refused_form(&v, &format!("Submission #{id}"), &page),
            None => view::not_found("submission"),
        },
    }
}
