//! Configuration (cli.md): `--config FILE`, else `./gs.toml` if present, else defaults;
//! then `GS_<SECTION>__<KEY>` environment overrides; then directories and secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;

mod generators;
mod notify;
mod oauth;
mod ops;
pub use generators::GeneratorsConfig;
pub use notify::{NotifyConfig, PoliceConfig, LOG_LEVELS};
pub use oauth::{
    CarsiConfig, GithubConfig, HttpClientConfig, IaaaConfig, MicrosoftConfig, OAuthConfig,
    OidcConfig, ProxyRule, TokenAuth,
};
pub use ops::{CtftimeConfig, MetricsConfig};

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_FILE: &str = "gs.toml";
/// Prefix of the environment overrides.
const ENV_PREFIX: &str = "GS_";

/// What went wrong while loading the configuration; says which key, file or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("`{path}` is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A section or key that does not exist.
    #[error("unknown configuration key `{key}` {origin}\n  help: {help}")]
    UnknownKey {
        /// `section.key` (or just `section`).
        key: String,
        /// Where it came from.
        origin: Origin,
        /// The keys that do exist there.
        help: String,
    },
    /// A value of the wrong type or form.
    #[error("invalid value for `{key}` {origin}: {reason}")]
    BadValue {
        /// `section.key`.
        key: String,
        /// Where it came from.
        origin: Origin,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// An environment variable starting with `GS_` that is not `GS_<SECTION>__<KEY>`.
    #[error("environment variable `{0}` is not of the form GS_<SECTION>__<KEY>\n  help: e.g. GS_DATABASE__URL=sqlite://data/gs.db; unset it if it is not meant for gs")]
    BadEnvName(String),
    /// A directory or secret file could not be created or read.
    #[error("{what} `{path}`: {source}\n  help: {help}")]
    Io {
        /// What we were doing.
        what: String,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
        /// How to fix it.
        help: String,
    },
}

/// Where a value came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A secret file under the data directory.
    SecretFile(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "(built-in default)"),
            Origin::File(p) => write!(f, "in `{}`", p.display()),
            Origin::Env(v) => write!(f, "from environment variable `{v}`"),
            Origin::SecretFile(p) => write!(f, "in `{}`", p.display()),
        }
    }
}

/// A secret string whose `Debug` never shows it, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value (tests and generated secrets).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; only for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    /// `sqlite://PATH`, `mysql://…` or `postgres://…`.
    pub url: String,
}

/// `[paths]`: directories, created when missing.
#[derive(Debug, Clone, PartialEq)]
pub struct PathsConfig {
    /// Data directory: SQLite file, sockets, generated secrets.
    pub data: PathBuf,
    /// Site templates.
    pub templates: PathBuf,
    /// Static attachments.
    pub attachments: PathBuf,
    /// Uploaded writeups.
    pub writeups: PathBuf,
    /// Media files.
    pub media: PathBuf,
    /// Anti-cheat logs.
    pub anticheat_log: PathBuf,
}

/// `[glitter]`: the reducer⇄worker sockets.
#[derive(Debug, Clone, PartialEq)]
pub struct GlitterConfig {
    /// Request/reply socket (worker → reducer), a ZeroMQ endpoint.
    pub action_addr: String,
    /// Publish/subscribe socket (reducer → workers), a ZeroMQ endpoint.
    pub event_addr: String,
    /// Shared secret every action carries; generated under the data dir if absent.
    pub token: Secret,
}

/// `[api]`: the player API workers.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// Address of worker 0; worker N listens on port + N.
    pub listen: SocketAddr,
    /// How many workers `gs serve` starts.
    pub workers: u16,
    /// When set, attachments are answered with `X-Accel-Redirect: <this>/<file_path>` so
    /// that nginx serves the bytes from its internal location.
    pub attachment_accel_url: Option<String>,
    /// When set, workers serve this folder at `/` (a static build of another frontend,
    /// with the single-page fallback to `index.html`) instead of the built-in UI.
    pub frontend_dir: Option<PathBuf>,
    /// Connection limits of the HTTP servers (workers and admin panel).
    pub limits: crate::http_server::Limits,
}

/// `[ui]`: how the built-in player web UI presents the contest.
#[derive(Debug, Clone, PartialEq)]
pub struct UiConfig {
    /// Site name in the header and the page titles.
    pub site_name: String,
    /// URL of a logo shown before the name (none by default).
    pub logo_url: Option<String>,
    /// Accent colour (`#rgb` or `#rrggbb`) of links, buttons and focus rings.
    pub accent_color: String,
}

/// `[admin]`: the admin panel.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    /// Address of the admin panel.
    pub listen: SocketAddr,
    /// URL prefix of the admin panel, e.g. `/admin`.
    pub url_prefix: String,
    /// User ids of the admins.
    pub uids: Vec<i64>,
    /// Admins who may change data, not only read it (a subset of `uids`).
    pub destructive_uids: Vec<i64>,
    /// IANA time zone for admin displays.
    pub timezone: String,
}

/// `[auth]`: login methods.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    /// Whether `/service/auth/manual` works (switch off in production).
    pub manual_enabled: bool,
    /// Whether new users may register.
    pub registration_enabled: bool,
    /// Host (and port) players reach the backend at, for OAuth redirects and cookies.
    pub backend_hostname: String,
    /// `http` or `https`.
    pub backend_scheme: String,
}

/// `[secrets]`
#[derive(Debug, Clone, PartialEq)]
pub struct SecretsConfig {
    /// URL-safe base64 of a 32-byte Ed25519 seed; generated under the data dir if absent.
    pub token_signing_key: Secret,
}

