//! `[generators]`: how the generators of dynamic flags and attachments are run (the
//! interpreter, how many at once, how long, how much output).

use super::values::Values;
use super::ConfigError;

/// `[generators]`
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorsConfig {
    /// The Python interpreter (≥ 3.8) that runs `flag.py` and `gen.py` modules.
    pub python: String,
    /// Generators running at once in one process; the others queue.
    pub concurrency: usize,
    /// A generator still running after this long is killed (a failure).
    pub timeout_s: u64,
    /// Largest generated attachment, in MiB; larger ones are refused.
    pub max_file_mb: u64,
    /// After a failure, the same user and flag or attachment is not tried again for this
    /// long (requests in between fail at once instead of running the generator again).
    pub retry_after_s: u64,
}

fn bounded(
    v: &Values,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<u64, ConfigError> {
    let n = v.int("generators", key, default)?;
    if !range.contains(&n) {
        return Err(v.bad(
            "generators",
            key,
            format!("expected {} to {}, found {n}", range.start(), range.end()),
        ));
    }
    Ok(n as u64)
}

/// Reads `[generators]`.
pub(super) fn generators(v: &Values) -> Result<GeneratorsConfig, ConfigError> {
    Ok(GeneratorsConfig {
        python: v.string("generators", "python", "python3")?,
        concurrency: bounded(v, "concurrency", 4, 1..=256)? as usize,
        timeout_s: bounded(v, "timeout_s", 60, 1..=3600)?,
        max_file_mb: bounded(v, "max_file_mb", 256, 1..=65_536)?,
        retry_after_s: bounded(v, "retry_after_s", 30, 0..=86_400)?,
    })
}
