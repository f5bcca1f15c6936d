//! Challenges: the stored row parsed into flags, metadata and actions, plus the scoring
//! state the game keeps per challenge and flag (solvers, current scores, score history).

use super::flag::FlagSpec;
use super::problem_log::ProblemLog;
use super::render_cache::RenderCache;
use crate::rows::ChallengeRow;
use crate::rules;
use serde_json::{json, Map, Value};

/// Index of a user in the game's user list.
pub type UserIdx = u32;

/// A flag and its scoring state.
#[derive(Debug, Clone)]
pub struct Flag {
    /// What the flag is.
    pub spec: FlagSpec,
    /// Current (decayed) score.
    pub cur_score: i64,
    /// `(submission id, new score)` each time the score changed, from `(0, base_score)`.
    pub history: Vec<(i64, i64)>,
    /// Users who passed the flag, in passing order.
    pub passed_users: Vec<UserIdx>,
    /// How many solvers count toward the decay.
    pub decay_solvers: usize,
}

impl Flag {
    fn new(spec: FlagSpec) -> Flag {
        let base = spec.base_score;
        Flag {
            spec,
            cur_score: base,
            history: vec![(0, base)],
            passed_users: Vec::new(),
            decay_solvers: 0,
        }
    }

    /// Back to the state before any submission.
    pub fn reset(&mut self) {
        *self = Flag::new(self.spec.clone());
    }
}

/// A challenge and its scoring state.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The stored row.
    pub row: ChallengeRow,
    /// Flags in stored order.
    pub flags: Vec<Flag>,
    /// Users who passed every flag, in the order they did.
    pub passed_users: Vec<UserIdx>,
    /// Users who passed at least one flag, in the order they first did.
    pub touched_users: Vec<UserIdx>,
    /// Decoy flag texts (`metadata.honeypot_flags`): never correct, reported by the police.
    pub honeypots: Vec<String>,
    rendered: RenderCache,
}

impl Challenge {
    /// Parses a row; the error names what is wrong with its flags.
    pub fn from_row(row: ChallengeRow) -> Result<Challenge, String> {
        let flags = parse_flags(&row.flags)?;
        // Lenient at load: a malformed list must not take the challenge down
        // (admin saves are checked strictly by `validate_challenge`).
        let honeypots = honeypot_flags(&row.chall_metadata).unwrap_or_default();
        Ok(Challenge {
            flags: flags.into_iter().map(Flag::new).collect(),
            row,
            passed_users: Vec::new(),
            touched_users: Vec::new(),
            honeypots,
            rendered: RenderCache::default(),
        })
    }

    /// Whether players see the challenge at `tick`.
    pub fn effective_at(&self, tick: i64) -> bool {
        tick >= self.row.effective_after
    }

    /// Back to the state before any submission.
    pub fn reset_scores(&mut self) {
        self.flags.iter_mut().for_each(Flag::reset);
        self.passed_users.clear();
        self.touched_users.clear();
    }

    /// Sum of the flags' base scores.
    pub fn tot_base_score(&self) -> i64 {
        self.flags.iter().map(|f| f.spec.base_score).sum()
    }

    /// Sum of the flags' current scores.
    pub fn tot_cur_score(&self) -> i64 {
        self.flags.iter().map(|f| f.cur_score).sum()
    }

    /// A metadata switch read as the reference reads it: `metadata.get(key, default)`
    /// with Python truthiness (`null`, `0`, `""`, `[]`, `{}` are false).
    fn metadata_bool(&self, key: &str, default: bool) -> bool {
        self.row
            .chall_metadata
            .get(key)
            .map_or(default, python_truthy)
    }

    /// Whether submissions made while the policy deducts get the deduction.
    pub fn score_deduction_eligible(&self) -> bool {
        self.metadata_bool("score_deduction_eligible", true)
    }

    /// The `metadata` object shown to players; `board_groups` is the first-blood board's
    /// groups when shown on one, `None` outside a board.
    pub fn describe_metadata(&self, board_groups: Option<&[&str]>, tick: i64) -> Value {
        let award_board = match board_groups {
            None => true,
            Some(groups) => rules::FIRST_BLOOD_AWARD_GROUPS.contains(&groups),
        };
        let author = if tick < rules::TICK_BOARD_END {
            Value::Null
        } else {
            self.row
                .chall_metadata
                .get("author")
                .cloned()
                .unwrap_or(Value::Null)
        };
        json!({
            "first_blood_award_eligible": self.metadata_bool("first_blood_award_eligible", false) && award_board,
            "author": author,
        })
    }

