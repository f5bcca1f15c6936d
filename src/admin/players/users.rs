//! Users: the list (game status and score), the edit form (group, enabled, terms, login
//! properties) and moving many users to another group at once.

use crate::admin::auth::Viewer;
use crate::admin::view::{self, col, field, flash, Cell, FormPage, ListParams, Posted, Table};
use crate::admin::Admin;
use crate::reducer::AdminWrite;
use crate::state::user::User;
use crate::state::Game;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::{Extension, Form};
use std::collections::HashMap;
use std::sync::Arc;

/// The game status of a user, as the status page counts them.
pub fn user_state(u: &User) -> &'static str {
    if !u.row.enabled {
        "disabled"
    } else if !u.row.terms_agreed {
        "pending terms"
    } else if u.profile_problem().is_some() {
        "pending profile"
    } else if u.tot_score == 0 {
        "no score"
    } else {
        "has score"
    }
}

pub(super) async fn list(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = ListParams::from(&q);
    let table = admin.shared.read(|g| {
        let href = |id: i64| admin.url(&format!("/users/{id}"));
        Table {
            columns: vec![
                col("id", "uid", false),
                col("login_key", "login key", false),
                col("nickname", "nickname", false),
                col("group", "group", true),
                col("enabled", "enabled", true),
                col("state", "state", true),
                col("score", "score", false),
                col("created", "created", false),
            ],
            rows: g
                .users
                .iter()
                .map(|u| {
                    let r = &u.row;
                    (
                        Some(r.id.to_string()),
                        vec![
                            Cell::int(r.id).link(href(r.id)),
                            Cell::text(r.login_key.clone()).link(href(r.id)),
                            Cell::text(u.nickname().unwrap_or_default()),
                            Cell::text(r.group.clone()),
                            Cell::text(if r.enabled { "yes" } else { "no" }),
                            Cell::text(user_state(u)),
                            Cell::int(u.tot_score),
                            admin.time_ms_cell(r.timestamp_ms),
                        ],
                    )
                })
                .collect(),
            ..Table::default()
        }
    });
    let Some(table) = table else {
        return view::no_game();
    };
    let batch = vec![(
        "Move selected to group".to_string(),
        admin.url("/users/move-group"),
        true,
    )];
    let inputs = vec![("group", "group"), ("uids", "or uids: 1,2,3")];
    let extra = minijinja::context! { batch => view::ser(batch), batch_inputs => view::ser(inputs), msg => flash(&q),
    note => "Moving users to another group rebuilds the scoreboard." };
    admin.render_list(&v, "Users", table, &p, extra)
}

fn user_form(
    admin: &Admin,
    g: &Game,
    u: &User,
    values: &HashMap<String, String>,
    error: Option<String>,
) -> FormPage {
    let idx = g.user_idx(u.id());
    let mut group = field("group", "Group", "select", "");
    group.options = crate::rules::GROUPS
        .iter()
        .map(|(k, _)| (*k).to_string())
        .collect();
    if !group.options.contains(&u.row.group) {
        group.options.push(u.row.group.clone());
    }
    let p = u.profile.clone().unwrap_or_default();
    FormPage {
        action: admin.url(&format!("/users/{}", u.id())),
        fields: vec![
            group,
            field("enabled", "Enabled (may log in)", "checkbox", ""),
            field("terms_agreed", "Agreed to the terms", "checkbox", ""),
            field(
                "login_properties",
                "Login properties (JSON object)",
                "json",
                "type, info, badges",
            ),
        ],
        error,
        warning: Some("Changing the group rebuilds the scoreboard.".into()),
        info: vec![
            ("uid".into(), u.id().to_string()),
            ("login key".into(), u.row.login_key.clone()),
            ("state".into(), user_state(u).into()),
            ("score".into(), u.tot_score.to_string()),
            (
                "writeup required".into(),
                idx.is_some_and(|i| g.writeup_required(i)).to_string(),
            ),
            ("nickname".into(), p.nickname.unwrap_or_default()),
            (
                "email / tel / qq / stuid".into(),
                format!(
                    "{} / {} / {} / {}",
                    p.email.unwrap_or_default(),
                    p.tel.unwrap_or_default(),
                    p.qq.unwrap_or_default(),
                    p.stuid.unwrap_or_default()
                ),
            ),
            (
                "profile problem".into(),
                u.profile_problem().unwrap_or_default().to_owned(),
            ),
            ("passed flags".into(), u.passed_flags.len().to_string()),
            (
                "player token".into(),
                u.row.token.clone().unwrap_or_default(),
            ),
            ("created".into(), admin.time_ms(u.row.timestamp_ms)),
        ],
        links: vec![
            ("← users".into(), admin.url("/users")),
            (
                "New profile".into(),
                admin.url(&format!("/users/{}/profile", u.id())),
            ),
            (
                "Submissions".into(),
                admin.url(&format!("/submissions?f_uid={}", u.id())),
            ),
            (
                "Profiles".into(),
                admin.url(&format!("/profiles?f_user_id={}", u.id())),
            ),
            (
                "Anti-cheat log".into(),
                admin.url(&format!("/tools/anticheat?uid={}", u.id())),
            ),
        ],
        ..FormPage::default()
    }
    .fill(values)
}

