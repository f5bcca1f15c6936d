//! Player data: users (group, enabled, login properties; game status and score), every
//! profile (and a new one), submissions (overrides only), feedback (checked) and logs.

use super::auth::Viewer;
use super::view::{self, col, field, Cell, FormPage, ListParams, Posted, Table};
use super::Admin;
use crate::reducer::AdminWrite;
use crate::rows::UserProfileRow;
use crate::rules::ProfileField;
use crate::state::user::User;
use crate::state::Game;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
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

fn msg(q: &HashMap<String, String>) -> Option<String> {
    q.get("msg").cloned()
}

fn list_ctx(table: Table, p: &ListParams, extra: minijinja::Value) -> minijinja::Value {
    minijinja::context! { ..table.context(p), ..extra }
}

async fn users(
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
                            Cell::time(admin.time_ms(r.timestamp_ms), r.timestamp_ms),
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
    let extra = minijinja::context! { batch => view::ser(batch), batch_inputs => view::ser(inputs), msg => msg(&q),
    note => "Moving users to another group rebuilds the scoreboard." };
    admin.render(&v, "list.html", "Users", list_ctx(table, &p, extra))
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
                u.profile_problem().unwrap_or_default(),
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

async fn user_edit(
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
        Some(page) => admin.render(
            &v,
            "form.html",
            &format!("User #{id}"),
            minijinja::context! { ..view::ser(&page), ..minijinja::context!{ msg => msg(&q) } },
        ),
        None => view::not_found("user"),
    }
}

async fn user_save(
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
                Some(page) => {
                    let mut r =
                        admin.render(&v, "form.html", &format!("User #{id}"), view::ser(&page));
                    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    r
                }
                None => view::not_found("user"),
            }
        }
    }
}

async fn profile_new(
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
    admin.render(
        &v,
        "form.html",
        &format!("New profile for user #{id}"),
        view::ser(&page),
    )
}

async fn profile_save(
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

async fn move_group(
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

async fn submissions(
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
                let ov = match (s.score_override, s.percentage_override) {
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
                        Cell::int(uid).link(admin.url(&format!("/users/{uid}"))),
                        Cell::text(g.submission_key(s)),
                        Cell::text(s.flag.to_string()),
                        Cell::time(admin.time_ms(s.timestamp_ms), s.timestamp_ms),
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
    admin.render(
        &v,
        "list.html",
        "Submissions",
        list_ctx(table, &p, minijinja::context! { msg => msg(&q) }),
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
        s.score_override.map(|x| x.to_string()).unwrap_or_default(),
    );
    own.insert(
        "percentage_override".into(),
        s.percentage_override
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
                ("flag".into(), s.flag.to_string()),
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

async fn submission_edit(
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
        Some(page) => admin.render(
            &v,
            "form.html",
            &format!("Submission #{id}"),
            minijinja::context! { ..view::ser(&page), ..minijinja::context!{ msg => msg(&q) } },
        ),
        None => view::not_found("submission"),
    }
}

async fn submission_save(
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
            Some(page) => {
                let mut r = admin.render(
                    &v,
                    "form.html",
                    &format!("Submission #{id}"),
                    view::ser(&page),
                );
                *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                r
            }
            None => view::not_found("submission"),
        },
    }
}

fn db_error(e: impl std::fmt::Display) -> Response {
    use axum::response::IntoResponse as _;
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("database error: {e}"),
    )
        .into_response()
}

async fn profiles(
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
                        Cell::int(r.user_id).link(admin.url(&format!("/users/{}", r.user_id))),
                        Cell::time(admin.time_ms(r.timestamp_ms), r.timestamp_ms),
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
    admin.render(
        &v,
        "list.html",
        "Profiles",
        list_ctx(table, &p, minijinja::context! { msg => msg(&q) }),
    )
}

async fn feedback(
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
                        Cell::int(r.user_id).link(admin.url(&format!("/users/{}", r.user_id))),
                        Cell::time(admin.time_ms(r.timestamp_ms), r.timestamp_ms),
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
    admin.render(
        &v,
        "list.html",
        "Feedback",
        list_ctx(
            table,
            &p,
            minijinja::context! { msg => msg(&q), batch => view::ser(batch) },
        ),
    )
}

async fn feedback_check(
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

async fn logs(
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
                        Cell::time(admin.time_ms(r.timestamp_ms), r.timestamp_ms),
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
    admin.render(
        &v,
        "list.html",
        "Logs",
        list_ctx(table, &p, minijinja::context! { msg => msg(&q) }),
    )
}

/// The routes of player data.
pub fn routes() -> Router<Arc<Admin>> {
    Router::new()
        .route("/users", get(users))
        .route("/users/move-group", post(move_group))
        .route("/users/{id}", get(user_edit).post(user_save))
        .route("/users/{id}/profile", get(profile_new).post(profile_save))
        .route("/profiles", get(profiles))
        .route("/submissions", get(submissions))
        .route(
            "/submissions/{id}",
            get(submission_edit).post(submission_save),
        )
        .route("/feedback", get(feedback))
        .route("/feedback/check", post(feedback_check))
        .route("/logs", get(logs))
}
