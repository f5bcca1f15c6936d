//! The emoji rules of nicknames: which emoji-building characters are allowed, and the
//! display width with every emoji counted as one wide unit (as the reference's `emoji` library).

use std::collections::HashSet;
use std::sync::OnceLock;

use unicode_segmentation::UnicodeSegmentation;

/// Display width of a nickname: emoji count as one wide unit, then grapheme clusters are
/// 1 for a lone ASCII character other than `wm@%~=<>&` and capitals, 2 for anything else.
pub fn display_width(s: &str) -> usize {
    let replaced = replace_emoji(s);
    replaced
        .graphemes(true)
        .map(|g| {
            let mut it = g.chars();
            match (it.next(), it.next()) {
                (Some(c), None) if c.is_ascii() && !is_wide_ascii(c) => 1,
                _ => 2,
            }
        })
        .sum()
}

/// Characters allowed although their category is banned: they build emoji sequences.
pub(super) fn is_emoji_component(c: char) -> bool {
    matches!(u32::from(c),
        0x200D | 0x200B | 0x20E3 | 0xFE00..=0xFE0F | 0xE0020..=0xE007F | 0x1F1E6..=0x1F1FF)
}

fn is_wide_ascii(c: char) -> bool {
    c.is_ascii_uppercase() || "wm@%~=<>&".contains(c)
}

// ---------------------------------------------------------------------------------------------
// Emoji replacement, as the reference's `emoji.replace_emoji(name, '典')` (non-RGI ZWJ dropped)

const ZWJ: char = '\u{200D}';
const WIDE_PLACEHOLDER: char = '典';
/// Skin tones and hair styles: emoji on their own, and handled specially after a ZWJ.
const COMPONENTS: [char; 9] = [
    '\u{1F3FB}',
    '\u{1F3FC}',
    '\u{1F3FD}',
    '\u{1F3FE}',
    '\u{1F3FF}',
    '\u{1F9B0}',
    '\u{1F9B1}',
    '\u{1F9B2}',
    '\u{1F9B3}',
];

struct EmojiDb {
    /// Every emoji sequence, fully qualified or with any of its U+FE0F dropped, and components.
    keys: HashSet<String>,
    /// Every non-empty prefix of a key (the search tree's nodes).
    prefixes: HashSet<String>,
}

fn emoji_db() -> &'static EmojiDb {
    static DB: OnceLock<EmojiDb> = OnceLock::new();
    DB.get_or_init(|| {
        let mut keys: HashSet<String> = COMPONENTS.iter().map(|c| c.to_string()).collect();
        let mut add_variants = |seq: &str| {
            let chars: Vec<char> = seq.chars().collect();
            let selectors: Vec<usize> = (0..chars.len())
                .filter(|&i| chars[i] == '\u{FE0F}')
                .collect();
            // Sequences hold at most a few selectors; cap the subsets to stay bounded.
            let subsets = 1u32 << selectors.len().min(8);
            for mask in 0..subsets {
                let variant = chars
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        selectors
                            .iter()
                            .position(|s| s == i)
                            .is_none_or(|bit| bit >= 8 || mask & (1 << bit) == 0)
                    })
                    .map(|(_, c)| *c)
                    .collect::<String>();
                keys.insert(variant);
            }
        };
        for emoji in emojis::iter() {
            match emoji.skin_tones() {
                Some(tones) => tones.for_each(|e| add_variants(e.as_str())),
                None => add_variants(emoji.as_str()),
            }
        }
        let mut prefixes = HashSet::new();
        for key in &keys {
            let mut prefix = String::new();
            for c in key.chars() {
                prefix.push(c);
                prefixes.insert(prefix.clone());
            }
        }
        EmojiDb { keys, prefixes }
    })
}

struct Token {
    text: String,
    len: usize,
    emoji: bool,
}

/// Replaces each emoji by one wide placeholder, drops U+FE0E/U+FE0F outside emoji and the ZWJ
/// between emoji that are not a known sequence, with the reference library's greedy walk.
fn replace_emoji(s: &str) -> String {
    let db = emoji_db();
    let chars: Vec<char> = s.chars().collect();
    let in_tree = |c: char| db.prefixes.contains(c.encode_utf8(&mut [0; 4]) as &str);
    let n = chars.len();
    let mut ignore = vec![false; n];
    let mut pending: Vec<Token> = Vec::new();
    let mut out = String::with_capacity(s.len());
    let flush = |pending: &mut Vec<Token>, out: &mut String| {
        for t in pending.drain(..) {
            if t.emoji {
                out.push(WIDE_PLACEHOLDER);
            } else {
                out.push_str(&t.text);
            }
        }
    };
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if ignore[i] {
            i += 1;
            continue;
        }
        let mut consumed = false;
        if in_tree(c) {
            let mut node = c.to_string();
            let mut j = i + 1;
            while j < n && !ignore[j] {
                let mut next = node.clone();
                next.push(chars[j]);
                if !db.prefixes.contains(&next) {
                    break;
                }
                node = next;
                j += 1;
            }
            if db.keys.contains(&node) {
                pending.push(Token {
                    text: node,
                    len: j - i,
                    emoji: true,
                });
                i = j - 1;
                consumed = true;
            }
        } else if c == ZWJ
            && i > 0
            && in_tree(chars[i - 1])
            && pending.last().is_some_and(|t| db.keys.contains(&t.text))
        {
            ignore[i] = true;
            let last_is_component = pending.last().is_some_and(|t| {
                let mut it = t.text.chars();
                matches!((it.next(), it.next()), (Some(c), None) if COMPONENTS.contains(&c))
            });
            if last_is_component {
                let back: usize = pending.iter().rev().take(2).map(|t| t.len).sum();
                i = i.saturating_sub(back);
                pending.pop();
                if chars.get(i) == Some(&ZWJ) {
                    i += 1;
                } else {
                    pending.pop();
                }
            } else {
                i = i.saturating_sub(pending.pop().map_or(0, |t| t.len));
            }
            continue;
        } else {
            flush(&mut pending, &mut out);
        }
        if !consumed && c != '\u{FE0E}' && c != '\u{FE0F}' {
            pending.push(Token {
                text: c.to_string(),
                len: 1,
                emoji: false,
            });
        }
        i += 1;
    }
    flush(&mut pending, &mut out);
    out
}