fn user_values(u: &User) -> HashMap<String, String> {
    [
        ("group", u.row.group.clone()),
        ("enabled", u.row.enabled.to_string()),
        ("terms_agreed", u.row.terms_agreed.to_string()),
        ("login_properties", view::pretty(&u.row.login_properties)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub(super) async fn edit(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let page = admin.shared.read(|g| {
        g.user_by_id(id)
            .map(|u| user_form(&admin, g, u, &user_values(u), None))
    });
    match page.flatten() {
        Some(page) => admin.render_form(&v, &format!("User #{id}"), &page, flash(&q)),
        None => view::not_found("user"),
    }
}

pub(super) async fn save(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let posted = Posted(values);
    let Some(mut row) = admin
        .shared
        .read(|g| g.user_by_id(id).map(|u| u.row.clone()))
        .flatten()
    else {
        return view::not_found("user");
    };
    let parsed = (|| -> Result<(), String> {
        let group = posted.text("group");
        if group.is_empty() || group.chars().count() > 32 {
            return Err("group: 1 to 32 characters".into());
        }
        let props = posted.json("login_properties")?;
        if !props.is_object() || props.get("type").and_then(|t| t.as_str()).is_none() {
            return Err("login_properties: must be a JSON object with a string `type`".into());
        }
        row.group = group;
        row.enabled = posted.flag("enabled");
        row.terms_agreed = posted.flag("terms_agreed");
        row.login_properties = props;
        Ok(())
    })();
    let result = match parsed {
        Ok(()) => admin.write(AdminWrite::UpdateUser(row)).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => admin.back(&format!("/users/{id}"), "user saved"),
        Err(e) => {
            let page = admin
                .shared
                .read(|g| {
                    g.user_by_id(id).map(|u| {
                        user_form(&admin, g, u, &posted.0, Some(format!("not saved: {e}")))
                    })
                })
                .flatten();
            match page {
                Some(page) => admin.render_refused_form(&v, &format!("User #{id}"), &page),
                None => view::not_found("user"),
            }
        }
    }
}

pub(super) async fn move_group(
    State(admin): State<Arc<Admin>>,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    let group = values
        .iter()
        .find(|(k, _)| k == "group")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if group.is_empty() || group.chars().count() > 32 {
        return admin.back("/users", "not moved: give a group of 1 to 32 characters");
    }
    let mut uids: Vec<i64> = Vec::new();
    let mut bad = Vec::new();
    for (k, v) in &values {
        if k == "ids" || k == "uids" {
            for part in v
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
            {
                match part.parse() {
                    Ok(n) => uids.push(n),
                    Err(_) => bad.push(part.to_string()),
                }
            }
        }
    }
    if !bad.is_empty() {
        return admin.back(
            "/users",
            &format!("not moved: not uids: {}", bad.join(", ")),
        );
    }
    uids.sort_unstable();
    uids.dedup();
    let rows: Vec<_> = admin
        .shared
        .read(|g| {
            uids.iter()
                .map(|u| g.user_by_id(*u).map(|u| u.row.clone()).ok_or(*u))
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<String> = rows
        .iter()
        .filter_map(|r| r.as_ref().err().map(|u| u.to_string()))
        .collect();
    if !missing.is_empty() || rows.is_empty() {
        return admin.back(
            "/users",
            &format!("not moved: unknown uids: {}", missing.join(", ")),
        );
    }
    let mut moved = 0;
    for mut row in rows.into_iter().flatten() {
        if row.group == group {
            continue;
        }
        row.group = group.clone();
        if let Err(e) = admin.write(AdminWrite::UpdateUser(row)).await {
            return admin.back("/users", &format!("stopped after {moved} users: {e}"));
        }
        moved += 1;
    }
    admin.back("/users", &format!("{moved} users moved to {group}"))
}
