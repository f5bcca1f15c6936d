//! The texts of staff messages and their channels (the throttle counts per channel),
//! built from the game as the process that notifies sees it.

use crate::state::user::User;
use crate::state::{Game, PushMessage};

/// Characters of feedback quoted in the staff message.
pub const FEEDBACK_QUOTE_CHARS: usize = 200;

/// `U#<uid> <login key> <nickname> (group <group>, score <n>)`.
fn who(user: &User) -> String {
    format!(
        "U#{} {} {} (group {}, score {})",
        user.row.id,
        user.row.login_key,
        user.nickname().unwrap_or("(no nickname)"),
        user.row.group,
        user.tot_score
    )
}

/// Text on one line: line breaks and tabs become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `[FEEDBACK]`: who, on which challenge, and the first 200 characters on one line.
pub fn feedback(game: &Game, uid: i64, challenge_key: &str, content: &str) -> (String, String) {
    let who = game
        .user_by_id(uid)
        .map_or_else(|| format!("U#{uid} (unknown user)"), who);
    let chall = game.challenge(challenge_key).map_or_else(
        || format!("{challenge_key} (unknown challenge)"),
        |c| format!("{} ({}, {})", c.row.title, c.row.key, c.row.category),
    );
    let mut quote: String = one_line(content)
        .chars()
        .take(FEEDBACK_QUOTE_CHARS)
        .collect();
    if content.chars().count() > FEEDBACK_QUOTE_CHARS {
        quote.push('…');
    }
    (
        format!("feedback:{uid}"),
        format!("[FEEDBACK] {who} on {chall}: {quote}"),
    )
}

/// `[WRITEUP]`: who, whether a writeup is required of them, the file and its size.
pub fn writeup(
    game: &Game,
    uid: i64,
    required: bool,
    file_name: &str,
    size: u64,
) -> (String, String) {
    let who = game
        .user_by_id(uid)
        .map_or_else(|| format!("U#{uid} (unknown user)"), who);
    (
        format!("writeup:{uid}"),
        format!(
            "[WRITEUP] {who} uploaded a writeup ({}): {}, {size} bytes",
            if required { "required" } else { "not required" },
            one_line(file_name)
        ),
    )
}

/// `[<LEVEL> <module>] <message>` for a log row.
pub fn log_row(level: &str, module: &str, message: &str) -> (String, String) {
    (
        format!("log:{module}"),
        format!("[{} {module}] {message}", level.to_ascii_uppercase()),
    )
}

/// `[PUSH] <payload as indented JSON>`.
pub fn push(msg: &PushMessage) -> (String, String) {
    let payload = serde_json::to_string_pretty(&msg.payload).unwrap_or_default();
    ("push".to_owned(), format!("[PUSH] {payload}"))
}

/// The admin panel's test message.
pub fn test(admin_uid: i64) -> (String, String) {
    (
        "test".to_owned(),
        format!("[TEST] a test message from the admin panel (sent by U#{admin_uid})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_is_cut_and_on_one_line() {
        let game = Game::build(Default::default(), 0, Default::default());
        let long = format!("line one\nline two {}", "x".repeat(300));
        let (channel, text) = feedback(&game, 7, "web", &long);
        assert_eq!(channel, "feedback:7");
        assert!(text.starts_with(
            "[FEEDBACK] U#7 (unknown user) on web (unknown challenge): line one line two x"
        ));
        assert!(!text.contains('\n'));
        assert_eq!(text.split(": ").nth(1).unwrap().chars().count(), 201);
    }

    #[test]
    fn log_and_push_texts() {
        assert_eq!(
            log_row("error", "reducer", "boom").1,
            "[ERROR reducer] boom"
        );
        let p = PushMessage::broadcast(serde_json::json!({"type": "x"}));
        assert_eq!(push(&p).1, "[PUSH] {\n  \"type\": \"x\"\n}");
    }
}
