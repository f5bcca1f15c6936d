//! Encoding and decoding of glitter's multipart frames: pure functions, no sockets.
//! Every check on untrusted input lives here so that it is unit-tested without the network.

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::message::{Action, ActionReply, Event};
use super::{
    GlitterError, Result, MAX_ACTION_ID_BYTES, MAX_FRAME_BYTES, MAX_REQUEST_ID_BYTES,
    PROTOCOL_VERSION,
};

/// Frames of a request after the ROUTER's identity frame.
pub(crate) const REQUEST_FRAMES: usize = 5;

/// The SHA-256 of the shared token; what the server keeps and compares.
#[derive(Clone)]
pub(crate) struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// Digest of `token`.
    pub(crate) fn new(token: &str) -> Self {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `presented` is the token, in time independent of both contents and length:
    /// hashing first hides the length, and the digests are compared in constant time.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let d: [u8; 32] = Sha256::digest(presented).into();
        d.ct_eq(&self.0).into()
    }
}

/// A request that passed every check.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) request_id: Bytes,
    pub(crate) action: Action,
    /// The worker's id of the action (the body's `action_id`), for exactly-once.
    pub(crate) action_id: Option<String>,
}

/// Why a request is refused, and the request id to answer with (possibly empty).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) request_id: Bytes,
    pub(crate) reason: String,
    /// Whether the token was valid: only then is the peer owed a reply every time.
    pub(crate) authenticated: bool,
}

/// A peer-supplied string made safe for a log line or an error message.
pub(crate) fn shown(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]);
    let mut out = format!("{s:?}");
    if bytes.len() > 64 {
        out.push('…');
    }
    out
}

fn is_valid_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_BYTES
}

/// Checks and decodes a request (`frames` excludes the ROUTER identity).
pub(crate) fn decode_request(frames: &[Bytes], token: &TokenDigest) -> Result<Request, Refusal> {
    // Echo the id whenever one can be found, so that even a refusal reaches its caller.
    let request_id = frames
        .get(3)
        .filter(|id| is_valid_request_id(id))
        .cloned()
        .unwrap_or_default();
    let refuse = |reason: String| Refusal {
        request_id: request_id.clone(),
        reason,
        authenticated: false,
    };

    if frames.len() != REQUEST_FRAMES || !frames[0].is_empty() {
        return Err(refuse(format!(
            "malformed request: expected {REQUEST_FRAMES} frames \
             [empty, protocol, token, request id, body], got {} frames",
            frames.len()
        )));
    }
    // The token comes first: an unauthenticated peer learns nothing else about us.
    if !token.matches(&frames[2]) {
        return Err(refuse("invalid token".to_owned()));
    }
    let refuse = |reason: String| Refusal {
        authenticated: true,
        ..refuse(reason)
    };
    if frames[1] != PROTOCOL_VERSION.as_bytes() {
        return Err(refuse(format!(
            "protocol version mismatch: peer {}, reducer {PROTOCOL_VERSION:?}",
            shown(&frames[1])
        )));
    }
    if !is_valid_request_id(&frames[3]) {
        return Err(refuse(format!(
            "request id must be 1 to {MAX_REQUEST_ID_BYTES} bytes, got {}",
            frames[3].len()
        )));
    }
    let (action, action_id) = decode_body(&frames[4]).map_err(refuse)?;
    if let Action::WorkerHello {
        protocol_version, ..
    } = &action
    {
        if protocol_version != PROTOCOL_VERSION {
            return Err(refuse(format!(
                "protocol version mismatch: worker {}, reducer {PROTOCOL_VERSION:?}",
                shown(protocol_version.as_bytes())
            )));
        }
    }
    Ok(Request {
        request_id: frames[3].clone(),
        action,
        action_id,
    })
}

fn is_valid_action_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ACTION_ID_BYTES && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Decodes an action body and its optional `action_id`, telling an unknown type apart
/// from bad fields.
pub(crate) fn decode_body(body: &[u8]) -> Result<(Action, Option<String>), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("action body is not JSON: {e}"))?;
    let action_id = match value.get("action_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if is_valid_action_id(id) => Some(id.clone()),
        Some(_) => {
            return Err(format!(
            "action_id must be a string of 1 to {MAX_ACTION_ID_BYTES} printable ASCII characters"
        ))
        }
    };
    Ok((decode_action(value)?, action_id))
}

/// Decodes an action, telling an unknown type apart from bad fields.
fn decode_action(value: Value) -> Result<Action, String> {
    let ty = match value.get("type") {
        Some(Value::String(ty)) => ty.clone(),
        _ => return Err("action body must be a JSON object with a string \"type\"".to_owned()),
    };
    if !Action::TYPE_NAMES.contains(&ty.as_str()) {
        return Err(format!("unknown action type {}", shown(ty.as_bytes())));
    }
    serde_json::from_value(value).map_err(|e| format!("malformed {ty} action: {e}"))
}

fn check_size(frame: &[u8]) -> Result<()> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(GlitterError::TooLarge {
            size: frame.len(),
            limit: MAX_FRAME_BYTES,
        });
    }
    Ok(())
}

