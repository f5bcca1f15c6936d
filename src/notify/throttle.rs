//! The per-channel throttle of staff messages, as pure logic (time passed in): at most
//! `max` messages per channel per window; what is held back is counted and summarized.

use std::collections::{HashMap, VecDeque};

/// First lines of held-back messages kept for the summary, per channel.
const SUMMARY_LINES: usize = 10;

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send it; `text` is the message with a note about earlier held-back ones, if any.
    Send {
        /// The text to send.
        text: String,
    },
    /// The channel is over its budget: held back (counted for a later summary).
    Throttled,
}

#[derive(Debug, Default)]
struct ChannelState {
    /// Send times (ms) within the window, oldest first.
    sent: VecDeque<i64>,
    /// Messages held back since the last summary.
    held: u64,
    /// Their first lines (the first few).
    held_lines: Vec<String>,
}

/// The throttle of every channel.
#[derive(Debug)]
pub struct Throttle {
    max: usize,
    window_ms: i64,
    channels: HashMap<String, ChannelState>,
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        out.push('…');
    }
    out
}

fn summary(channel: &str, held: u64, lines: &[String]) -> String {
    let mut s = format!("[THROTTLED] {held} message(s) on channel {channel} were held back:");
    for l in lines {
        s.push_str("\n- ");
        s.push_str(l);
    }
    if held > lines.len() as u64 {
        s.push_str(&format!("\n- … and {} more", held - lines.len() as u64));
    }
    s
}

impl Throttle {
    /// At most `max` messages per channel in any `window_ms`.
    pub fn new(max: usize, window_ms: i64) -> Throttle {
        Throttle {
            max: max.max(1),
            window_ms,
            channels: HashMap::new(),
        }
    }

    fn room(&mut self, channel: &str, now_ms: i64) -> bool {
        let window = self.window_ms;
        let max = self.max;
        let st = self.channels.entry(channel.to_owned()).or_default();
        while st.sent.front().is_some_and(|&t| t <= now_ms - window) {
            st.sent.pop_front();
        }
        st.sent.len() < max
    }

    /// Decides about one message on `channel` at `now_ms`.
    pub fn admit(&mut self, channel: &str, text: &str, now_ms: i64) -> Verdict {
        if !self.room(channel, now_ms) {
            let st = self.channels.entry(channel.to_owned()).or_default();
            st.held += 1;
            if st.held_lines.len() < SUMMARY_LINES {
                st.held_lines.push(first_line(text));
            }
            return Verdict::Throttled;
        }
        let st = self.channels.entry(channel.to_owned()).or_default();
        st.sent.push_back(now_ms);
        let mut text = text.to_owned();
        if st.held > 0 {
            text.push_str("\n\n");
            text.push_str(&summary(channel, st.held, &st.held_lines));
            st.held = 0;
            st.held_lines.clear();
        }
        Verdict::Send { text }
    }

    /// Summaries of held-back messages on channels that have room again (each uses one
    /// of its channel's slots); also forgets idle channels.
    pub fn due_summaries(&mut self, now_ms: i64) -> Vec<String> {
        let window = self.window_ms;
        let max = self.max;
        let mut out = Vec::new();
        self.channels.retain(|channel, st| {
            while st.sent.front().is_some_and(|&t| t <= now_ms - window) {
                st.sent.pop_front();
            }
            if st.held > 0 && st.sent.len() < max {
                out.push(summary(channel, st.held, &st.held_lines));
                st.sent.push_back(now_ms);
                st.held = 0;
                st.held_lines.clear();
            }
            st.held > 0 || !st.sent.is_empty()
        });
        out
    }

    /// Messages held back and not yet summarized, over all channels.
    pub fn pending(&self) -> u64 {
        self.channels.values().map(|c| c.held).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_per_window_then_summary() {
        let mut t = Throttle::new(5, 1000);
        for i in 0..5 {
            assert!(matches!(
                t.admit("a", &format!("m{i}"), i),
                Verdict::Send { .. }
            ));
        }
        assert_eq!(t.admit("a", "m5\nsecond line", 10), Verdict::Throttled);
        assert_eq!(t.admit("a", "m6", 11), Verdict::Throttled);
        // Other channels have their own budget.
        assert!(matches!(t.admit("b", "x", 12), Verdict::Send { .. }));
        assert_eq!(t.pending(), 2);
        // No room yet: no summary.
        assert!(t.due_summaries(500).is_empty());
        // The first send leaves the window at 1000: one slot, used by the summary.
        let s = t.due_summaries(1000);
        assert_eq!(s.len(), 1);
        assert!(s[0].starts_with("[THROTTLED] 2 message(s) on channel a"));
        assert!(s[0].contains("\n- m5\n- m6"));
        assert_eq!(t.pending(), 0);
        assert_eq!(t.admit("a", "m7", 1000), Verdict::Throttled);
    }

    #[test]
    fn a_later_message_carries_the_summary() {
        let mut t = Throttle::new(1, 100);
        assert!(matches!(t.admit("c", "one", 0), Verdict::Send { .. }));
        assert_eq!(t.admit("c", "two", 50), Verdict::Throttled);
        match t.admit("c", "three", 100) {
            Verdict::Send { text } => {
                assert!(text.starts_with("three\n\n[THROTTLED] 1 message(s) on channel c"));
                assert!(text.ends_with("- two"));
            }
            v => panic!("{v:?}"),
        }
        assert!(t.due_summaries(1000).is_empty());
        // Idle channels are forgotten.
        assert!(t.channels.is_empty());
    }

    #[test]
    fn summary_lines_are_bounded() {
        let mut t = Throttle::new(1, 1000);
        t.admit("d", "x", 0);
        for i in 0..50 {
            t.admit("d", &format!("held {i}"), 1);
        }
        let s = t.due_summaries(1000).pop().unwrap();
        assert!(s.contains("held 9") && !s.contains("held 10\n"));
        assert!(s.ends_with("… and 40 more"));
    }
}
