//! The facts a generator is given (JSON on its standard input): the user, the challenge,
//! and every flag of it with the user's correct value, taken from the game.

use crate::state::Game;
use serde_json::{json, Value};

/// Version of the facts' shape, sent as `protocol`.
pub const PROTOCOL: &str = "gs-generator/1";

/// What a generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One user's value of a dynamic flag (`flag.py` / `flag`).
    Flag {
        /// Position of the flag in the challenge.
        flag_idx: usize,
    },
    /// One user's attachment (`gen.py` / `gen`).
    Attachment,
}

impl Kind {
    /// The module name (`flag`, `gen`) and the runner's argument.
    pub fn module(self) -> &'static str {
        match self {
            Kind::Flag { .. } => "flag",
            Kind::Attachment => "gen",
        }
    }
}

/// The facts for `kind` about user `uid` and challenge `key`; `Err` when either is gone.
pub fn facts(game: &Game, uid: i64, key: &str, kind: Kind) -> Result<Value, String> {
    let user = game
        .user_by_id(uid)
        .ok_or_else(|| format!("user #{uid} does not exist"))?;
    let chall = game
        .challenge(key)
        .ok_or_else(|| format!("challenge {key} does not exist"))?;
    let row = &user.row;
    let p = user.profile.clone().unwrap_or_default();
    let profile = json!({
        "nickname_or_null": p.nickname, "qq_or_null": p.qq, "tel_or_null": p.tel,
        "email_or_null": p.email, "stuid_or_null": p.stuid, "comment_or_null": p.comment,
        "timestamp_ms": p.timestamp_ms,
    });
    let flags: Vec<Value> = chall
        .flags
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let dynamic = game.dynamic_value(uid, key, i);
            let correct = f.spec.correct_value(key, uid, dynamic).ok();
            json!({
                "name": f.spec.name, "type": f.spec.raw.get("type"), "val": f.spec.raw.get("val"),
                "base_score": f.spec.base_score, "correct_flag": correct,
            })
        })
        .collect();
    let c = &chall.row;
    let mut out = json!({
        "protocol": PROTOCOL,
        "kind": kind.module(),
        "user": {
            "id": row.id, "login_key": row.login_key, "login_properties": row.login_properties,
            "timestamp_ms": row.timestamp_ms, "enabled": row.enabled, "group": row.group,
            "token": row.token, "terms_agreed": row.terms_agreed, "profile": profile,
        },
        "challenge": {
            "id": c.id, "key": c.key, "title": c.title, "category": c.category,
            "effective_after": c.effective_after, "sorting_index": c.sorting_index,
            "chall_metadata": c.chall_metadata, "flags": flags,
        },
    });
    if let Kind::Flag { flag_idx } = kind {
        out["flag_idx"] = json!(flag_idx);
    }
    Ok(out)
}
