//! TLS of the connections to MySQL/MariaDB and PostgreSQL (`[database] tls` and
//! `ca_file`): the modes, their mapping onto sqlx's SSL modes (rustls on aws-lc-rs), and the
//! URL parameters that would contradict them. SQLite is a local file: it has no TLS.

use std::path::PathBuf;

use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// How a connection to a database server uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain TCP, never TLS.
    Off,
    /// TLS when the server offers it, else plain; the certificate is not checked (what
    /// libpq and the MySQL client do by default).
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked (encryption against passive
    /// listeners only).
    Require,
    /// TLS or no connection, the certificate chain checked against the Mozilla roots (and
    /// `ca_file`) and the host name of the URL checked against the certificate.
    Verify,
}

impl TlsMode {
    /// Every mode by its configuration name, in order of strictness.
    pub const ALL: [(&'static str, TlsMode); 4] = [
        ("off", TlsMode::Off),
        ("prefer", TlsMode::Prefer),
        ("require", TlsMode::Require),
        ("verify", TlsMode::Verify),
    ];

    /// The mode called `name` (exactly as configured, lower case).
    pub fn parse(name: &str) -> Option<TlsMode> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The configuration name of this mode.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("prefer", |(n, _)| n)
    }

    /// Whether a connection without TLS is refused.
    pub fn requires_tls(self) -> bool {
        matches!(self, TlsMode::Require | TlsMode::Verify)
    }

    fn mysql(self) -> MySqlSslMode {
        match self {
            TlsMode::Off => MySqlSslMode::Disabled,
            TlsMode::Prefer => MySqlSslMode::Preferred,
            TlsMode::Require => MySqlSslMode::Required,
            TlsMode::Verify => MySqlSslMode::VerifyIdentity,
        }
    }

    fn postgres(self) -> PgSslMode {
        match self {
            TlsMode::Off => PgSslMode::Disable,
            TlsMode::Prefer => PgSslMode::Prefer,
            TlsMode::Require => PgSslMode::Require,
            TlsMode::Verify => PgSslMode::VerifyFull,
        }
    }
}

/// The TLS settings of the database connections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbTls {
    /// `[database] tls`.
    pub mode: TlsMode,
    /// `[database] ca_file`: PEM certificates trusted besides the Mozilla roots (for a
    /// private CA); only used with [`TlsMode::Verify`].
    pub ca_file: Option<PathBuf>,
}

impl DbTls {
    pub(super) fn mysql(&self, opts: MySqlConnectOptions) -> MySqlConnectOptions {
        let opts = opts.ssl_mode(self.mode.mysql());
        match &self.ca_file {
            Some(ca) => opts.ssl_ca(ca),
            None => opts,
        }
    }

    pub(super) fn postgres(&self, opts: PgConnectOptions) -> PgConnectOptions {
        let opts = opts.ssl_mode(self.mode.postgres());
        match &self.ca_file {
            Some(ca) => opts.ssl_root_cert(ca),
            None => opts,
        }
    }
}

/// The URL query parameters sqlx reads as TLS mode or trusted CA; `[database] tls` and
/// `ca_file` are the one place to set them, so a URL carrying one is refused.
const URL_TLS_PARAMS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslca",
    "ssl-ca",
    "sslrootcert",
    "ssl-root-cert",
];

/// The first TLS parameter of `url`'s query that `[database] tls`/`ca_file` replace.
pub fn url_tls_param(url: &str) -> Option<&'static str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|pair| {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        URL_TLS_PARAMS.iter().find(|p| **p == name).copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_by_name() {
        for (name, mode) in TlsMode::ALL {
            assert_eq!(TlsMode::parse(name), Some(mode));
            assert_eq!(mode.name(), name);
        }
        assert_eq!(TlsMode::parse("Require"), None);
        assert_eq!(TlsMode::parse("true"), None);
        assert_eq!(TlsMode::default(), TlsMode::Prefer);
        assert!(TlsMode::Verify.requires_tls() && !TlsMode::Prefer.requires_tls());
    }

    #[test]
    fn finds_tls_parameters_in_urls() {
        assert_eq!(url_tls_param("postgres://u@h/db"), None);
        assert_eq!(
            url_tls_param("postgres://u@h/db?sslmode=require"),
            Some("sslmode")
        );
        assert_eq!(
            url_tls_param("mysql://u@h/db?charset=utf8mb4&SSL-MODE=DISABLED"),
            Some("ssl-mode")
        );
        assert_eq!(
            url_tls_param("postgres://u@h/db?sslrootcert=/x"),
            Some("sslrootcert")
        );
        assert_eq!(
            url_tls_param("postgres://u@h/db?sslcert=/c&sslkey=/k"),
            None
        );
    }
}
