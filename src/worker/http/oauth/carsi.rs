//! CARSI through its OAuth gateway: code flow, then `/api/resource`, whose attributes
//! are encrypted to the app's RSA key (PKCS#1 v1.5, base64). Login key
//! `carsi:<persistent uid>`; properties `{"type": "carsi", "info": {"usertype",
//! "domain"}}` (of the affiliation that decided the group, else the first); the group
//! decided by affiliation and domain.

use super::client::LoginError;
use super::flow::{access_token, shown, with_query, Callback, Identity};
use super::flow::{Provider, Start};
use crate::config::CarsiConfig;
use crate::crypto::{decrypt_pkcs1v15, parse_private_key, RsaKey};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

const NAME: &str = "CARSI";

/// The CARSI provider.
pub struct Carsi {
    config: CarsiConfig,
    key: RsaKey,
}

/// One `usertype@domain` of an affiliation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Affiliation {
    usertype: String,
    domain: String,
}

/// Reads `student@pku.edu.cn` (several may be separated by `;` or `,`).
fn affiliations(text: &str) -> Vec<Affiliation> {
    text.split([';', ','])
        .filter_map(|one| {
            let (usertype, domain) = one.trim().rsplit_once('@')?;
            (!usertype.is_empty() && !domain.is_empty()).then(|| Affiliation {
                usertype: usertype.to_owned(),
                domain: domain.to_ascii_lowercase(),
            })
        })
        .collect()
}

impl Carsi {
    /// The provider for `config`; fails if the key cannot be read.
    pub fn new(config: CarsiConfig) -> Result<Carsi, String> {
        let key = parse_private_key(config.private_key.expose())?;
        Ok(Carsi { config, key })
    }

    /// The group of a user with these affiliations, and the one that decided it (or the
    /// first one).
    fn decide<'a>(&self, all: &'a [Affiliation]) -> (String, Option<&'a Affiliation>) {
        let c = &self.config;
        for a in all {
            let typed = c
                .affiliations
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&a.usertype));
            let group = c
                .domain_groups
                .iter()
                .find(|(d, _)| *d == a.domain)
                .map(|(_, g)| g);
            if let (true, Some(group)) = (typed, group) {
                return (group.clone(), Some(a));
            }
        }
        (c.default_group.clone(), all.first())
    }

    async fn identify_inner(&self, cb: &Callback<'_>) -> Result<Identity, LoginError> {
        let code = cb
            .param("code")
            .ok_or_else(|| LoginError::new("OAuth登录失败：没有授权码"))?;
        let c = &self.config;
        let request = cb.http.post(&format!("{}/api/token", c.base_url)).form(&[
            ("grant_type", "authorization_code"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.expose()),
            ("code", code),
            ("redirect_uri", cb.redirect_uri),
        ]);
        let (_, answer) = cb.http.json(NAME, request).await?;
        let token = access_token(NAME, &answer)?;
        let request = cb
            .http
            .get(&format!("{}/api/resource", c.base_url))
            .query(&[
                ("access_token", token.as_str()),
                ("client_id", c.client_id.as_str()),
            ]);
        let (status, info) = cb.http.json(NAME, request).await?;
        let field = |name: &str| info.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(uid_enc), Some(affiliation_enc)) =
            (field("carsi-persistent-uid"), field("carsi-affiliation"))
        else {
            let reason = super::flow::oauth_error(&info).unwrap_or_default();
            tracing::warn!(provider = NAME, %status, "resource answer lacks attributes {reason}");
            return Err(LoginError::new("Carsi UID不存在"));
        };
        let key = self.key.clone();
        let decrypted = tokio::task::spawn_blocking(move || {
            Ok::<_, &'static str>((
                decrypt_pkcs1v15(&key, &uid_enc)?,
                decrypt_pkcs1v15(&key, &affiliation_enc)?,
            ))
        })
        .await;
        let (uid, affiliation) = match decrypted {
            Ok(Ok(pair)) => pair,
            Ok(Err(why)) => {
                tracing::warn!(provider = NAME, "attribute {why}");
                return Err(LoginError::new("CARSI 返回的用户属性无法解密"));
            }
            Err(e) => {
                tracing::error!(provider = NAME, "decryption task failed: {e}");
                return Err(LoginError::new("登录服务内部错误"));
            }
        };
        let uid = uid.trim();
        if uid.is_empty() {
            return Err(LoginError::new("Carsi UID不存在"));
        }
        let all = affiliations(&affiliation);
        if all.is_empty() {
            tracing::warn!(provider = NAME, "affiliation without usertype@domain");
            return Err(LoginError::new(format!(
                "CARSI 返回的身份信息无效（{}）",
                shown(&affiliation)
            )));
        }
        let (group, chosen) = self.decide(&all);
        let (usertype, domain) = chosen.map_or((String::new(), String::new()), |a| {
            (a.usertype.clone(), a.domain.clone())
        });
        Ok(Identity {
            login_key: format!("carsi:{uid}"),
            properties: json!({
                "type": "carsi",
                "info": {"usertype": usertype, "domain": domain},
            }),
            group,
        })
    }
}

impl Provider for Carsi {
    fn display_name(&self) -> &str {
        NAME
    }

    fn checks_state(&self) -> bool {
        self.config.check_state
    }

    fn authorize<'a>(&'a self, start: &'a Start<'a>) -> BoxFuture<'a, Result<String, LoginError>> {
        let url = with_query(
            &format!("{}/api/authorize", self.config.base_url),
            &[
                ("response_type", "code"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affiliations_are_parsed_leniently() {
        assert_eq!(
            affiliations("student@PKU.edu.cn"),
            vec![Affiliation {
                usertype: "student".into(),
                domain: "pku.edu.cn".into()
            }]
        );
        assert_eq!(affiliations("member@a.cn; student@b.cn").len(), 2);
        assert!(affiliations("nobody").is_empty());
        assert!(affiliations("@x").is_empty());
        assert!(affiliations("x@").is_empty());
        assert!(affiliations("").is_empty());
    }
}
