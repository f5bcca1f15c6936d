//! Paged, sorted, filtered and searched reads of the tables that live only in the
//! database (feedback, logs, every profile), for the admin panel's lists.

use super::db::{Tx, Val};
use super::tables::TableRow;
use super::{Context as _, Result, Store};
use crate::rows::{FeedbackRow, LogRow, UserProfileRow};

/// One page of a database list: which rows, in which order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Case-insensitive substring searched in the table's text columns.
    pub search: Option<String>,
    /// Exact-match filters `(column, value)`; unknown columns are ignored.
    pub filters: Vec<(String, String)>,
    /// Sort column; unknown ones sort by id.
    pub sort: Option<String>,
    /// Descending order.
    pub desc: bool,
    /// Rows per page.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// A page of rows and how many rows match in all.
pub type ListPage<T> = (Vec<T>, u64);

impl Store {
    /// Lists feedback (search: content and challenge key).
    pub async fn list_feedback(&self, q: &ListQuery) -> Result<ListPage<FeedbackRow>> {
        self.list::<FeedbackRow>(q, &["content", "challenge_key"])
            .await
    }

    /// Lists log lines (search: message, module, process).
    pub async fn list_logs(&self, q: &ListQuery) -> Result<ListPage<LogRow>> {
        self.list::<LogRow>(q, &["message", "module", "process"])
            .await
    }

    /// Lists every profile ever saved (search: nickname, email, tel, qq, stuid, comment).
    pub async fn list_profiles(&self, q: &ListQuery) -> Result<ListPage<UserProfileRow>> {
        self.list::<UserProfileRow>(q, &["nickname", "email", "tel", "qq", "stuid", "comment"])
            .await
    }

    /// Marks a feedback row as checked (or not).
    pub async fn set_feedback_checked(&self, id: i64, checked: bool) -> Result<()> {
        let e = self.engine();
        let sql = e.sql(&format!(
            "UPDATE {} SET checked = ? WHERE id = ?",
            e.quote("feedback")
        ));
        let n = self
            .pools
            .exec(&sql, &[Val::Bool(checked), Val::Int(id)])
            .await
            .ctx(|| format!("marking feedback {id}"))?;
        super::found(n, "feedback", id)
    }

    async fn list<T: TableRow>(&self, q: &ListQuery, text_cols: &[&str]) -> Result<ListPage<T>> {
        let e = self.engine();
        let mut wheres: Vec<String> = Vec::new();
        let mut args: Vec<Val<'_>> = Vec::new();
        if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
            let like = format!("%{}%", s.to_lowercase());
            let ors: Vec<String> = text_cols
                .iter()
                .map(|c| format!("LOWER({}) LIKE ?", e.quote(c)))
                .collect();
            for _ in text_cols {
                args.push(Val::Owned(like.clone()));
            }
            wheres.push(format!("({})", ors.join(" OR ")));
        }
        for (col, val) in &q.filters {
            let Some(col) = T::COLUMNS.iter().find(|c| **c == col.as_str()) else {
                continue;
            };
            wheres.push(format!("{} = ?", e.quote(col)));
            args.push(match (val.as_str(), val.parse::<i64>()) {
                ("true", _) => Val::Bool(true),
                ("false", _) => Val::Bool(false),
                (_, Ok(n)) => Val::Int(n),
                _ => Val::Owned(val.clone()),
            });
        }
        let where_sql = if wheres.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wheres.join(" AND "))
        };
        let sort = q
            .sort
            .as_deref()
            .and_then(|s| T::COLUMNS.iter().find(|c| **c == s))
            .copied()
            .unwrap_or("id");
        let dir = if q.desc { "DESC" } else { "ASC" };
        let cols: Vec<String> = T::COLUMNS.iter().map(|c| e.quote(c)).collect();
        let table = e.quote(T::TABLE);
        let count_sql = e.sql(&format!("SELECT COUNT(*) FROM {table}{where_sql}"));
        let sql = e.sql(&format!(
            "SELECT {} FROM {table}{where_sql} ORDER BY {} {dir}, id {dir} LIMIT {} OFFSET {}",
            cols.join(", "),
            e.quote(sort),
            q.limit.clamp(1, 1000),
            q.offset
        ));
        let what = || format!("listing table `{}`", T::TABLE);
        let mut tx: Tx = self.begin("listing").await?;
        let total = tx
            .fetch_int(&count_sql, &args)
            .await
            .ctx(what)?
            .unwrap_or(0);
        let mut out = Vec::new();
        tx.for_each_row_with(&sql, &args, |r| {
            if let Ok(row) = T::decode(r) {
                out.push(row);
            }
        })
        .await
        .ctx(what)?;
        tx.commit().await.ctx(what)?;
        Ok((out, u64::try_from(total).unwrap_or(0)))
    }
}
