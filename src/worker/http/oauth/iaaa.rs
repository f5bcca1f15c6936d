//! Peking University's IAAA: the player is sent to `oauth.jsp`, comes back with a
//! one-time `token`, which is validated with `svc/token/validate.do` (signed with the
//! app key, bound to the player's IP address). IAAA has no `state` parameter, so the
//! state rides in the return URL's query. Login key `iaaa:<identityId>`; properties
//! `{"type": "iaaa", "info": <userInfo>}`; the group decided by `identityType`.

use super::client::LoginError;
use super::flow::{id_text, kept_info, shown, with_query, Callback, Identity};
use super::flow::{Provider, Start};
use crate::config::IaaaConfig;
use futures::future::BoxFuture;
use futures::FutureExt;
use md5::{Digest, Md5};
use serde_json::{json, Value};

const NAME: &str = "IAAA";

/// The IAAA provider.
pub struct Iaaa {
    config: IaaaConfig,
}

impl Iaaa {
    /// The provider for `config`.
    pub fn new(config: IaaaConfig) -> Iaaa {
        Iaaa { config }
    }

    /// `msgAbs`: hex MD5 of the parameters followed by the app key.
    fn signature(&self, ip: &str, token: &str) -> String {
        let mut md5 = Md5::new();
        md5.update(
            format!("remoteAddr={ip}&appId={}&token={token}", self.config.app_id).as_bytes(),
        );
        md5.update(self.config.key.expose().as_bytes());
        hex::encode(md5.finalize())
    }

    async fn identify_inner(&self, cb: &Callback<'_>) -> Result<Identity, LoginError> {
        let token = cb
            .param("token")
            .ok_or_else(|| LoginError::new("IAAA登录失败：没有 token"))?;
        let ip = cb
            .client_ip
            .ok_or_else(|| LoginError::new("IAAA登录失败：无法确定客户端地址"))?;
        let c = &self.config;
        let msg_abs = self.signature(ip, token);
        let request = cb
            .http
            .get(&format!("{}/svc/token/validate.do", c.base_url))
            .query(&[
                ("remoteAddr", ip),
                ("appId", c.app_id.as_str()),
                ("token", token),
                ("msgAbs", msg_abs.as_str()),
            ]);
        let (status, answer) = cb.http.json(NAME, request).await?;
        if answer.get("success") != Some(&Value::Bool(true)) {
            let why = answer
                .get("errMsg")
                .and_then(Value::as_str)
                .map(shown)
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            tracing::warn!(provider = NAME, "validation refused: {why}");
            return Err(LoginError::new(format!("IAAA认证失败（{why}）")));
        }
        let info = answer.get("userInfo").cloned().unwrap_or(Value::Null);
        let Some(uid) = id_text(info.get("identityId")).filter(|_| info.is_object()) else {
            return Err(LoginError::new("IAAA UID不存在"));
        };
        let identity_type = info.get("identityType").and_then(Value::as_str);
        let group = if c.identity_types.is_empty()
            || identity_type.is_some_and(|t| c.identity_types.iter().any(|x| x == t))
        {
            c.group.clone()
        } else {
            c.default_group.clone()
        };
        Ok(Identity {
            login_key: format!("iaaa:{uid}"),
            properties: json!({"type": "iaaa", "info": kept_info(info)}),
            group,
        })
    }
}

impl Provider for Iaaa {
    fn display_name(&self) -> &str {
        NAME
    }

    fn authorize<'a>(&'a self, start: &'a Start<'a>) -> BoxFuture<'a, Result<String, LoginError>> {
        let url = with_query(start.redirect_uri, &[("state", start.state)]).and_then(|back| {
            with_query(
                &format!("{}/oauth.jsp", self.config.base_url),
                &[
                    ("appID", self.config.app_id.as_str()),
                    ("appName", self.config.app_name.as_str()),
                    ("redirectUrl", back.as_str()),
                ],
            )
        });
        futures::future::ready(url).boxed()
    }

    fn identify<'a>(&'a self, cb: &'a Callback<'a>) -> BoxFuture<'a, Result<Identity, LoginError>> {
        self.identify_inner(cb).boxed()
    }
}
