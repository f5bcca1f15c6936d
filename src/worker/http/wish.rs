//! The wish endpoints `POST /service/wish/<name>`: reads answered from the game in one
//! read each, and mutations pre-checked here, then performed by the reducer.

use super::anticheat::{self, Trace};
use super::compress::Encoded;
use super::reply::{json_bytes, json_value, no_game, to_bytes, Answer};
use super::request::{parse_json, viewer, Session};
use super::{lock, HttpState};
use crate::clock::{now_ms, now_s};
use crate::glitter::GlitterError;
use crate::glitter::{Action, ActionReply};
use crate::rules;
use crate::state::answers::error_answer;
use crate::state::challenge::UserIdx;
use crate::state::Game;
use crate::worker::PerformError;
use axum::extract::{Path, State};
use axum::routing::{post, MethodRouter};
use axum::Router;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The wish routes except `writeup` (which has its own body limit). Answers that can be
/// large negotiate compression; the small, hot ones skip that layer.
pub(super) fn routes() -> Router<Arc<HttpState>> {
    let compressed = |route: MethodRouter<Arc<HttpState>>| {
        route.layer(axum::middleware::from_fn(super::compress::negotiate))
    };
    Router::new()
        .route("/service/wish/game_info", post(game_info))
        .route(
            "/service/wish/announcements",
            compressed(post(announcements)),
        )
        .route("/service/wish/triggers", post(triggers))
        .route("/service/wish/game", post(game))
        .route("/service/wish/challenge/{key}", compressed(post(challenge)))
        .route(
            "/service/wish/get_touched_users/{key}",
            compressed(post(touched_users)),
        )
        .route("/service/wish/board/{name}", compressed(post(board)))
        .route(
            "/service/wish/my_submissions",
            compressed(post(my_submissions)),
        )
        .route(
            "/service/wish/submissions/{uid}",
            compressed(post(submissions_of)),
        )
        .route("/service/wish/submit_flag", post(submit_flag))
        .route("/service/wish/submit_feedback", post(submit_feedback))
        .route("/service/wish/update_profile", post(update_profile))
        .route("/service/wish/agree_term", post(agree_term))
}

/// Answers with `f(game, viewer)`, or NO_GAME. The value is built under the read lock
/// and serialized after it is released.
fn read_answer(
    st: &HttpState,
    session: &Session,
    f: impl FnOnce(&Game, Option<UserIdx>) -> Value,
) -> Answer {
    let token = session.auth_token.as_deref();
    match st.shared.read(|g| f(g, viewer(g, token))) {
        Some(v) => json_value(&v),
        None => no_game(),
    }
}

async fn game_info(State(st): State<Arc<HttpState>>, session: Session) -> Answer {
    let token = session.auth_token.as_deref();
    let now = now_s();
    // This worker serves the WebSocket, so push is on for whoever may play.
    write_answer(&st, 1024, |g, buf| {
        serde_json::to_writer(buf, &g.answer_game_info(viewer(g, token), true, now))
    })
}

async fn announcements(State(st): State<Arc<HttpState>>, session: Session) -> Answer {
    read_answer(&st, &session, |g, v| g.answer_announcements(v))
}

async fn triggers(State(st): State<Arc<HttpState>>, session: Session) -> Answer {
    read_answer(&st, &session, |g, _| g.answer_triggers())
}

/// The most requested per-player answer.
async fn game(State(st): State<Arc<HttpState>>, session: Session) -> Answer {
    let token = session.auth_token.as_deref();
    write_answer(&st, 8 * 1024, |g, buf| {
        serde_json::to_writer(buf, &g.answer_game(viewer(g, token)))
    })
}

/// Answers with what `write` serializes straight from the game (no JSON tree in
/// between), under the read lock, into a buffer of `capacity` bytes; NO_GAME while
/// resynchronizing.
fn write_answer(
    st: &HttpState,
    capacity: usize,
    write: impl FnOnce(&Game, &mut Vec<u8>) -> serde_json::Result<()>,
) -> Answer {
    let written = st.shared.read(|g| {
        let mut buf = Vec::with_capacity(capacity);
        write(g, &mut buf).map(|()| buf)
    });
    match written {
        Some(Ok(buf)) => json_bytes(Bytes::from(buf)),
        // Serializing cannot fail: every key is a string.
        Some(Err(_)) | None => no_game(),
    }
}

async fn challenge(
    State(st): State<Arc<HttpState>>,
    session: Session,
    Path(key): Path<String>,
) -> Answer {
    read_answer(&st, &session, |g, v| g.answer_challenge(v, &key))
}

