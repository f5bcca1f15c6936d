//! The flow every provider shares: the start endpoint (a random `state` in the
//! `oauth_state` cookie, then a redirect to the provider), the callback endpoint (the
//! provider's error, then the state, then the provider's own checks), and the
//! register-or-login step of `auth`. Providers implement [`Provider`].

use super::client::{HttpClient, LoginError};
use super::Route;
use crate::worker::http::auth::{fail, register_or_login, secure};
use crate::worker::http::reply::{cookie_safe, info_page, redirect, Answer, SetCookie};
use crate::worker::http::request::{cookie, Client};
use crate::worker::http::HttpState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use futures::future::BoxFuture;
use hmac::{Hmac, KeyInit, Mac};
use rand::distr::{Alphanumeric, SampleString};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use serde_json::Value;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Name of the cookie holding the state of a login in progress.
pub const STATE_COOKIE: &str = "oauth_state";

/// How long a login may take from start to callback: 10 minutes.
pub const STATE_MAX_AGE_S: u64 = 600;

/// Longest login key the `user.login_key` column holds.
const MAX_LOGIN_KEY_CHARS: usize = 192;

/// Largest `info` kept in the login properties, as JSON text.
const MAX_INFO_BYTES: usize = 32 * 1024;

/// Longest text from a provider shown to players.
const MAX_SHOWN_CHARS: usize = 200;

/// Who logged in, as a provider tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// `user.login_key`, e.g. `github:123`.
    pub login_key: String,
    /// `user.login_properties`: `type` and what the provider returned in `info`.
    pub properties: Value,
    /// Group of the user if registered now.
    pub group: String,
}

/// What a provider's start step gets.
pub struct Start<'a> {
    /// The random state of this login.
    pub state: &'a str,
    /// Absolute URL of the callback.
    pub redirect_uri: &'a str,
    /// The HTTP client.
    pub http: &'a HttpClient,
    /// Key for values derived from the state (PKCE verifier, nonce); the same on every
    /// worker, so a login may start on one worker and end on another.
    pub derive_key: &'a [u8],
}

/// What a provider's callback step gets.
pub struct Callback<'a> {
    /// The callback's query parameters.
    pub query: &'a HashMap<String, String>,
    /// The state of this login (checked against the cookie unless the provider opts out).
    pub state: &'a str,
    /// Absolute URL of the callback, as sent at the start.
    pub redirect_uri: &'a str,
    /// The HTTP client.
    pub http: &'a HttpClient,
    /// Same as [`Start::derive_key`].
    pub derive_key: &'a [u8],
    /// The player's IP address (IAAA binds its tickets to it).
    pub client_ip: Option<&'a str>,
}

impl Callback<'_> {
    /// A non-empty query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// A login provider. Implementations live one per file beside this one; another
/// provider (e.g. a school's own) is added by implementing this and listing it in
/// `super::ROUTES` and `Providers::from_config`.
pub trait Provider: Send + Sync + 'static {
    /// Name shown to players, e.g. `GitHub`.
    fn display_name(&self) -> &str;

    /// Whether the callback must carry the state of the `oauth_state` cookie.
    fn checks_state(&self) -> bool {
        true
    }

    /// The provider URL the player is sent to.
    fn authorize<'a>(&'a self, start: &'a Start<'a>) -> BoxFuture<'a, Result<String, LoginError>>;

    /// Turns the callback into an identity, talking to the provider as needed.
    fn identify<'a>(&'a self, cb: &'a Callback<'a>) -> BoxFuture<'a, Result<Identity, LoginError>>;
}

/// A random state: 32 letters and digits from the OS generator.
fn new_state() -> String {
    Alphanumeric.sample_string(&mut UnwrapErr(SysRng), 32)
}

/// Absolute URL of a path of this backend, as players reach it.
pub fn backend_url(st: &HttpState, path: &str) -> String {
    let auth = &st.shared.config.auth;
    format!("{}://{}{path}", auth.backend_scheme, auth.backend_hostname)
}

