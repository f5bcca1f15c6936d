//! `[notify]` (staff notifications: webhook targets, throttle, queue) and `[police]`
//! (the anti-cheat worker): defaults and checks (their keys are listed in `schema`).

use super::secrets::Secret;
use super::values::Values;
use super::ConfigError;

/// Log levels a `[notify] log_levels` entry may name (the reference's levels).
pub const LOG_LEVELS: &[&str] = &[
    "debug", "info", "warn", "warning", "success", "error", "critical",
];

/// `[notify]`: where staff messages go and how they are paced.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// Feishu (Lark) custom bot webhook URL.
    pub feishu_webhook: Option<Secret>,
    /// The Feishu bot's signature secret ("signature verification"), if it has one.
    pub feishu_secret: Option<Secret>,
    /// A generic webhook that takes `{"text": ...}` (Slack, Mattermost, Discord `/slack`).
    pub webhook_url: Option<Secret>,
    /// Log rows at these levels (lower case) are sent to the staff.
    pub log_levels: Vec<String>,
    /// At most this many messages per channel per window.
    pub throttle_max: usize,
    /// The throttle window, seconds.
    pub throttle_window_s: u64,
    /// Seconds one webhook request may take.
    pub timeout_s: u64,
    /// Attempts after the first failed one (with exponential backoff).
    pub retries: u32,
    /// Messages waiting to be sent beyond this are dropped and counted.
    pub queue: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            feishu_webhook: None,
            feishu_secret: None,
            webhook_url: None,
            log_levels: vec!["error".into(), "critical".into()],
            throttle_max: 5,
            throttle_window_s: 20 * 60,
            timeout_s: 10,
            retries: 3,
            queue: 1000,
        }
    }
}

/// `[police]`: the anti-cheat worker.
#[derive(Debug, Clone, PartialEq)]
pub struct PoliceConfig {
    /// Whether `gs serve` runs the police too.
    pub enabled: bool,
}

fn bounded(
    v: &Values,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let n = v.int("notify", key, default)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(v.bad(
            "notify",
            key,
            format!("expected {} to {}, found {n}", range.start(), range.end()),
        ))
    }
}

/// Reads `[notify]`.
pub(super) fn notify(v: &Values) -> Result<NotifyConfig, ConfigError> {
    let s = "notify";
    let d = NotifyConfig::default();
    let default_levels: Vec<&str> = d.log_levels.iter().map(String::as_str).collect();
    let mut log_levels = Vec::new();
    for level in v.str_list(s, "log_levels", &default_levels)? {
        let level = level.trim().to_ascii_lowercase();
        if !LOG_LEVELS.contains(&level.as_str()) {
            return Err(v.bad(
                s,
                "log_levels",
                format!(
                    "unknown level `{level}`; the levels are {}",
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
        log_levels.push(level);
    }
    let feishu_secret = v
        .opt_str(s, "feishu_secret")?
        .filter(|x| !x.trim().is_empty())
        .map(|x| Secret(x.trim().to_owned()));
    let feishu_webhook = v.opt_url(s, "feishu_webhook")?.map(Secret);
    if feishu_secret.is_some() && feishu_webhook.is_none() {
        return Err(v.bad(
            s,
            "feishu_secret",
            "set notify.feishu_webhook too (the secret signs its requests)".into(),
        ));
    }
    Ok(NotifyConfig {
        feishu_webhook,
        feishu_secret,
        webhook_url: v.opt_url(s, "webhook_url")?.map(Secret),
        log_levels,
        throttle_max: bounded(v, "throttle_max", 5, 1..=10_000)? as usize,
        throttle_window_s: bounded(v, "throttle_window_s", 1200, 1..=86_400)? as u64,
        timeout_s: v.seconds(s, "timeout_s", 10)?,
        retries: bounded(v, "retries", 3, 0..=10)? as u32,
        queue: bounded(v, "queue", 1000, 1..=1_000_000)? as usize,
    })
}

/// Reads `[police]`.
pub(super) fn police(v: &Values) -> Result<PoliceConfig, ConfigError> {
    Ok(PoliceConfig {
        enabled: v.boolean("police", "enabled", true)?,
    })
}
