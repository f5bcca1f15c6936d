//! Flags: their types (static, leet, partitioned, wordlist, dynamic), how the correct
//! flag for one user is derived, and the format check of a player's input.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// How the correct value of a flag is derived for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagKind {
    /// The same value for everyone.
    Static(String),
    /// The value with the case of a few letters swapped, chosen by uid and salt.
    Leet { val: String, salt: String },
    /// One of several values, chosen by uid and challenge key.
    Partitioned(Vec<String>),
    /// `%1..%n` placeholders each replaced by one word of its list, chosen by uid and key.
    Wordlist {
        val: String,
        words: Vec<Vec<String>>,
    },
    /// Made per user by the generator in this folder (under `paths.attachments`); the
    /// values are raw inputs of the game (`dynamic_flag` rows), never computed here.
    Dynamic(String),
}

/// One flag of a challenge, as stored in `challenge.flags`.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagSpec {
    /// Shown to players; `""` when the challenge has a single flag.
    pub name: String,
    /// Score before any decay.
    pub base_score: i64,
    /// How the correct value is derived.
    pub kind: FlagKind,
    /// The stored JSON object, kept for generators and admin views.
    pub raw: Value,
}

/// A flag value that can never be submitted (the format check forbids the emoji).
pub const IMPOSSIBLE_FLAG: &str = "😅FAIL";

fn str_field<'a>(obj: &'a Value, field: &str) -> Result<&'a str, String> {
    obj.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("flag field `{field}` must be a string"))
}

fn string_list(v: &Value, what: &str) -> Result<Vec<String>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} must be a list of strings"))?
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{what} must be a list of strings"))
        })
        .collect()
}

impl FlagSpec {
    /// Parses one flag object; the error says which field is wrong.
    pub fn parse(obj: &Value) -> Result<FlagSpec, String> {
        if !obj.is_object() {
            return Err("each flag must be an object".into());
        }
        let name = str_field(obj, "name")?.to_owned();
        let base_score = obj
            .get("base_score")
            .and_then(Value::as_i64)
            .ok_or("flag field `base_score` must be an integer")?;
        let val = obj.get("val").ok_or("flag field `val` is missing")?;
        let kind = match str_field(obj, "type")? {
            "static" => FlagKind::Static(str_field(obj, "val")?.to_owned()),
            "leet" => FlagKind::Leet {
                val: str_field(obj, "val")?.to_owned(),
                salt: obj
                    .get("salt")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            },
            "partitioned" => {
                let vals = string_list(val, "partitioned flag `val`")?;
                if vals.is_empty() {
                    return Err("partitioned flag `val` must not be empty".into());
                }
                FlagKind::Partitioned(vals)
            }
            "wordlist" => {
                let words = obj
                    .get("words")
                    .and_then(Value::as_array)
                    .ok_or("wordlist flag needs `words`, a list of word lists")?
                    .iter()
                    .map(|l| string_list(l, "each list in `words`"))
                    .collect::<Result<Vec<_>, _>>()?;
                if words.iter().any(Vec::is_empty) {
                    return Err("each list in `words` must have at least one word".into());
                }
                FlagKind::Wordlist {
                    val: str_field(obj, "val")?.to_owned(),
                    words,
                }
            }
            "dynamic" => {
                let folder = val
                    .as_str()
                    .ok_or("dynamic flag `val` must be the generator's folder (a string)")?;
                if folder.trim().is_empty() {
                    return Err("dynamic flag `val` must not be empty".into());
                }
                FlagKind::Dynamic(folder.to_owned())
            }
            other => return Err(format!("unknown flag type `{other}`")),
        };
        Ok(FlagSpec {
            name,
            base_score,
            kind,
            raw: obj.clone(),
        })
    }

