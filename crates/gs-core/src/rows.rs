//! Raw rows: the only data the database stores (schema.md).
//! Plain data shared by `store` (which reads and writes them) and `state` (which rebuilds from them).

use crate::rules::ProfileField;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `trigger`: a named point in time that moves the contest to a new tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRow {
    pub id: i64,
    pub tick: i64,
    pub timestamp_s: i64,
    pub name: String,
}

/// `game_policy`: what players may do from a tick on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GamePolicyRow {
    pub id: i64,
    pub effective_after: i64,
    pub can_view_problem: bool,
    pub can_submit_flag: bool,
    pub can_submit_writeup: bool,
    pub is_submission_deducted: bool,
}

/// `challenge`: JSON columns stay raw values here; `state` validates them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeRow {
    pub id: i64,
    pub effective_after: i64,
    pub key: String,
    pub title: String,
    pub category: String,
    pub sorting_index: i64,
    pub desc_template: String,
    #[serde(default)]
    pub chall_metadata: Value,
    #[serde(default)]
    pub actions: Value,
    #[serde(default)]
    pub flags: Value,
}

/// `user_profile`: append-only; the user row points at its latest profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UserProfileRow {
    pub id: i64,
    pub user_id: i64,
    pub timestamp_ms: i64,
    pub nickname: Option<String>,
    pub qq: Option<String>,
    pub tel: Option<String>,
    pub email: Option<String>,
    pub stuid: Option<String>,
    pub comment: Option<String>,
}

impl UserProfileRow {
    /// The value of one field, when set.
    pub fn field(&self, field: ProfileField) -> Option<&str> {
        let slot = match field {
            ProfileField::Nickname => &self.nickname,
            ProfileField::Qq => &self.qq,
            ProfileField::Tel => &self.tel,
            ProfileField::Email => &self.email,
            ProfileField::Stuid => &self.stuid,
            ProfileField::Comment => &self.comment,
        };
        slot.as_deref()
    }

    /// The column of one field, to set it.
    pub fn field_mut(&mut self, field: ProfileField) -> &mut Option<String> {
        match field {
            ProfileField::Nickname => &mut self.nickname,
            ProfileField::Qq => &mut self.qq,
            ProfileField::Tel => &mut self.tel,
            ProfileField::Email => &mut self.email,
            ProfileField::Stuid => &mut self.stuid,
            ProfileField::Comment => &mut self.comment,
        }
    }
}

/// `user`: identity, group and switches of one player (or admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub login_key: String,
    #[serde(default)]
    pub login_properties: Value,
    pub timestamp_ms: i64,
    pub enabled: bool,
    pub group: String,
    pub token: Option<String>,
    pub auth_token: Option<String>,
    pub profile_id: Option<i64>,
    pub terms_agreed: bool,
    pub last_feedback_ms: Option<i64>,
}

/// `submission`: every flag that reached the reducer, right or wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionRow {
    pub id: i64,
    pub user_id: i64,
    pub challenge_key: String,
    pub flag: String,
    pub timestamp_ms: i64,
    pub score_override_or_null: Option<i64>,
    pub percentage_override_or_null: Option<i64>,
}

/// `announcement`: a Jinja + Markdown text shown to players.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementRow {
    pub id: i64,
    pub timestamp_s: i64,
    pub title: String,
    pub content_template: String,
}

/// `feedback`: a player's message about a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRow {
    pub id: i64,
    pub user_id: i64,
    pub timestamp_ms: i64,
    pub challenge_key: String,
    pub content: String,
    #[serde(default)]
    pub checked: bool,
}

/// `dynamic_flag`: the generated value of one `dynamic` flag for one user, written once by
/// the reducer after the generator ran, so that a rebuild never runs a generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicFlagRow {
    pub id: i64,
    pub user_id: i64,
    pub challenge_key: String,
    /// Position of the flag in the challenge's `flags` (0-based).
    pub flag_idx: i64,
    /// The flag's `val` (its generator folder) when the value was made; a value made by
    /// another generator is not used.
    pub generator: String,
    pub value: String,
    pub timestamp_ms: i64,
}

/// `log`: a log line persisted by the reducer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRow {
    pub id: i64,
    pub timestamp_ms: i64,
    pub level: String,
    pub process: String,
    pub module: String,
    pub message: String,
}

/// Every table of a contest, in the order rows may be inserted
/// (users before their profiles' foreign key is added, and so on).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tables {
    #[serde(default)]
    pub trigger: Vec<TriggerRow>,
    #[serde(default)]
    pub game_policy: Vec<GamePolicyRow>,
    #[serde(default)]
    pub challenge: Vec<ChallengeRow>,
    #[serde(default)]
    pub user_profile: Vec<UserProfileRow>,
    #[serde(default)]
    pub user: Vec<UserRow>,
    #[serde(default)]
    pub submission: Vec<SubmissionRow>,
    #[serde(default)]
    pub announcement: Vec<AnnouncementRow>,
    #[serde(default)]
    pub feedback: Vec<FeedbackRow>,
    #[serde(default)]
    pub log: Vec<LogRow>,
    #[serde(default)]
    pub dynamic_flag: Vec<DynamicFlagRow>,
}

/// The dump format of schema.md: `{"tables": {...}}` (a top-level `now` is ignored).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Dump {
    pub tables: Tables,
}

/// A row that could not be read or used, reported with its table and id, and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The table it lives in.
    pub table: &'static str,
    /// Its id, when even that could not be read `None`.
    pub id: Option<i64>,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.id {
            Some(id) => write!(f, "table `{}`, row id {}: {}", self.table, id, self.message),
            None => write!(f, "table `{}`, a row: {}", self.table, self.message),
        }
    }
}
