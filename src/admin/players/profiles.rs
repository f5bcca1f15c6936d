//! Profiles: every profile row (from the database) and a new profile for a user
//! (profiles are append-only: saving adds a row).

use super::db_error;
use crate::admin::auth::Viewer;
use crate::admin::view::{self, col, field, Cell, FormPage, ListParams, Table};
use crate::admin::Admin;
use crate::reducer::AdminWrite;
use crate::rows::UserProfileRow;
use crate::rules::ProfileField;
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
    let (rows, total) = match admin.store.list_profiles(&p.db_query()).await {
        Ok(x) => x,
        Err(e) => return db_error(e),
    };
    let o = |s: &Option<String>| Cell::text(s.clone().unwrap_or_default());
    let table = Table {
        columns: vec![
            col("id", "id", false),
            col("user_id", "uid", false),
            col("timestamp_ms", "time", false),
            col("nickname", "nickname", false),
            col("qq", "qq", false),
            col("tel", "tel", false),
            col("email", "email", false),
            col("stuid", "stuid", false),
            col("comment", "comment", false),
        ],
        rows: rows
            .iter()
            .map(|r| {
                (
                    None,
                    vec![
                        Cell::int(r.id),
                        admin.uid_cell(r.user_id),
                        admin.time_ms_cell(r.timestamp_ms),
                        o(&r.nickname),
                        o(&r.qq),
                        o(&r.tel),
                        o(&r.email),
                        o(&r.stuid),
                        o(&r.comment),
                    ],
                )
            })
            .collect(),
        db_total: Some(total),
        ..Table::default()
    };
    admin.render_list(
        &v,
        "Profiles",
        table,
        &p,
        minijinja::context! { msg => view::flash(&q) },
    )
}

pub(super) async fn new_form(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let Some(p) = admin
        .shared
        .read(|g| {
            g.user_by_id(id)
                .map(|u| u.profile.clone().unwrap_or_default())
        })
        .flatten()
    else {
        return view::not_found("user");
    };
    let values: HashMap<String, String> = ProfileField::ALL
        .into_iter()
        .map(|f| {
            (
                f.name().to_owned(),
                p.field(f).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let page = FormPage {
        action: admin.url(&format!("/users/{id}/profile")),
        fields: ProfileField::ALL
            .iter()
            .map(|f| field(f.name(), f.name(), "text", ""))
            .collect(),
        info: vec![
            ("user".into(), id.to_string()),
            (
                "note".into(),
                "profiles are append-only: saving adds a new profile row".into(),
            ),
        ],
        links: vec![("← user".into(), admin.url(&format!("/users/{id}")))],
        ..FormPage::default()
    }
    .fill(&values);
    admin.render_form(&v, &format!("New profile for user #{id}"), &page, None)
}

pub(super) async fn create(
    State(admin): State<Arc<Admin>>,
    Path(id): Path<i64>,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| {
        values
            .get(k)
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(128).collect::<String>())
    };
    let mut row = UserProfileRow {
        id: 0,
        user_id: id,
        timestamp_ms: crate::clock::now_s() * 1000,
        ..Default::default()
    };
    for f in ProfileField::ALL {
        *row.field_mut(f) = get(f.name());
    }
    match admin.write(AdminWrite::NewProfile(row)).await {
        Ok(_) => admin.back(&format!("/users/{id}"), "new profile saved"),
        Err(e) => admin.back(&format!("/users/{id}"), &format!("profile not saved: {e}")),
    }
}
