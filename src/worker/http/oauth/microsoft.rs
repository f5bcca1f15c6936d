//! Microsoft identity platform: code flow where the app proves itself with a client
//! assertion (a JWT signed RS256 by the certificate's key, the certificate's SHA-1
//! thumbprint as `x5t`), then Microsoft Graph `me`. Login key `ms:<id>`; properties
//! `{"type": "microsoft", "info": <me>}`; group from the config.

use super::client::LoginError;
use super::flow::{access_token, id_text, kept_info, with_query, Callback, Identity};
use super::flow::{Provider, Start};
use crate::config::MicrosoftConfig;
use crate::crypto::{b64url, jwt_rs256, parse_private_key, RsaKey};
use futures::future::BoxFuture;
use futures::FutureExt;
use rand::Rng;
use serde_json::json;

const NAME: &str = "Microsoft";

/// How long a client assertion is valid, seconds.
const ASSERTION_LIFETIME_S: i64 = 480;

/// The Microsoft provider.
pub struct Microsoft {
    config: MicrosoftConfig,
    key: RsaKey,
}

impl Microsoft {
    /// The provider for `config`; fails if the key cannot be read.
    pub fn new(config: MicrosoftConfig) -> Result<Microsoft, String> {
        let key = parse_private_key(config.private_key.expose())?;
        Ok(Microsoft { config, key })
    }

    fn endpoint(&self, what: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{what}",
            self.config.authority, self.config.tenant
        )
    }

    /// The signed client assertion for the token endpoint (on the blocking pool).
    async fn client_assertion(&self, token_url: &str) -> Result<String, LoginError> {
        let now = crate::clock::now_s();
        let header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": b64url(&self.config.thumbprint),
        });
        let claims = json!({
            "aud": token_url,
            "iss": self.config.client_id,
            "sub": self.config.client_id,
            "jti": uuid_v4(),
            "iat": now,
            "nbf": now - 120,
            "exp": now + ASSERTION_LIFETIME_S,
        });
        let key = self.key.clone();
        let signed = tokio::task::spawn_blocking(move || jwt_rs256(&key, &header, &claims)).await;
        match signed {
            Ok(Ok(jwt)) => Ok(jwt),
            Ok(Err(e)) => {
                tracing::error!(provider = NAME, "cannot sign the client assertion: {e}");
                Err(LoginError::new("登录服务配置错误：无法签名"))
            }
            Err(e) => {
                tracing::error!(provider = NAME, "signing task failed: {e}");
                Err(LoginError::new("登录服务内部错误"))
            }
        }
    }

    async fn identify_inner(&self, cb: &Callback<'_>) -> Result<Identity, LoginError> {
        let code = cb
            .param("code")
            .ok_or_else(|| LoginError::new("OAuth登录失败：没有授权码"))?;
        let c = &self.config;
        let token_url = self.endpoint("token");
        let assertion = self.client_assertion(&token_url).await?;
        let request = cb.http.post(&token_url).form(&[
            ("client_id", c.client_id.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("scope", c.scope.as_str()),
            ("redirect_uri", cb.redirect_uri),
        ]);
        let (_, answer) = cb.http.json(NAME, request).await?;
        let token = access_token(NAME, &answer)?;
        let request = cb.http.get(&c.graph_url).bearer_auth(&token);
        let (status, info) = cb.http.json(NAME, request).await?;
        let Some(uid) = id_text(info.get("id")).filter(|_| info.is_object()) else {
            tracing::warn!(provider = NAME, %status, "Graph answer has no id");
            return Err(LoginError::new("MS UID不存在"));
        };
        Ok(Identity {
            login_key: format!("ms:{uid}"),
            properties: json!({"type": "microsoft", "info": kept_info(info)}),
            group: c.group.clone(),
        })
    }
}

/// A random (version 4) UUID for the assertion's `jti`.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::rand_core::UnwrapErr(rand::rngs::SysRng).fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Provider for Microsoft {
    fn display_name(&self) -> &str {
        NAME
    }

    fn authorize<'a>(&'a self, start: &'a Start<'a>) -> BoxFuture<'a, Result<String, LoginError>> {
        let url = with_query(
            &self.endpoint("authorize"),
            &[
                ("client_id", self.config.client_id.as_str()),
                ("response_type", "code"),
                ("response_mode", "query"),
                ("scope", self.config.scope.as_str()),
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

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_look_like_uuids() {
        let u = super::uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, super::uuid_v4());
    }
}
