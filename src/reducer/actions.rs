//! The actions of players and workers as the reducer executes them: validated against
//! the reducer's game, written in one transaction per burst, then applied and published.

use super::{now_ms, Reducer};
use crate::glitter::{Action, ActionReply, Event, PROTOCOL_VERSION};
use crate::rows::{UserProfileRow, UserRow};
use crate::state::Change;
use crate::store::WriteBatch;
use serde_json::json;
use std::time::Instant;

/// Outcome of one action: the reply, or an error message with no change.
pub type Outcome = Result<ActionReply, String>;

/// Characters of `auth_token`s, as the reference draws them (no 0/O, 1/l/I look-alikes).
const AUTH_TOKEN_ALPHABET: &[u8] = b"qwertyuiopasdfghjkzxcvbnmQWERTYUPASDFGHJKLZXCVBNM23456789";

/// A new `auth_token`: `<uid>_<48 random characters>` from a cryptographic generator.
pub fn new_auth_token(uid: i64) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let random: String = (0..48)
        .map(|_| AUTH_TOKEN_ALPHABET[rng.gen_range(0..AUTH_TOKEN_ALPHABET.len())] as char)
        .collect();
    format!("{uid}_{random}")
}

/// Runs a burst of actions in one transaction; replies come back in order.
pub async fn run_batch<'a>(
    r: &mut Reducer,
    actions: impl Iterator<Item = &'a Action>,
) -> Vec<Outcome> {
    let actions: Vec<&Action> = actions.collect();
    let counter_before = r.counter;
    let mut batch = match r.store.write_batch().await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("reducer: cannot start a transaction: {e}");
            return actions
                .iter()
                .map(|_| Err("数据库暂时不可用".to_owned()))
                .collect();
        }
    };
    let mut outcomes = Vec::with_capacity(actions.len());
    let mut events: Vec<Event> = Vec::new();
    let mut failed = None;
    for action in &actions {
        match run_one(r, &mut batch, action, &mut events).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let committed = match failed {
        Some(e) => Err(e),
        None if events.is_empty() => {
            // Nothing written: the transaction is dropped (rolled back) unused.
            drop(batch);
            Ok(())
        }
        None => batch.commit().await.map_err(|e| e.to_string()),
    };
    if let Err(e) = committed {
        tracing::error!(
            "reducer: a batch of {} actions failed and was rolled back: {e}",
            actions.len()
        );
        r.counter = counter_before;
        if let Err(e) = reload(r).await {
            tracing::error!("reducer: cannot reload the game after a failed batch: {e:#}");
        }
        return actions
            .iter()
            .map(|_| Err("数据库暂时不可用".to_owned()))
            .collect();
    }
    // Durable now: tell the workers, in counter order.
    for event in events {
        r.publish(event).await;
    }
    outcomes
}

async fn reload(r: &mut Reducer) -> anyhow::Result<()> {
    let options = super::game_options(&r.config);
    r.game = crate::serve::load_game(&r.store, Some(r.game.cur_tick), options).await?;
    // Workers must reload too: make the counter jump so that they see a gap.
    r.counter += 2;
    Ok(())
}

/// Applies a change inside a batch (already written to the transaction); the event is
/// published after the commit.
fn stage(r: &mut Reducer, change: Change, events: &mut Vec<Event>) -> u64 {
    let kind = super::event_kind(&change);
    let id = change.id();
    let data = serde_json::to_value(&change).ok();
    if let Err(e) = change.apply(&mut r.game) {
        tracing::error!("reducer: change {kind:?} #{id} did not apply: {e}");
    }
    r.counter += 1;
    let mut event = Event::new(kind, r.counter, id);
    event.data = data;
    events.push(event);
    r.counter
}

/// One action. `Err` means the transaction failed and the whole batch must be rolled back.
async fn run_one(
    r: &mut Reducer,
    batch: &mut WriteBatch,
    action: &Action,
    events: &mut Vec<Event>,
) -> Result<Outcome, String> {
    let now = now_ms();
    let refused = |msg: &str| Ok(Err(msg.to_owned()));
    match action {
        Action::SubmitFlag {
            uid,
            challenge_key,
            flag,
            ..
        } => {
            let new = match r.game.reduce_submit_flag(*uid, challenge_key, flag, now) {
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
            Ok(Ok(ActionReply {
                error_msg: verdict.map(str::to_owned),
                state_counter: counter,
                data: None,
            }))
        }
        Action::SubmitFeedback {
            uid,
            challenge_key,
            content,
        } => {
            let (feedback, user) = match r.game.reduce_feedback(*uid, challenge_key, content, now) {
                Ok(x) => x,
                Err(msg) => return refused(&msg),
            };
            batch
                .insert_feedback(&feedback)
                .await
                .map_err(|e| e.to_string())?;
            batch.update_user(&user).await.map_err(|e| e.to_string())?;
            let counter = stage(
                r,
                Change::UpdateUser {
                    user,
                    profile: None,
                },
                events,
            );
            Ok(Ok(ActionReply::ok(counter)))
        }
        Action::UpdateProfile { uid, profile } => {
            let mut row = match r.game.reduce_update_profile(*uid, profile, now) {
                Ok(row) => row,
                Err(msg) => return refused(&msg),
            };
            row.id = batch
                .insert_profile_and_link(*uid, &row)
                .await
                .map_err(|e| e.to_string())?;
            let Some(mut user) = r.game.user_by_id(*uid).map(|u| u.row.clone()) else {
                return refused("user not found");
            };
            user.profile_id = Some(row.id);
            let counter = stage(
                r,
                Change::UpdateUser {
                    user,
                    profile: Some(row),
                },
                events,
            );
            Ok(Ok(ActionReply::ok(counter)))
        }
        Action::AgreeTerm { uid } => match r.game.reduce_agree_term(*uid) {
            Err(msg) => refused(&msg),
            Ok(None) => Ok(Ok(ActionReply::ok(r.counter))),
            Ok(Some(user)) => {
                batch.update_user(&user).await.map_err(|e| e.to_string())?;
                let counter = stage(
                    r,
                    Change::UpdateUser {
                        user,
                        profile: None,
                    },
                    events,
                );
                Ok(Ok(ActionReply::ok(counter)))
            }
        },
        Action::RegisterUser {
            login_key,
            login_properties,
            group,
        } => {
            if !r.config.auth.registration_enabled {
                return refused("目前不允许注册新账户");
            }
            if let Err(msg) = r.game.reduce_register(login_key) {
                return refused(&msg);
            }
            let mut user = UserRow {
                id: 0,
                login_key: login_key.clone(),
                login_properties: login_properties.clone(),
                timestamp_ms: now,
                enabled: true,
                group: group.clone(),
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
        Action::WorkerHello {
            worker_id,
            protocol_version,
        } => {
            if protocol_version != PROTOCOL_VERSION {
                tracing::error!(
                    "worker {worker_id} speaks {protocol_version}, not {PROTOCOL_VERSION}: refused"
                );
                return refused(&format!(
                    "protocol version mismatch: reducer speaks {PROTOCOL_VERSION}"
                ));
            }
            r.health.seen(worker_id, None, Instant::now());
            Ok(Ok(ActionReply::ok(r.counter)))
        }
        Action::WorkerHeartbeat {
            worker_id,
            telemetry,
        } => {
            r.health
                .seen(worker_id, Some(telemetry.clone()), Instant::now());
            Ok(Ok(ActionReply::ok(r.counter)))
        }
    }
}
