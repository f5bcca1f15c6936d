//! The actions of players and workers as the reducer executes them: validated against
//! the reducer's game, written in one transaction per burst, then applied and published.

use super::Reducer;
use crate::clock::now_ms;
use crate::glitter::{Action, ActionReply, Event, PROTOCOL_VERSION};
use crate::rows::{DynamicFlagRow, UserProfileRow, UserRow};
use crate::state::Change;
use crate::store::WriteBatch;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// Outcome of one action: the reply, or an error message with no change.
pub type Outcome = Result<ActionReply, String>;

/// Characters of `auth_token`s, as the reference draws them (no 0/O, 1/l/I look-alikes).
const AUTH_TOKEN_ALPHABET: &[u8] = b"qwertyuiopasdfghjkzxcvbnmQWERTYUPASDFGHJKLZXCVBNM23456789";

/// A new `auth_token`: `<uid>_<48 random characters>` from a cryptographic generator.
pub fn new_auth_token(uid: i64) -> String {
    use rand::RngExt;
    // The OS generator directly; it panics only if the OS cannot give randomness at all.
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    let random: String = (0..48)
        .map(|_| AUTH_TOKEN_ALPHABET[rng.random_range(0..AUTH_TOKEN_ALPHABET.len())] as char)
        .collect();
    format!("{uid}_{random}")
}

/// Applies a change inside a batch (already written to the transaction); the event is
/// published after the commit.
pub(super) fn stage(r: &mut Reducer, change: Change, events: &mut Vec<Event>) -> u64 {
    events.push(r.apply_change(change));
    r.counter
}

/// Stages a user row (and a new profile) already written to the batch; the reply is the
/// plain success at the new state counter.
fn stage_user(
    r: &mut Reducer,
    events: &mut Vec<Event>,
    user: UserRow,
    profile: Option<UserProfileRow>,
) -> ActionReply {
    ActionReply::ok(stage(r, Change::UpdateUser { user, profile }, events))
}

/// Answers the actions that read or report but never write (hello, heartbeat, fetching
/// events): no transaction, so they are answered even while the database is away.
pub(super) async fn answer_without_writing(r: &mut Reducer, action: &Action) -> Option<Outcome> {
    let outcome = match action {
        Action::WorkerHello {
            worker_id,
            protocol_version,
        } => {
            if protocol_version != PROTOCOL_VERSION {
                tracing::error!(
                    "worker {worker_id} speaks {protocol_version}, not {PROTOCOL_VERSION}: refused"
                );
                return Some(Err(format!(
                    "protocol version mismatch: reducer speaks {PROTOCOL_VERSION}"
                )));
            }
            r.health.seen(worker_id, None, Instant::now());
            Ok(ActionReply::ok(r.counter))
        }
        Action::WorkerHeartbeat {
            worker_id,
            telemetry,
        } => {
            r.health
                .seen(worker_id, Some(telemetry.clone()), Instant::now());
            Ok(ActionReply::ok(r.counter))
        }
        Action::FetchEvents { after, epoch } => {
            match r.broadcaster.events_after(*after, *epoch).await {
                Ok(events) => Ok(ActionReply::ok(r.counter).with_data(json!({ "events": events }))),
                Err(msg) => Err(msg),
            }
        }
        _ => return None,
    };
    Some(outcome)
}

/// What a writing action gives: `Err` when the transaction failed and the whole batch
/// must be rolled back; else the action's outcome.
type Written = Result<Outcome, String>;

/// What every writing action works with: the reducer, the open transaction, the events
/// to publish after the commit, and the time of the batch.
struct Step<'a> {
    r: &'a mut Reducer,
    batch: &'a mut WriteBatch,
    events: &'a mut Vec<Event>,
    now: i64,
}

/// A refusal: nothing written, the batch goes on.
fn refused(msg: &str) -> Written {
    Ok(Err(msg.to_owned()))
}

/// One action. `Err` means the transaction failed and the whole batch must be rolled back.
pub(super) async fn run_one(
    r: &mut Reducer,
    batch: &mut WriteBatch,
    action: &Action,
    events: &mut Vec<Event>,
) -> Written {
    let step = Step {
        r,
        batch,
        events,
        now: now_ms(),
    };
    match action {
        Action::SubmitFlag {
            uid,
            challenge_key,
            flag,
            ..
        } => submit_flag(step, *uid, challenge_key, flag).await,
        Action::SubmitFeedback {
            uid,
            challenge_key,
            content,
        } => submit_feedback(step, *uid, challenge_key, content).await,
        Action::UpdateProfile { uid, profile } => update_profile(step, *uid, profile).await,
        Action::AgreeTerm { uid } => agree_term(step, *uid).await,
        Action::RegisterUser {
            login_key,
            login_properties,
            group,
        } => register_user(step, login_key, login_properties, group).await,
        Action::SetDynamicFlag {
            uid,
            challenge_key,
            flag_idx,
            generator,
            value,
        } => set_dynamic_flag(step, *uid, challenge_key, *flag_idx, generator, value).await,
        // Answered without a transaction (`answer_without_writing`).
        Action::WorkerHello { .. }
        | Action::WorkerHeartbeat { .. }
        | Action::FetchEvents { .. } => refused("not a write"),
    }
}

/// A flag submission: judged on the reducer's game, stored, applied.
async fn submit_flag(step: Step<'_>, uid: i64, challenge_key: &str, flag: &str) -> Written {
    let Step {
        r,
        batch,
        events,
        now,
    } = step;
    let new = match r.game.reduce_submit_flag(uid, challenge_key, flag, now) {
        Ok(n) => n,
        Err(msg) => return refused(msg),
    };
    let mut row = new.into_row(0);
    row.id = batch
        .insert_submission(&row)
        .await
        .map_err(|e| e.to_string())?;
    let id = row.id;
    let counter = stage(r, Change::NewSubmission { row }, events);
    let verdict = r.game.submission_verdict(id);
    if let Some(s) = r.game.submission_by_id(id) {
        r.metrics.submission(s.matched.is_some(), s.duplicate);
    }
    Ok(Ok(ActionReply {
        error_msg: verdict.map(str::to_owned),
        ..ActionReply::ok(counter)
    }))
}

