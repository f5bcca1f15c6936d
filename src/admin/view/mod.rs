//! Rendering helpers of the panel: the embedded templates and the page frame, times in
//! the configured zone, and small responses. List tables (page, sort, filter, search) are
//! in `table`, generic forms and posted values in `form`.

mod form;
mod table;

pub use form::{field, Field, FormPage, Posted, Snippet};
pub use table::{col, Cell, ListParams, Table};

use super::auth::Viewer;
use super::Admin;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;

/// The templates, compiled once.
pub fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.add_filter("urlencode", |s: String| crate::web::urlencode(&s));
    let templates: &[(&str, &str)] = &[
        ("base.html", include_str!("../templates/base.html")),
        ("list.html", include_str!("../templates/list.html")),
        ("form.html", include_str!("../templates/form.html")),
        ("status.html", include_str!("../templates/status.html")),
        ("tools.html", include_str!("../templates/tools.html")),
        ("files.html", include_str!("../templates/files.html")),
        (
            "anticheat.html",
            include_str!("../templates/anticheat.html"),
        ),
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

    /// A list page: one page of `table` (searched, filtered, sorted) and the page's own
    /// context (`msg`, `actions`, `batch`).
    pub fn render_list(
        &self,
        v: &Viewer,
        title: &str,
        table: Table,
        p: &ListParams,
        extra: minijinja::Value,
    ) -> Response {
        self.render(
            v,
            "list.html",
            title,
            minijinja::context! { ..table.context(p), ..extra },
        )
    }

    /// A form page, with the flash message a redirect left (see [`flash`]).
    pub fn render_form(
        &self,
        v: &Viewer,
        title: &str,
        page: &FormPage,
        msg: Option<String>,
    ) -> Response {
        let ctx = minijinja::context! { ..ser(page), ..minijinja::context! { msg => msg } };
        self.render(v, "form.html", title, ctx)
    }

    /// A form sent back with its error (422, the values as posted).
    pub fn render_refused_form(&self, v: &Viewer, title: &str, page: &FormPage) -> Response {
        let mut res = self.render(v, "form.html", title, ser(page));
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        res
    }

    /// A cell with a uid, linked to the user's page.
    pub fn uid_cell(&self, uid: i64) -> Cell {
        Cell::int(uid).link(self.url(&format!("/users/{uid}")))
    }

    /// A cell with a time in milliseconds, shown in the panel's zone.
    pub fn time_ms_cell(&self, ts: i64) -> Cell {
        Cell::time(self.time_ms(ts), ts)
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

/// The flash message a redirect left in the query string.
pub fn flash(q: &HashMap<String, String>) -> Option<String> {
    q.get("msg").cloned()
}

/// A serializable value for a template.
pub fn ser<T: Serialize>(t: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(t))
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
}
