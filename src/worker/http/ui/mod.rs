//! The built-in player web UI served at `/`: server-rendered pages (minijinja templates
//! embedded in the binary) from the worker's game in RAM, plus a small script and style.
//!
//! Pages read the game through the same `Game::answer_*` functions as the wish endpoints;
//! every action (flag, feedback, profile, terms, writeup) is sent by the page's script to
//! `/service/wish/*`, so the UI and the API share one code path for writes. When
//! `[api] frontend_dir` is set, [`frontend`] serves that folder here instead.

mod chart;
pub mod frontend;
mod i18n;
mod pages;

use super::request::cookie;
use super::HttpState;
use crate::config::Config;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
pub use i18n::Lang;
use std::convert::Infallible;
use std::sync::Arc;

pub(super) use super::reply::escape_html;

/// The page script, embedded.
const APP_JS: &str = include_str!("assets/app.js");
/// The page style, embedded.
const APP_CSS: &str = include_str!("assets/app.css");

/// Templates, texts and site settings of the UI, built once per worker.
#[derive(Debug)]
pub struct Ui {
    env: minijinja::Environment<'static>,
    texts_zh: minijinja::Value,
    texts_en: minijinja::Value,
    /// The script's data (wish version, texts, English error messages) per language.
    script_zh: minijinja::Value,
    script_en: minijinja::Value,
    site: minijinja::Value,
    /// (provider name, start path) of each enabled login provider.
    providers: Vec<(&'static str, &'static str)>,
    manual_login: bool,
    /// Short hash of the script and style, so their URLs change when they do.
    asset_version: String,
}

impl Ui {
    /// The UI for `config`, with buttons for the enabled login `providers`.
    pub fn new(config: &Config, providers: &[&'static str]) -> Ui {
        let mut env = minijinja::Environment::new();
        env.add_filter("urlencode", |s: String| crate::web::urlencode(&s));
        let templates: &[(&str, &str)] = &[
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("terms.html", include_str!("templates/terms.html")),
            ("profile.html", include_str!("templates/profile.html")),
            ("game.html", include_str!("templates/game.html")),
            ("challenge.html", include_str!("templates/challenge.html")),
            ("board.html", include_str!("templates/board.html")),
            (
                "submissions.html",
                include_str!("templates/submissions.html"),
            ),
            ("writeup.html", include_str!("templates/writeup.html")),
            ("error.html", include_str!("templates/error.html")),
        ];
        for (name, src) in templates {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!("player UI template {name}: {e}");
            }
        }
        let providers = super::oauth::ROUTES
            .iter()
            .filter(|r| providers.contains(&r.name))
            .map(|r| (r.name, r.start))
            .collect();
        let ui = &config.ui;
        let site = minijinja::context! {
            name => ui.site_name.clone(),
            logo => ui.logo_url.clone(),
            accent => ui.accent_color.clone(),
            admin => format!("http://{}{}/", config.admin.listen, config.admin.url_prefix),
        };
        use sha2::Digest;
        let digest = sha2::Sha256::digest([APP_JS, APP_CSS].concat().as_bytes());
        Ui {
            env,
            texts_zh: i18n::texts(Lang::Zh),
            texts_en: i18n::texts(Lang::En),
            script_zh: script_data(Lang::Zh),
            script_en: script_data(Lang::En),
            site,
            providers,
            manual_login: config.auth.manual_enabled,
            asset_version: hex::encode(&digest[..6]),
        }
    }

    /// Renders `template` with the frame's context; a template error is a 500.
    fn render(&self, visit: &Visit, template: &str, ctx: minijinja::Value) -> Response {
        self.render_status(StatusCode::OK, visit, template, ctx)
    }

