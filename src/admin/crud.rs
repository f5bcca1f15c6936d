//! List, create, edit and delete for the admin-edited tables: announcements, challenges
//! (JSON editors with a snippet per flag and action type), game policies and triggers.

use super::auth::Viewer;
use super::view::{self, col, field, Cell, FormPage, ListParams, Posted, Snippet, Table};
use super::Admin;
use crate::reducer::AdminWrite;
use crate::rows::{AnnouncementRow, ChallengeRow, GamePolicyRow, TriggerRow};
use crate::state::Game;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// One admin-edited table.
pub trait Entity: Sized + Send + 'static {
    /// URL segment (`challenges`).
    const PATH: &'static str;
    /// Human name of one row.
    const NAME: &'static str;
    /// Shown before saving when a change rebuilds the scoreboard.
    const WARNING: Option<&'static str> = None;
    /// The row with this id in the replica.
    fn find(g: &Game, id: i64) -> Option<Self>;
    /// A fresh row for the "new" form.
    fn blank(admin: &Admin) -> Self;
    /// The form's inputs (values empty).
    fn fields() -> Vec<view::Field>;
    /// The row as form values.
    fn to_map(&self, admin: &Admin) -> HashMap<String, String>;
    /// The row from posted values (id set by the caller).
    fn from_posted(p: &Posted, id: i64, admin: &Admin) -> Result<Self, String>;
    /// The edit saving it.
    fn upsert(self) -> AdminWrite;
    /// The edit deleting row `id`.
    fn delete(id: i64) -> AdminWrite;
    /// The list page.
    fn table(g: &Game, admin: &Admin) -> Table;
    /// Snippet buttons of JSON fields.
    fn snippets() -> Vec<Snippet> {
        Vec::new()
    }
}

fn m(pairs: Vec<(&str, String)>) -> HashMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Entity for AnnouncementRow {
    const PATH: &'static str = "announcements";
    const NAME: &'static str = "announcement";
    fn find(g: &Game, id: i64) -> Option<Self> {
        g.announcements
            .iter()
            .find(|a| a.row.id == id)
            .map(|a| a.row.clone())
    }
    fn blank(_: &Admin) -> Self {
        AnnouncementRow {
            id: 0,
            timestamp_s: crate::clock::now_s(),
            title: String::new(),
            content_template: String::new(),
        }
    }
    fn fields() -> Vec<view::Field> {
        vec![
            field("title", "Title", "text", ""),
            field(
                "timestamp",
                "Time",
                "text",
                "YYYY-MM-DD HH:MM:SS in the panel's zone, or epoch seconds",
            ),
            field(
                "content_template",
                "Content",
                "textarea",
                "Jinja + Markdown",
            ),
        ]
    }
    fn to_map(&self, a: &Admin) -> HashMap<String, String> {
        m(vec![
            ("title", self.title.clone()),
            ("timestamp", a.time_s(self.timestamp_s)),
            ("content_template", self.content_template.clone()),
        ])
    }
    fn from_posted(p: &Posted, id: i64, a: &Admin) -> Result<Self, String> {
        let title = p.text("title");
        if title.trim().is_empty() {
            return Err("title: must not be empty".into());
        }
        Ok(AnnouncementRow {
            id,
            timestamp_s: a
                .parse_time(&p.text("timestamp"))
                .map_err(|e| format!("time: {e}"))?,
            title,
            content_template: p.text("content_template"),
        })
    }
    fn upsert(self) -> AdminWrite {
        AdminWrite::UpsertAnnouncement(self)
    }
    fn delete(id: i64) -> AdminWrite {
        AdminWrite::DeleteAnnouncement(id)
    }
    fn table(g: &Game, a: &Admin) -> Table {
        let href = |id: i64| a.url(&format!("/announcements/{id}"));
        Table {
            columns: vec![
                col("id", "id", false),
                col("time", "time", false),
                col("title", "title", false),
                col("content", "content", false),
            ],
            rows: g
                .announcements
                .iter()
                .map(|x| {
                    let r = &x.row;
                    (
                        None,
                        vec![
                            Cell::int(r.id).link(href(r.id)),
                            Cell::time(a.time_s(r.timestamp_s), r.timestamp_s),
                            Cell::text(r.title.clone()).link(href(r.id)),
                            Cell::text(r.content_template.chars().take(120).collect::<String>()),
                        ],
                    )
                })
                .collect(),
            ..Table::default()
        }
    }
}

