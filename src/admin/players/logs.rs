//! Logs: the reducer's `log` table (from the database).

use super::db_error;
use crate::admin::auth::Viewer;
use crate::admin::view::{col, flash, Cell, ListParams, Table};
use crate::admin::Admin;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) async fn list(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut p = ListParams::from(&q);
    if p.sort.is_none() {
        p.sort = Some("id".into());
        p.desc = true;
    }
    let (rows, total) = match admin.store.list_logs(&p.db_query()).await {
        Ok(x) => x,
        Err(e) => return db_error(e),
    };
    let table = Table {
        columns: vec![
            col("id", "id", false),
            col("timestamp_ms", "time", false),
            col("level", "level", true),
            col("process", "process", false),
            col("module", "module", false),
            col("message", "message", false),
        ],
        rows: rows
            .iter()
            .map(|r| {
                (
                    None,
                    vec![
                        Cell::int(r.id),
                        admin.time_ms_cell(r.timestamp_ms),
                        Cell::text(r.level.clone()),
                        Cell::text(r.process.clone()),
                        Cell::text(r.module.clone()),
                        Cell::text(r.message.clone()),
                    ],
                )
            })
            .collect(),
        db_total: Some(total),
        filter_choices: vec![(
            "level".into(),
            ["debug", "info", "warning", "error", "critical", "success"]
                .map(String::from)
                .to_vec(),
        )],
    };
    admin.render_list(
        &v,
        "Logs",
        table,
        &p,
        minijinja::context! { msg => flash(&q) },
    )
}
