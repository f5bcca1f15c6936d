//! Rendering helpers of the panel: the embedded templates, list tables (page, sort,
//! filter, search), generic forms, times in the configured zone and URL encoding.

use super::auth::Viewer;
use super::Admin;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The templates, compiled once.
pub fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.add_filter("urlencode", |s: String| crate::web::urlencode(&s));
    let templates: &[(&str, &str)] = &[
        ("base.html", include_str!("templates/base.html")),
        ("list.html", include_str!("templates/list.html")),
        ("form.html", include_str!("templates/form.html")),
        ("status.html", include_str!("templates/status.html")),
        ("tools.html", include_str!("templates/tools.html")),
        ("files.html", include_str!("templates/files.html")),
        ("anticheat.html", include_str!("templates/anticheat.html")),
    ];
    for (name, src) in templates {
        if let Err(e) = env.add_template(name, src) {
            tracing::error!("admin template {name}: {e}");
        }
    }
    env
}

impl Admin {
    /// Renders a template inside the page frame; a template error is a 500 with its message.
    pub fn render(
        &self,
        v: &Viewer,
        template: &str,
        title: &str,
        ctx: minijinja::Value,
    ) -> Response {
        let base = minijinja::context! {
            prefix => self.config.admin.url_prefix.clone(),
            csrf => v.csrf.clone(),
            can_write => v.can_write,
            uid => v.uid,
            title => title,
            tz => self.tz.name.clone(),
        };
        let ctx = minijinja::context! { ..ctx, ..base };
        match self.env.get_template(template).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("template error: {e:#}"),
            )
                .into_response(),
        }
    }

    /// A time in seconds, in the panel's zone.
    pub fn time_s(&self, ts: i64) -> String {
        self.tz.format(ts)
    }

    /// A time in milliseconds, in the panel's zone.
    pub fn time_ms(&self, ts: i64) -> String {
        self.tz.format(ts.div_euclid(1000))
    }

    /// Reads a time typed in the panel's zone (`YYYY-MM-DD HH:MM[:SS]`) or epoch seconds.
    pub fn parse_time(&self, text: &str) -> Result<i64, String> {
        self.tz.parse(text)
    }
}

/// A serializable value for a template.
pub fn ser<T: Serialize>(t: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(t))
}

/// A sort key of a cell.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    /// Numbers sort before text.
    Int(i64),
    /// Text.
    Str(String),
}

/// One cell of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Shown text (escaped by the template).
    pub text: String,
    /// A link on the text.
    pub href: Option<String>,
    #[serde(skip)]
    sort: Option<SortKey>,
}

impl Cell {
    /// A text cell.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            href: None,
            sort: None,
        }
    }
    /// A number cell (sorts numerically).
    pub fn int(n: i64) -> Cell {
        Cell {
            text: n.to_string(),
            href: None,
            sort: Some(SortKey::Int(n)),
        }
    }
    /// A time cell: shown in the zone, sorted by the instant.
    pub fn time(shown: String, ts: i64) -> Cell {
        Cell {
            text: shown,
            href: None,
            sort: Some(SortKey::Int(ts)),
        }
    }
    /// Adds a link.
    pub fn link(mut self, href: String) -> Cell {
        self.href = Some(href);
        self
    }
    fn key(&self) -> SortKey {
        self.sort
            .clone()
            .unwrap_or_else(|| SortKey::Str(self.text.to_lowercase()))
    }
}

/// A column of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Query name (sort and filter).
    pub key: &'static str,
    /// Header text.
    pub label: &'static str,
    /// Whether it offers a filter of its distinct values.
    pub filter: bool,
}

/// Shorthand for a column.
pub fn col(key: &'static str, label: &'static str, filter: bool) -> Column {
    Column { key, label, filter }
}

/// Paging, sorting, filtering and searching asked in the query string.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// Page, from 1.
    pub page: u64,
    /// Rows per page.
    pub per: u32,
    /// Sort column key.
    pub sort: Option<String>,
    /// Descending.
    pub desc: bool,
    /// Search text.
    pub q: String,
    /// `f_<column>=value` filters.
    pub filters: Vec<(String, String)>,
    /// The whole query, to rebuild links.
    raw: BTreeMap<String, String>,
}

