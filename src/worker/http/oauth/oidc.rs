//! A generic OpenID Connect provider: authorization code flow with PKCE (S256) and a
//! nonce, both derived from the state so that no server-side session is needed.
//! Endpoints come from the configuration or from discovery (cached for an hour). The
//! ID token comes straight from the token endpoint over TLS, so its claims are checked
//! (issuer, audience, nonce, expiry) but its signature is not (OpenID Connect Core
//! 3.1.3.7). Login key `<prefix>:<sub>`; properties `{"type": "oidc", "issuer",
//! "info": <claims>}`; group from the config.

use super::client::LoginError;
use super::flow::{access_token, derive, kept_info, with_query, Callback, Identity};
use super::flow::{Provider, Start};
use crate::config::{OidcConfig, TokenAuth};
use crate::crypto::{b64url, jwt_claims};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long discovered endpoints are trusted.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// Clock skew allowed when checking `exp`, seconds.
const SKEW_S: i64 = 120;

/// The endpoints in use.
#[derive(Debug, Clone, PartialEq)]
struct Endpoints {
    authorization: String,
    token: String,
    userinfo: Option<String>,
}

/// The OpenID Connect provider.
pub struct Oidc {
    config: OidcConfig,
    /// Discovered endpoints and when; read and replaced under a short lock, never held
    /// across the discovery request.
    discovered: Mutex<Option<(Instant, Arc<Endpoints>)>>,
}

/// Percent-encodes for `application/x-www-form-urlencoded` (client_secret_basic
/// encodes the id and secret this way before Basic, RFC 6749 2.3.1).
fn form_encode(s: &str) -> String {
    crate::web::urlencode(s)
}

