//! Feedback: the players' feedback (from the database), marked checked by staff.

use super::db_error;
use crate::admin::auth::Viewer;
use crate::admin::view::{self, col, Cell, ListParams, Table};
use crate::admin::Admin;
use axum::extract::{Query, State};
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
    let (rows, total) = match admin.store.list_feedback(&p.db_query()).await {
        Ok(x) => x,
        Err(e) => return db_error(e),
    };
    let table = Table {
        columns: vec![
            col("id", "id", false),
            col("user_id", "uid", false),
            col("timestamp_ms", "time", false),
            col("challenge_key", "challenge", false),
            col("content", "content", false),
            col("checked", "checked", true),
        ],
        rows: rows
            .iter()
            .map(|r| {
                (
                    Some(r.id.to_string()),
                    vec![
                        Cell::int(r.id),
                        admin.uid_cell(r.user_id),
                        admin.time_ms_cell(r.timestamp_ms),
                        Cell::text(r.challenge_key.clone()),
                        Cell::text(r.content.clone()),
                        Cell::text(r.checked.to_string()),
                    ],
                )
            })
            .collect(),
        db_total: Some(total),
        filter_choices: vec![("checked".into(), vec!["false".into(), "true".into()])],
    };
    let batch = vec![
        (
            "Mark selected checked".to_string(),
            admin.url("/feedback/check?checked=true"),
            true,
        ),
        (
            "Mark selected unchecked".to_string(),
            admin.url("/feedback/check?checked=false"),
            true,
        ),
    ];
    admin.render_list(
        &v,
        "Feedback",
        table,
        &p,
        minijinja::context! { msg => view::flash(&q), batch => view::ser(batch) },
    )
}

pub(super) async fn check(
    State(admin): State<Arc<Admin>>,
    Query(q): Query<HashMap<String, String>>,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    let checked = q.get("checked").is_some_and(|c| c == "true");
    let mut n = 0;
    for (k, v) in &values {
        if k != "ids" {
            continue;
        }
        let Ok(id) = v.parse::<i64>() else {
            return admin.back("/feedback", &format!("`{v}` is not an id"));
        };
        if let Err(e) = admin.store.set_feedback_checked(id, checked).await {
            return admin.back("/feedback", &format!("failed: {e}"));
        }
        n += 1;
    }
    admin.back("/feedback", &format!("{n} feedback rows marked"))
}