    /// The actions players see at `tick`: named ones whose time has come; attachments
    /// show only their name and file name.
    pub fn describe_actions(&self, tick: i64) -> Vec<Value> {
        let Some(actions) = self.row.actions.as_array() else {
            return Vec::new();
        };
        actions
            .iter()
            .filter(|a| {
                !a.get("name").is_none_or(Value::is_null)
                    && a.get("effective_after")
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                        <= tick
            })
            .map(|a| match a.get("type").and_then(Value::as_str) {
                Some("attachment") | Some("dyn_attachment") => json!({
                    "type": "attachment",
                    "name": a.get("name"),
                    "filename": a.get("filename"),
                }),
                _ => a.clone(),
            })
            .collect()
    }

    /// The attachment action offering `filename`, if any.
    pub fn attachment(&self, filename: &str) -> Option<&Map<String, Value>> {
        self.row.actions.as_array()?.iter().find_map(|a| {
            let obj = a.as_object()?;
            let kind = obj.get("type")?.as_str()?;
            let is_attachment = kind == "attachment" || kind == "dyn_attachment";
            (is_attachment && obj.get("filename")?.as_str()? == filename).then_some(obj)
        })
    }

    /// The description rendered for a viewer of `group` at `tick` (cached); render
    /// failures go to `problems`.
    pub fn render_desc(
        &self,
        group: Option<&str>,
        tick: i64,
        problems: &ProblemLog,
    ) -> std::sync::Arc<str> {
        let what = || format!("challenge {} ({})", self.row.key, self.row.title);
        self.rendered
            .get(what, &self.row.desc_template, group, tick, problems)
    }

    /// Forgets rendered descriptions (the template or the tick changed).
    pub fn clear_rendered(&mut self) {
        self.rendered.clear();
    }
}

fn parse_flags(flags: &Value) -> Result<Vec<FlagSpec>, String> {
    let list = flags
        .as_array()
        .ok_or("`flags` must be a list of flag objects")?;
    list.iter()
        .enumerate()
        .map(|(i, f)| FlagSpec::parse(f).map_err(|e| format!("flag #{}: {e}", i + 1)))
        .collect()
}

/// Metadata key listing a challenge's honeypot (decoy) flag texts.
pub const HONEYPOT_FLAGS_KEY: &str = "honeypot_flags";

/// The decoy flag texts of `metadata.honeypot_flags` (absent: none).
pub fn honeypot_flags(metadata: &Value) -> Result<Vec<String>, String> {
    match metadata.get(HONEYPOT_FLAGS_KEY) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    format!("metadata `{HONEYPOT_FLAGS_KEY}` must be a list of flag texts")
                })
            })
            .collect(),
        Some(_) => Err(format!(
            "metadata `{HONEYPOT_FLAGS_KEY}` must be a list of flag texts"
        )),
    }
}

/// Honeypots must look like flags and must not be a value some user could pass.
fn validate_honeypots(metadata: &Value, flags: &[FlagSpec]) -> Result<(), String> {
    for h in honeypot_flags(metadata)? {
        if super::flag::check_submitted_flag(&h).is_some() {
            return Err(format!(
                "honeypot flag {h:?} is not a valid flag text (flag{{...}}, printable ASCII)"
            ));
        }
        let real = flags.iter().any(|f| match &f.kind {
            super::flag::FlagKind::Static(v) => *v == h,
            super::flag::FlagKind::Leet { val, .. } => val.eq_ignore_ascii_case(&h),
            super::flag::FlagKind::Partitioned(vals) => vals.contains(&h),
            _ => false,
        });
        if real {
            return Err(format!(
                "honeypot flag {h:?} could be a correct flag of this challenge"
            ));
        }
    }
    Ok(())
}