    /// Cheap test that `submitted` could be this flag's value for some user,
    /// so that the (hashing) derivation only runs for plausible input.
    pub fn may_match(&self, submitted: &str) -> bool {
        match &self.kind {
            FlagKind::Static(v) => v == submitted,
            FlagKind::Leet { val, .. } => val.eq_ignore_ascii_case(submitted),
            FlagKind::Partitioned(vals) => vals.iter().any(|v| v == submitted),
            FlagKind::Wordlist { val, .. } => {
                let prefix = val.split('%').next().unwrap_or("");
                let suffix = val.rsplit(|c: char| c == '%' || c.is_ascii_digit()).next();
                submitted.starts_with(prefix) && submitted.ends_with(suffix.unwrap_or(""))
            }
            FlagKind::Dynamic(_) => true,
        }
    }

    /// Whether different users get different values of this flag.
    pub fn is_per_user(&self) -> bool {
        !matches!(self.kind, FlagKind::Static(_))
    }

    /// The generator folder of a dynamic flag, `None` for the other kinds.
    pub fn generator(&self) -> Option<&str> {
        match &self.kind {
            FlagKind::Dynamic(folder) => Some(folder),
            _ => None,
        }
    }

    /// The correct value for user `uid` on challenge `challenge_key`; a dynamic flag's is
    /// `dynamic`, its stored generated value (an error while there is none).
    pub fn correct_value(
        &self,
        challenge_key: &str,
        uid: i64,
        dynamic: Option<&str>,
    ) -> Result<String, String> {
        match &self.kind {
            FlagKind::Static(v) => Ok(v.clone()),
            FlagKind::Leet { val, salt } => Ok(leet_flag(val, uid, salt)),
            FlagKind::Partitioned(vals) => {
                let idx = partition(uid, challenge_key, vals.len() as u128);
                Ok(vals[idx as usize].clone())
            }
            FlagKind::Wordlist { val, words } => Ok(wordlist_flag(val, words, uid, challenge_key)),
            FlagKind::Dynamic(_) => dynamic
                .map(str::to_owned)
                .ok_or_else(|| "the dynamic flag has not been generated for this user".to_owned()),
        }
    }
}

/// `int(sha256(text).hexdigest(), 16) % modulus`, without big integers.
fn sha256_mod(text: &str, modulus: u128) -> u128 {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .fold(0u128, |acc, &b| (acc * 256 + u128::from(b)) % modulus)
}

/// Which of `n` partitions user `uid` gets on challenge `key`.
pub fn partition(uid: i64, key: &str, n: u128) -> u128 {
    sha256_mod(&format!("{uid}-{key}"), n.max(1))
}

const LEET_SWAPS: usize = 6;
const LEET_MOD: u128 = 123_457;

/// The leet flag: the case of up to six letters of the body swapped, chosen by uid and salt.
pub fn leet_flag(flag: &str, uid: i64, salt: &str) -> String {
    let chars: Vec<char> = flag.chars().collect();
    if chars.len() < 6 {
        return flag.to_owned();
    }
    // Python slices `flag[len('flag{'):-len('}')]` whatever the prefix actually is.
    let mut body: Vec<char> = chars[5..chars.len() - 1].to_vec();
    let mut positions: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .collect();
    let h = sha256_mod(&format!("{uid}-{salt}"), LEET_MOD);
    let next = |seed: u128| (seed + 233) * 114_547 % LEET_MOD;
    let mut seed = next(h);
    for _ in 0..LEET_SWAPS {
        if positions.is_empty() {
            break;
        }
        let p = positions.remove((seed % positions.len() as u128) as usize);
        seed = next(seed);
        let c = body[p];
        body[p] = if c.is_ascii_lowercase() {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        };
    }
    let mut out = String::with_capacity(flag.len());
    out.push_str("flag{");
    out.extend(body);
    out.push('}');
    out
}

