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

/// A time zone of the IANA database (daylight saving included), for showing and reading
/// times in the organizers' zone (`[admin] timezone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone {
    /// The IANA name, as shown.
    pub name: String,
    zone: jiff::tz::TimeZone,
}

impl TimeZone {
    /// The zone of an IANA name such as `Asia/Shanghai`; an unknown name is an error.
    pub fn named(name: &str) -> Result<TimeZone, String> {
        let zone = jiff::tz::TimeZone::get(name).map_err(|_| {
            format!("`{name}` is not a time zone of the IANA database (like Asia/Shanghai or UTC)")
        })?;
        Ok(TimeZone {
            name: name.to_owned(),
            zone,
        })
    }

    /// The zone of the configuration, whose name was checked when it was read.
    pub fn configured(name: &str) -> TimeZone {
        TimeZone::named(name).unwrap_or_else(|_| TimeZone::utc())
    }

    /// Coordinated Universal Time.
    pub fn utc() -> TimeZone {
        TimeZone {
            name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// `YYYY-MM-DD HH:MM:SS` in this zone (times out of range are shown as seconds).
    pub fn format(&self, ts: i64) -> String {
        match jiff::Timestamp::from_second(ts) {
            Ok(t) => t
                .to_zoned_datetime(self.zone.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string(),
            Err(_) => ts.to_string(),
        }
    }

    /// Parses `YYYY-MM-DD HH:MM[:SS]` (or `T` between) in this zone, or epoch seconds.
    /// A local time that happens twice (clocks going back) is the earlier one; one that
    /// never happens (clocks going forward) is read as if the clocks had not moved yet.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let text = text.trim();
        if let Ok(n) = text.parse::<i64>() {
            return Ok(n);
        }
        let bad = || format!("`{text}` is not a time like 2026-01-02 15:04:05 or epoch seconds");
        let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
        let num = |s: &str| s.trim().parse::<i64>().map_err(|_| bad());
        let dp: Vec<&str> = date.split('-').collect();
        let tp: Vec<&str> = time.split(':').collect();
        if dp.len() != 3 || !(2..=3).contains(&tp.len()) {
            return Err(bad());
        }
        let small = |n: i64| i8::try_from(n).map_err(|_| bad());
        let year = i16::try_from(num(dp[0])?).map_err(|_| bad())?;
        let (month, day) = (small(num(dp[1])?)?, small(num(dp[2])?)?);
        let (hour, minute) = (small(num(tp[0])?)?, small(num(tp[1])?)?);
        let second = if tp.len() == 3 {
            small(num(tp[2])?)?
        } else {
            0
        };
        let local = jiff::civil::DateTime::new(year, month, day, hour, minute, second, 0)
            .map_err(|_| bad())?;
        let zoned = self
            .zone
            .to_ambiguous_zoned_datetime(local)
            .compatible()
            .map_err(|_| bad())?;
        Ok(zoned.timestamp().as_second())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_the_zone() {
        let tz = TimeZone::named("Asia/Shanghai").unwrap();
        assert_eq!(tz.format(0), "1970-01-01 08:00:00");
        assert_eq!(tz.parse("1970-01-01 08:00").unwrap(), 0);
        let t = 1_790_000_123;
        assert_eq!(tz.parse(&tz.format(t)).unwrap(), t);
        assert!(tz.parse("2026-13-01 00:00").is_err());
        assert!(tz.parse("2026-02-30 00:00").is_err());
        assert!(tz.parse("garbage").is_err());
        assert_eq!(tz.parse(" 12345 ").unwrap(), 12345);
    }

    #[test]
    fn daylight_saving_time_is_followed() {
        let berlin = TimeZone::named("Europe/Berlin").unwrap();
        // 2026-01-15 12:00 UTC is 13:00 in winter (CET); 2026-07-15 12:00 UTC is 14:00 (CEST).
        assert_eq!(berlin.format(1_768_478_400), "2026-01-15 13:00:00");
        assert_eq!(berlin.format(1_784_116_800), "2026-07-15 14:00:00");
        assert_eq!(berlin.parse("2026-07-15 14:00").unwrap(), 1_784_116_800);
        let new_york = TimeZone::named("America/New_York").unwrap();
        assert_eq!(new_york.format(1_784_116_800), "2026-07-15 08:00:00");
    }

    #[test]
    fn an_unknown_zone_is_an_error() {
        let e = TimeZone::named("Nowhere/Else").unwrap_err();
        assert!(e.contains("Nowhere/Else"), "{e}");
        assert_eq!(TimeZone::configured("Nowhere/Else"), TimeZone::utc());
    }
}
