//! How each row struct maps to its table: column list, decoding a fetched row, and the
//! values to bind when writing it. The one place that knows column order.

use serde_json::Value;

use super::db::{ColResult, RowGet, Val};
use crate::rows::{
    AnnouncementRow, ChallengeRow, DynamicFlagRow, FeedbackRow, GamePolicyRow, LogRow,
    SubmissionRow, TriggerRow, UserProfileRow, UserRow,
};

/// A row type stored in one table. `COLUMNS[0]` is always `id`.
pub(crate) trait TableRow: Sized {
    /// The table's name, unquoted.
    const TABLE: &'static str;
    /// Every column, `id` first, in the order `decode` and `values` use.
    const COLUMNS: &'static [&'static str];
    /// The row's id.
    fn id(&self) -> i64;
    /// Builds the row from a fetched one; `Err` says which column is wrong and why.
    fn decode(r: &dyn RowGet) -> Result<Self, String>;
    /// The values of `COLUMNS`, in order.
    fn values(&self) -> Vec<Val<'_>>;
}

/// Names the column in a decoding error.
fn col<T>(r: ColResult<T>, name: &str) -> Result<T, String> {
    r.map_err(|e| format!("column `{name}`: {e}"))
}

/// Parses a JSON column; NULL reads as JSON null, bad text is an error naming the column.
fn json(r: &dyn RowGet, i: usize, name: &str) -> Result<Value, String> {
    match col(r.json_text(i), name)? {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| format!("column `{name}` does not hold valid JSON: {e}")),
    }
}

/// JSON values are stored as their compact text.
fn json_val(v: &Value) -> Val<'static> {
    Val::Owned(v.to_string())
}

impl TableRow for TriggerRow {
    const TABLE: &'static str = "trigger";
    const COLUMNS: &'static [&'static str] = &["id", "tick", "timestamp_s", "name"];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(TriggerRow {
            id: col(r.int(0), "id")?,
            tick: col(r.int(1), "tick")?,
            timestamp_s: col(r.int(2), "timestamp_s")?,
            name: col(r.text(3), "name")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.tick),
            Val::Int(self.timestamp_s),
            Val::Text(&self.name),
        ]
    }
}

impl TableRow for GamePolicyRow {
    const TABLE: &'static str = "game_policy";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "effective_after",
        "can_view_problem",
        "can_submit_flag",
        "can_submit_writeup",
        "is_submission_deducted",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(GamePolicyRow {
            id: col(r.int(0), "id")?,
            effective_after: col(r.int(1), "effective_after")?,
            can_view_problem: col(r.boolean(2), "can_view_problem")?,
            can_submit_flag: col(r.boolean(3), "can_submit_flag")?,
            can_submit_writeup: col(r.boolean(4), "can_submit_writeup")?,
            is_submission_deducted: col(r.boolean(5), "is_submission_deducted")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.effective_after),
            Val::Bool(self.can_view_problem),
            Val::Bool(self.can_submit_flag),
            Val::Bool(self.can_submit_writeup),
            Val::Bool(self.is_submission_deducted),
        ]
    }
}

impl TableRow for ChallengeRow {
    const TABLE: &'static str = "challenge";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "effective_after",
        "key",
        "title",
        "category",
        "sorting_index",
        "desc_template",
        "chall_metadata",
        "actions",
        "flags",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(ChallengeRow {
            id: col(r.int(0), "id")?,
            effective_after: col(r.int(1), "effective_after")?,
            key: col(r.text(2), "key")?,
            title: col(r.text(3), "title")?,
            category: col(r.text(4), "category")?,
            sorting_index: col(r.int(5), "sorting_index")?,
            desc_template: col(r.text(6), "desc_template")?,
            chall_metadata: json(r, 7, "chall_metadata")?,
            actions: json(r, 8, "actions")?,
            flags: json(r, 9, "flags")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.effective_after),
            Val::Text(&self.key),
            Val::Text(&self.title),
            Val::Text(&self.category),
            Val::Int(self.sorting_index),
            Val::Text(&self.desc_template),
            json_val(&self.chall_metadata),
            json_val(&self.actions),
            json_val(&self.flags),
        ]
    }
}

impl TableRow for UserProfileRow {
    const TABLE: &'static str = "user_profile";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "user_id",
        "timestamp_ms",
        "nickname",
        "qq",
        "tel",
        "email",
        "stuid",
        "comment",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(UserProfileRow {
            id: col(r.int(0), "id")?,
            user_id: col(r.int(1), "user_id")?,
            timestamp_ms: col(r.int(2), "timestamp_ms")?,
            nickname: col(r.opt_text(3), "nickname")?,
            qq: col(r.opt_text(4), "qq")?,
            tel: col(r.opt_text(5), "tel")?,
            email: col(r.opt_text(6), "email")?,
            stuid: col(r.opt_text(7), "stuid")?,
            comment: col(r.opt_text(8), "comment")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.user_id),
            Val::Int(self.timestamp_ms),
            Val::OptText(self.nickname.as_deref()),
            Val::OptText(self.qq.as_deref()),
            Val::OptText(self.tel.as_deref()),
            Val::OptText(self.email.as_deref()),
            Val::OptText(self.stuid.as_deref()),
            Val::OptText(self.comment.as_deref()),
        ]
    }
}