/// Default action socket: a Unix socket under the data directory (loopback TCP on
/// Windows, which has no `ipc://`).
#[cfg(unix)]
pub const DEFAULT_ACTION_ADDR: &str = "ipc://data/action.sock";
/// Default event socket (see [`DEFAULT_ACTION_ADDR`]).
#[cfg(unix)]
pub const DEFAULT_EVENT_ADDR: &str = "ipc://data/event.sock";
/// Default action socket on Windows.
#[cfg(not(unix))]
pub const DEFAULT_ACTION_ADDR: &str = "tcp://127.0.0.1:5601";
/// Default event socket on Windows.
#[cfg(not(unix))]
pub const DEFAULT_EVENT_ADDR: &str = "tcp://127.0.0.1:5602";

/// The whole configuration, typed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from, if any.
    pub file: Option<PathBuf>,
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[paths]`
    pub paths: PathsConfig,
    /// `[glitter]`
    pub glitter: GlitterConfig,
    /// `[api]`
    pub api: ApiConfig,
    /// `[admin]`
    pub admin: AdminConfig,
    /// `[auth]`
    pub auth: AuthConfig,
    /// `[secrets]`
    pub secrets: SecretsConfig,
    /// `[http_client]`: timeouts and proxies of requests to identity providers.
    pub http_client: HttpClientConfig,
    /// `[oauth.*]`: the login providers; each is enabled by its section.
    pub oauth: OAuthConfig,
    /// `[notify]`: staff notifications.
    pub notify: NotifyConfig,
    /// `[police]`: the anti-cheat worker.
    pub police: PoliceConfig,
    /// `[generators]`: running the generators of dynamic flags and attachments.
    pub generators: GeneratorsConfig,
    /// `[metrics]`: Prometheus metrics.
    pub metrics: MetricsConfig,
    /// `[ctftime]`: the CTFtime scoreboard feed.
    pub ctftime: CtftimeConfig,
    /// `[ui]`: the built-in player web UI.
    pub ui: UiConfig,
}

/// The type a key takes; decides how an environment string is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
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
const KEYS: &[(&str, &[(&str, Kind)])] = &[
    ("database", &[("url", Kind::Str)]),
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
    ("http_client", oauth::HTTP_CLIENT_KEYS),
    ("oauth.github", oauth::GITHUB_KEYS),
    ("oauth.microsoft", oauth::MICROSOFT_KEYS),
    ("oauth.carsi", oauth::CARSI_KEYS),
    ("oauth.iaaa", oauth::IAAA_KEYS),
    ("oauth.oidc", oauth::OIDC_KEYS),
    ("notify", notify::NOTIFY_KEYS),
    ("police", notify::POLICE_KEYS),
    ("generators", generators::GENERATORS_KEYS),
    ("metrics", ops::METRICS_KEYS),
    ("ctftime", ops::CTFTIME_KEYS),
];

/// Sections nested one level under a table (`[oauth.github]` is section `oauth.github`).
const NESTED_TABLES: &[&str] = &["oauth"];

fn section_names() -> String {
    KEYS.iter()
        .map(|(s, _)| format!("[{s}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kind of `section.key`, or an error listing what exists.
fn lookup(section: &str, key: &str, origin: &Origin) -> Result<Kind, ConfigError> {
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

/// A value with its origin, before typing.
type Raw = BTreeMap<(String, String), (toml::Value, Origin)>;

/// Reads an environment string as the key's kind.
fn env_value(kind: Kind, text: &str) -> Result<toml::Value, String> {
    match kind {
        Kind::Str => Ok(toml::Value::String(text.to_string())),
        Kind::Int => text
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected an integer, found `{text}`")),
        Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true or false, found `{text}`")),
        },
        Kind::IntList => {
            // Both `[1,2]` and `1,2` are accepted; `[]` or an empty string is no ids.
            let inner = text.trim();
            let inner = inner
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(inner);
            let mut out = Vec::new();
            for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let n = part.parse::<i64>().map_err(|_| {
                    format!("expected a list of user ids like `[1,2]` or `1,2`, found `{text}`")
                })?;
                out.push(toml::Value::Integer(n));
            }
            Ok(toml::Value::Array(out))
        }
        Kind::StrList => {
            let inner = text.trim();
            let inner = inner
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(inner);
            Ok(toml::Value::Array(
                inner
                    .split(',')
                    .map(|p| p.trim().trim_matches('"'))
                    .filter(|p| !p.is_empty())
                    .map(|p| toml::Value::String(p.to_string()))
                    .collect(),
            ))
        }
        Kind::StrMap => {
            let mut out = toml::Table::new();
            for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').ok_or_else(|| {
                    format!("expected `key=value` pairs separated by commas, found `{part}`")
                })?;
                out.insert(
                    k.trim().trim_matches('"').to_string(),
                    toml::Value::String(v.trim().trim_matches('"').to_string()),
                );
            }
            Ok(toml::Value::Table(out))
        }
    }
}

/// Collects the file's keys, rejecting unknown ones.
fn read_file(path: &Path, raw: &mut Raw) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let origin = Origin::File(path.to_path_buf());
    for (section, value) in table {
        let toml::Value::Table(keys) = value else {
            if !NESTED_TABLES.contains(&section.as_str()) {
                lookup(&section, "", &origin)?;
            }
            return Err(ConfigError::BadValue {
                key: section.clone(),
                origin,
                reason: format!("expected a section `[{section}]`, found a plain value"),
            });
        };
        if NESTED_TABLES.contains(&section.as_str()) {
            for (sub, value) in keys {
                let name = format!("{section}.{sub}");
                let toml::Value::Table(keys) = value else {
                    if !KEYS.iter().any(|(s, _)| *s == name) {
                        lookup(&name, "", &origin)?;
                    }
                    return Err(ConfigError::BadValue {
                        key: name.clone(),
                        origin,
                        reason: format!("expected a section `[{name}]`, found a plain value"),
                    });
                };
                read_section(&name, keys, &origin, raw)?;
            }
        } else {
            read_section(&section, keys, &origin, raw)?;
        }
    }
    Ok(())
}

/// Collects one section's keys, rejecting unknown ones.
fn read_section(
    section: &str,
    keys: toml::Table,
    origin: &Origin,
    raw: &mut Raw,
) -> Result<(), ConfigError> {
    for (key, value) in keys {
        lookup(section, &key, origin)?;
        raw.insert((section.to_string(), key), (value, origin.clone()));
    }
    Ok(())
}

/// The section an environment variable names: `OAUTH_GITHUB` is `[oauth.github]`.
fn env_section(upper: &str) -> String {
    let lower = upper.to_ascii_lowercase();
    KEYS.iter()
        .map(|(s, _)| *s)
        .find(|s| s.replace('.', "_") == lower)
        .map_or(lower, str::to_string)
}

/// Collects the `GS_*` overrides, rejecting unknown keys and malformed values.
fn read_env(env: &BTreeMap<String, String>, raw: &mut Raw) -> Result<(), ConfigError> {
    for (name, text) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            return Err(ConfigError::BadEnvName(name.clone()));
        };
        let (section, key) = (env_section(section), key.to_ascii_lowercase());
        let origin = Origin::Env(name.clone());
        let kind = lookup(&section, &key, &origin)?;
        let value = env_value(kind, text).map_err(|reason| ConfigError::BadValue {
            key: format!("{section}.{key}"),
            origin: origin.clone(),
            reason,
        })?;
        raw.insert((section, key), (value, origin));
    }
    Ok(())
}

/// Typed access to the collected values, each falling back to its default.
struct Values {
    raw: Raw,
}

impl Values {
    fn bad(&self, section: &str, key: &str, reason: String) -> ConfigError {
        let origin = self
            .raw
            .get(&(section.to_string(), key.to_string()))
            .map_or(Origin::Default, |(_, o)| o.clone());
        ConfigError::BadValue {
            key: format!("{section}.{key}"),
            origin,
            reason,
        }
    }

    fn get(&self, section: &str, key: &str) -> Option<&toml::Value> {
        self.raw
            .get(&(section.to_string(), key.to_string()))
            .map(|(v, _)| v)
    }

    fn opt_str(&self, section: &str, key: &str) -> Result<Option<String>, ConfigError> {
        match self.get(section, key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.bad(
                section,
                key,
                format!("expected a string, found {}", v.type_str()),
            )),
        }
    }

    fn string(&self, section: &str, key: &str, default: &str) -> Result<String, ConfigError> {
        let s = self
            .opt_str(section, key)?
            .unwrap_or_else(|| default.to_string());
        if s.trim().is_empty() {
            return Err(self.bad(section, key, "must not be empty".into()));
        }
        Ok(s)
    }

    fn path(&self, section: &str, key: &str, default: &str) -> Result<PathBuf, ConfigError> {
        self.string(section, key, default).map(PathBuf::from)
    }

    fn boolean(&self, section: &str, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(self.bad(
                section,
                key,
                format!("expected true or false, found {}", v.type_str()),
            )),
        }
    }

    fn int(&self, section: &str, key: &str, default: i64) -> Result<i64, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(toml::Value::Integer(i)) => Ok(*i),
            Some(v) => Err(self.bad(
                section,
                key,
                format!("expected an integer, found {}", v.type_str()),
            )),
        }
    }

    fn ids(&self, section: &str, key: &str, default: &[i64]) -> Result<Vec<i64>, ConfigError> {
        let Some(value) = self.get(section, key) else {
            return Ok(default.to_vec());
        };
        let expected = "expected a list of user ids like [1, 2]";
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
                toml::Value::Integer(i) if *i > 0 => Ok(*i),
                other => Err(self.bad(
                    section,
                    key,
                    format!("{expected}, found `{other}` in the list"),
                )),
            })
            .collect()
    }

    fn addr(&self, section: &str, key: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        let s = self.string(section, key, default)?;
        s.parse().map_err(|_| {
            self.bad(
                section,
                key,
                format!("expected an IP address and port like 127.0.0.1:8010, found `{s}`"),
            )
        })
    }

    fn endpoint(&self, section: &str, key: &str, default: &str) -> Result<String, ConfigError> {
        let s = self.string(section, key, default)?;
        if ["ipc://", "tcp://", "inproc://"]
            .iter()
            .any(|p| s.starts_with(p))
        {
            Ok(s)
        } else {
            Err(self.bad(
                section,
                key,
                format!("expected a ZeroMQ endpoint like ipc://data/action.sock or tcp://127.0.0.1:5601, found `{s}`"),
            ))
        }
    }
}

/// Values as read, secrets still possibly absent.
struct Parsed {
    config: Config,
    glitter_token: Option<String>,
    signing_key: Option<String>,
}

/// Checks and types every value.
fn build(file: Option<PathBuf>, raw: Raw) -> Result<Parsed, ConfigError> {
    let v = Values { raw };
    let url = v.string("database", "url", "sqlite://data/gs.db")?;
    let engines = ["sqlite:", "mysql:", "mariadb:", "postgres:", "postgresql:"];
    if !engines.iter().any(|p| url.starts_with(p)) {
        return Err(v.bad(
            "database",
            "url",
            format!(
                "expected sqlite://PATH, mysql://USER:PASSWORD@HOST/DB or postgres://USER:PASSWORD@HOST/DB, found `{}`",
                crate::store::redact_url(&url)
            ),
        ));
    }
    let paths = PathsConfig {
        data: v.path("paths", "data", "data")?,
        templates: v.path("paths", "templates", "data/templates")?,
        attachments: v.path("paths", "attachments", "data/attachments")?,
        writeups: v.path("paths", "writeups", "data/writeups")?,
        media: v.path("paths", "media", "data/media")?,
        anticheat_log: v.path("paths", "anticheat_log", "data/anticheat")?,
    };
    let workers = v.int("api", "workers", 1)?;
    let workers = u16::try_from(workers)
        .ok()
        .filter(|w| (1..=256).contains(w))
        .ok_or_else(|| {
            v.bad(
                "api",
                "workers",
                format!("expected 1 to 256 workers, found {workers}"),
            )
        })?;
    let limit = |key: &str, default: i64, range: std::ops::RangeInclusive<i64>| {
        let n = v.int("api", key, default)?;
        if range.contains(&n) {
            Ok(n as u64)
        } else {
            Err(v.bad(
                "api",
                key,
                format!("expected {} to {}, found {n}", range.start(), range.end()),
            ))
        }
    };
    let limits = crate::http_server::Limits {
        max_connections: limit("max_connections", 10_000, 1..=1_000_000)? as usize,
        header_timeout: std::time::Duration::from_secs(limit("header_timeout_s", 10, 1..=3600)?),
        body_timeout: std::time::Duration::from_secs(limit("body_timeout_s", 30, 1..=3600)?),
    };
    let url_prefix = v.string("admin", "url_prefix", "/admin")?;
    if !url_prefix.starts_with('/') || url_prefix.ends_with('/') {
        return Err(v.bad(
            "admin",
            "url_prefix",
            format!("expected a path that starts with `/` and does not end with it, like /admin; found `{url_prefix}`"),
        ));
    }
    let uids = v.ids("admin", "uids", &[1])?;
    let destructive_uids = v.ids("admin", "destructive_uids", &[1])?;
    if let Some(stray) = destructive_uids.iter().find(|u| !uids.contains(u)) {
        return Err(v.bad(
            "admin",
            "destructive_uids",
            format!("user {stray} is not an admin; add it to admin.uids or remove it here"),
        ));
    }
    let timezone = v.string("admin", "timezone", "Asia/Shanghai")?;
    if let Err(e) = crate::clock::TimeZone::named(&timezone) {
        return Err(v.bad("admin", "timezone", e));
    }
    let backend_hostname = v.string("auth", "backend_hostname", "127.0.0.1:8010")?;
    if backend_hostname.contains('/') {
        return Err(v.bad(
            "auth",
            "backend_hostname",
            format!("expected a host name with an optional port, without scheme or path, found `{backend_hostname}`"),
        ));
    }
    let backend_scheme = v.string("auth", "backend_scheme", "http")?;
    if backend_scheme != "http" && backend_scheme != "https" {
        return Err(v.bad(
            "auth",
            "backend_scheme",
            format!("expected http or https, found `{backend_scheme}`"),
        ));
    }
    let glitter_token = v.opt_str("glitter", "token")?;
    if glitter_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        return Err(v.bad(
            "glitter",
            "token",
            "must not be empty; remove the key to have one generated".into(),
        ));
    }
    let signing_key = v.opt_str("secrets", "token_signing_key")?;
    if let Some(key) = &signing_key {
        check_signing_key(key).map_err(|reason| v.bad("secrets", "token_signing_key", reason))?;
    }
    let frontend_dir = v
        .opt_str("api", "frontend_dir")?
        .filter(|d| !d.trim().is_empty())
        .map(PathBuf::from);
    if let Some(dir) = &frontend_dir {
        if !dir.join("index.html").is_file() {
            return Err(v.bad(
                "api",
                "frontend_dir",
                format!("{} has no index.html", dir.display()),
            ));
        }
    }
    let accent_color = v
        .opt_str("ui", "accent_color")?
        .unwrap_or_else(|| "#1a5fb4".to_owned());
    let hex_digits = accent_color.strip_prefix('#').unwrap_or("");
    if !matches!(hex_digits.len(), 3 | 6) || !hex_digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(v.bad(
            "ui",
            "accent_color",
            format!("expected a colour like #1a5fb4, found `{accent_color}`"),
        ));
    }
    let ui = UiConfig {
        site_name: v
            .opt_str("ui", "site_name")?
            .unwrap_or_else(|| "Guiding Star".to_owned()),
        logo_url: v
            .opt_str("ui", "logo_url")?
            .filter(|u| !u.trim().is_empty()),
        accent_color,
    };
    let config = Config {
        file,
        database: DatabaseConfig { url },
        paths,
        glitter: GlitterConfig {
            action_addr: v.endpoint("glitter", "action_addr", DEFAULT_ACTION_ADDR)?,
            event_addr: v.endpoint("glitter", "event_addr", DEFAULT_EVENT_ADDR)?,
            token: Secret(String::new()),
        },
        api: ApiConfig {
            listen: v.addr("api", "listen", "127.0.0.1:8010")?,
            workers,
            attachment_accel_url: v
                .opt_str("api", "attachment_accel_url")?
                .filter(|u| !u.trim().is_empty()),
            frontend_dir,
            limits,
        },
        admin: AdminConfig {
            listen: v.addr("admin", "listen", "127.0.0.1:5000")?,
            url_prefix,
            uids,
            destructive_uids,
            timezone,
        },
        auth: AuthConfig {
            manual_enabled: v.boolean("auth", "manual_enabled", true)?,
            registration_enabled: v.boolean("auth", "registration_enabled", true)?,
            backend_hostname,
            backend_scheme,
        },
        secrets: SecretsConfig {
            token_signing_key: Secret(String::new()),
        },
        http_client: oauth::http_client(&v)?,
        oauth: oauth::providers(&v)?,
        notify: notify::notify(&v)?,
        police: notify::police(&v)?,
        generators: generators::generators(&v)?,
        metrics: ops::metrics(&v)?,
        ctftime: ops::ctftime(&v)?,
        ui,
    };
    Ok(Parsed {
        config,
        glitter_token,
        signing_key,
    })
}

/// A token-signing key must be URL-safe base64 of exactly 32 bytes (padding optional).
fn check_signing_key(key: &str) -> Result<(), String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(key.trim().trim_end_matches('='))
        .map_err(|e| format!("expected URL-safe base64 of a 32-byte Ed25519 seed: {e}"))?;
    if bytes.len() != 32 {
        return Err(format!(
            "expected URL-safe base64 of a 32-byte Ed25519 seed, found {} bytes",
            bytes.len()
        ));
    }
    Ok(())
}

/// 32 random bytes as URL-safe base64.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a secret kept under the data dir, creating it (readable by the owner only)
/// the first time. `create_new` makes two processes starting at once agree on one value.
fn kept_secret(
    path: &Path,
    check: fn(&str) -> Result<(), String>,
    key: &str,
) -> Result<String, ConfigError> {
    let io = |what: &str, source: std::io::Error, help: &str| ConfigError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
        help: help.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let secret = random_secret();
            file.write_all(secret.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| {
                    io(
                        "cannot write the generated secret",
                        e,
                        "check the permissions of paths.data",
                    )
                })?;
            tracing::info!(key, file = %path.display(), "generated a new secret");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                io(
                    "cannot read the secret",
                    e,
                    "check the permissions of paths.data",
                )
            })?;
            let secret = text.trim().to_string();
            check(&secret).map_err(|reason| ConfigError::BadValue {
                key: key.to_string(),
                origin: Origin::SecretFile(path.to_path_buf()),
                reason: format!("{reason}\n  help: delete the file to have a new one generated (tokens signed with the old one stop working)"),
            })?;
            Ok(secret)
        }
        Err(e) => Err(io(
            "cannot create the secret file",
            e,
            "check the permissions of paths.data",
        )),
    }
}

/// A glitter token just has to be non-empty.
fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        Err("the file is empty".into())
    } else {
        Ok(())
    }
}

impl Config {
    /// The game's settings that come from the configuration (who the admins are).
    pub fn game_options(&self) -> crate::state::GameOptions {
        crate::state::GameOptions {
            admins: self.admin.uids.iter().copied().collect(),
        }
    }

    /// Loads the configuration with the process environment: reads `path` (or
    /// `./gs.toml` if it exists), applies `GS_*` overrides, creates the directories and
    /// generates missing secrets under `paths.data`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Config::load_with_env(path, &env)
    }

    /// Like `load`, with an explicit environment (for tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut raw = Raw::new();
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        if let Some(p) = &file {
            read_file(p, &mut raw)?;
        }
        read_env(env, &mut raw)?;
        let Parsed {
            mut config,
            glitter_token,
            signing_key,
        } = build(file, raw)?;
        config.create_dirs()?;
        let data = &config.paths.data;
        config.glitter.token = Secret(match glitter_token {
            Some(t) => t,
            None => kept_secret(&data.join("glitter_token"), check_token, "glitter.token")?,
        });
        config.secrets.token_signing_key = Secret(match signing_key {
            Some(k) => k.trim().to_string(),
            None => kept_secret(
                &data.join("token_signing_key"),
                check_signing_key,
                "secrets.token_signing_key",
            )?,
        });
        Ok(config)
    }

    /// Creates every directory of `[paths]` that is missing.
    fn create_dirs(&self) -> Result<(), ConfigError> {
        let p = &self.paths;
        let dirs = [
            ("paths.data", &p.data),
            ("paths.templates", &p.templates),
            ("paths.attachments", &p.attachments),
            ("paths.writeups", &p.writeups),
            ("paths.media", &p.media),
            ("paths.anticheat_log", &p.anticheat_log),
        ];
        for (key, dir) in dirs {
            std::fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
                what: format!("cannot create the directory of `{key}`"),
                path: dir.clone(),
                source,
                help: format!("create it by hand or point `{key}` at a writable place"),
            })?;
        }
        Ok(())
    }

    /// The token-signing seed's 32 bytes.
    pub fn token_signing_seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        // Checked by `load`, so decoding cannot fail here; a zero seed is never returned
        // for a loaded config.
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(
            self.secrets
                .token_signing_key
                .expose()
                .trim_end_matches('='),
        ) {
            if bytes.len() == 32 {
                seed.copy_from_slice(&bytes);
            }
        }
        seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A temp dir holding a config file whose paths point inside the dir.
    fn setup(body: &str) -> (tempfile::TempDir, PathBuf, BTreeMap<String, String>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gs.toml");
        std::fs::write(&file, body).unwrap();
        let d = dir.path().display().to_string();
        let base = env(&[
            ("GS_PATHS__DATA", &format!("{d}/data")),
            ("GS_PATHS__TEMPLATES", &format!("{d}/data/templates")),
            ("GS_PATHS__ATTACHMENTS", &format!("{d}/data/attachments")),
            ("GS_PATHS__WRITEUPS", &format!("{d}/data/writeups")),
            ("GS_PATHS__MEDIA", &format!("{d}/data/media")),
            ("GS_PATHS__ANTICHEAT_LOG", &format!("{d}/data/anticheat")),
        ]);
        (dir, file, base)
    }

    fn err(body: &str, extra: &[(&str, &str)]) -> String {
        let (_dir, file, mut e) = setup(body);
        e.extend(env(extra));
        Config::load_with_env(Some(&file), &e)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn metrics_and_ctftime_keys() {
        let (_dir, file, e) = setup("");
        let c = Config::load_with_env(Some(&file), &e).unwrap();
        assert!(c.metrics.enabled && c.ctftime.enabled);
        assert_eq!(c.metrics.path, "/metrics");
        assert_eq!(c.ctftime.path, "/service/ctftime.json");
        assert_eq!(c.ctftime.board, "score_all");
        assert!(c.metrics.allows("127.0.0.1".parse().unwrap()));
        assert!(c.metrics.allows("::1".parse().unwrap()));
        assert!(c.metrics.allows("::ffff:127.0.0.5".parse().unwrap()));
        assert!(!c.metrics.allows("10.1.2.3".parse().unwrap()));
        let (_dir, file, e) = setup(
            "[metrics]\nallow = [\"10.0.0.0/8\", \"192.168.1.7\"]\npath = \"/internal/m\"\n[ctftime]\nboard = \"score_pku\"\n",
        );
        let c = Config::load_with_env(Some(&file), &e).unwrap();
        assert!(c.metrics.allows("10.1.2.3".parse().unwrap()));
        assert!(c.metrics.allows("192.168.1.7".parse().unwrap()));
        assert!(!c.metrics.allows("192.168.1.8".parse().unwrap()));
        assert!(!c.metrics.allows("127.0.0.1".parse().unwrap()));
        assert_eq!(c.metrics.path, "/internal/m");
        assert_eq!(c.ctftime.board, "score_pku");
        let e = err("[metrics]\nallow = [\"10.0.0.0/33\"]\n", &[]);
        assert!(
            e.contains("metrics.allow") && e.contains("10.0.0.0/33"),
            "{e}"
        );
        let e = err("", &[("GS_METRICS__PATH", "metrics")]);
        assert!(e.contains("metrics.path"), "{e}");
        let e = err("[ctftime]\nboard = \"first_all\"\n", &[]);
        assert!(
            e.contains("ctftime.board") && e.contains("score_all"),
            "{e}"
        );
        let e = err("[metrics]\nport = 1\n", &[]);
        assert!(e.contains("metrics.port"), "{e}");
    }

    #[test]
    fn defaults_and_generated_secrets() {
        let (dir, file, e) = setup("");
        let c = Config::load_with_env(Some(&file), &e).unwrap();
        assert_eq!(c.database.url, "sqlite://data/gs.db");
        assert_eq!(c.api.listen, "127.0.0.1:8010".parse().unwrap());
        assert_eq!(c.api.workers, 1);
        assert_eq!(c.admin.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(c.admin.uids, vec![1]);
        assert_eq!(c.admin.timezone, "Asia/Shanghai");
        assert!(c.auth.manual_enabled);
        assert_eq!(c.glitter.action_addr, "ipc://data/action.sock");
        assert!(dir.path().join("data/anticheat").is_dir());
        // Secrets are generated once, kept, and reused.
        assert_ne!(c.token_signing_seed(), [0u8; 32]);
        assert!(!c.glitter.token.expose().is_empty());
        let again = Config::load_with_env(Some(&file), &e).unwrap();
        assert_eq!(again.secrets.token_signing_key, c.secrets.token_signing_key);
        assert_eq!(again.glitter.token, c.glitter.token);
        assert_ne!(c.glitter.token, c.secrets.token_signing_key);
        // Never printed.
        let shown = format!("{c:?}");
        assert!(!shown.contains(c.glitter.token.expose()));
        assert!(!shown.contains(c.secrets.token_signing_key.expose()));
    }

    #[test]
    fn file_then_env() {
        let body = "[database]\nurl = \"mysql://u:p@h/db\"\n[api]\nworkers = 3\nlisten = \"0.0.0.0:9000\"\n\
                    [admin]\nuids = [1, 2, 3]\ndestructive_uids = [1]\ntimezone = \"UTC\"\n";
        let (_dir, file, mut e) = setup(body);
        e.extend(env(&[
            ("GS_API__WORKERS", "2"),
            ("GS_ADMIN__UIDS", "1,2"),
            ("GS_ADMIN__DESTRUCTIVE_UIDS", "[2]"),
            ("GS_AUTH__MANUAL_ENABLED", "false"),
            ("GS_GLITTER__TOKEN", "tok"),
            ("OTHER", "ignored"),
        ]));
        let c = Config::load_with_env(Some(&file), &e).unwrap();
        assert_eq!(c.database.url, "mysql://u:p@h/db");
        assert_eq!(c.api.workers, 2);
        assert_eq!(c.api.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(c.admin.uids, vec![1, 2]);
        assert_eq!(c.admin.destructive_uids, vec![2]);
        assert_eq!(c.admin.timezone, "UTC");
        assert!(!c.auth.manual_enabled);
        assert_eq!(c.glitter.token.expose(), "tok");
        assert_eq!(c.file.as_deref(), Some(file.as_path()));
    }

    #[test]
    fn unknown_keys_name_key_and_origin() {
        let m = err("[api]\nlisten = \"127.0.0.1:1\"\nworkerz = 2\n", &[]);
        assert!(
            m.contains("`api.workerz`") && m.contains("gs.toml") && m.contains("listen, workers"),
            "{m}"
        );
        let m = err("[apii]\nworkers = 2\n", &[]);
        assert!(
            m.contains("`apii.workers`") && m.contains("[database]"),
            "{m}"
        );
        let m = err("workers = 2\n", &[]);
        assert!(m.contains("`workers`") && m.contains("gs.toml"), "{m}");
        let m = err("", &[("GS_API__PORT", "1")]);
        assert!(
            m.contains("`api.port`") && m.contains("GS_API__PORT"),
            "{m}"
        );
        let m = err("", &[("GS_DATABASE_URL", "x")]);
        assert!(
            m.contains("GS_DATABASE_URL") && m.contains("GS_<SECTION>__<KEY>"),
            "{m}"
        );
    }

    #[test]
    fn malformed_values_name_key_and_origin() {
        let m = err("[api]\nworkers = \"two\"\n", &[]);
        assert!(
            m.contains("`api.workers`") && m.contains("gs.toml") && m.contains("integer"),
            "{m}"
        );
        let m = err("", &[("GS_API__WORKERS", "two")]);
        assert!(
            m.contains("`api.workers`") && m.contains("GS_API__WORKERS"),
            "{m}"
        );
        let m = err("", &[("GS_API__WORKERS", "0")]);
        assert!(m.contains("`api.workers`") && m.contains("1 to 256"), "{m}");
        let m = err("[api]\nlisten = \"localhost\"\n", &[]);
        assert!(
            m.contains("`api.listen`") && m.contains("127.0.0.1:8010"),
            "{m}"
        );
        let m = err("", &[("GS_ADMIN__UIDS", "1,x")]);
        assert!(
            m.contains("`admin.uids`") && m.contains("GS_ADMIN__UIDS"),
            "{m}"
        );
        let m = err("[admin]\nuids = [2]\n", &[]);
        assert!(
            m.contains("`admin.destructive_uids`") && m.contains("user 1 is not an admin"),
            "{m}"
        );
        let m = err("[admin]\ntimezone = \"Mars/Olympus\"\n", &[]);
        assert!(
            m.contains("`admin.timezone`") && m.contains("Mars/Olympus"),
            "{m}"
        );
        let m = err("[auth]\nmanual_enabled = \"yes\"\n", &[]);
        assert!(
            m.contains("`auth.manual_enabled`") && m.contains("true or false"),
            "{m}"
        );
        let m = err("", &[("GS_AUTH__BACKEND_SCHEME", "ftp")]);
        assert!(
            m.contains("`auth.backend_scheme`") && m.contains("http or https"),
            "{m}"
        );
        let m = err("[database]\nurl = \"oracle://x:secret@h\"\n", &[]);
        assert!(m.contains("`database.url`") && !m.contains("secret"), "{m}");
        let m = err("[glitter]\naction_addr = \"127.0.0.1:5601\"\n", &[]);
        assert!(
            m.contains("`glitter.action_addr`") && m.contains("tcp://"),
            "{m}"
        );
        let m = err("[secrets]\ntoken_signing_key = \"c2hvcnQ\"\n", &[]);
        assert!(
            m.contains("`secrets.token_signing_key`") && m.contains("5 bytes"),
            "{m}"
        );
        let m = err("[admin\n", &[]);
        assert!(
            m.contains("gs.toml") && m.contains("not valid TOML") && m.contains("line 1"),
            "{m}"
        );
    }

    #[test]
    fn bad_kept_secret_says_how_to_fix() {
        let (dir, file, e) = setup("");
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/token_signing_key"), "not base64!").unwrap();
        let m = Config::load_with_env(Some(&file), &e)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("secrets.token_signing_key")
                && m.contains("token_signing_key`")
                && m.contains("delete"),
            "{m}"
        );
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let m = Config::load_with_env(Some(Path::new("/nonexistent/gs.toml")), &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(m.contains("/nonexistent/gs.toml"), "{m}");
    }

    #[test]
    fn oauth_sections_from_file_and_env() {
        let key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/oauth_test_rsa.pem"
        );
        let body = format!(
            "[http_client]\ntimeout_s = 7\nproxies = {{ \"*github.com\" = \"http://127.0.0.1:7890\" }}\n\
             [oauth.github]\nclient_id = \"gh\"\nclient_secret = \"s3cret\"\n\
             [oauth.microsoft]\nclient_id = \"ms\"\nprivate_key_file = \"{key}\"\n\
             thumbprint = \"DB:71:72:09:94:EE:18:E5:55:EB:91:AA:38:5B:69:18:C6:FD:8F:42\"\n\
             [oauth.oidc]\nenabled = false\n"
        );
        let (_dir, file, mut e) = setup(&body);
        e.extend(env(&[
            ("GS_OAUTH_CARSI__CLIENT_ID", "c"),
            ("GS_OAUTH_CARSI__CLIENT_SECRET", "cs"),
            ("GS_OAUTH_CARSI__BASE_URL", "https://carsi.example/"),
            ("GS_OAUTH_CARSI__PRIVATE_KEY_FILE", key),
            ("GS_OAUTH_CARSI__AFFILIATIONS", "student,faculty"),
            ("GS_OAUTH_CARSI__DOMAIN_GROUPS", "a.edu.cn=pku,b.edu.cn=thu"),
            ("GS_HTTP_CLIENT__CONNECT_TIMEOUT_S", "2"),
        ]));
        let c = Config::load_with_env(Some(&file), &e).unwrap();
        let gh = c.oauth.github.as_ref().unwrap();
        assert_eq!(gh.client_id, "gh");
        assert_eq!(gh.token_url, "https://github.com/login/oauth/access_token");
        assert_eq!(gh.group, "other");
        assert_eq!(c.oauth.microsoft.as_ref().unwrap().thumbprint.len(), 20);
        let carsi = c.oauth.carsi.as_ref().unwrap();
        assert_eq!(carsi.base_url, "https://carsi.example");
        assert_eq!(carsi.affiliations, vec!["student", "faculty"]);
        assert_eq!(carsi.domain_groups.len(), 2);
        assert!(carsi.check_state);
        assert!(c.oauth.oidc.is_none() && c.oauth.iaaa.is_none());
        assert_eq!(
            (c.http_client.timeout_s, c.http_client.connect_timeout_s),
            (7, 2)
        );
        assert!(c.http_client.proxies[0].matches("api.github.com"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("PRIVATE KEY"),
            "{shown}"
        );
    }

    #[test]
    fn oauth_errors_name_the_key() {
        let m = err("[oauth.github]\nclient_id = \"x\"\n", &[]);
        assert!(
            m.contains("`oauth.github.client_secret`") && m.contains("required"),
            "{m}"
        );
        let m = err("[oauth.gitlab]\nclient_id = \"x\"\n", &[]);
        assert!(
            m.contains("`oauth.gitlab.client_id`") && m.contains("[oauth.github]"),
            "{m}"
        );
        let m = err("[oauth.github]\nclient_idd = \"x\"\n", &[]);
        assert!(
            m.contains("`oauth.github.client_idd`") && m.contains("client_secret"),
            "{m}"
        );
        let m = err("[oauth]\ngithub = 1\n", &[]);
        assert!(m.contains("`oauth.github`"), "{m}");
        let m = err(
            "",
            &[
                ("GS_OAUTH_GITHUB__GROUP", "aliens"),
                ("GS_OAUTH_GITHUB__CLIENT_ID", "x"),
                ("GS_OAUTH_GITHUB__CLIENT_SECRET", "y"),
            ],
        );
        assert!(
            m.contains("`oauth.github.group`") && m.contains("pku, thu"),
            "{m}"
        );
        let m = err(
            "[oauth.github]\nclient_id = \"x\"\nclient_secret = \"y\"\ntoken_url = \"ftp://x\"\n",
            &[],
        );
        assert!(
            m.contains("`oauth.github.token_url`") && m.contains("https://"),
            "{m}"
        );
        let m = err("[http_client]\nproxies = { \"*\" = \"gopher://x\" }\n", &[]);
        assert!(m.contains("`http_client.proxies`"), "{m}");
        let m = err("", &[("GS_HTTP_CLIENT__TIMEOUT_S", "0")]);
        assert!(
            m.contains("`http_client.timeout_s`") && m.contains("1 to 3600"),
            "{m}"
        );
        let m = err("[oauth.carsi]\nclient_id = \"x\"\nclient_secret = \"y\"\nbase_url = \"https://c\"\nprivate_key_file = \"/nonexistent.pem\"\n", &[]);
        assert!(
            m.contains("`oauth.carsi.private_key_file`") && m.contains("/nonexistent.pem"),
            "{m}"
        );
        let (dir, file, e) = setup("");
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBtYXRlcmlhbA==\n-----END PRIVATE KEY-----\n").unwrap();
        std::fs::write(&file, format!("[oauth.microsoft]\nclient_id = \"x\"\nthumbprint = \"{}\"\nprivate_key_file = \"{}\"\n", "ab".repeat(20), bad.display())).unwrap();
        let m = Config::load_with_env(Some(&file), &e)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("`oauth.microsoft.private_key_file`")
                && m.contains("not an RSA private key")
                && !m.contains("c2VjcmV0"),
            "{m}"
        );
        let m = err(
            "[oauth.microsoft]\nclient_id = \"x\"\nthumbprint = \"abc\"\n",
            &[],
        );
        assert!(
            m.contains("`oauth.microsoft.thumbprint`") && m.contains("40 hex"),
            "{m}"
        );
        let m = err("[oauth.oidc]\nissuer = \"https://id.example\"\nclient_id = \"x\"\nclient_secret = \"y\"\ndiscovery = false\n", &[]);
        assert!(
            m.contains("`oauth.oidc.authorization_endpoint`") && m.contains("discovery = false"),
            "{m}"
        );
        let m = err("[oauth.oidc]\nissuer = \"https://id.example\"\nclient_id = \"x\"\nclient_secret = \"y\"\nscope = \"email\"\n", &[]);
        assert!(
            m.contains("`oauth.oidc.scope`") && m.contains("openid"),
            "{m}"
        );
    }

    #[test]
    fn signing_key_accepts_padding() {
        let key = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert!(check_signing_key(&key).is_ok());
        assert!(check_signing_key(&format!("{key}=")).is_ok());
        assert!(check_signing_key("").is_err());
    }
}
