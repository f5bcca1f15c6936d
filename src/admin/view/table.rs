//! List tables of the panel: cells with sort keys, columns, the query's paging, sorting,
//! filtering and searching, and the template context of one page of rows.

use super::ser;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

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