impl Entity for TriggerRow {
    const PATH: &'static str = "triggers";
    const NAME: &'static str = "trigger";
    fn find(g: &Game, id: i64) -> Option<Self> {
        g.timeline.triggers().iter().find(|t| t.id == id).cloned()
    }
    fn blank(_: &Admin) -> Self {
        TriggerRow {
            id: 0,
            tick: 0,
            timestamp_s: crate::clock::now_s(),
            name: String::new(),
        }
    }
    fn fields() -> Vec<view::Field> {
        vec![
            field(
                "tick",
                "Tick",
                "number",
                "the contest moves to this tick at the time below",
            ),
            field(
                "timestamp",
                "Time",
                "text",
                "YYYY-MM-DD HH:MM:SS in the panel's zone, or epoch seconds",
            ),
            field("name", "Name", "text", ""),
        ]
    }
    fn to_map(&self, a: &Admin) -> HashMap<String, String> {
        m(vec![
            ("tick", self.tick.to_string()),
            ("timestamp", a.time_s(self.timestamp_s)),
            ("name", self.name.clone()),
        ])
    }
    fn from_posted(p: &Posted, id: i64, a: &Admin) -> Result<Self, String> {
        let name = p.text("name");
        if name.chars().count() > 64 {
            return Err("name: at most 64 characters".into());
        }
        Ok(TriggerRow {
            id,
            tick: p.int("tick")?,
            timestamp_s: a
                .parse_time(&p.text("timestamp"))
                .map_err(|e| format!("time: {e}"))?,
            name,
        })
    }
    fn upsert(self) -> AdminWrite {
        AdminWrite::UpsertTrigger(self)
    }
    fn delete(id: i64) -> AdminWrite {
        AdminWrite::DeleteTrigger(id)
    }
    fn table(g: &Game, a: &Admin) -> Table {
        let href = |id: i64| a.url(&format!("/triggers/{id}"));
        Table {
            columns: vec![
                col("id", "id", false),
                col("tick", "tick", false),
                col("time", "time", false),
                col("name", "name", false),
                col("current", "current", true),
            ],
            rows: g
                .timeline
                .triggers()
                .iter()
                .map(|t| {
                    (
                        None,
                        vec![
                            Cell::int(t.id).link(href(t.id)),
                            Cell::int(t.tick),
                            Cell::time(a.time_s(t.timestamp_s), t.timestamp_s),
                            Cell::text(t.name.clone()).link(href(t.id)),
                            Cell::text(if t.tick == g.cur_tick { "current" } else { "" }),
                        ],
                    )
                })
                .collect(),
            ..Table::default()
        }
    }
}

