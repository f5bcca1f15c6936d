//! Configuration (cli.md): `--config FILE`, else `./gs.toml` if present, else defaults;
//! then `GS_<SECTION>__<KEY>` environment overrides; then directories and secrets.
//!
//! Layout: `schema` (every section and key with its kind), `sources` (the file and the
//! environment), `values` (typed access with defaults), `secrets` (kept and checked
//! secrets); one file per group of sections (`oauth`, `notify`, `generators`, `ops`); this
//! file holds the typed configuration, the checks of the core sections and loading.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod generators;
mod notify;
mod oauth;
mod ops;
mod schema;
mod secrets;
mod sources;
#[cfg(test)]
mod tests;
mod values;
pub use generators::GeneratorsConfig;
pub use notify::{NotifyConfig, PoliceConfig, LOG_LEVELS};
pub use oauth::{
    CarsiConfig, GithubConfig, HttpClientConfig, IaaaConfig, MicrosoftConfig, OAuthConfig,
    OidcConfig, ProxyRule, TokenAuth,
};
pub use ops::{CtftimeConfig, MetricsConfig};
pub use secrets::Secret;

use secrets::{check_signing_key, check_token, kept_secret};
use sources::{read_env, read_file};
use values::{Raw, Values};

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_FILE: &str = "gs.toml";

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

/// `[database]`
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    /// `sqlite://PATH`, `mysql://…` or `postgres://…`.
    pub url: String,
    /// `tls` and `ca_file`: TLS of the connections to MySQL/MariaDB and PostgreSQL.
    pub tls: crate::store::DbTls,
    /// When the reducer's SQLite commits reach the disk (`synchronous` of its connections).
    pub sqlite_synchronous: crate::store::SqliteSync,
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

/// Values as read, secrets still possibly absent.
struct Parsed {
    config: Config,
    glitter_token: Option<String>,
    signing_key: Option<String>,
}

/// `[database] tls` and `ca_file`, checked against the URL: a known mode, no TLS
/// parameter in the URL besides them, no required TLS for SQLite, and a CA file that exists
/// and holds a PEM certificate (only with `verify`, the one mode that checks certificates).
fn database_tls(v: &Values, url: &str) -> Result<crate::store::DbTls, ConfigError> {
    use crate::store::{url_tls_param, DbTls, TlsMode};
    let name = v.string("database", "tls", "prefer")?;
    let mode = TlsMode::parse(&name).ok_or_else(|| {
        let known: Vec<&str> = TlsMode::ALL.iter().map(|(n, _)| *n).collect();
        v.bad(
            "database",
            "tls",
            format!("expected one of {}, found `{name}`", known.join(", ")),
        )
    })?;
    if let Some(param) = url_tls_param(url) {
        return Err(v.bad(
            "database",
            "url",
            format!(
                "the URL sets `{param}`; set TLS with `database.tls` (off, prefer, require, verify) and `database.ca_file` instead"
            ),
        ));
    }
    if url.starts_with("sqlite:") && mode.requires_tls() {
        return Err(v.bad(
            "database",
            "tls",
            format!("`{name}` cannot apply to SQLite (a local file, no connection to encrypt); use off or prefer, which SQLite ignores"),
        ));
    }
    let ca_file = v
        .opt_str("database", "ca_file")?
        .filter(|f| !f.trim().is_empty())
        .map(PathBuf::from);
    if let Some(file) = &ca_file {
        if mode != TlsMode::Verify {
            return Err(v.bad(
                "database",
                "ca_file",
                format!("only used with database.tls = \"verify\" (the one mode that checks the server's certificate), but tls is `{name}`"),
            ));
        }
        let text = std::fs::read(file).map_err(|e| {
            v.bad(
                "database",
                "ca_file",
                format!("cannot read `{}`: {e}", file.display()),
            )
        })?;
        if !text
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(v.bad(
                "database",
                "ca_file",
                format!(
                    "`{}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    file.display()
                ),
            ));
        }
    }
    Ok(DbTls { mode, ca_file })
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
    let tls = database_tls(&v, &url)?;
    let sqlite_synchronous = match v.string("database", "sqlite_synchronous", "full")?.as_str() {
        "full" => crate::store::SqliteSync::Full,
        "normal" => crate::store::SqliteSync::Normal,
        other => {
            return Err(v.bad(
                "database",
                "sqlite_synchronous",
                format!("expected `full` or `normal`, found `{other}`"),
            ))
        }
    };
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
        database: DatabaseConfig {
            url,
            tls,
            sqlite_synchronous,
        },
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
}
