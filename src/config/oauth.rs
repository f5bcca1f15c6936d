//! `[http_client]` and the `[oauth.*]` login providers: keys, defaults and checks.
//!
//! A provider is enabled by its section being present (in the file or through
//! `GS_OAUTH_<NAME>__<KEY>` variables) unless it says `enabled = false`. Every URL a
//! provider calls is a key with the public service as default, so tests and staging
//! set ups can point it elsewhere.

use super::{ConfigError, Kind, Secret, Values};
use crate::rules;
use std::path::Path;

/// Keys of `[http_client]`.
pub(super) const HTTP_CLIENT_KEYS: &[(&str, Kind)] = &[
    ("connect_timeout_s", Kind::Int),
    ("timeout_s", Kind::Int),
    ("proxies", Kind::StrMap),
];

/// Keys of `[oauth.github]`.
pub(super) const GITHUB_KEYS: &[(&str, Kind)] = &[
    ("enabled", Kind::Bool),
    ("client_id", Kind::Str),
    ("client_secret", Kind::Str),
    ("authorize_url", Kind::Str),
    ("token_url", Kind::Str),
    ("user_url", Kind::Str),
    ("group", Kind::Str),
];

/// Keys of `[oauth.microsoft]`.
pub(super) const MICROSOFT_KEYS: &[(&str, Kind)] = &[
    ("enabled", Kind::Bool),
    ("client_id", Kind::Str),
    ("private_key_file", Kind::Str),
    ("thumbprint", Kind::Str),
    ("tenant", Kind::Str),
    ("authority", Kind::Str),
    ("graph_url", Kind::Str),
    ("scope", Kind::Str),
    ("group", Kind::Str),
];

/// Keys of `[oauth.carsi]`.
pub(super) const CARSI_KEYS: &[(&str, Kind)] = &[
    ("enabled", Kind::Bool),
    ("client_id", Kind::Str),
    ("client_secret", Kind::Str),
    ("base_url", Kind::Str),
    ("private_key_file", Kind::Str),
    ("domain_groups", Kind::StrMap),
    ("affiliations", Kind::StrList),
    ("default_group", Kind::Str),
    ("check_state", Kind::Bool),
];

/// Keys of `[oauth.iaaa]`.
pub(super) const IAAA_KEYS: &[(&str, Kind)] = &[
    ("enabled", Kind::Bool),
    ("app_id", Kind::Str),
    ("app_name", Kind::Str),
    ("key", Kind::Str),
    ("base_url", Kind::Str),
    ("group", Kind::Str),
    ("identity_types", Kind::StrList),
    ("default_group", Kind::Str),
];

/// Keys of `[oauth.oidc]`.
pub(super) const OIDC_KEYS: &[(&str, Kind)] = &[
    ("enabled", Kind::Bool),
    ("name", Kind::Str),
    ("issuer", Kind::Str),
    ("client_id", Kind::Str),
    ("client_secret", Kind::Str),
    ("discovery", Kind::Bool),
    ("authorization_endpoint", Kind::Str),
    ("token_endpoint", Kind::Str),
    ("userinfo_endpoint", Kind::Str),
    ("scope", Kind::Str),
    ("token_auth", Kind::Str),
    ("login_key_prefix", Kind::Str),
    ("group", Kind::Str),
];

/// `[http_client]`: how the workers talk to identity providers.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpClientConfig {
    /// Seconds to establish a connection (TCP and TLS).
    pub connect_timeout_s: u64,
    /// Seconds for a whole request, answer included.
    pub timeout_s: u64,
    /// Proxies by host pattern, first match wins; hosts matching none go direct.
    pub proxies: Vec<ProxyRule>,
}

/// One `proxies` entry: requests to hosts matching `host_pattern` go through `proxy`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyRule {
    /// Host name pattern, case-insensitive; `*` matches any run of characters
    /// (`*github.com`, `*.example.org`, `login.microsoftonline.com`).
    pub host_pattern: String,
    /// Proxy URL: `http://`, `https://`, `socks5://` or `socks5h://`.
    pub proxy: String,
}

impl ProxyRule {
    /// Whether `host` matches the pattern.
    pub fn matches(&self, host: &str) -> bool {
        glob_match(
            self.host_pattern.to_ascii_lowercase().as_bytes(),
            host.to_ascii_lowercase().as_bytes(),
        )
    }
}