impl Entity for GamePolicyRow {
    const PATH: &'static str = "policies";
    const NAME: &'static str = "game policy";
    fn find(g: &Game, id: i64) -> Option<Self> {
        g.policies.rows().iter().find(|t| t.id == id).cloned()
    }
    fn blank(_: &Admin) -> Self {
        GamePolicyRow {
            id: 0,
            effective_after: 0,
            can_view_problem: true,
            can_submit_flag: true,
            can_submit_writeup: false,
            is_submission_deducted: false,
        }
    }
    fn fields() -> Vec<view::Field> {
        vec![
            field(
                "effective_after",
                "Effective after tick",
                "number",
                "one policy per tick",
            ),
            field(
                "can_view_problem",
                "Players can view challenges",
                "checkbox",
                "",
            ),
            field(
                "can_submit_flag",
                "Players can submit flags",
                "checkbox",
                "",
            ),
            field(
                "can_submit_writeup",
                "Players can submit writeups",
                "checkbox",
                "",
            ),
            field(
                "is_submission_deducted",
                "Submissions are deducted",
                "checkbox",
                "scores of flags submitted now are reduced",
            ),
        ]
    }
    fn to_map(&self, _: &Admin) -> HashMap<String, String> {
        m(vec![
            ("effective_after", self.effective_after.to_string()),
            ("can_view_problem", self.can_view_problem.to_string()),
            ("can_submit_flag", self.can_submit_flag.to_string()),
            ("can_submit_writeup", self.can_submit_writeup.to_string()),
            (
                "is_submission_deducted",
                self.is_submission_deducted.to_string(),
            ),
        ])
    }
    fn from_posted(p: &Posted, id: i64, _: &Admin) -> Result<Self, String> {
        Ok(GamePolicyRow {
            id,
            effective_after: p.int("effective_after")?,
            can_view_problem: p.flag("can_view_problem"),
            can_submit_flag: p.flag("can_submit_flag"),
            can_submit_writeup: p.flag("can_submit_writeup"),
            is_submission_deducted: p.flag("is_submission_deducted"),
        })
    }
    fn upsert(self) -> AdminWrite {
        AdminWrite::UpsertPolicy(self)
    }
    fn delete(id: i64) -> AdminWrite {
        AdminWrite::DeletePolicy(id)
    }
    fn table(g: &Game, a: &Admin) -> Table {
        let href = |id: i64| a.url(&format!("/policies/{id}"));
        let yn = |b: bool| Cell::text(if b { "yes" } else { "no" });
        Table {
            columns: vec![
                col("id", "id", false),
                col("effective_after", "effective after", false),
                col("view", "view", true),
                col("flag", "submit flag", true),
                col("writeup", "writeup", true),
                col("deducted", "deducted", true),
            ],
            rows: g
                .policies
                .rows()
                .iter()
                .map(|p| {
                    (
                        None,
                        vec![
                            Cell::int(p.id).link(href(p.id)),
                            Cell::int(p.effective_after).link(href(p.id)),
                            yn(p.can_view_problem),
                            yn(p.can_submit_flag),
                            yn(p.can_submit_writeup),
                            yn(p.is_submission_deducted),
                        ],
                    )
                })
                .collect(),
            ..Table::default()
        }
    }
}

