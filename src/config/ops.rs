//! `[metrics]` and `[ctftime]`: where the Prometheus metrics and the CTFtime feed are
//! served, and who may read the metrics.

use super::values::Values;
use super::ConfigError;
use ipnet::IpNet;
use std::net::IpAddr;

/// `[metrics]`: Prometheus metrics on every worker's API port and the reducer's
/// admin listener.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Whether `/metrics` is served at all (the figures are kept either way).
    pub enabled: bool,
    /// The path, e.g. `/metrics`.
    pub path: String,
    /// Networks whose clients may read it (the peer address, never `X-Forwarded-For`).
    pub allow: Vec<IpNet>,
}

impl MetricsConfig {
    /// Whether a client at `ip` may read the metrics.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.allow.iter().any(|net| net.contains(&ip))
    }
}

/// `[ctftime]`: the CTFtime scoreboard feed.
#[derive(Debug, Clone, PartialEq)]
pub struct CtftimeConfig {
    /// Whether the feed is served.
    pub enabled: bool,
    /// The path, e.g. `/service/ctftime.json`.
    pub path: String,
    /// The score board it shows (a key of `rules::BOARDS`).
    pub board: String,
}

fn url_path(v: &Values, section: &str, default: &str) -> Result<String, ConfigError> {
    let path = v.string(section, "path", default)?;
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) || path.len() < 2 {
        return Err(v.bad(
            section,
            "path",
            format!("expected a URL path like {default}, found `{path}`"),
        ));
    }
    Ok(path)
}

/// Reads `[metrics]`.
pub(super) fn metrics(v: &Values) -> Result<MetricsConfig, ConfigError> {
    let allow = v
        .str_list("metrics", "allow", &["127.0.0.0/8", "::1/128"])?
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    v.bad(
                        "metrics",
                        "allow",
                        format!("expected addresses or networks like 10.0.0.0/8, found `{s}`"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(MetricsConfig {
        enabled: v.boolean("metrics", "enabled", true)?,
        path: url_path(v, "metrics", "/metrics")?,
        allow,
    })
}

/// Reads `[ctftime]`.
pub(super) fn ctftime(v: &Values) -> Result<CtftimeConfig, ConfigError> {
    let board = v.string("ctftime", "board", "score_all")?;
    let score_boards: Vec<&str> = crate::rules::BOARDS
        .iter()
        .filter(|b| matches!(b.kind, crate::rules::BoardKind::Score { .. }))
        .map(|b| b.key)
        .collect();
    if !score_boards.contains(&board.as_str()) {
        return Err(v.bad(
            "ctftime",
            "board",
            format!(
                "expected a score board ({}), found `{board}`",
                score_boards.join(", ")
            ),
        ));
    }
    Ok(CtftimeConfig {
        enabled: v.boolean("ctftime", "enabled", true)?,
        path: url_path(v, "ctftime", "/service/ctftime.json")?,
        board,
    })
}
