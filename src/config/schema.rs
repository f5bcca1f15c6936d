//! The schema: every section and key of the configuration with the kind of value it takes
//! (which decides how an environment string is read), and the lookup that rejects unknown
//! ones with the list of what exists.

use super::{ConfigError, Origin};

/// The type a key takes; decides how an environment string is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Str,
    Int,
    Bool,
    IntList,
    /// A list of strings: `["a", "b"]` in TOML, `a,b` in the environment.
    StrList,
    /// A table of strings: `{ k = "v" }` in TOML, `k=v,k2=v2` in the environment.
    StrMap,
}

/// Every section and key, in the order they are documented.
pub(super) const KEYS: &[(&str, &[(&str, Kind)])] = &[
    (
        "database",
        &[
            ("url", Kind::Str),
            ("tls", Kind::Str),
            ("ca_file", Kind::Str),
            ("sqlite_synchronous", Kind::Str),
        ],
    ),
    (
        "paths",
        &[
            ("data", Kind::Str),
            ("templates", Kind::Str),
            ("attachments", Kind::Str),
            ("writeups", Kind::Str),
            ("media", Kind::Str),
            ("anticheat_log", Kind::Str),
        ],
    ),
    (
        "glitter",
        &[
            ("action_addr", Kind::Str),
            ("event_addr", Kind::Str),
            ("token", Kind::Str),
        ],
    ),
    (
        "api",
        &[
            ("listen", Kind::Str),
            ("workers", Kind::Int),
            ("attachment_accel_url", Kind::Str),
            ("frontend_dir", Kind::Str),
            ("max_connections", Kind::Int),
            ("header_timeout_s", Kind::Int),
            ("body_timeout_s", Kind::Int),
        ],
    ),
    (
        "ui",
        &[
            ("site_name", Kind::Str),
            ("logo_url", Kind::Str),
            ("accent_color", Kind::Str),
        ],
    ),
    (
        "admin",
        &[
            ("listen", Kind::Str),
            ("url_prefix", Kind::Str),
            ("uids", Kind::IntList),
            ("destructive_uids", Kind::IntList),
            ("timezone", Kind::Str),
        ],
    ),
    (
        "auth",
        &[
            ("manual_enabled", Kind::Bool),
            ("registration_enabled", Kind::Bool),
            ("backend_hostname", Kind::Str),
            ("backend_scheme", Kind::Str),
        ],
    ),
    ("secrets", &[("token_signing_key", Kind::Str)]),
    (
        "http_client",
        &[
            ("connect_timeout_s", Kind::Int),
            ("timeout_s", Kind::Int),
            ("proxies", Kind::StrMap),
        ],
    ),
    (
        "oauth.github",
        &[
            ("enabled", Kind::Bool),
            ("client_id", Kind::Str),
            ("client_secret", Kind::Str),
            ("authorize_url", Kind::Str),
            ("token_url", Kind::Str),
            ("user_url", Kind::Str),
            ("group", Kind::Str),
        ],
    ),
    (
        "oauth.microsoft",
        &[
            ("enabled", Kind::Bool),
            ("client_id", Kind::Str),
            ("private_key_file", Kind::Str),
            ("thumbprint", Kind::Str),
            ("tenant", Kind::Str),
            ("authority", Kind::Str),
            ("graph_url", Kind::Str),
            ("scope", Kind::Str),
            ("group", Kind::Str),
        ],
    ),
    (
        "oauth.carsi",
        &[
            ("enabled", Kind::Bool),
            ("client_id", Kind::Str),
            ("client_secret", Kind::Str),
            ("base_url", Kind::Str),
            ("private_key_file", Kind::Str),
            ("domain_groups", Kind::StrMap),
            ("affiliations", Kind::StrList),
            ("default_group", Kind::Str),
            ("check_state", Kind::Bool),
        ],
    ),
    (
        "oauth.iaaa",
        &[
            ("enabled", Kind::Bool),
            ("app_id", Kind::Str),
            ("app_name", Kind::Str),
            ("key", Kind::Str),
            ("base_url", Kind::Str),
            ("group", Kind::Str),
            ("identity_types", Kind::StrList),
            ("default_group", Kind::Str),
        ],
    ),
    (
        "oauth.oidc",
        &[
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
        ],
    ),
    (
        "notify",
        &[
            ("feishu_webhook", Kind::Str),
            ("feishu_secret", Kind::Str),
            ("webhook_url", Kind::Str),
            ("log_levels", Kind::StrList),
            ("throttle_max", Kind::Int),
            ("throttle_window_s", Kind::Int),
            ("timeout_s", Kind::Int),
            ("retries", Kind::Int),
            ("queue", Kind::Int),
        ],
    ),
    ("police", &[("enabled", Kind::Bool)]),
    (
        "generators",
        &[
            ("python", Kind::Str),
            ("concurrency", Kind::Int),
            ("timeout_s", Kind::Int),
            ("max_file_mb", Kind::Int),
            ("retry_after_s", Kind::Int),
        ],
    ),
    (
        "metrics",
        &[
            ("enabled", Kind::Bool),
            ("path", Kind::Str),
            ("allow", Kind::StrList),
        ],
    ),
    (
        "ctftime",
        &[
            ("enabled", Kind::Bool),
            ("path", Kind::Str),
            ("board", Kind::Str),
        ],
    ),
];

/// Sections nested one level under a table (`[oauth.github]` is section `oauth.github`).
pub(super) const NESTED_TABLES: &[&str] = &["oauth"];

fn section_names() -> String {
    KEYS.iter()
        .map(|(s, _)| format!("[{s}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kind of `section.key`, or an error listing what exists.
pub(super) fn lookup(section: &str, key: &str, origin: &Origin) -> Result<Kind, ConfigError> {
    let Some((_, keys)) = KEYS.iter().find(|(s, _)| *s == section) else {
        if NESTED_TABLES.contains(&section) {
            return Err(ConfigError::BadValue {
                key: if key.is_empty() {
                    section.to_string()
                } else {
                    format!("{section}.{key}")
                },
                origin: origin.clone(),
                reason: format!(
                    "expected sections like {}",
                    KEYS.iter()
                        .filter(|(s, _)| s.starts_with(&format!("{section}.")))
                        .map(|(s, _)| format!("[{s}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        return Err(ConfigError::UnknownKey {
            key: if key.is_empty() {
                section.to_string()
            } else {
                format!("{section}.{key}")
            },
            origin: origin.clone(),
            help: format!("the sections are {}", section_names()),
        });
    };
    match keys.iter().find(|(k, _)| *k == key) {
        Some((_, kind)) => Ok(*kind),
        None => Err(ConfigError::UnknownKey {
            key: format!("{section}.{key}"),
            origin: origin.clone(),
            help: format!(
                "the keys of [{section}] are {}",
                keys.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}