impl Oidc {
    /// The provider for `config`.
    pub fn new(config: OidcConfig) -> Oidc {
        Oidc {
            config,
            discovered: Mutex::new(None),
        }
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    /// The endpoints: configured ones, the rest from discovery.
    async fn endpoints(&self, http: &super::HttpClient) -> Result<Arc<Endpoints>, LoginError> {
        let c = &self.config;
        if let (Some(a), Some(t)) = (&c.authorization_endpoint, &c.token_endpoint) {
            if !c.discovery || c.userinfo_endpoint.is_some() {
                return Ok(Arc::new(Endpoints {
                    authorization: a.clone(),
                    token: t.clone(),
                    userinfo: c.userinfo_endpoint.clone(),
                }));
            }
        }
        {
            let cached = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, e)) = cached.as_ref() {
                if at.elapsed() < DISCOVERY_TTL {
                    return Ok(e.clone());
                }
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            c.issuer.trim_end_matches('/')
        );
        let (status, doc) = http.json(self.name(), http.get(&url)).await?;
        let field = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .filter(|u| reqwest::Url::parse(u).is_ok())
                .map(str::to_owned)
        };
        if doc.get("issuer").and_then(Value::as_str) != Some(c.issuer.as_str()) {
            tracing::warn!(provider = self.name(), %status, "discovery issuer differs from oauth.oidc.issuer");
            return Err(LoginError::new(format!(
                "{}配置错误：issuer 不一致",
                self.name()
            )));
        }
        let (Some(authorization), Some(token)) = (
            c.authorization_endpoint
                .clone()
                .or_else(|| field("authorization_endpoint")),
            c.token_endpoint.clone().or_else(|| field("token_endpoint")),
        ) else {
            tracing::warn!(provider = self.name(), "discovery lacks endpoints");
            return Err(LoginError::new(format!(
                "{}配置错误：缺少端点",
                self.name()
            )));
        };
        let endpoints = Arc::new(Endpoints {
            authorization,
            token,
            userinfo: c
                .userinfo_endpoint
                .clone()
                .or_else(|| field("userinfo_endpoint")),
        });
        *self.discovered.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), endpoints.clone()));
        Ok(endpoints)
    }

    async fn authorize_inner(&self, start: &Start<'_>) -> Result<String, LoginError> {
        let endpoints = self.endpoints(start.http).await?;
        let verifier = derive(start.derive_key, "oidc-pkce", start.state);
        let challenge = b64url(&Sha256::digest(verifier.as_bytes()));
        let nonce = derive(start.derive_key, "oidc-nonce", start.state);
        with_query(
            &endpoints.authorization,
            &[
                ("response_type", "code"),
                ("client_id", self.config.client_id.as_str()),
                ("redirect_uri", start.redirect_uri),
                ("scope", self.config.scope.as_str()),
                ("state", start.state),
                ("nonce", nonce.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
    }

    /// Checks the ID token's claims; returns them.
    fn check_id_token(&self, token: &str, nonce: &str) -> Result<Value, LoginError> {
        let name = self.name();
        let bad = |why: &str| {
            tracing::warn!(provider = name, "ID token refused: {why}");
            LoginError::new(format!("{name}返回的 ID Token 无效（{why}）"))
        };
        let claims = jwt_claims(token)
            .filter(Value::is_object)
            .ok_or_else(|| bad("无法解析"))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(bad("issuer 不符"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.config.client_id,
            Some(Value::Array(list)) => list
                .iter()
                .any(|a| a.as_str() == Some(self.config.client_id.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(bad("audience 不符"));
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(bad("nonce 不符"));
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp + SKEW_S >= crate::clock::now_s() => {}
            _ => return Err(bad("已过期")),
        }
        Ok(claims)
    }

    async fn identify_inner(&self, cb: &Callback<'_>) -> Result<Identity, LoginError> {
        let name = self.name();
        let code = cb
            .param("code")
            .ok_or_else(|| LoginError::new("OAuth登录失败：没有授权码"))?;
        let c = &self.config;
        let endpoints = self.endpoints(cb.http).await?;
        let verifier = derive(cb.derive_key, "oidc-pkce", cb.state);
        let nonce = derive(cb.derive_key, "oidc-nonce", cb.state);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", cb.redirect_uri),
            ("code_verifier", verifier.as_str()),
        ];
        let mut request = cb.http.post(&endpoints.token);
        match c.token_auth {
            TokenAuth::Basic => {
                request = request.basic_auth(
                    form_encode(&c.client_id),
                    Some(form_encode(c.client_secret.expose())),
                );
            }
            TokenAuth::Post => {
                form.push(("client_id", c.client_id.as_str()));
                form.push(("client_secret", c.client_secret.expose()));
            }
        }
        let request = request.header("Accept", "application/json").form(&form);
        let (_, answer) = cb.http.json(name, request).await?;
        let token = access_token(name, &answer)?;
        let id_claims = match answer.get("id_token") {
            Some(Value::String(t)) => Some(self.check_id_token(t, &nonce)?),
            Some(_) => return Err(LoginError::new(format!("{name}返回的 ID Token 无效"))),
            None => None,
        };
        let claims = match &endpoints.userinfo {
            Some(url) => {
                let (status, info) = cb
                    .http
                    .json(name, cb.http.get(url).bearer_auth(&token))
                    .await?;
                if !info.is_object() || !status.is_success() {
                    tracing::warn!(provider = name, %status, "userinfo refused");
                    return Err(LoginError::new(format!("{name}用户信息获取失败")));
                }
                info
            }
            None => id_claims
                .clone()
                .ok_or_else(|| LoginError::new(format!("{name}没有返回用户信息")))?,
        };
        let Some(sub) = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Err(LoginError::new(format!("{name} UID不存在")));
        };
        if let Some(id) = &id_claims {
            if id.get("sub").and_then(Value::as_str) != Some(sub) {
                tracing::warn!(provider = name, "userinfo sub differs from the ID token's");
                return Err(LoginError::new(format!("{name}返回的用户信息不一致")));
            }
        }
        Ok(Identity {
            login_key: format!("{}:{sub}", c.login_key_prefix),
            properties: json!({"type": "oidc", "issuer": c.issuer, "info": kept_info(claims.clone())}),
            group: c.group.clone(),
        })
    }
}

impl Provider for Oidc {
    fn display_name(&self) -> &str {
        self.name()
    }

    fn authorize<'a>(&'a self, start: &'a Start<'a>) -> BoxFuture<'a, Result<String, LoginError>> {
        self.authorize_inner(start).boxed()
    }

    fn identify<'a>(&'a self, cb: &'a Callback<'a>) -> BoxFuture<'a, Result<Identity, LoginError>> {
        self.identify_inner(cb).boxed()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_encoding() {
        assert_eq!(super::form_encode("a b:c/d~"), "a%20b%3Ac%2Fd~");
    }
}