/// Feedback on a challenge (cooled down per user).
async fn submit_feedback(step: Step<'_>, uid: i64, challenge_key: &str, content: &str) -> Written {
    let Step {
        r,
        batch,
        events,
        now,
    } = step;
    let (feedback, user) = match r.game.reduce_feedback(uid, challenge_key, content, now) {
        Ok(x) => x,
        Err(msg) => return refused(&msg),
    };
    batch
        .insert_feedback(&feedback)
        .await
        .map_err(|e| e.to_string())?;
    batch.update_user(&user).await.map_err(|e| e.to_string())?;
    Ok(Ok(stage_user(r, events, user, None)))
}

/// A new profile, linked from the user.
async fn update_profile(step: Step<'_>, uid: i64, profile: &BTreeMap<String, String>) -> Written {
    let Step {
        r,
        batch,
        events,
        now,
    } = step;
    let mut row = match r.game.reduce_update_profile(uid, profile, now) {
        Ok(row) => row,
        Err(msg) => return refused(&msg),
    };
    // Refuse before writing: a refusal must leave nothing in the batch.
    let Some(mut user) = r.game.user_by_id(uid).map(|u| u.row.clone()) else {
        return refused("user not found");
    };
    row.id = batch
        .insert_profile_and_link(uid, &row)
        .await
        .map_err(|e| e.to_string())?;
    user.profile_id = Some(row.id);
    Ok(Ok(stage_user(r, events, user, Some(row))))
}

/// The user accepts the terms (nothing written if already accepted).
async fn agree_term(step: Step<'_>, uid: i64) -> Written {
    let Step {
        r, batch, events, ..
    } = step;
    match r.game.reduce_agree_term(uid) {
        Err(msg) => refused(&msg),
        Ok(None) => Ok(Ok(ActionReply::ok(r.counter))),
        Ok(Some(user)) => {
            batch.update_user(&user).await.map_err(|e| e.to_string())?;
            Ok(Ok(stage_user(r, events, user, None)))
        }
    }
}

/// A new user with an empty first profile, stamped 0 as the reference does.
async fn register_user(
    step: Step<'_>,
    login_key: &str,
    login_properties: &Value,
    group: &str,
) -> Written {
    let Step {
        r,
        batch,
        events,
        now,
    } = step;
    if !r.config.auth.registration_enabled {
        return refused("目前不允许注册新账户");
    }
    if let Err(msg) = r.game.reduce_register(login_key) {
        return refused(&msg);
    }
    let mut user = UserRow {
        id: 0,
        login_key: login_key.to_owned(),
        login_properties: login_properties.clone(),
        timestamp_ms: now,
        enabled: true,
        group: group.to_owned(),
        token: None,
        auth_token: None,
        profile_id: None,
        terms_agreed: false,
        last_feedback_ms: None,
    };
    // The reference stamps the first profile 0, so that the first edit after
    // registering is never cooled down.
    let mut profile = UserProfileRow {
        timestamp_ms: 0,
        ..Default::default()
    };
    let (uid, pid) = batch
        .insert_user(&user, &profile)
        .await
        .map_err(|e| e.to_string())?;
    user.id = uid;
    user.profile_id = Some(pid);
    user.token = Some(r.signer.sign(uid));
    let auth_token = new_auth_token(uid);
    user.auth_token = Some(auth_token.clone());
    batch.update_user(&user).await.map_err(|e| e.to_string())?;
    profile.id = pid;
    profile.user_id = uid;
    let counter = stage(
        r,
        Change::UpdateUser {
            user,
            profile: Some(profile),
        },
        events,
    );
    Ok(Ok(
        ActionReply::ok(counter).with_data(json!({"uid": uid, "auth_token": auth_token}))
    ))
}

/// A generated dynamic flag value; the first stored value wins.
async fn set_dynamic_flag(
    step: Step<'_>,
    uid: i64,
    challenge_key: &str,
    flag_idx: usize,
    generator: &str,
    value: &str,
) -> Written {
    let Step {
        r,
        batch,
        events,
        now,
    } = step;
    let stored =
        match r
            .game
            .reduce_set_dynamic_flag(uid, challenge_key, flag_idx, generator, value)
        {
            Ok(s) => s,
            Err(msg) => return refused(&msg),
        };
    let (id, mut row) = match stored {
        Err(existing) => {
            let data = json!({"value": existing});
            return Ok(Ok(ActionReply::ok(r.counter).with_data(data)));
        }
        Ok(replaced_id) => (
            replaced_id,
            DynamicFlagRow {
                id: replaced_id.unwrap_or(0),
                user_id: uid,
                challenge_key: challenge_key.to_owned(),
                flag_idx: flag_idx as i64,
                generator: generator.to_owned(),
                value: value.to_owned(),
                timestamp_ms: now,
            },
        ),
    };
    row.id = batch
        .put_dynamic_flag(&row)
        .await
        .map_err(|e| e.to_string())?;
    if id.is_some() {
        tracing::info!(
            "dynamic flag {challenge_key}#{} of U#{uid} made again by {generator:?}",
            flag_idx + 1
        );
    }
    let counter = stage(r, Change::SetDynamicFlag { row }, events);
    Ok(Ok(
        ActionReply::ok(counter).with_data(json!({"value": value}))
    ))
}