impl Entity for ChallengeRow {
    const PATH: &'static str = "challenges";
    const NAME: &'static str = "challenge";
    const WARNING: Option<&'static str> = Some(
        "Changing the flags, key, effective_after or category rebuilds the scoreboard for every player.",
    );
    fn find(g: &Game, id: i64) -> Option<Self> {
        g.challenges
            .iter()
            .find(|c| c.row.id == id)
            .map(|c| c.row.clone())
    }
    fn blank(_: &Admin) -> Self {
        ChallengeRow {
            id: 0,
            effective_after: 0,
            key: String::new(),
            title: String::new(),
            category: "Misc".into(),
            sorting_index: 0,
            desc_template: String::new(),
            chall_metadata: json!({"author": "", "first_blood_award_eligible": true, "score_deduction_eligible": true}),
            actions: json!([]),
            flags: json!([{"name": "", "type": "static", "base_score": 100, "val": "flag{...}"}]),
        }
    }
    fn fields() -> Vec<view::Field> {
        vec![
            field("key", "Key", "text", "unique, at most 32 characters"),
            field("title", "Title", "text", ""),
            field("category", "Category", "text", ""),
            field("sorting_index", "Sorting index", "number", ""),
            field("effective_after", "Effective after tick", "number", ""),
            field(
                "desc_template",
                "Description",
                "textarea",
                "Jinja + Markdown",
            ),
            field("chall_metadata", "Metadata (JSON object)", "json", ""),
            field("actions", "Actions (JSON array)", "json", ""),
            field("flags", "Flags (JSON array, 1 to 3)", "json", ""),
        ]
    }
    fn to_map(&self, _: &Admin) -> HashMap<String, String> {
        m(vec![
            ("key", self.key.clone()),
            ("title", self.title.clone()),
            ("category", self.category.clone()),
            ("sorting_index", self.sorting_index.to_string()),
            ("effective_after", self.effective_after.to_string()),
            ("desc_template", self.desc_template.clone()),
            ("chall_metadata", view::pretty(&self.chall_metadata)),
            ("actions", view::pretty(&self.actions)),
            ("flags", view::pretty(&self.flags)),
        ])
    }
    fn from_posted(p: &Posted, id: i64, _: &Admin) -> Result<Self, String> {
        Ok(ChallengeRow {
            id,
            effective_after: p.int("effective_after")?,
            key: p.text("key").trim().to_string(),
            title: p.text("title"),
            category: p.text("category"),
            sorting_index: p.int("sorting_index")?,
            desc_template: p.text("desc_template"),
            chall_metadata: p.json("chall_metadata")?,
            actions: p.json("actions")?,
            flags: p.json("flags")?,
        })
    }
    fn upsert(self) -> AdminWrite {
        AdminWrite::UpsertChallenge(self)
    }
    fn delete(id: i64) -> AdminWrite {
        AdminWrite::DeleteChallenge(id)
    }
    fn snippets() -> Vec<Snippet> {
        let s = |field: &'static str, label: &'static str, v: serde_json::Value| Snippet {
            field,
            label,
            text: v.to_string(),
        };
        vec![
            s(
                "flags",
                "static flag",
                json!({"name": "", "type": "static", "base_score": 100, "val": "flag{...}"}),
            ),
            s(
                "flags",
                "leet flag",
                json!({"name": "", "type": "leet", "base_score": 100, "val": "flag{leet_flags_need_twelve_letters}", "salt": "change-me"}),
            ),
            s(
                "flags",
                "wordlist flag",
                json!({"name": "", "type": "wordlist", "base_score": 100, "val": "flag{%1_%2}", "words": [["red", "blue"], ["cat", "dog"]]}),
            ),
            s(
                "flags",
                "partitioned flag",
                json!({"name": "", "type": "partitioned", "base_score": 100, "val": ["flag{a}", "flag{b}"]}),
            ),
            s(
                "flags",
                "dynamic flag",
                json!({"name": "", "type": "dynamic", "base_score": 100, "val": "generator argument"}),
            ),
            s(
                "actions",
                "webpage",
                json!({"name": null, "type": "webpage", "effective_after": 0, "url": "https://"}),
            ),
            s(
                "actions",
                "webdocker",
                json!({"name": null, "type": "webdocker", "effective_after": 0, "host": "prob01.geekgame.pku.edu.cn"}),
            ),
            s(
                "actions",
                "terminal",
                json!({"name": null, "type": "terminal", "effective_after": 0, "host": "prob01.geekgame.pku.edu.cn", "port": 10001}),
            ),
            s(
                "actions",
                "attachment",
                json!({"name": null, "type": "attachment", "effective_after": 0, "filename": "attachment.zip", "file_path": "chall/attachment.zip"}),
            ),
            s(
                "actions",
                "dyn_attachment",
                json!({"name": null, "type": "dyn_attachment", "effective_after": 0, "filename": "attachment.zip", "module_path": "chall/gen"}),
            ),
        ]
    }
    fn table(g: &Game, a: &Admin) -> Table {
        let href = |id: i64| a.url(&format!("/challenges/{id}"));
        Table {
            columns: vec![
                col("id", "id", false),
                col("key", "key", false),
                col("title", "title", false),
                col("category", "category", true),
                col("sorting_index", "sort", false),
                col("effective_after", "effective after", false),
                col("flags", "flags", false),
                col("passed", "passed", false),
            ],
            rows: g
                .challenges
                .iter()
                .map(|c| {
                    let r = &c.row;
                    (
                        Some(r.id.to_string()),
                        vec![
                            Cell::int(r.id).link(href(r.id)),
                            Cell::text(r.key.clone()).link(href(r.id)),
                            Cell::text(r.title.clone()),
                            Cell::text(r.category.clone()),
                            Cell::int(r.sorting_index),
                            Cell::int(r.effective_after),
                            Cell::text(
                                c.flags
                                    .iter()
                                    .map(|f| f.cur_score.to_string())
                                    .collect::<Vec<_>>()
                                    .join(" + "),
                            ),
                            Cell::int(c.passed_users.len() as i64),
                        ],
                    )
                })
                .collect(),
            ..Table::default()
        }
    }
}