/// The checks run when an admin saves a challenge; the error is shown to the admin.
pub fn validate_challenge(row: &ChallengeRow) -> Result<(), String> {
    if row.key.is_empty() || row.key.chars().count() > 32 {
        return Err("key must have 1 to 32 characters".into());
    }
    if !row.chall_metadata.is_object() {
        return Err("metadata must be a JSON object".into());
    }
    let flags = parse_flags(&row.flags)?;
    if flags.is_empty() || flags.len() > 3 {
        return Err("a challenge has 1 to 3 flags".into());
    }
    if flags.len() == 1 && !flags[0].name.is_empty() {
        return Err("a single flag must have the name \"\"".into());
    }
    if flags.len() > 1 && flags.iter().any(|f| f.name.is_empty()) {
        return Err("when there are several flags, each must have a name".into());
    }
    for (i, f) in flags.iter().enumerate() {
        if let super::flag::FlagKind::Leet { val, .. } = &f.kind {
            if val.chars().filter(char::is_ascii_alphabetic).count() < 12 {
                return Err(format!(
                    "flag #{}: a leet flag needs at least 12 letters",
                    i + 1
                ));
            }
        }
    }
    validate_honeypots(&row.chall_metadata, &flags)?;
    validate_actions(&row.actions)
}

fn validate_actions(actions: &Value) -> Result<(), String> {
    let list = actions
        .as_array()
        .ok_or("`actions` must be a list of action objects")?;
    let mut filenames = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let n = i + 1;
        let obj = a
            .as_object()
            .ok_or(format!("action #{n} must be an object"))?;
        let s = |k: &str| obj.get(k).and_then(Value::as_str);
        if !obj
            .get("name")
            .is_some_and(|v| v.is_null() || v.is_string())
        {
            return Err(format!("action #{n}: `name` must be a string or null"));
        }
        if !obj.get("effective_after").is_some_and(Value::is_i64) {
            return Err(format!("action #{n}: `effective_after` must be an integer"));
        }
        match s("type") {
            Some("webpage") if s("url").is_some() => {}
            Some("webdocker") if s("host").is_some_and(|h| !h.contains(':')) => {}
            Some("terminal")
                if s("host").is_some_and(|h| !h.contains(':'))
                    && obj.get("port").is_some_and(Value::is_i64) => {}
            Some(kind @ ("attachment" | "dyn_attachment")) => {
                let filename =
                    s("filename").ok_or(format!("action #{n}: `filename` is required"))?;
                if filenames.contains(&filename) {
                    return Err(format!(
                        "action #{n}: duplicate attachment filename {filename}"
                    ));
                }
                filenames.push(filename);
                let path_key = if kind == "attachment" {
                    "file_path"
                } else {
                    "module_path"
                };
                let path = s(path_key).ok_or(format!("action #{n}: `{path_key}` is required"))?;
                if kind == "dyn_attachment"
                    && (path.starts_with('/') || path.split('/').any(|p| p == ".."))
                {
                    return Err(format!("action #{n}: `module_path` must be a relative path inside the attachment directory"));
                }
            }
            Some(kind @ ("webpage" | "webdocker" | "terminal")) => {
                return Err(format!(
                    "action #{n}: a {kind} action needs {}",
                    match kind {
                        "webpage" => "`url`",
                        "webdocker" => "`host` (without `:`)",
                        _ => "`host` (without `:`) and an integer `port`",
                    }
                ))
            }
            other => return Err(format!("action #{n}: unknown action type {other:?}")),
        }
    }
    Ok(())
}

/// The reordering of category totals: known categories first in colour-table order,
/// then the others in the order they were first scored.
pub fn reorder_by_category(totals: &[(String, i64)]) -> Vec<(String, i64)> {
    let known = rules::CATEGORY_COLORS
        .iter()
        .filter_map(|(cat, _)| totals.iter().find(|(c, _)| c == cat).cloned());
    let others = totals
        .iter()
        .filter(|(c, _)| !rules::CATEGORY_COLORS.iter().any(|(k, _)| k == c))
        .cloned();
    known.chain(others).collect()
}

/// Python's truth value of a JSON value.
fn python_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod truthiness_tests {
    use super::python_truthy;
    use serde_json::json;

    #[test]
    fn metadata_switches_follow_python_truthiness() {
        for falsy in [
            json!(null),
            json!(0),
            json!(""),
            json!([]),
            json!({}),
            json!(false),
        ] {
            assert!(!python_truthy(&falsy), "{falsy}");
        }
        for truthy in [json!(1), json!("no"), json!([0]), json!(true), json!(0.5)] {
            assert!(python_truthy(&truthy), "{truthy}");
        }
    }
}