impl TableRow for UserRow {
    const TABLE: &'static str = "user";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "login_key",
        "login_properties",
        "timestamp_ms",
        "enabled",
        "group",
        "token",
        "auth_token",
        "profile_id",
        "terms_agreed",
        "last_feedback_ms",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(UserRow {
            id: col(r.int(0), "id")?,
            login_key: col(r.text(1), "login_key")?,
            login_properties: json(r, 2, "login_properties")?,
            timestamp_ms: col(r.int(3), "timestamp_ms")?,
            enabled: col(r.boolean(4), "enabled")?,
            group: col(r.text(5), "group")?,
            token: col(r.opt_text(6), "token")?,
            auth_token: col(r.opt_text(7), "auth_token")?,
            profile_id: col(r.opt_int(8), "profile_id")?,
            terms_agreed: col(r.boolean(9), "terms_agreed")?,
            last_feedback_ms: col(r.opt_int(10), "last_feedback_ms")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Text(&self.login_key),
            json_val(&self.login_properties),
            Val::Int(self.timestamp_ms),
            Val::Bool(self.enabled),
            Val::Text(&self.group),
            Val::OptText(self.token.as_deref()),
            Val::OptText(self.auth_token.as_deref()),
            Val::OptInt(self.profile_id),
            Val::Bool(self.terms_agreed),
            Val::OptInt(self.last_feedback_ms),
        ]
    }
}

impl TableRow for SubmissionRow {
    const TABLE: &'static str = "submission";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "user_id",
        "challenge_key",
        "flag",
        "timestamp_ms",
        "score_override_or_null",
        "percentage_override_or_null",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(SubmissionRow {
            id: col(r.int(0), "id")?,
            user_id: col(r.int(1), "user_id")?,
            challenge_key: col(r.text(2), "challenge_key")?,
            flag: col(r.text(3), "flag")?,
            timestamp_ms: col(r.int(4), "timestamp_ms")?,
            score_override_or_null: col(r.opt_int(5), "score_override_or_null")?,
            percentage_override_or_null: col(r.opt_int(6), "percentage_override_or_null")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.user_id),
            Val::Text(&self.challenge_key),
            Val::Text(&self.flag),
            Val::Int(self.timestamp_ms),
            Val::OptInt(self.score_override_or_null),
            Val::OptInt(self.percentage_override_or_null),
        ]
    }
}

impl TableRow for AnnouncementRow {
    const TABLE: &'static str = "announcement";
    const COLUMNS: &'static [&'static str] = &["id", "timestamp_s", "title", "content_template"];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(AnnouncementRow {
            id: col(r.int(0), "id")?,
            timestamp_s: col(r.int(1), "timestamp_s")?,
            title: col(r.text(2), "title")?,
            content_template: col(r.text(3), "content_template")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.timestamp_s),
            Val::Text(&self.title),
            Val::Text(&self.content_template),
        ]
    }
}

impl TableRow for FeedbackRow {
    const TABLE: &'static str = "feedback";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "user_id",
        "timestamp_ms",
        "challenge_key",
        "content",
        "checked",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(FeedbackRow {
            id: col(r.int(0), "id")?,
            user_id: col(r.int(1), "user_id")?,
            timestamp_ms: col(r.int(2), "timestamp_ms")?,
            challenge_key: col(r.text(3), "challenge_key")?,
            content: col(r.text(4), "content")?,
            checked: col(r.boolean(5), "checked")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.user_id),
            Val::Int(self.timestamp_ms),
            Val::Text(&self.challenge_key),
            Val::Text(&self.content),
            Val::Bool(self.checked),
        ]
    }
}

impl TableRow for LogRow {
    const TABLE: &'static str = "log";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "timestamp_ms",
        "level",
        "process",
        "module",
        "message",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(LogRow {
            id: col(r.int(0), "id")?,
            timestamp_ms: col(r.int(1), "timestamp_ms")?,
            level: col(r.text(2), "level")?,
            process: col(r.text(3), "process")?,
            module: col(r.text(4), "module")?,
            message: col(r.text(5), "message")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.timestamp_ms),
            Val::Text(&self.level),
            Val::Text(&self.process),
            Val::Text(&self.module),
            Val::Text(&self.message),
        ]
    }
}

impl TableRow for DynamicFlagRow {
    const TABLE: &'static str = "dynamic_flag";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "user_id",
        "challenge_key",
        "flag_idx",
        "generator",
        "value",
        "timestamp_ms",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn decode(r: &dyn RowGet) -> Result<Self, String> {
        Ok(DynamicFlagRow {
            id: col(r.int(0), "id")?,
            user_id: col(r.int(1), "user_id")?,
            challenge_key: col(r.text(2), "challenge_key")?,
            flag_idx: col(r.int(3), "flag_idx")?,
            generator: col(r.text(4), "generator")?,
            value: col(r.text(5), "value")?,
            timestamp_ms: col(r.int(6), "timestamp_ms")?,
        })
    }
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Int(self.id),
            Val::Int(self.user_id),
            Val::Text(&self.challenge_key),
            Val::Int(self.flag_idx),
            Val::Text(&self.generator),
            Val::Text(&self.value),
            Val::Int(self.timestamp_ms),
        ]
    }
}