async fn list<E: Entity>(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = ListParams::from(&q);
    let Some(table) = admin.shared.read(|g| E::table(g, &admin)) else {
        return view::no_game();
    };
    let mut actions = vec![(
        format!("New {}", E::NAME),
        admin.url(&format!("/{}/0", E::PATH)),
    )];
    let mut batch: Vec<(String, String, bool)> = Vec::new();
    if E::PATH == "challenges" {
        actions.push(("Import / test flag".into(), admin.url("/tools")));
        batch.push((
            "Export selected as JSON".into(),
            admin.url("/challenges/export"),
            false,
        ));
    }
    let extra = minijinja::context! { actions => view::ser(actions), batch => view::ser(batch), msg => view::flash(&q) };
    let title = format!("{}{}", E::PATH[..1].to_uppercase(), &E::PATH[1..]);
    admin.render_list(&v, &title, table, &p, extra)
}

fn form<E: Entity>(
    admin: &Admin,
    id: i64,
    values: &HashMap<String, String>,
    error: Option<String>,
) -> FormPage {
    FormPage {
        action: admin.url(&format!("/{}/{id}", E::PATH)),
        fields: E::fields(),
        error,
        warning: E::WARNING.map(str::to_string),
        delete: (id != 0).then(|| admin.url(&format!("/{}/{id}/delete", E::PATH))),
        snippets: E::snippets(),
        links: vec![(
            "← back to the list".into(),
            admin.url(&format!("/{}", E::PATH)),
        )],
        ..FormPage::default()
    }
    .fill(values)
}

async fn edit<E: Entity>(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let row = if id == 0 {
        Some(E::blank(&admin))
    } else {
        admin.shared.read(|g| E::find(g, id)).flatten()
    };
    let Some(row) = row else {
        return view::not_found(E::NAME);
    };
    let page = form::<E>(&admin, id, &row.to_map(&admin), None);
    let title = if id == 0 {
        format!("New {}", E::NAME)
    } else {
        format!("Edit {} #{id}", E::NAME)
    };
    admin.render_form(&v, &title, &page, view::flash(&q))
}

async fn save<E: Entity>(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let posted = Posted(values);
    let result = match E::from_posted(&posted, id, &admin) {
        Ok(row) => admin
            .write(row.upsert())
            .await
            .map_err(|e| format!("not saved: {e}")),
        Err(e) => Err(format!("not saved: {e}")),
    };
    match result {
        Ok(_) => admin.back(&format!("/{}", E::PATH), &format!("{} saved", E::NAME)),
        Err(e) => {
            let page = form::<E>(&admin, id, &posted.0, Some(e));
            admin.render_refused_form(&v, &format!("Edit {}", E::NAME), &page)
        }
    }
}

async fn delete<E: Entity>(State(admin): State<Arc<Admin>>, Path(id): Path<i64>) -> Response {
    match admin.write(E::delete(id)).await {
        Ok(_) => admin.back(
            &format!("/{}", E::PATH),
            &format!("{} #{id} deleted", E::NAME),
        ),
        Err(e) => admin.back(&format!("/{}", E::PATH), &format!("not deleted: {e}")),
    }
}

fn entity_routes<E: Entity>() -> Router<Arc<Admin>> {
    Router::new()
        .route(&format!("/{}", E::PATH), get(list::<E>))
        .route(
            &format!("/{}/{{id}}", E::PATH),
            get(edit::<E>).post(save::<E>),
        )
        .route(&format!("/{}/{{id}}/delete", E::PATH), post(delete::<E>))
}

/// The routes of the four admin-edited tables.
pub fn routes() -> Router<Arc<Admin>> {
    Router::new()
        .merge(entity_routes::<AnnouncementRow>())
        .merge(entity_routes::<ChallengeRow>())
        .merge(entity_routes::<GamePolicyRow>())
        .merge(entity_routes::<TriggerRow>())
}
