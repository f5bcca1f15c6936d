//! Submissions: the stored row in a compact form plus what the game made of it (user,
//! challenge, matched flag) and the score it gains, which changes as the flag decays.

use super::challenge::UserIdx;
use super::user::FlagRef;

/// Index of an interned challenge key (submissions keep keys of deleted challenges too).
pub type KeyIdx = u32;

/// A submission applied to the game, kept compact (64 bytes and its flag's text): a
/// contest may hold millions, in the reducer and in every worker.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Row id.
    pub id: i64,
    /// Time of submission.
    pub timestamp_ms: i64,
    /// Where the submitted flag is in the game's [`FlagTexts`] (`Game::submitted_flag`).
    pub flag: FlagText,
    /// The admin's or the deduction's overrides, when there are any (rare: boxed).
    overrides: Option<Box<Overrides>>,
    /// The submitting user.
    pub user: UserIdx,
    /// The submitted challenge key (interned; `Game::submission_challenge` gives the
    /// challenge while the key exists).
    pub key: KeyIdx,
    /// The flag it passed; `None` for wrong or duplicate submissions.
    pub matched: Option<FlagRef>,
    /// Whether it was a correct flag submitted again (shown as 重复提交).
    pub duplicate: bool,
    /// The same user's previous submission (`SubIdx::MAX` for the first): a chain that
    /// lists a user's submissions newest first without a list per user.
    pub prev_of_user: u32,
}

/// The stored overrides of a submission's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Overrides {
    score: Option<i64>,
    percentage: Option<i64>,
}

impl Submission {
    /// A submission as applied, without its place in the user's chain (`prev_of_user`
    /// is `SubIdx::MAX`) and without a verdict.
    pub fn new(id: i64, timestamp_ms: i64, flag: FlagText, user: UserIdx, key: KeyIdx) -> Self {
        Submission {
            id,
            timestamp_ms,
            flag,
            overrides: None,
            user,
            key,
            matched: None,
            duplicate: false,
            prev_of_user: u32::MAX,
        }
    }

    /// Admin-set gained score, winning over everything else.
    pub fn score_override(&self) -> Option<i64> {
        self.overrides.as_ref().and_then(|o| o.score)
    }

    /// Percentage of the flag's score gained (the deduction, or an admin's choice).
    pub fn percentage_override(&self) -> Option<i64> {
        self.overrides.as_ref().and_then(|o| o.percentage)
    }

    /// Sets both overrides (`None` for none).
    pub fn set_overrides(&mut self, score: Option<i64>, percentage: Option<i64>) {
        self.overrides = (score.is_some() || percentage.is_some())
            .then(|| Box::new(Overrides { score, percentage }));
    }

    /// What a flag score of `score` is worth to this submission after its overrides.
    pub fn tweak(&self, score: i64) -> i64 {
        tweak_score(self.score_override(), self.percentage_override(), score)
    }

    /// The score gained when the flag is worth `flag_score` now (0 when nothing matched).
    pub fn gained(&self, flag_score: i64) -> i64 {
        if self.matched.is_some() {
            self.tweak(flag_score)
        } else {
            0
        }
    }

    /// Timestamp in whole seconds, truncating as the reference does.
    pub fn timestamp_s(&self) -> i64 {
        self.timestamp_ms / 1000
    }

    /// Whether an admin or the deduction changed its score.
    pub fn has_override(&self) -> bool {
        self.overrides.is_some()
    }
}

/// The submitted flags of all submissions, one after another in one buffer: one
/// allocation per flag cost more than most flags' text.
#[derive(Debug, Clone, Default)]
pub struct FlagTexts {
    text: String,
    /// Lengths of the texts too long for [`FlagText`]'s length bits, by offset (never
    /// met in practice: the API takes 64 KiB bodies; a hand-made row could be longer).
    long: std::collections::HashMap<u64, usize>,
}

/// Where one flag is in [`FlagTexts`]: offset (40 bits) and length (24 bits) in 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagText(u64);

/// The length bits' value meaning "look the length up in `FlagTexts::long`".
const LONG_FLAG: u64 = (1 << 24) - 1;

impl FlagTexts {
    /// Stores a flag's text and returns where it is.
    pub fn push(&mut self, flag: &str) -> FlagText {
        let at = self.text.len() as u64;
        // 40 bits of offset: 1 TiB of flags, far beyond any memory this game lives in.
        debug_assert!(at < 1 << 40);
        self.text.push_str(flag);
        let len = flag.len() as u64;
        if len >= LONG_FLAG {
            self.long.insert(at, flag.len());
            FlagText(at << 24 | LONG_FLAG)
        } else {
            FlagText(at << 24 | len)
        }
    }

    /// The text of a stored flag.
    pub fn get(&self, flag: FlagText) -> &str {
        let at = flag.0 >> 24;
        let len = match flag.0 & LONG_FLAG {
            LONG_FLAG => self.long.get(&at).copied().unwrap_or(0),
            len => len as usize,
        };
        self.text
            .get(at as usize..at as usize + len)
            .unwrap_or_default()
    }

    /// Forgets every text (the submissions are being replayed).
    pub fn clear(&mut self) {
        self.text.clear();
        self.long.clear();
    }
}

/// The score override wins; else the percentage (truncated); else the flag's score.
pub fn tweak_score(score_override: Option<i64>, percentage: Option<i64>, score: i64) -> i64 {
    if let Some(s) = score_override {
        s
    } else if let Some(p) = percentage {
        // Python: int(score * p / 100), a float division truncated toward zero.
        ((score * p) as f64 / 100.0) as i64
    } else {
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_texts_give_back_what_was_stored() {
        let mut texts = FlagTexts::default();
        let long = "x".repeat(LONG_FLAG as usize + 5);
        let stored: Vec<(FlagText, String)> = ["flag{a}", "", "旗帜{🚩}", long.as_str(), "z"]
            .iter()
            .map(|t| (texts.push(t), t.to_string()))
            .collect();
        for (at, text) in &stored {
            assert_eq!(texts.get(*at), text);
        }
        texts.clear();
        let again = texts.push("flag{b}");
        assert_eq!(texts.get(again), "flag{b}");
    }

    #[test]
    fn a_submission_is_64_bytes() {
        assert_eq!(std::mem::size_of::<Submission>(), 64);
    }

    #[test]
    fn overrides_are_kept_only_when_set() {
        let mut s = Submission::new(1, 0, FlagTexts::default().push("f"), 0, 0);
        assert!(!s.has_override());
        s.set_overrides(None, Some(50));
        assert_eq!(
            (s.score_override(), s.percentage_override()),
            (None, Some(50))
        );
        assert_eq!(s.tweak(101), 50);
        s.set_overrides(Some(7), None);
        assert_eq!(s.tweak(101), 7);
        s.set_overrides(None, None);
        assert!(!s.has_override());
    }
}