/// `*`-only glob matching, linear in practice (backtracks to the last star only).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// `[oauth.*]`: the enabled login providers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuthConfig {
    /// `[oauth.github]`
    pub github: Option<GithubConfig>,
    /// `[oauth.microsoft]`
    pub microsoft: Option<MicrosoftConfig>,
    /// `[oauth.carsi]`
    pub carsi: Option<CarsiConfig>,
    /// `[oauth.iaaa]`
    pub iaaa: Option<IaaaConfig>,
    /// `[oauth.oidc]`
    pub oidc: Option<OidcConfig>,
}

/// `[oauth.github]`: GitHub OAuth app.
#[derive(Debug, Clone, PartialEq)]
pub struct GithubConfig {
    /// OAuth app client id.
    pub client_id: String,
    /// OAuth app client secret.
    pub client_secret: Secret,
    /// Authorization page.
    pub authorize_url: String,
    /// Code-for-token endpoint.
    pub token_url: String,
    /// The user API (`GET` with the access token).
    pub user_url: String,
    /// Group of users registered through GitHub.
    pub group: String,
}

/// `[oauth.microsoft]`: Microsoft identity platform with a certificate credential.
#[derive(Debug, Clone, PartialEq)]
pub struct MicrosoftConfig {
    /// Application (client) id.
    pub client_id: String,
    /// PEM text of the certificate's RSA private key (read from `private_key_file`).
    pub private_key: Secret,
    /// SHA-1 thumbprint of the certificate (20 bytes), sent as the assertion's `x5t`.
    pub thumbprint: Vec<u8>,
    /// Tenant: `consumers`, `organizations`, `common` or a tenant id.
    pub tenant: String,
    /// Authority base URL, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// Microsoft Graph `me` endpoint.
    pub graph_url: String,
    /// Scopes asked for.
    pub scope: String,
    /// Group of users registered through Microsoft.
    pub group: String,
}

/// `[oauth.carsi]`: CARSI (China's academic federation) through its OAuth gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct CarsiConfig {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Gateway base URL; `/api/authorize`, `/api/token` and `/api/resource` are under it.
    pub base_url: String,
    /// PEM text of the RSA key that decrypts the attributes (read from `private_key_file`).
    pub private_key: Secret,
    /// Home-organization domain → group, for users whose type is in `affiliations`.
    pub domain_groups: Vec<(String, String)>,
    /// User types (the part of the affiliation before `@`) that get the domain's group.
    pub affiliations: Vec<String>,
    /// Group of everyone else.
    pub default_group: String,
    /// Whether the callback checks the `oauth_state` cookie.
    pub check_state: bool,
}

/// `[oauth.iaaa]`: Peking University's IAAA.
#[derive(Debug, Clone, PartialEq)]
pub struct IaaaConfig {
    /// Application id given by IAAA.
    pub app_id: String,
    /// Application name shown on the IAAA login page.
    pub app_name: String,
    /// The key that signs validation requests.
    pub key: Secret,
    /// Base URL; `/oauth.jsp` and `/svc/token/validate.do` are under it.
    pub base_url: String,
    /// Group of users whose identity type is in `identity_types` (all if empty).
    pub group: String,
    /// Identity types (`identityType`, e.g. `学生`) that get `group`.
    pub identity_types: Vec<String>,
    /// Group of everyone else.
    pub default_group: String,
}

/// How the OpenID Connect client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// HTTP Basic with the client id and secret (`client_secret_basic`).
    Basic,
    /// Client id and secret in the form body (`client_secret_post`).
    Post,
}

/// `[oauth.oidc]`: any OpenID Connect provider, code flow with PKCE.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcConfig {
    /// Name shown to players in messages.
    pub name: String,
    /// Issuer URL; `iss` of ID tokens must equal it.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Whether endpoints not configured are read from
    /// `<issuer>/.well-known/openid-configuration`.
    pub discovery: bool,
    /// Authorization endpoint, if configured.
    pub authorization_endpoint: Option<String>,
    /// Token endpoint, if configured.
    pub token_endpoint: Option<String>,
    /// UserInfo endpoint, if configured.
    pub userinfo_endpoint: Option<String>,
    /// Scopes asked for (`openid` is required).
    pub scope: String,
    /// Client authentication at the token endpoint.
    pub token_auth: TokenAuth,
    /// Login keys are `<prefix>:<sub>`.
    pub login_key_prefix: String,
    /// Group of users registered through this provider.
    pub group: String,
}

