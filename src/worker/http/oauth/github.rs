//! GitHub: OAuth app code flow. Login key `github:<numeric id>`; properties
//! `{"type": "github", "info": <the user API's answer>}`; group from the config.

use super::client::LoginError;
use super::flow::{access_token, id_text, kept_info, with_query, Callback, Identity};
use super::flow::{Provider, Start};
use crate::config::GithubConfig;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::json;

const NAME: &str = "GitHub";

/// The GitHub provider.
pub struct Github {
    config: GithubConfig,
}

impl Github {
    /// The provider for `config`.
    pub fn new(config: GithubConfig) -> Github {
        Github { config }
    }

    async fn identify_inner(&self, cb: &Callback<'_>) -> Result<Identity, LoginError> {
        let code = cb
            .param("code")
            .ok_or_else(|| LoginError::new("OAuth登录失败：没有授权码"))?;
        let c = &self.config;
        let request = cb
            .http
            .post(&c.token_url)
            .header("Accept", "application/json")
            .form(&[
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.expose()),
                ("code", code),
                ("redirect_uri", cb.redirect_uri),
            ]);
        let (_, answer) = cb.http.json(NAME, request).await?;
        let token = access_token(NAME, &answer)?;
        let request = cb
            .http
            .get(&c.user_url)
            .bearer_auth(&token)
            .header("Accept", "application/vnd.github+json");
        let (status, info) = cb.http.json(NAME, request).await?;
        let Some(uid) = id_text(info.get("id")).filter(|_| info.is_object()) else {
            tracing::warn!(provider = NAME, %status, "user answer has no id");
            return Err(LoginError::new("GitHub UID不存在"));
        };
        Ok(Identity {
            login_key: format!("github:{uid}"),
            properties: json!({"type": "github", "info": kept_info(info)}),
            group: c.group.clone(),
        })
    }
}

impl Provider for Github {
    fn display_name(&self) -> &str {
        NAME
    }

    fn authorize<'a>(&'a self, start: &'a Start<'a>) -> BoxFuture<'a, Result<String, LoginError>> {
        let url = with_query(
            &self.config.authorize_url,
            &[
                ("client_id", self.config.client_id.as_str()),
                ("redirect_uri", start.redirect_uri),
                ("state", start.state),
            ],
        );
        futures::future::ready(url).boxed()
    }

    fn identify<'a>(&'a self, cb: &'a Callback<'a>) -> BoxFuture<'a, Result<Identity, LoginError>> {
        self.identify_inner(cb).boxed()
    }
}