    fn render_status(
        &self,
        status: StatusCode,
        visit: &Visit,
        template: &str,
        ctx: minijinja::Value,
    ) -> Response {
        let base = minijinja::context! {
            lang => visit.lang.code(),
            t => self.texts(visit.lang),
            site => self.site.clone(),
            theme => visit.theme,
            path => visit.path.clone(),
            v => self.asset_version.clone(),
            script_data => match visit.lang {
                Lang::Zh => self.script_zh.clone(),
                Lang::En => self.script_en.clone(),
            },
        };
        let ctx = minijinja::context! { ..ctx, ..base };
        match self.env.get_template(template).and_then(|t| t.render(ctx)) {
            Ok(html) => {
                let mut res = (status, html).into_response();
                let h = res.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CSP),
                );
                h.insert(
                    "x-content-type-options",
                    HeaderValue::from_static("nosniff"),
                );
                res
            }
            Err(e) => {
                tracing::error!("player UI template {template}: {e:#}");
                (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
            }
        }
    }

    fn texts(&self, lang: Lang) -> minijinja::Value {
        match lang {
            Lang::Zh => self.texts_zh.clone(),
            Lang::En => self.texts_en.clone(),
        }
    }
}

/// The JSON the page script reads from `<script id="ui-data">`, safe inside the element.
fn script_data(lang: Lang) -> minijinja::Value {
    let texts: serde_json::Map<String, serde_json::Value> = i18n::SCRIPT_TEXTS
        .iter()
        .map(|k| ((*k).to_owned(), serde_json::json!(i18n::text(lang, k))))
        .collect();
    let errors: serde_json::Map<String, serde_json::Value> = pages::ENGLISH_ERRORS
        .iter()
        .map(|(c, t)| ((*c).to_owned(), serde_json::json!(t)))
        .collect();
    let reducer: serde_json::Map<String, serde_json::Value> = pages::ENGLISH_REDUCER_MESSAGES
        .iter()
        .map(|(zh, en)| ((*zh).to_owned(), serde_json::json!(en)))
        .collect();
    let data = serde_json::json!({
        "wish": super::WISH_VERSION,
        "texts": texts,
        "errors": errors,
        "reducer": reducer,
    });
    // `<` escaped so that no text can close the script element.
    let json = data.to_string().replace('<', "\\u003c");
    minijinja::Value::from_safe_string(json)
}

/// Pages load nothing from other sites; challenge descriptions may show images from
/// anywhere (as in the reference) but run no script.
const CSP: &str = "default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'self'";

/// Who is visiting and how they want the page: read from cookies and headers.
#[derive(Debug, Clone)]
pub(super) struct Visit {
    /// The `auth_token` cookie.
    pub auth_token: Option<String>,
    /// The chosen language.
    pub lang: Lang,
    /// `dark`, `light`, or `auto` (follow the system).
    pub theme: &'static str,
    /// The request path (for the language switch's way back).
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let h = &parts.headers;
        let accept = h.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let theme = match cookie(h, "theme").as_deref() {
            Some("dark") => "dark",
            Some("light") => "light",
            _ => "auto",
        };
        Ok(Visit {
            auth_token: cookie(h, "auth_token"),
            lang: Lang::choose(cookie(h, "lang").as_deref(), accept),
            theme,
            path: parts
                .uri
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The URL carries the content's hash, so the file never changes under it.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    res
}

/// The UI's routes (pages, the profile check, the preference switch and the assets).
pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/", get(pages::game))
        .route("/login", get(pages::login))
        .route("/terms", get(pages::terms))
        .route("/profile", get(pages::profile))
        .route("/challenge/{key}", get(pages::challenge))
        .route("/board", get(pages::board_home))
        .route("/board/{key}", get(pages::board))
        .route("/user/{uid}", get(pages::user_submissions))
        .route("/submissions", get(pages::my_submissions))
        .route("/writeup", get(pages::writeup))
        .route("/pref", get(pages::preference))
        .route("/ui/profile_check", post(pages::profile_check))
        .route(
            "/ui/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .fallback(pages::not_found)
}