impl Values {
    /// Whether the section has any key set.
    fn has_section(&self, section: &str) -> bool {
        self.raw.keys().any(|(s, _)| s == section)
    }

    /// A required non-empty string.
    fn required(&self, section: &str, key: &str) -> Result<String, ConfigError> {
        match self.opt_str(section, key)? {
            Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(_) => Err(self.bad(section, key, "must not be empty".into())),
            None => Err(self.bad(
                section,
                key,
                format!("required when [{section}] is present"),
            )),
        }
    }

    fn secret(&self, section: &str, key: &str) -> Result<Secret, ConfigError> {
        self.required(section, key).map(Secret)
    }

    pub(super) fn seconds(
        &self,
        section: &str,
        key: &str,
        default: i64,
    ) -> Result<u64, ConfigError> {
        let n = self.int(section, key, default)?;
        u64::try_from(n)
            .ok()
            .filter(|n| (1..=3600).contains(n))
            .ok_or_else(|| {
                self.bad(
                    section,
                    key,
                    format!("expected 1 to 3600 seconds, found {n}"),
                )
            })
    }

    pub(super) fn str_list(
        &self,
        section: &str,
        key: &str,
        default: &[&str],
    ) -> Result<Vec<String>, ConfigError> {
        let Some(value) = self.get(section, key) else {
            return Ok(default.iter().map(|s| s.to_string()).collect());
        };
        let expected = "expected a list of strings like [\"a\", \"b\"]";
        let toml::Value::Array(items) = value else {
            return Err(self.bad(
                section,
                key,
                format!("{expected}, found {}", value.type_str()),
            ));
        };
        items
            .iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(self.bad(
                    section,
                    key,
                    format!("{expected}, found `{other}` in the list"),
                )),
            })
            .collect()
    }

    fn str_map(
        &self,
        section: &str,
        key: &str,
        default: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(value) = self.get(section, key) else {
            return Ok(default
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect());
        };
        let expected = "expected a table of strings like { \"key\" = \"value\" }";
        let toml::Value::Table(items) = value else {
            return Err(self.bad(
                section,
                key,
                format!("{expected}, found {}", value.type_str()),
            ));
        };
        items
            .iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(self.bad(section, key, format!("{expected}, found `{k} = {other}`"))),
            })
            .collect()
    }

    /// An `http(s)://` URL with a host.
    fn url(&self, section: &str, key: &str, default: &str) -> Result<String, ConfigError> {
        let s = self.string(section, key, default)?;
        check_url(&s).map_err(|reason| self.bad(section, key, reason))?;
        Ok(s.trim_end_matches('/').to_string())
    }

    pub(super) fn opt_url(&self, section: &str, key: &str) -> Result<Option<String>, ConfigError> {
        match self.opt_str(section, key)? {
            None => Ok(None),
            Some(s) => {
                check_url(&s).map_err(|reason| self.bad(section, key, reason))?;
                Ok(Some(s))
            }
        }
    }

    /// A group key of the rules.
    fn group(&self, section: &str, key: &str, default: &str) -> Result<String, ConfigError> {
        let g = self.string(section, key, default)?;
        check_group(&g).map_err(|reason| self.bad(section, key, reason))?;
        Ok(g)
    }

    /// Reads and checks an RSA private key file; its text is kept as a secret.
    fn rsa_key_file(&self, section: &str, key: &str) -> Result<Secret, ConfigError> {
        let path = self.required(section, key)?;
        let text = std::fs::read_to_string(Path::new(&path)).map_err(|e| {
            self.bad(
                section,
                key,
                format!("cannot read the key file `{path}`: {e}"),
            )
        })?;
        crate::crypto::parse_private_key(&text).map_err(|e| {
            self.bad(
                section,
                key,
                format!("`{path}` is not an RSA private key in PEM (PKCS#8 or PKCS#1): {e}"),
            )
        })?;
        Ok(Secret(text))
    }

    /// Whether `[section]` is present and not switched off.
    fn enabled(&self, section: &str) -> Result<bool, ConfigError> {
        Ok(self.has_section(section) && self.boolean(section, "enabled", true)?)
    }
}

fn check_url(s: &str) -> Result<(), String> {
    match reqwest::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(format!(
            "expected an http:// or https:// URL with a host, found `{s}`"
        )),
    }
}

