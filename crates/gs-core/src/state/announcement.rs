//! Announcements: Jinja + Markdown texts shown to players, newest first.
//! Creating one produces a `new_announcement` push message.

use super::problem_log::ProblemLog;
use super::render_cache::RenderCache;
use crate::rows::AnnouncementRow;
use serde_json::{json, Value};

/// One announcement and its rendered contents.
#[derive(Debug, Clone)]
pub struct Announcement {
    /// The stored row.
    pub row: AnnouncementRow,
    rendered: RenderCache,
}

impl Announcement {
    /// Wraps a row.
    pub fn new(row: AnnouncementRow) -> Announcement {
        Announcement {
            row,
            rendered: RenderCache::default(),
        }
    }

    /// The answer item of `announcements` for a viewer of `group` at `tick`.
    /// Render failures go to `problems`.
    pub fn describe(&self, group: Option<&str>, tick: i64, problems: &ProblemLog) -> Value {
        let what = || format!("announcement #{} ({})", self.row.id, self.row.title);
        let content = self
            .rendered
            .get(what, &self.row.content_template, group, tick, problems);
        json!({
            "id": self.row.id,
            "title": self.row.title,
            "timestamp_s": self.row.timestamp_s,
            "content": &*content,
        })
    }
}

/// Sorts announcements newest (highest id) first.
pub fn sort_newest_first(list: &mut [Announcement]) {
    list.sort_by_key(|a| std::cmp::Reverse(a.row.id));
}