/// The wordlist flag: `%i` replaced by the word chosen from list i (mixed radix, list 1 lowest).
pub fn wordlist_flag(val: &str, words: &[Vec<String>], uid: i64, key: &str) -> String {
    let total: u128 = words
        .iter()
        .map(|l| l.len() as u128)
        .try_fold(1u128, |acc, n| acc.checked_mul(n))
        .unwrap_or(u128::MAX);
    let mut part = partition(uid, key, total);
    let mut out = val.to_owned();
    // Replace from the highest index down so that `%1` does not clobber `%10`.
    let chosen: Vec<&str> = words
        .iter()
        .map(|list| {
            let n = list.len() as u128;
            let w = &list[(part % n) as usize];
            part /= n;
            w.as_str()
        })
        .collect();
    for (i, w) in chosen.iter().enumerate().rev() {
        out = out.replace(&format!("%{}", i + 1), w);
    }
    out
}

/// The format check on a player's input: `Some((code, message))` when it is refused.
pub fn check_submitted_flag(flag: &str) -> Option<(&'static str, &'static str)> {
    if flag.chars().count() > 110 {
        return Some(("FLAG_LEN", "Flag过长"));
    }
    let body = flag
        .strip_prefix("flag{")
        .and_then(|rest| rest.strip_suffix('}'));
    let ok = match body {
        Some(b) => {
            let n = b.len();
            (1..=100).contains(&n) && b.bytes().all(|c| (0x20..=0x7c).contains(&c) || c == 0x7e)
        }
        None => false,
    };
    if ok {
        None
    } else {
        Some(("FLAG_PATTERN", "Flag格式错误"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leet_matches_golden_example() {
        // From the golden `live` answers: user 2 passes misc_leet with this value.
        let v = leet_flag(
            "flag{this_is_a_leetable_flag_for_misc_leet_number_0}",
            2,
            "salt-misc_leet-0",
        );
        assert_eq!(v, "flag{tHis_is_a_leetablE_flag_fOR_mIsc_leet_nUmber_0}");
    }

    #[test]
    fn partitioned_and_wordlist_are_deterministic_and_in_range() {
        let words = vec![
            vec!["good".to_owned(), "great".to_owned(), "nice".to_owned()],
            vec!["day".to_owned(), "time".to_owned()],
            vec!["".to_owned(), "!".to_owned(), "~~".to_owned()],
        ];
        // From the golden `live` answers: user 4 passes web_words with this value.
        assert_eq!(
            wordlist_flag("flag{have-a-%1-%2%3}", &words, 4, "web_words"),
            "flag{have-a-good-day!}"
        );
        for uid in 0..50 {
            assert!(partition(uid, "k", 4) < 4);
        }
    }

    #[test]
    fn format_check() {
        assert_eq!(check_submitted_flag("flag{ok}"), None);
        assert_eq!(check_submitted_flag("flag{}").unwrap().0, "FLAG_PATTERN");
        assert_eq!(check_submitted_flag("flag{a}b}").unwrap().0, "FLAG_PATTERN");
        assert_eq!(
            check_submitted_flag("not a flag").unwrap().0,
            "FLAG_PATTERN"
        );
        assert_eq!(check_submitted_flag("flag{é}").unwrap().0, "FLAG_PATTERN");
        let long = format!("flag{{{}}}", "x".repeat(101));
        assert_eq!(check_submitted_flag(&long).unwrap().0, "FLAG_PATTERN");
        let longer = format!("flag{{{}}}", "x".repeat(110));
        assert_eq!(check_submitted_flag(&longer).unwrap().0, "FLAG_LEN");
    }

    #[test]
    fn parse_reports_bad_fields() {
        let bad = serde_json::json!({"name": "", "type": "nope", "val": "x", "base_score": 1});
        assert!(FlagSpec::parse(&bad)
            .unwrap_err()
            .contains("unknown flag type"));
        let bad = serde_json::json!({"name": "", "type": "static", "val": "x", "base_score": "1"});
        assert!(FlagSpec::parse(&bad).unwrap_err().contains("base_score"));
    }
}