fn check_group(g: &str) -> Result<(), String> {
    if rules::GROUPS.iter().any(|(k, _)| *k == g) {
        Ok(())
    } else {
        Err(format!(
            "unknown group `{g}`; the groups are {}",
            rules::GROUPS
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// `[http_client]`
pub(super) fn http_client(v: &Values) -> Result<HttpClientConfig, ConfigError> {
    let s = "http_client";
    let mut proxies = Vec::new();
    for (host_pattern, proxy) in v.str_map(s, "proxies", &[])? {
        let ok = reqwest::Url::parse(&proxy).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") && u.host_str().is_some()
        });
        if !ok || host_pattern.is_empty() {
            return Err(v.bad(
                s,
                "proxies",
                format!(
                    "expected host patterns mapped to proxy URLs like {{ \"*github.com\" = \"http://127.0.0.1:7890\" }} (http, https, socks5 or socks5h), found `{host_pattern}` = `{}`",
                    crate::store::redact_url(&proxy)
                ),
            ));
        }
        proxies.push(ProxyRule {
            host_pattern,
            proxy,
        });
    }
    Ok(HttpClientConfig {
        connect_timeout_s: v.seconds(s, "connect_timeout_s", 5)?,
        timeout_s: v.seconds(s, "timeout_s", 15)?,
        proxies,
    })
}

/// Every `[oauth.*]` section.
pub(super) fn providers(v: &Values) -> Result<OAuthConfig, ConfigError> {
    Ok(OAuthConfig {
        github: github(v)?,
        microsoft: microsoft(v)?,
        carsi: carsi(v)?,
        iaaa: iaaa(v)?,
        oidc: oidc(v)?,
    })
}

fn github(v: &Values) -> Result<Option<GithubConfig>, ConfigError> {
    let s = "oauth.github";
    if !v.enabled(s)? {
        return Ok(None);
    }
    Ok(Some(GithubConfig {
        client_id: v.required(s, "client_id")?,
        client_secret: v.secret(s, "client_secret")?,
        authorize_url: v.url(
            s,
            "authorize_url",
            "https://github.com/login/oauth/authorize",
        )?,
        token_url: v.url(
            s,
            "token_url",
            "https://github.com/login/oauth/access_token",
        )?,
        user_url: v.url(s, "user_url", "https://api.github.com/user")?,
        group: v.group(s, "group", "other")?,
    }))
}

fn microsoft(v: &Values) -> Result<Option<MicrosoftConfig>, ConfigError> {
    let s = "oauth.microsoft";
    if !v.enabled(s)? {
        return Ok(None);
    }
    let hex_text = v.required(s, "thumbprint")?;
    let thumbprint = hex::decode(hex_text.replace(':', ""))
        .ok()
        .filter(|b| b.len() == 20)
        .ok_or_else(|| {
            v.bad(
                s,
                "thumbprint",
                "expected the certificate's SHA-1 thumbprint as 40 hex digits, as the Azure portal shows it".into(),
            )
        })?;
    let tenant = v.string(s, "tenant", "consumers")?;
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
    {
        return Err(v.bad(
            s,
            "tenant",
            format!("expected consumers, organizations, common or a tenant id, found `{tenant}`"),
        ));
    }
    Ok(Some(MicrosoftConfig {
        client_id: v.required(s, "client_id")?,
        private_key: v.rsa_key_file(s, "private_key_file")?,
        thumbprint,
        tenant,
        authority: v.url(s, "authority", "https://login.microsoftonline.com")?,
        graph_url: v.url(s, "graph_url", "https://graph.microsoft.com/v1.0/me")?,
        scope: v.string(s, "scope", "User.Read")?,
        group: v.group(s, "group", "other")?,
    }))
}

fn carsi(v: &Values) -> Result<Option<CarsiConfig>, ConfigError> {
    let s = "oauth.carsi";
    if !v.enabled(s)? {
        return Ok(None);
    }
    let domain_groups = v.str_map(
        s,
        "domain_groups",
        &[("pku.edu.cn", "pku"), ("tsinghua.edu.cn", "thu")],
    )?;
    for (domain, group) in &domain_groups {
        check_group(group)
            .map_err(|reason| v.bad(s, "domain_groups", format!("for `{domain}`: {reason}")))?;
    }
    let base_url = v.required(s, "base_url")?;
    check_url(&base_url).map_err(|reason| v.bad(s, "base_url", reason))?;
    Ok(Some(CarsiConfig {
        client_id: v.required(s, "client_id")?,
        client_secret: v.secret(s, "client_secret")?,
        base_url: base_url.trim_end_matches('/').to_string(),
        private_key: v.rsa_key_file(s, "private_key_file")?,
        domain_groups: domain_groups
            .into_iter()
            .map(|(d, g)| (d.to_ascii_lowercase(), g))
            .collect(),
        affiliations: v.str_list(s, "affiliations", &["student"])?,
        default_group: v.group(s, "default_group", "other")?,
        check_state: v.boolean(s, "check_state", true)?,
    }))
}

fn iaaa(v: &Values) -> Result<Option<IaaaConfig>, ConfigError> {
    let s = "oauth.iaaa";
    if !v.enabled(s)? {
        return Ok(None);
    }
    Ok(Some(IaaaConfig {
        app_id: v.required(s, "app_id")?,
        app_name: v.string(s, "app_name", "Guiding Star")?,
        key: v.secret(s, "key")?,
        base_url: v.url(s, "base_url", "https://iaaa.pku.edu.cn/iaaa")?,
        group: v.group(s, "group", "pku")?,
        identity_types: v.str_list(s, "identity_types", &[])?,
        default_group: v.group(s, "default_group", "other")?,
    }))
}

fn oidc(v: &Values) -> Result<Option<OidcConfig>, ConfigError> {
    let s = "oauth.oidc";
    if !v.enabled(s)? {
        return Ok(None);
    }
    let issuer = v.required(s, "issuer")?;
    check_url(&issuer).map_err(|reason| v.bad(s, "issuer", reason))?;
    let discovery = v.boolean(s, "discovery", true)?;
    let authorization_endpoint = v.opt_url(s, "authorization_endpoint")?;
    let token_endpoint = v.opt_url(s, "token_endpoint")?;
    let userinfo_endpoint = v.opt_url(s, "userinfo_endpoint")?;
    if !discovery {
        for (key, value) in [
            ("authorization_endpoint", &authorization_endpoint),
            ("token_endpoint", &token_endpoint),
        ] {
            if value.is_none() {
                return Err(v.bad(s, key, "required when discovery = false".into()));
            }
        }
    }
    let scope = v.string(s, "scope", "openid profile email")?;
    if !scope.split_whitespace().any(|w| w == "openid") {
        return Err(v.bad(
            s,
            "scope",
            format!("must include `openid`, found `{scope}`"),
        ));
    }
    let token_auth = match v.string(s, "token_auth", "client_secret_basic")?.as_str() {
        "client_secret_basic" => TokenAuth::Basic,
        "client_secret_post" => TokenAuth::Post,
        other => {
            return Err(v.bad(
                s,
                "token_auth",
                format!("expected client_secret_basic or client_secret_post, found `{other}`"),
            ))
        }
    };
    let login_key_prefix = v.string(s, "login_key_prefix", "oidc")?;
    if !login_key_prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(v.bad(
            s,
            "login_key_prefix",
            format!("expected letters, digits, `-`, `_` or `.`, found `{login_key_prefix}`"),
        ));
    }
    Ok(Some(OidcConfig {
        name: v.string(s, "name", "OpenID Connect")?,
        issuer,
        client_id: v.required(s, "client_id")?,
        client_secret: v.secret(s, "client_secret")?,
        discovery,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        scope,
        token_auth,
        login_key_prefix,
        group: v.group(s, "group", "other")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let rule = |p: &str| ProxyRule {
            host_pattern: p.into(),
            proxy: "http://127.0.0.1:1".into(),
        };
        assert!(rule("*github.com").matches("api.github.com"));
        assert!(rule("*github.com").matches("GitHub.com"));
        assert!(!rule("*github.com").matches("github.com.evil.org"));
        assert!(rule("*.example.org").matches("a.b.example.org"));
        assert!(!rule("*.example.org").matches("example.org"));
        assert!(rule("login.microsoftonline.com").matches("login.microsoftonline.com"));
        assert!(!rule("login.microsoftonline.com").matches("xlogin.microsoftonline.com"));
        assert!(rule("*").matches("anything"));
        assert!(rule("a*b*c").matches("aXXbYYc"));
        assert!(!rule("a*b*c").matches("aXXbYY"));
    }
}
