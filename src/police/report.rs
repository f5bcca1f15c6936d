//! The texts of police reports: the log row (every origin user) and the staff message
//! (the first seven), as the reference words them.

use crate::clock::TimeZone;
use crate::state::police::{Finding, OriginStatus, Report};

/// Origin users listed in a staff message; the log row lists them all.
pub const STAFF_ORIGINS: usize = 7;

/// The log module of police reports.
pub const LOG_MODULE: &str = "police.check_submission";

/// The report's text, listing at most `limit` origin users.
pub fn text(r: &Report, tz: &TimeZone, limit: Option<usize>) -> String {
    let head = format!(
        "S#{} (U#{} {} ch={})",
        r.sid, r.uid, r.login_key, r.challenge_key
    );
    match &r.finding {
        Finding::Honeypot => format!("honeypot {head} submitted a honeypot flag"),
        Finding::SharedFlag { origins } => {
            let mut s = format!("{head} matches {} origin users:", origins.len());
            let shown = limit.unwrap_or(usize::MAX);
            for o in origins.iter().take(shown) {
                let status = match o.status {
                    OriginStatus::Passed(ms) => tz.format(ms.div_euclid(1000)),
                    OriginStatus::DoesNotPass => "does not pass".to_owned(),
                    OriginStatus::EmptyUser => "empty user".to_owned(),
                };
                s.push_str(&format!("\n- U#{} {} ({status})", o.uid, o.login_key));
            }
            if origins.len() > shown {
                s.push_str(&format!("\n(showing first {shown})"));
            }
            s
        }
    }
}

/// The staff message: `[POLICE] ` and the text cut to the first seven origin users.
pub fn staff_message(r: &Report, tz: &TimeZone) -> (String, String) {
    (
        format!("police:{}", r.uid),
        format!("[POLICE] {}", text(r, tz, Some(STAFF_ORIGINS))),
    )
}

/// A report read back from its log row (for the admin's anti-cheat page).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Parsed {
    /// A honeypot report (else a shared flag).
    pub honeypot: bool,
    /// The submission id.
    pub sid: i64,
    /// The submitter.
    pub uid: i64,
    /// The submitter's login key.
    pub login_key: String,
    /// The challenge key.
    pub challenge_key: String,
    /// Origin users: uid, login key, status text.
    pub origins: Vec<(i64, String, String)>,
}

/// Reads a report's text back; `None` when it is not one.
pub fn parse(text: &str) -> Option<Parsed> {
    let mut lines = text.lines();
    let first = lines.next()?;
    let (honeypot, head) = match first.strip_prefix("honeypot ") {
        Some(rest) => (true, rest),
        None => (false, first),
    };
    let rest = head.strip_prefix("S#")?;
    let (sid, rest) = rest.split_once(" (U#")?;
    let (uid, rest) = rest.split_once(' ')?;
    let (login_key, rest) = rest.split_once(" ch=")?;
    let (challenge_key, _) = rest.split_once(')')?;
    let origins = lines
        .filter_map(|l| {
            let l = l.strip_prefix("- U#")?;
            let (uid, rest) = l.split_once(' ')?;
            let (login_key, status) = rest.rsplit_once(" (")?;
            Some((
                uid.parse().ok()?,
                login_key.to_owned(),
                status.strip_suffix(')')?.to_owned(),
            ))
        })
        .collect();
    Some(Parsed {
        honeypot,
        sid: sid.parse().ok()?,
        uid: uid.parse().ok()?,
        login_key: login_key.to_owned(),
        challenge_key: challenge_key.to_owned(),
        origins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::police::Origin;

    fn origin(uid: i64, status: OriginStatus) -> Origin {
        Origin {
            uid,
            login_key: format!("github:{uid}"),
            status,
        }
    }

    #[test]
    fn texts_follow_the_reference() {
        let tz = TimeZone::named("Asia/Shanghai").unwrap();
        let mut origins = vec![
            origin(3, OriginStatus::Passed(1_700_000_000_000)),
            origin(4, OriginStatus::DoesNotPass),
            origin(5, OriginStatus::EmptyUser),
        ];
        let r = Report {
            sid: 42,
            uid: 9,
            login_key: "manual:b".into(),
            challenge_key: "misc_leet".into(),
            finding: Finding::SharedFlag {
                origins: origins.clone(),
            },
        };
        assert_eq!(
            text(&r, &tz, None),
            "S#42 (U#9 manual:b ch=misc_leet) matches 3 origin users:\n\
             - U#3 github:3 (2023-11-15 06:13:20)\n\
             - U#4 github:4 (does not pass)\n\
             - U#5 github:5 (empty user)"
        );
        let (channel, msg) = staff_message(&r, &tz);
        assert_eq!(channel, "police:9");
        assert!(msg.starts_with("[POLICE] S#42 (U#9 manual:b ch=misc_leet) matches 3"));
        assert!(!msg.contains("showing"));
        origins.extend((10..20).map(|u| origin(u, OriginStatus::EmptyUser)));
        let r = Report {
            finding: Finding::SharedFlag { origins },
            ..r
        };
        let (_, msg) = staff_message(&r, &tz);
        assert_eq!(msg.lines().count(), 1 + 7 + 1);
        assert!(msg.ends_with("- U#13 github:13 (empty user)\n(showing first 7)"));
        assert_eq!(text(&r, &tz, None).lines().count(), 14);
        let h = Report {
            finding: Finding::Honeypot,
            ..r
        };
        assert_eq!(
            staff_message(&h, &tz).1,
            "[POLICE] honeypot S#42 (U#9 manual:b ch=misc_leet) submitted a honeypot flag"
        );
        let back = parse(&text(&h, &tz, None)).unwrap();
        assert!(back.honeypot && back.origins.is_empty());
        assert_eq!((back.sid, back.uid), (42, 9));
    }

    #[test]
    fn log_text_reads_back() {
        let tz = TimeZone::utc();
        let r = Report {
            sid: 7,
            uid: 2,
            login_key: "iaaa:2100 (x)".into(),
            challenge_key: "web_words".into(),
            finding: Finding::SharedFlag {
                origins: vec![
                    origin(3, OriginStatus::Passed(0)),
                    origin(4, OriginStatus::EmptyUser),
                ],
            },
        };
        let p = parse(&text(&r, &tz, None)).unwrap();
        assert!(!p.honeypot);
        assert_eq!(
            (p.sid, p.uid, p.login_key.as_str()),
            (7, 2, "iaaa:2100 (x)")
        );
        assert_eq!(p.challenge_key, "web_words");
        assert_eq!(
            p.origins,
            vec![
                (3, "github:3".to_owned(), "1970-01-01 00:00:00".to_owned()),
                (4, "github:4".to_owned(), "empty user".to_owned())
            ]
        );
        assert_eq!(parse("some other log line"), None);
    }
}
