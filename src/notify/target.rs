//! Webhook targets of staff messages: a Feishu (Lark) custom bot, optionally signed, and
//! a generic JSON webhook taking `{"text": ...}`. URLs and secrets never reach a log.

use crate::config::{NotifyConfig, Secret};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// One place staff messages are posted to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A Feishu custom bot (`msg_type` text), with its signature secret if configured.
    Feishu {
        /// The webhook URL.
        url: Secret,
        /// The signature secret.
        secret: Option<Secret>,
    },
    /// Any webhook that takes `{"text": ...}`.
    Generic {
        /// The webhook URL.
        url: Secret,
    },
}

/// The targets of a configuration, in a fixed order.
pub fn targets(config: &NotifyConfig) -> Vec<Target> {
    let mut out = Vec::new();
    if let Some(url) = &config.feishu_webhook {
        out.push(Target::Feishu {
            url: url.clone(),
            secret: config.feishu_secret.clone(),
        });
    }
    if let Some(url) = &config.webhook_url {
        out.push(Target::Generic { url: url.clone() });
    }
    out
}

/// Feishu's signature: base64(HMAC-SHA256(key = "<timestamp>\n<secret>", message = "")).
pub fn feishu_sign(timestamp_s: i64, secret: &str) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    // HMAC takes a key of any length, so this cannot fail.
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map(|m| m.finalize().into_bytes().to_vec())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(mac)
}

impl Target {
    /// A short name for logs and counters (no URL).
    pub fn name(&self) -> &'static str {
        match self {
            Target::Feishu { .. } => "feishu",
            Target::Generic { .. } => "webhook",
        }
    }

    /// The JSON body for `text` at `now_s`.
    pub fn body(&self, text: &str, now_s: i64) -> Value {
        match self {
            Target::Feishu { secret, .. } => {
                let mut body = json!({"msg_type": "text", "content": {"text": text}});
                if let Some(secret) = secret {
                    body["timestamp"] = json!(now_s.to_string());
                    body["sign"] = json!(feishu_sign(now_s, secret.expose()));
                }
                body
            }
            Target::Generic { .. } => json!({ "text": text }),
        }
    }

    /// Posts `text` once; the error never contains the URL.
    pub async fn post(&self, client: &reqwest::Client, text: &str) -> Result<(), String> {
        let url = match self {
            Target::Feishu { url, .. } | Target::Generic { url } => url.expose(),
        };
        let body = self.body(text, crate::clock::now_s());
        let resp = client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = resp.status();
        let answer = resp
            .bytes()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        if let Target::Feishu { .. } = self {
            // Feishu answers 200 with a non-zero `code` for bad signatures, throttling, ….
            let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
            let code = v
                .get("code")
                .or_else(|| v.get("StatusCode"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if code != 0 {
                let msg = v
                    .get("msg")
                    .or_else(|| v.get("StatusMessage"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                return Err(format!("feishu code {code}: {msg}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feishu_signature_follows_the_documented_recipe() {
        // HMAC-SHA256 with key "1700000000\nsecret" over an empty message, base64.
        let mac = Hmac::<Sha256>::new_from_slice(b"1700000000\nsecret")
            .unwrap()
            .finalize()
            .into_bytes();
        let expected = base64::engine::general_purpose::STANDARD.encode(mac);
        assert_eq!(feishu_sign(1_700_000_000, "secret"), expected);
        assert_eq!(expected.len(), 44);
        let t = Target::Feishu {
            url: Secret::new("http://x"),
            secret: Some(Secret::new("secret")),
        };
        let b = t.body("hi", 1_700_000_000);
        assert_eq!(b["msg_type"], "text");
        assert_eq!(b["content"]["text"], "hi");
        assert_eq!(b["timestamp"], "1700000000");
        assert_eq!(b["sign"], expected.as_str());
        let g = Target::Generic {
            url: Secret::new("http://x"),
        };
        assert_eq!(g.body("hi", 0), json!({"text": "hi"}));
    }
}
