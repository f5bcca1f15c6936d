//! The CTFtime scoreboard feed (ctftime.org/json-scoreboard-feed) of one score board:
//! `tasks`, then `standings` with `pos`, `team`, `score`, `taskStats` and `lastAccept`.

use super::board::Ranking;
use super::Game;
use crate::rules::BoardKind;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

impl Game {
    /// The feed of score board `key` (every ranked user, not only the displayed ones);
    /// `None` if there is no such score board.
    pub fn ctftime_feed(&self, key: &str) -> Option<Value> {
        let board = self.board(key)?;
        let BoardKind::Score { category, .. } = board.spec.kind else {
            return None;
        };
        let tick = self.cur_tick;
        let shown: Vec<u32> = self
            .chall_order
            .iter()
            .copied()
            .filter(|&ci| {
                let ch = &self.challenges[ci as usize];
                ch.effective_at(tick) && category.is_none_or(|c| ch.row.category == c)
            })
            .collect();
        let title = |ci: u32| self.challenges[ci as usize].row.title.as_str();
        let ranking: std::sync::Arc<Ranking> = self.ranking(board);
        let standings: Vec<Value> = ranking
            .entries
            .iter()
            .enumerate()
            .map(|(i, &(ui, score))| {
                let u = &self.users[ui as usize];
                // Per challenge: points of its passed flags and the time of the last one.
                let mut stats: HashMap<u32, (i64, i64)> = HashMap::new();
                let mut last_accept = None;
                for &(f, s) in &u.passed_flags {
                    if !shown.contains(&f.chall) {
                        continue;
                    }
                    let sub = &self.submissions[s as usize];
                    let e = stats.entry(f.chall).or_insert((0, 0));
                    e.0 += self.gained_score(sub);
                    e.1 = e.1.max(sub.timestamp_s());
                    last_accept = last_accept.max(Some(sub.timestamp_s()));
                }
                let mut task_stats = Map::new();
                for &ci in &shown {
                    if let Some(&(points, time)) = stats.get(&ci) {
                        task_stats.insert(
                            title(ci).to_owned(),
                            json!({"points": points, "time": time}),
                        );
                    }
                }
                let mut entry = json!({
                    "pos": i + 1,
                    "team": u.nickname().unwrap_or("--"),
                    "score": score,
                    "taskStats": task_stats,
                });
                if let Some(t) = last_accept {
                    entry["lastAccept"] = json!(t);
                }
                entry
            })
            .collect();
        Some(json!({
            "tasks": shown.iter().map(|&ci| title(ci)).collect::<Vec<_>>(),
            "standings": standings,
        }))
    }
}

/// JSON text with every non-ASCII character escaped as `\uXXXX` (surrogate pairs beyond
/// the BMP), as CTFtime requires. Outside strings JSON text is ASCII, so escaping every
/// such character keeps it valid.
pub fn ascii_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    let mut units = [0u16; 2];
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ascii_json;
    use serde_json::json;

    #[test]
    fn non_ascii_is_escaped_and_reads_back() {
        let v = json!({"team": "北大 🚩 \"x\"", "n": 1});
        let text = ascii_json(&v);
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("\\u5317\\u5927"), "{text}");
        assert!(text.contains("\\ud83d\\udea9"), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }
}
