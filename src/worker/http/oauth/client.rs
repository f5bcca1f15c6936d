//! The async HTTP client the providers call identity providers with: `[http_client]`
//! timeouts, a proxy per host pattern, capped answers read as JSON, and network
//! failures turned into messages for players (never with secrets in them).

use crate::config::{HttpClientConfig, ProxyRule};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Why a login failed, as shown to the player on the `登录失败` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginError(pub String);

impl LoginError {
    /// A failure with this message for the player.
    pub fn new(message: impl Into<String>) -> LoginError {
        LoginError(message.into())
    }
}

/// Largest answer read from an identity provider; more is refused as hostile.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The `User-Agent` of every request (GitHub's API refuses requests without one).
const USER_AGENT: &str = concat!("gs/", env!("CARGO_PKG_VERSION"), " (Guiding Star)");

/// A shared, cheaply cloned async HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// A client with the configured timeouts and proxies. Environment proxy variables
    /// are ignored: `[http_client] proxies` is the one place proxies are set.
    pub fn new(config: &HttpClientConfig) -> Result<HttpClient, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(config.connect_timeout_s))
            .timeout(Duration::from_secs(config.timeout_s))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if !config.proxies.is_empty() {
            let rules: Vec<(ProxyRule, reqwest::Url)> = config
                .proxies
                .iter()
                .filter_map(|r| Some((r.clone(), reqwest::Url::parse(&r.proxy).ok()?)))
                .collect();
            builder = builder.proxy(reqwest::Proxy::custom(move |url| {
                let host = url.host_str()?;
                rules
                    .iter()
                    .find(|(rule, _)| rule.matches(host))
                    .map(|(_, proxy)| proxy.clone())
            }));
        }
        Ok(HttpClient {
            inner: builder.build()?,
        })
    }

    /// A `GET` request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.inner.get(url)
    }

    /// A `POST` request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.inner.post(url)
    }

    /// Sends `request` and reads the answer as JSON (whatever the status: error answers
    /// of OAuth servers are JSON too). `provider` names the service in messages.
    pub async fn json(
        &self,
        provider: &str,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Value), LoginError> {
        let mut res = request
            .send()
            .await
            .map_err(|e| network_error(provider, e))?;
        let status = res.status();
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                        tracing::warn!(provider, "answer larger than {MAX_ANSWER_BYTES} bytes");
                        return Err(LoginError::new(format!("{provider}返回的数据过大")));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(network_error(provider, e)),
            }
        }
        match serde_json::from_slice(&body) {
            Ok(value) => Ok((status, value)),
            Err(_) => {
                tracing::warn!(provider, %status, bytes = body.len(), "answer is not JSON");
                Err(LoginError::new(format!(
                    "{provider}返回了无效的数据（HTTP {}）",
                    status.as_u16()
                )))
            }
        }
    }
}

/// The player's message for a failed request; the log line has the cause but no URL
/// (URLs may carry tokens).
fn network_error(provider: &str, e: reqwest::Error) -> LoginError {
    let e = e.without_url();
    if e.is_timeout() {
        tracing::warn!(provider, "request timed out");
        LoginError::new(format!("{provider}响应超时，请稍后重试"))
    } else {
        tracing::warn!(provider, "request failed: {e}");
        LoginError::new(format!("第三方服务网络错误：无法连接{provider}"))
    }
}