/// `base64url(HMAC-SHA256(key, purpose ":" state))`: a value only this backend can
/// compute from a state (PKCE verifiers, nonces).
pub fn derive(key: &[u8], purpose: &str, state: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(state.as_bytes());
    crate::crypto::b64url(&mac.finalize().into_bytes())
}

/// `url` with `params` appended to its query, properly encoded.
pub fn with_query(url: &str, params: &[(&str, &str)]) -> Result<String, LoginError> {
    let mut url = reqwest::Url::parse(url).map_err(|_| {
        tracing::error!("invalid provider URL in the configuration");
        LoginError::new("登录服务配置错误")
    })?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url.into())
}

/// Text from a provider made fit to show: control characters dropped, length capped.
pub fn shown(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SHOWN_CHARS)
        .collect()
}

/// The `error` (and `error_description`) of an OAuth error answer, for the player.
pub fn oauth_error(answer: &Value) -> Option<String> {
    let error = answer.get("error")?;
    let error = match error {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(
        match answer.get("error_description").and_then(Value::as_str) {
            Some(d) => shown(&format!("{error}: {d}")),
            None => shown(&error),
        },
    )
}

/// The `access_token` of a token answer, or the player's message.
pub fn access_token(provider: &str, answer: &Value) -> Result<String, LoginError> {
    match answer.get("access_token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => Ok(t.to_owned()),
        _ => {
            let reason = oauth_error(answer).unwrap_or_else(|| "没有返回 access_token".into());
            tracing::warn!(provider, "no access token: {reason}");
            Err(LoginError::new(format!(
                "{provider} Token不存在（{reason}）"
            )))
        }
    }
}

/// A user id that may be a JSON string or integer, as text.
pub fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The `info` to keep: what the provider returned, unless it is unreasonably large.
pub fn kept_info(info: Value) -> Value {
    let size = serde_json::to_vec(&info).map_or(usize::MAX, |v| v.len());
    if size <= MAX_INFO_BYTES {
        info
    } else {
        tracing::warn!("provider user info of {size} bytes not kept");
        serde_json::json!({"truncated": true})
    }
}

/// The answer for a provider that is not configured.
fn not_enabled() -> Answer {
    info_page(StatusCode::NOT_FOUND, "登录失败", "此登录方式未启用")
}

fn state_cookie(st: &HttpState, res: &mut Answer, value: &str, max_age_s: u64) {
    SetCookie {
        name: STATE_COOKIE,
        value,
        path: "/",
        max_age_s,
        secure: secure(st),
    }
    .add_to(res);
}

/// The start endpoint of `route`'s provider.
pub async fn start(State(st): State<Arc<HttpState>>, route: &'static Route) -> Answer {
    let Some(provider) = st.oauth.get(route.name) else {
        return not_enabled();
    };
    let state = new_state();
    let redirect_uri = backend_url(&st, route.callbacks[0]);
    let derive_key = st.shared.config.glitter.token.expose().as_bytes();
    let ctx = Start {
        state: &state,
        redirect_uri: &redirect_uri,
        http: st.oauth.http(),
        derive_key,
    };
    match provider.authorize(&ctx).await {
        Ok(url) => {
            let mut res = redirect(&url);
            state_cookie(&st, &mut res, &state, STATE_MAX_AGE_S);
            res
        }
        Err(LoginError(msg)) => fail(StatusCode::BAD_GATEWAY, &msg),
    }
}

/// The callback endpoint of `route`'s provider; the state cookie is spent either way.
pub async fn callback(
    State(st): State<Arc<HttpState>>,
    route: &'static Route,
    headers: HeaderMap,
    client: Client,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    let Some(provider) = st.oauth.get(route.name) else {
        return not_enabled();
    };
    let mut res = finish(&st, provider, route, &headers, &client, query).await;
    state_cookie(&st, &mut res, "", 0);
    res
}

async fn finish(
    st: &HttpState,
    provider: &dyn Provider,
    route: &'static Route,
    headers: &HeaderMap,
    client: &Client,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    let name = provider.display_name();
    let Ok(Query(query)) = query else {
        return fail(StatusCode::BAD_REQUEST, "OAuth错误：参数无效");
    };
    if let Some(error) = query.get("error").filter(|e| !e.is_empty()) {
        let description = query
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        tracing::info!(
            provider = name,
            "the provider reported an error: {}",
            shown(error)
        );
        return fail(
            StatusCode::BAD_REQUEST,
            &format!(
                "{name}登录失败（{}）",
                shown(&format!("{error}{description}"))
            ),
        );
    }
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    if provider.checks_state() {
        let expected = cookie(headers, STATE_COOKIE).filter(|c| cookie_safe(c));
        let Some(expected) = expected else {
            return fail(StatusCode::BAD_REQUEST, "OAuth错误：state无效");
        };
        if !bool::from(expected.as_bytes().ct_eq(state.as_bytes())) {
            return fail(StatusCode::BAD_REQUEST, "OAuth错误：state不匹配");
        }
    }
    let redirect_uri = backend_url(st, route.callbacks[0]);
    let ctx = Callback {
        query: &query,
        state,
        redirect_uri: &redirect_uri,
        http: st.oauth.http(),
        derive_key: st.shared.config.glitter.token.expose().as_bytes(),
        client_ip: client.ip.as_deref(),
    };
    let identity = match provider.identify(&ctx).await {
        Ok(identity) => identity,
        Err(LoginError(msg)) => return fail(StatusCode::BAD_GATEWAY, &msg),
    };
    if identity.login_key.chars().count() > MAX_LOGIN_KEY_CHARS
        || identity.login_key.chars().any(char::is_control)
    {
        tracing::warn!(provider = name, "login key unfit for the database");
        return fail(
            StatusCode::BAD_GATEWAY,
            &format!("{name}返回的账号标识无效"),
        );
    }
    register_or_login(
        st,
        &identity.login_key,
        identity.properties,
        &identity.group,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helpers_survive_hostile_values() {
        assert_eq!(id_text(Some(&json!(12))), Some("12".into()));
        assert_eq!(id_text(Some(&json!("ab"))), Some("ab".into()));
        assert_eq!(id_text(Some(&json!(1.5))), None);
        assert_eq!(id_text(Some(&json!({"a": 1}))), None);
        assert_eq!(id_text(Some(&json!(""))), None);
        assert_eq!(id_text(None), None);
        assert_eq!(
            oauth_error(&json!({"error": "bad", "error_description": "x\ny"})),
            Some("bad: xy".into())
        );
        assert_eq!(oauth_error(&json!({"error": 5})), Some("5".into()));
        assert_eq!(oauth_error(&json!([1])), None);
        assert!(access_token("P", &json!({"access_token": 3})).is_err());
        assert_eq!(
            access_token("P", &json!({"access_token": "t"})).unwrap(),
            "t"
        );
        let big = json!({"x": "y".repeat(MAX_INFO_BYTES)});
        assert_eq!(kept_info(big), json!({"truncated": true}));
        assert_eq!(shown(&"é".repeat(500)).chars().count(), MAX_SHOWN_CHARS);
        assert_eq!(
            with_query("http://h/p?a=1", &[("b", "x y&z")]).unwrap(),
            "http://h/p?a=1&b=x+y%26z"
        );
        assert!(with_query("not a url", &[]).is_err());
        assert_ne!(derive(b"k", "pkce", "s"), derive(b"k", "nonce", "s"));
        assert_eq!(derive(b"k", "pkce", "s").len(), 43);
        assert_eq!(new_state().len(), 32);
    }
}