/// Encodes a request (without identity), with the action id if any; refuses a body over
/// the frame limit.
pub(crate) fn encode_request(
    token: &str,
    request_id: &[u8],
    action: &Action,
    action_id: Option<&str>,
) -> Result<Vec<Bytes>> {
    let invalid =
        |e: serde_json::Error| GlitterError::Invalid(format!("cannot encode action: {e}"));
    let body = match action_id {
        None => serde_json::to_vec(action).map_err(invalid)?,
        Some(id) => {
            if !is_valid_action_id(id) {
                return Err(GlitterError::Invalid(format!(
                    "bad action id {}",
                    shown(id.as_bytes())
                )));
            }
            let mut value = serde_json::to_value(action).map_err(invalid)?;
            if let Value::Object(map) = &mut value {
                map.insert("action_id".to_owned(), Value::String(id.to_owned()));
            }
            serde_json::to_vec(&value).map_err(invalid)?
        }
    };
    check_size(&body)?;
    check_size(token.as_bytes())?;
    Ok(vec![
        Bytes::new(),
        Bytes::from_static(PROTOCOL_VERSION.as_bytes()),
        Bytes::copy_from_slice(token.as_bytes()),
        Bytes::copy_from_slice(request_id),
        Bytes::from(body),
    ])
}

/// Encodes a reply (without identity); a too-large reply becomes an error reply.
pub(crate) fn encode_reply(request_id: Bytes, reply: &ActionReply) -> Vec<Bytes> {
    let body = match serde_json::to_vec(reply) {
        Ok(body) if body.len() <= MAX_FRAME_BYTES => body,
        // The client would drop an oversized reply; tell it why instead of timing out.
        Ok(body) => serde_json::to_vec(&ActionReply::error(
            format!(
                "glitter: reply of {} bytes exceeds the frame limit",
                body.len()
            ),
            reply.state_counter,
        ))
        .unwrap_or_default(),
        Err(e) => serde_json::to_vec(&ActionReply::error(
            format!("glitter: cannot encode reply: {e}"),
            reply.state_counter,
        ))
        .unwrap_or_default(),
    };
    vec![
        Bytes::new(),
        Bytes::from_static(PROTOCOL_VERSION.as_bytes()),
        request_id,
        Bytes::from(body),
    ]
}

/// Decodes a reply into its request id and body.
pub(crate) fn decode_reply(frames: &[Bytes]) -> Result<(Bytes, ActionReply), String> {
    if frames.len() != 4 || !frames[0].is_empty() {
        return Err(format!("expected 4 reply frames, got {}", frames.len()));
    }
    if frames[1] != PROTOCOL_VERSION.as_bytes() {
        return Err(format!("reply with protocol {}", shown(&frames[1])));
    }
    let reply = serde_json::from_slice(&frames[3]).map_err(|e| format!("reply body: {e}"))?;
    Ok((frames[2].clone(), reply))
}

/// Encodes an event; refuses one over the frame limit (only a huge push can be).
pub(crate) fn encode_event(event: &Event) -> Result<Vec<Bytes>> {
    let body = serde_json::to_vec(event)
        .map_err(|e| GlitterError::Invalid(format!("cannot encode event: {e}")))?;
    check_size(&body)?;
    Ok(vec![
        Bytes::from_static(event.kind.as_str().as_bytes()),
        Bytes::from_static(PROTOCOL_VERSION.as_bytes()),
        Bytes::from(body),
    ])
}

