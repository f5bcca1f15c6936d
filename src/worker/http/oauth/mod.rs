//! Login through identity providers (api.md): GitHub, Microsoft, CARSI, PKU IAAA and a
//! generic OpenID Connect provider, each enabled by its `[oauth.*]` config section.
//!
//! # Layout
//!
//! **flow** — what every provider shares: the `oauth_state` cookie, the start and
//! callback endpoints, the [`flow::Provider`] trait, register-or-login.
//!
//! **client** — the async HTTP client (`[http_client]` timeouts, proxies per host).
//!
//! **crypto** — PEM keys, RS256 JWTs, PKCS#1 v1.5 decryption.
//!
//! **github**, **microsoft**, **carsi**, **iaaa**, **oidc** — one file per provider.
//!
//! A slow provider delays only the players logging in through it: requests to it are
//! plain awaits on the async client, RSA runs on the blocking pool, and no lock is held
//! across an await.

mod carsi;
mod client;
mod flow;
mod github;
mod iaaa;
mod microsoft;
mod oidc;

use super::auth::clear_login_cookies;
use super::reply::{json_value, Answer};
use super::HttpState;
use crate::config::Config;
use axum::routing::get;
use axum::Router;
pub use client::HttpClient;
use flow::Provider;
use std::sync::Arc;

/// The paths of one provider: where logins start and where the provider sends players
/// back (the first is the `redirect_uri`; the others are accepted aliases).
#[derive(Debug)]
pub struct Route {
    /// Provider key, as in `[oauth.<name>]`.
    pub name: &'static str,
    /// Start endpoint.
    pub start: &'static str,
    /// Callback endpoints.
    pub callbacks: &'static [&'static str],
}

/// Every provider's paths. Disabled providers answer 404 on them.
pub static ROUTES: &[Route] = &[
    Route {
        name: "github",
        start: "/service/auth/github/login",
        callbacks: &[
            "/service/auth/github/login/callback",
            "/service/auth/github/callback",
        ],
    },
    Route {
        name: "microsoft",
        start: "/service/auth/microsoft/login",
        callbacks: &[
            "/service/auth/microsoft/login/callback",
            "/service/auth/microsoft/callback",
        ],
    },
    Route {
        name: "carsi",
        start: "/service/auth/carsi/login",
        callbacks: &[
            "/service/auth/carsi/login/callback",
            "/service/auth/carsi/callback",
        ],
    },
    Route {
        name: "iaaa",
        start: "/service/auth/pku/redirect",
        callbacks: &["/service/auth/pku/login"],
    },
    Route {
        name: "oidc",
        start: "/service/auth/oidc/login",
        callbacks: &[
            "/service/auth/oidc/login/callback",
            "/service/auth/oidc/callback",
        ],
    },
];

/// The enabled providers and the client they share.
pub struct Providers {
    http: HttpClient,
    enabled: Vec<(&'static str, Arc<dyn Provider>)>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field(
                "enabled",
                &self.enabled.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Why the providers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The HTTP client could not be built (TLS initialisation, proxy settings).
    #[error("cannot build the HTTP client for login providers: {0}\n  help: TLS certificates are checked against the system's CA store (Debian: apt-get install ca-certificates)")]
    Client(#[from] reqwest::Error),
    /// A configured key could not be used.
    #[error("{0}")]
    Key(String),
}

impl Providers {
    /// The providers `config` enables.
    pub fn from_config(config: &Config) -> Result<Providers, SetupError> {
        let http = HttpClient::new(&config.http_client)?;
        let o = &config.oauth;
        let mut enabled: Vec<(&'static str, Arc<dyn Provider>)> = Vec::new();
        if let Some(c) = &o.github {
            enabled.push(("github", Arc::new(github::Github::new(c.clone()))));
        }
        if let Some(c) = &o.microsoft {
            let p = microsoft::Microsoft::new(c.clone())
                .map_err(|e| SetupError::Key(format!("oauth.microsoft.private_key_file: {e}")))?;
            enabled.push(("microsoft", Arc::new(p)));
        }
        if let Some(c) = &o.carsi {
            let p = carsi::Carsi::new(c.clone())
                .map_err(|e| SetupError::Key(format!("oauth.carsi.private_key_file: {e}")))?;
            enabled.push(("carsi", Arc::new(p)));
        }
        if let Some(c) = &o.iaaa {
            enabled.push(("iaaa", Arc::new(iaaa::Iaaa::new(c.clone()))));
        }
        if let Some(c) = &o.oidc {
            enabled.push(("oidc", Arc::new(oidc::Oidc::new(c.clone()))));
        }
        Ok(Providers { http, enabled })
    }

    /// The enabled provider called `name`.
    fn get(&self, name: &str) -> Option<&dyn Provider> {
        self.enabled
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.as_ref())
    }

    /// The shared HTTP client.
    fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Names of the enabled providers.
    pub fn names(&self) -> Vec<&'static str> {
        self.enabled.iter().map(|(n, _)| *n).collect()
    }
}

/// The routes of every provider (and CARSI's logout).
pub(super) fn routes() -> Router<Arc<HttpState>> {
    let mut router = Router::new();
    for route in ROUTES {
        router = router.route(route.start, get(move |st| flow::start(st, route)));
        for path in route.callbacks {
            router = router.route(
                path,
                get(move |st, headers, client, query| {
                    flow::callback(st, route, headers, client, query)
                }),
            );
        }
    }
    router.route(
        "/service/auth/carsi/logout",
        get(
            |axum::extract::State(st): axum::extract::State<Arc<HttpState>>| async move {
                carsi_logout(&st)
            },
        ),
    )
}

/// `GET /service/auth/carsi/logout`: CARSI's single logout; forgets the login cookies
/// and answers `{"status": 1, "msg": ""}`.
fn carsi_logout(st: &HttpState) -> Answer {
    if st.oauth.get("carsi").is_none() {
        return super::reply::info_page(
            axum::http::StatusCode::NOT_FOUND,
            "登录失败",
            "此登录方式未启用",
        );
    }
    let mut res = json_value(&serde_json::json!({"status": 1, "msg": ""}));
    clear_login_cookies(st, &mut res);
    res
}
