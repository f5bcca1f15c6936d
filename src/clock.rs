//! The wall clock: the one place that reads the current time. The game logic never does
//! (it is handed the tick or the time); the processes around it ask here.

use std::time::{SystemTime, UNIX_EPOCH};

/// Time since the epoch (zero if the clock is before 1970, which a server's is not).
fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the epoch.
pub fn now_s() -> i64 {
    since_epoch().as_secs() as i64
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    since_epoch().as_millis() as i64
}

/// Microseconds since the epoch.
pub fn now_us() -> u64 {
    since_epoch().as_micros() as u64
}

/// Seconds since the epoch with a fraction (the reference's `time.time()`).
pub fn now_f64() -> f64 {
    since_epoch().as_secs_f64()
}

/// Seconds since the epoch of a file's modification time, if it has one.
pub fn modified_s(meta: &std::fs::Metadata) -> Option<i64> {
    let modified = meta.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}