/// Decodes an event.
pub(crate) fn decode_event(frames: &[Bytes]) -> Result<Event, String> {
    if frames.len() != 3 {
        return Err(format!("expected 3 event frames, got {}", frames.len()));
    }
    if frames[1] != PROTOCOL_VERSION.as_bytes() {
        return Err(format!("event with protocol {}", shown(&frames[1])));
    }
    serde_json::from_slice(&frames[2]).map_err(|e| format!("event body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glitter::message::{EventKind, PushMessage};
    use serde_json::json;

    fn token() -> TokenDigest {
        TokenDigest::new("s3cret")
    }

    fn hello(version: &str) -> Action {
        Action::WorkerHello {
            worker_id: "w0".into(),
            protocol_version: version.into(),
        }
    }

    #[test]
    fn glitter_request_round_trip() {
        let action = Action::AgreeTerm { uid: 7 };
        let frames = encode_request("s3cret", b"42", &action, None).unwrap();
        let req = decode_request(&frames, &token()).unwrap();
        assert_eq!(req.action, action);
        assert_eq!(&req.request_id[..], b"42");
    }

    #[test]
    fn glitter_action_ids_travel_in_the_body() {
        let action = Action::AgreeTerm { uid: 7 };
        let frames = encode_request("s3cret", b"1", &action, Some("w0.ab.12")).unwrap();
        let req = decode_request(&frames, &token()).unwrap();
        assert_eq!(req.action, action);
        assert_eq!(req.action_id.as_deref(), Some("w0.ab.12"));
        let plain = encode_request("s3cret", b"1", &action, None).unwrap();
        assert_eq!(decode_request(&plain, &token()).unwrap().action_id, None);
        assert!(encode_request("s3cret", b"1", &action, Some("")).is_err());
        assert!(encode_request("s3cret", b"1", &action, Some("a b")).is_err());
        let mut bad = plain.clone();
        bad[4] = Bytes::from_static(br#"{"type":"AGREE_TERM","uid":1,"action_id":5}"#);
        assert!(decode_request(&bad, &token())
            .unwrap_err()
            .reason
            .contains("action_id"));
    }

    #[test]
    fn glitter_token_comparison() {
        let t = token();
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3cre"));
        assert!(!t.matches(b""));
        assert!(!t.matches(b"s3cret\0"));
    }

    fn refusal(frames: Vec<Bytes>) -> Refusal {
        decode_request(&frames, &token()).unwrap_err()
    }

    #[test]
    fn glitter_refusals() {
        let good = encode_request("s3cret", b"1", &Action::AgreeTerm { uid: 1 }, None).unwrap();

        let mut wrong_token = good.clone();
        wrong_token[2] = Bytes::from_static(b"guess");
        let r = refusal(wrong_token);
        assert_eq!(r.reason, "invalid token");
        assert!(!r.authenticated);
        assert_eq!(&r.request_id[..], b"1");
        assert!(!r.reason.contains("s3cret"));

        let r = refusal(good[..4].to_vec());
        assert!(r.reason.contains("expected 5 frames"), "{}", r.reason);
        assert_eq!(&r.request_id[..], b"1");

        let r = refusal(vec![Bytes::from_static(b"\xff\x00garbage")]);
        assert!(r.reason.contains("got 1 frames"));
        assert!(r.request_id.is_empty());

        let mut no_delim = good.clone();
        no_delim[0] = Bytes::from_static(b"x");
        assert!(refusal(no_delim).reason.starts_with("malformed request"));

        let mut old = good.clone();
        old[1] = Bytes::from_static(b"glitter.alpha.v2");
        assert!(refusal(old).reason.contains("protocol version mismatch"));

        let mut long_id = good.clone();
        long_id[3] = Bytes::from(vec![b'a'; MAX_REQUEST_ID_BYTES + 1]);
        let r = refusal(long_id);
        assert!(r.reason.contains("request id"));
        assert!(r.request_id.is_empty());

        let mut garbage = good.clone();
        garbage[4] = Bytes::from_static(b"\x80\x81 not json");
        assert!(refusal(garbage).reason.contains("not JSON"));

        let mut unknown = good.clone();
        unknown[4] = Bytes::from_static(br#"{"type":"DROP_TABLES","uid":1}"#);
        let r = refusal(unknown);
        assert!(r.reason.contains("unknown action type \"DROP_TABLES\""));
        assert!(r.authenticated);

        let mut bad_fields = good.clone();
        bad_fields[4] = Bytes::from_static(br#"{"type":"AGREE_TERM","uid":"x"}"#);
        assert!(refusal(bad_fields)
            .reason
            .contains("malformed AGREE_TERM action"));

        let mut not_object = good.clone();
        not_object[4] = Bytes::from_static(b"[1,2]");
        assert!(refusal(not_object).reason.contains("\"type\""));

        let wrong_hello = encode_request("s3cret", b"9", &hello("gs-glitter/0"), None).unwrap();
        let r = refusal(wrong_hello);
        assert!(r.reason.contains("worker \"gs-glitter/0\""), "{}", r.reason);
        assert!(decode_request(
            &encode_request("s3cret", b"9", &hello(PROTOCOL_VERSION), None).unwrap(),
            &token()
        )
        .is_ok());
    }

    #[test]
    fn glitter_oversized_request_is_not_sent() {
        let action = Action::SubmitFeedback {
            uid: 1,
            challenge_key: "c".into(),
            content: "x".repeat(MAX_FRAME_BYTES),
        };
        assert!(matches!(
            encode_request("t", b"1", &action, None),
            Err(GlitterError::TooLarge { .. })
        ));
    }

    #[test]
    fn glitter_reply_and_event_round_trip() {
        let reply = ActionReply::error("Flag错误", 12).with_data(json!({"x": 1}));
        let frames = encode_reply(Bytes::from_static(b"abc"), &reply);
        let (id, back) = decode_reply(&frames).unwrap();
        assert_eq!(&id[..], b"abc");
        assert_eq!(back, reply);

        let ev = Event::push(5, PushMessage::broadcast(json!({"type": "tick_update"})));
        let frames = encode_event(&ev).unwrap();
        assert_eq!(&frames[0][..], b"PUSH");
        assert_eq!(decode_event(&frames).unwrap(), ev);
        assert!(decode_event(&frames[..2]).is_err());

        let unknown = [
            Bytes::from_static(b"FUTURE"),
            Bytes::from_static(PROTOCOL_VERSION.as_bytes()),
            Bytes::from_static(br#"{"kind":"FUTURE","state_counter":3,"id":1,"tick":0}"#),
        ];
        assert_eq!(decode_event(&unknown).unwrap().kind, EventKind::Unknown);
    }
}