impl ListParams {
    /// Reads the query string.
    pub fn from(q: &HashMap<String, String>) -> ListParams {
        let raw: BTreeMap<String, String> = q
            .iter()
            .filter(|(k, v)| !v.is_empty() && k.as_str() != "msg")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ListParams {
            page: q
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1)
                .max(1),
            per: q
                .get("per")
                .and_then(|p| p.parse().ok())
                .unwrap_or(50)
                .clamp(1, 1000),
            sort: q.get("sort").filter(|s| !s.is_empty()).cloned(),
            desc: q.get("desc").is_some_and(|d| d == "1"),
            q: q.get("q").cloned().unwrap_or_default(),
            filters: q
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("f_")?.to_string(), v.clone())))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            raw,
        }
    }

    /// The database form of these parameters.
    pub fn db_query(&self) -> crate::store::ListQuery {
        crate::store::ListQuery {
            search: Some(self.q.clone()).filter(|s| !s.is_empty()),
            filters: self.filters.clone(),
            sort: self.sort.clone(),
            desc: self.desc,
            limit: self.per,
            offset: (self.page - 1).saturating_mul(u64::from(self.per)),
        }
    }

    fn link(&self, set: &[(&str, String)]) -> String {
        let mut m = self.raw.clone();
        for (k, v) in set {
            if v.is_empty() {
                m.remove(*k);
            } else {
                m.insert((*k).to_string(), v.clone());
            }
        }
        let parts: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}={}", crate::web::urlencode(k), crate::web::urlencode(v)))
            .collect();
        format!("?{}", parts.join("&"))
    }
}

/// A list page's data: columns and rows (every row, or one page of a database list).
#[derive(Debug, Default)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// Rows: an optional selection value (for batch actions) and the cells.
    pub rows: Vec<(Option<String>, Vec<Cell>)>,
    /// For a database list: the matching total (rows are already one page).
    pub db_total: Option<u64>,
    /// Fixed filter choices `(column, values)` (database lists).
    pub filter_choices: Vec<(String, Vec<String>)>,
}

#[derive(Serialize)]
struct HeaderCtx {
    label: &'static str,
    href: String,
    arrow: &'static str,
}

#[derive(Serialize)]
struct FilterCtx {
    key: String,
    label: String,
    values: Vec<String>,
    current: String,
}

#[derive(Serialize)]
struct RowCtx {
    select: Option<String>,
    cells: Vec<Cell>,
}