async fn touched_users(
    State(st): State<Arc<HttpState>>,
    session: Session,
    Path(key): Path<String>,
) -> Answer {
    read_answer(&st, &session, |g, v| g.answer_touched_users(v, &key))
}

async fn my_submissions(State(st): State<Arc<HttpState>>, session: Session) -> Answer {
    let now = now_s();
    read_answer(&st, &session, |g, v| g.answer_my_submissions(v, now))
}

async fn submissions_of(
    State(st): State<Arc<HttpState>>,
    session: Session,
    Path(uid): Path<String>,
) -> Answer {
    let Ok(uid) = uid.parse::<i64>() else {
        return super::reply::bad_request();
    };
    let now = now_s();
    read_answer(&st, &session, |g, _| g.answer_submissions_of(uid, now))
}

/// Boards are the hot path: the game caches each render as an `Arc<Value>` until the
/// board changes, and this caches its JSON text for as long as that `Arc` is current.
async fn board(
    State(st): State<Arc<HttpState>>,
    session: Session,
    Path(name): Path<String>,
) -> Answer {
    let now = now_s();
    let token = session.auth_token.as_deref();
    let read = st.shared.read(|g| {
        let v = viewer(g, token);
        let admin = v.is_some_and(|ui| g.is_admin(g.users[ui as usize].id()));
        (g.answer_board(v, &name, now), admin)
    });
    let Some((answer, admin)) = read else {
        return no_game();
    };
    // Unknown boards get a fresh NOT_FOUND value each time: nothing worth caching.
    let Some(key) = rules::BOARDS.iter().find(|b| b.key == name).map(|b| b.key) else {
        return json_value(&answer);
    };
    let cached = lock(&st.boards)
        .get(&(key, admin))
        .filter(|(a, _)| Arc::ptr_eq(a, &answer))
        .map(|(_, encoded)| encoded.clone());
    let encoded = match cached {
        Some(encoded) => encoded,
        None => {
            // Serialized and compressed once per render; holding the `Arc` in the cache
            // keeps its address from being reused, so pointer equality really means "the
            // same render".
            let encoded = Encoded::new(to_bytes(&answer));
            lock(&st.boards).insert((key, admin), (answer, encoded.clone()));
            encoded
        }
    };
    let mut res = json_bytes(encoded.identity.clone());
    encoded.attach(&mut res);
    res
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

/// What a player is told when the reducer never answered: the action may be stored.
pub const OUTCOME_UNKNOWN: &str = "服务暂时不可用，操作结果未知，请稍后刷新页面查看是否已生效";

/// The answer to a performed action: `{"error": null}`, or REDUCER_ERROR with the
/// reducer's message; transport failures get a message the player can act on.
pub(super) fn reply_answer(result: &Result<ActionReply, PerformError>, what: &str) -> Value {
    match result {
        Ok(ActionReply {
            error_msg: None, ..
        }) => json!({"error": null}),
        Ok(ActionReply {
            error_msg: Some(msg),
            ..
        }) => error_answer("REDUCER_ERROR", msg),
        Err(e @ PerformError::NotApplied(_)) => {
            tracing::warn!("{what}: {e}");
            error_answer(
                "REDUCER_ERROR",
                "操作已提交，但结果尚未同步，请稍后刷新页面",
            )
        }
        // Sent, never answered: it may have been stored (at most once). Saying "failed"
        // would make the player's retry store it a second time.
        Err(PerformError::Glitter(
            e @ (GlitterError::Unanswered(_)
            | GlitterError::Timeout(_)
            | GlitterError::Disconnected),
        )) => {
            tracing::error!("{what}: no answer from the reducer: {e}");
            error_answer("REDUCER_ERROR", OUTCOME_UNKNOWN)
        }
        Err(e) => {
            tracing::error!("{what}: the reducer is unreachable: {e}");
            error_answer("REDUCER_ERROR", "服务暂时不可用，请稍后重试")
        }
    }
}

/// Runs a pre-check that yields the acting uid, or answers with its refusal / NO_GAME.
fn precheck(
    st: &HttpState,
    session: &Session,
    check: impl FnOnce(&Game, Option<UserIdx>) -> Result<UserIdx, Value>,
) -> Result<i64, Answer> {
    let token = session.auth_token.as_deref();
    match st.shared.read(|g| {
        let v = viewer(g, token);
        check(g, v).map(|ui| g.users[ui as usize].id())
    }) {
        None => Err(no_game()),
        Some(Err(refusal)) => Err(json_value(&refusal)),
        Some(Ok(uid)) => Ok(uid),
    }
}

#[derive(Deserialize)]
struct SubmitFlagBody {
    challenge_key: String,
    flag: String,
}

async fn submit_flag(
    State(st): State<Arc<HttpState>>,
    session: Session,
    trace: Trace,
    body: Bytes,
) -> Answer {
    let req: SubmitFlagBody = match parse_json(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let now = now_ms();
    let uid = match precheck(&st, &session, |g, v| {
        g.precheck_submit_flag(v, &req.challenge_key, &req.flag, now)
    }) {
        Ok(uid) => uid,
        Err(a) => return a,
    };
    // A dynamic flag not generated yet is made now: only this player waits for it, and
    // the flag is judged on its real value (a failure is logged and explained).
    st.shared
        .ensure_dynamic_flags(uid, &req.challenge_key, false)
        .await;
    let mut meta = Map::new();
    if let Some(ip) = &trace.client.ip {
        meta.insert("ip".into(), json!(ip));
    }
    if let Some(ua) = &trace.client.user_agent {
        meta.insert("user_agent".into(), json!(ua));
    }
    let result = st
        .shared
        .perform(Action::SubmitFlag {
            uid,
            challenge_key: req.challenge_key.clone(),
            flag: req.flag.clone(),
            meta,
        })
        .await;
    let answer = reply_answer(&result, "submit_flag");
    // The reference keeps every flag that reached the reducer in the anti-cheat log too.
    let outcome = answer.get("error_msg").cloned().unwrap_or(Value::Null);
    anticheat::append(
        &st,
        uid,
        &trace,
        json!({"kind": "submit_flag", "challenge_key": req.challenge_key, "flag": req.flag, "result": outcome}),
    )
    .await;
    json_value(&answer)
}

#[derive(Deserialize)]
struct FeedbackBody {
    challenge_key: String,
    feedback: String,
}

async fn submit_feedback(
    State(st): State<Arc<HttpState>>,
    session: Session,
    body: Bytes,
) -> Answer {
    let req: FeedbackBody = match parse_json(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let now = now_ms();
    let uid = match precheck(&st, &session, |g, v| {
        g.precheck_feedback(v, &req.challenge_key, &req.feedback, now)
    }) {
        Ok(uid) => uid,
        Err(a) => return a,
    };
    let result = st
        .shared
        .perform(Action::SubmitFeedback {
            uid,
            challenge_key: req.challenge_key,
            content: req.feedback,
        })
        .await;
    json_value(&reply_answer(&result, "submit_feedback"))
}

#[derive(Deserialize)]
struct ProfileBody {
    profile: BTreeMap<String, String>,
}

async fn update_profile(State(st): State<Arc<HttpState>>, session: Session, body: Bytes) -> Answer {
    let req: ProfileBody = match parse_json(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let now = now_ms();
    let token = session.auth_token.as_deref();
    let checked = st.shared.read(|g| {
        g.precheck_update_profile(viewer(g, token), &req.profile, now)
            .map(|(ui, values)| (g.users[ui as usize].id(), values))
    });
    let (uid, values) = match checked {
        None => return no_game(),
        Some(Err(refusal)) => return json_value(&refusal),
        Some(Ok(ok)) => ok,
    };
    // Only the group's fields go to the reducer, whatever else the body carried.
    let profile = values
        .into_iter()
        .map(|(field, value)| (field.name().to_owned(), value))
        .collect();
    let result = st
        .shared
        .perform(Action::UpdateProfile { uid, profile })
        .await;
    json_value(&reply_answer(&result, "update_profile"))
}

async fn agree_term(State(st): State<Arc<HttpState>>, session: Session) -> Answer {
    let token = session.auth_token.as_deref();
    let checked = st.shared.read(|g| {
        let ui = viewer(g, token).ok_or_else(|| error_answer("NO_USER", "未登录"))?;
        let u = &g.users[ui as usize];
        Ok::<_, Value>((!u.row.terms_agreed).then(|| u.id()))
    });
    let uid = match checked {
        None => return no_game(),
        Some(Err(refusal)) => return json_value(&refusal),
        // Already agreed: nothing to write.
        Some(Ok(None)) => return json_value(&json!({"error": null})),
        Some(Ok(Some(uid))) => uid,
    };
    let result = st.shared.perform(Action::AgreeTerm { uid }).await;
    json_value(&reply_answer(&result, "agree_term"))
}