impl Table {
    /// Searches, filters, sorts and pages the rows; returns the template context.
    pub fn context(mut self, p: &ListParams) -> minijinja::Value {
        let mut filters = Vec::new();
        for (i, c) in self.columns.iter().enumerate() {
            if !c.filter {
                continue;
            }
            let values = match self.filter_choices.iter().find(|(k, _)| k == c.key) {
                Some((_, v)) => v.clone(),
                None => {
                    let mut v: Vec<String> = self
                        .rows
                        .iter()
                        .filter_map(|(_, r)| r.get(i).map(|c| c.text.clone()))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .take(100)
                        .collect();
                    v.sort();
                    v
                }
            };
            filters.push(FilterCtx {
                key: format!("f_{}", c.key),
                label: c.label.to_string(),
                current: p
                    .filters
                    .iter()
                    .find(|(k, _)| k == c.key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
                values,
            });
        }
        let total;
        let mut rows = std::mem::take(&mut self.rows);
        if self.db_total.is_none() {
            let q = p.q.to_lowercase();
            if !q.is_empty() {
                rows.retain(|(_, r)| r.iter().any(|c| c.text.to_lowercase().contains(&q)));
            }
            for (k, v) in &p.filters {
                if let Some(i) = self.columns.iter().position(|c| c.key == k) {
                    rows.retain(|(_, r)| r.get(i).is_some_and(|c| &c.text == v));
                }
            }
            if let Some(i) = p
                .sort
                .as_deref()
                .and_then(|s| self.columns.iter().position(|c| c.key == s))
            {
                rows.sort_by_cached_key(|(_, r)| r.get(i).map(Cell::key));
                if p.desc {
                    rows.reverse();
                }
            }
            total = rows.len() as u64;
            let start = usize::try_from((p.page - 1).saturating_mul(u64::from(p.per)))
                .unwrap_or(usize::MAX);
            rows = rows.into_iter().skip(start).take(p.per as usize).collect();
        } else {
            total = self.db_total.unwrap_or(0);
        }
        let pages = total.div_ceil(u64::from(p.per)).max(1);
        let headers: Vec<HeaderCtx> = self
            .columns
            .iter()
            .map(|c| {
                let on = p.sort.as_deref() == Some(c.key);
                let desc = if on && !p.desc { "1" } else { "" };
                HeaderCtx {
                    label: c.label,
                    href: p.link(&[
                        ("sort", c.key.to_string()),
                        ("desc", desc.to_string()),
                        ("page", String::new()),
                    ]),
                    arrow: match (on, p.desc) {
                        (true, false) => " ▲",
                        (true, true) => " ▼",
                        _ => "",
                    },
                }
            })
            .collect();
        let rows: Vec<RowCtx> = rows
            .into_iter()
            .map(|(select, cells)| RowCtx { select, cells })
            .collect();
        let prev = (p.page > 1).then(|| p.link(&[("page", (p.page - 1).to_string())]));
        let next = (p.page < pages).then(|| p.link(&[("page", (p.page + 1).to_string())]));
        let hidden: Vec<(String, String)> = p
            .raw
            .iter()
            .filter(|(k, _)| !k.starts_with("f_") && !["q", "page", "_csrf"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        minijinja::context! {
            headers => ser(headers),
            rows => ser(rows),
            filters => ser(filters),
            total => total,
            page => p.page,
            pages => pages,
            prev => prev,
            next => next,
            q => p.q.clone(),
            hidden => ser(hidden),
        }
    }
}

/// One input of a generic form.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Form name.
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// `text`, `number`, `textarea`, `json`, `checkbox`, `select`, `readonly`.
    pub kind: &'static str,
    /// Current value (`"true"` checks a checkbox).
    pub value: String,
    /// Help under the input.
    pub help: &'static str,
    /// Choices of a `select`.
    pub options: Vec<String>,
}

/// Shorthand for a field.
pub fn field(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    help: &'static str,
) -> Field {
    Field {
        name,
        label,
        kind,
        value: String::new(),
        help,
        options: Vec::new(),
    }
}

/// A snippet button of a JSON field: appends `text` to the array in `field`.
#[derive(Debug, Clone, Serialize)]
pub struct Snippet {
    /// The JSON field.
    pub field: &'static str,
    /// Button text.
    pub label: &'static str,
    /// The JSON object appended.
    pub text: String,
}

/// A generic form page.
#[derive(Debug, Default, Serialize)]
pub struct FormPage {
    /// Where it posts.
    pub action: String,
    /// Inputs.
    pub fields: Vec<Field>,
    /// Validation or save error.
    pub error: Option<String>,
    /// Warning shown before saving (scoreboard rebuilds); also asked with confirm().
    pub warning: Option<String>,
    /// Delete action URL, when the row may be deleted.
    pub delete: Option<String>,
    /// Snippets for JSON fields.
    pub snippets: Vec<Snippet>,
    /// Read-only facts shown above the form.
    pub info: Vec<(String, String)>,
    /// Extra links `(label, href)`.
    pub links: Vec<(String, String)>,
}

impl FormPage {
    /// Fills the fields' values from a map (a row or the posted form).
    pub fn fill(mut self, values: &HashMap<String, String>) -> FormPage {
        for f in &mut self.fields {
            if let Some(v) = values.get(f.name) {
                f.value = v.clone();
            } else if f.kind == "checkbox" {
                f.value = String::new();
            }
        }
        self
    }
}

/// Posted form values, with typed getters that explain what is wrong.
#[derive(Debug, Clone, Default)]
pub struct Posted(pub HashMap<String, String>);

impl Posted {
    /// Text (trimmed of nothing: organizers may want spaces).
    pub fn text(&self, k: &str) -> String {
        self.0.get(k).cloned().unwrap_or_default()
    }
    /// An integer.
    pub fn int(&self, k: &str) -> Result<i64, String> {
        let v = self.text(k);
        v.trim()
            .parse()
            .map_err(|_| format!("{k}: `{v}` is not an integer"))
    }
    /// An integer, or nothing when empty.
    pub fn opt_int(&self, k: &str) -> Result<Option<i64>, String> {
        if self.text(k).trim().is_empty() {
            Ok(None)
        } else {
            self.int(k).map(Some)
        }
    }
    /// A checkbox.
    pub fn flag(&self, k: &str) -> bool {
        self.0
            .get(k)
            .is_some_and(|v| v == "true" || v == "on" || v == "1")
    }
    /// A JSON value.
    pub fn json(&self, k: &str) -> Result<serde_json::Value, String> {
        let v = self.text(k);
        if v.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&v).map_err(|e| format!("{k}: invalid JSON: {e}"))
    }
}

/// Pretty JSON for an editor.
pub fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A 404 page body.
pub fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{what} not found")).into_response()
}

/// The replica is still loading.
pub fn no_game() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the admin panel's game replica is synchronizing; reload in a second",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = environment();
        for name in [
            "base.html",
            "list.html",
            "form.html",
            "status.html",
            "tools.html",
            "files.html",
            "anticheat.html",
        ] {
            if let Err(e) = env.get_template(name) {
                panic!("{name}: {e:#}");
            }
        }
    }

    #[test]
    fn url_coding() {}
}
