//! The reducer's end of the action socket: a ROUTER behind the frame guard.
//! Checks every request, refuses bad ones itself, and hands good ones out with a [`Responder`].

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use zeromq::prelude::*;
use zeromq::{RouterRecvHalf, RouterSendHalf, RouterSocket, ZmqMessage};

use super::guard::{bind_guarded, Guard};
use super::message::{Action, ActionReply};
use super::wire::{self, Refusal, TokenDigest};
use super::{endpoint, AbortOnDrop, GlitterError, Result};

/// How long a reply may wait for room in a worker's queue before it is given up.
const REPLY_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Refusals answered (and logged) per unauthenticated peer; the rest are dropped silently,
/// so a peer that floods garbage and never reads cannot make us queue replies without end.
const MAX_UNAUTHENTICATED_REFUSALS: u32 = 16;

/// Actions handed to the reducer but not yet taken; beyond this the socket stops reading.
const QUEUE_CAPACITY: usize = 1024;

/// The reducer's action socket: yields checked actions, each with its [`Responder`].
#[derive(Debug)]
pub struct ActionServer {
    rx: mpsc::Receiver<(Action, Responder)>,
    guard: Guard,
    _task: AbortOnDrop,
}

impl ActionServer {
    /// Binds `addr` (`ipc://path` or `tcp://host:port`); every request must carry `token`.
    pub async fn bind(addr: &str, token: &str) -> Result<Self> {
        if token.is_empty() {
            return Err(GlitterError::Invalid(
                "the glitter token must not be empty".to_owned(),
            ));
        }
        let parsed = endpoint::parse(addr)?;
        let mut socket = RouterSocket::new();
        let guard = bind_guarded(&mut socket, &parsed, "action").await?;
        let (send, recv) = socket.split();
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(serve(recv, send, TokenDigest::new(token), tx));
        tracing::info!(endpoint = %guard.endpoint, "glitter: action server bound");
        Ok(ActionServer {
            rx,
            guard,
            _task: AbortOnDrop(task),
        })
    }

    /// The next checked action; `None` once the server has stopped. Cancel-safe.
    pub async fn recv(&mut self) -> Option<(Action, Responder)> {
        self.rx.recv().await
    }

    /// The bound address with the port resolved, e.g. `tcp://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.guard.endpoint
    }

    /// Actions received and waiting to be taken (the reducer's queue depth).
    pub fn queued(&self) -> usize {
        self.rx.len()
    }

    /// The next action if one is already waiting (for batching), without waiting.
    pub fn try_recv(&mut self) -> Option<(Action, Responder)> {
        self.rx.try_recv().ok()
    }
}

impl futures::Stream for ActionServer {
    type Item = (Action, Responder);

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Sends the reply to one action back to the worker and request it came from.
///
/// Dropping it without replying answers the worker with an error, so it does not wait
/// for its timeout.
pub struct Responder {
    send: RouterSendHalf,
    identity: Bytes,
    request_id: Bytes,
    action_id: Option<String>,
    replied: bool,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("peer", &short_hex(&self.identity))
            .field("request_id", &wire::shown(&self.request_id))
            .finish()
    }
}

impl Responder {
    /// The request id the worker chose (opaque bytes; ours are decimal numbers).
    pub fn request_id(&self) -> &[u8] {
        &self.request_id
    }

    /// The worker's id of this action, if it sent one (exactly-once: a repeated id gets
    /// the first outcome).
    pub fn action_id(&self) -> Option<&str> {
        self.action_id.as_deref()
    }

    /// Sends `reply`; fails if the worker is gone or has not read for a second.
    pub async fn reply(mut self, reply: ActionReply) -> Result<()> {
        self.replied = true;
        let msg = reply_message(&self.identity, self.request_id.clone(), &reply);
        send_with_timeout(&mut self.send, msg, REPLY_SEND_TIMEOUT).await
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.replied {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let reply = ActionReply::error("glitter: the reducer dropped this action unanswered", 0);
        let msg = reply_message(&self.identity, self.request_id.clone(), &reply);
        let mut send = self.send.clone();
        handle.spawn(async move {
            let _ = send_with_timeout(&mut send, msg, REPLY_SEND_TIMEOUT).await;
        });
    }
}

fn reply_message(identity: &Bytes, request_id: Bytes, reply: &ActionReply) -> ZmqMessage {
    let mut frames = Vec::with_capacity(5);
    frames.push(identity.clone());
    frames.extend(wire::encode_reply(request_id, reply));
    ZmqMessage::try_from(frames).unwrap_or_else(|_| ZmqMessage::from(Bytes::new()))
}

async fn send_with_timeout(send: &mut RouterSendHalf, msg: ZmqMessage, t: Duration) -> Result<()> {
    match tokio::time::timeout(t, send.send(msg)).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(GlitterError::Timeout(t)),
    }
}

/// A peer identity shortened for logs (the ROUTER assigns random ones).
fn short_hex(identity: &[u8]) -> String {
    hex::encode(&identity[..identity.len().min(6)])
}

async fn serve(
    mut recv: RouterRecvHalf,
    mut send: RouterSendHalf,
    token: TokenDigest,
    tx: mpsc::Sender<(Action, Responder)>,
) {
    let mut refusals: HashMap<Bytes, u32> = HashMap::new();
    loop {
        let msg = match recv.recv().await {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!(error = %e, "glitter: action socket receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut frames = msg.into_vec();
        if frames.is_empty() {
            continue;
        }
        let identity = frames.remove(0);
        match wire::decode_request(&frames, &token) {
            Ok(req) => {
                let responder = Responder {
                    send: send.clone(),
                    identity,
                    request_id: req.request_id,
                    action_id: req.action_id,
                    replied: false,
                };
                if tx.send((req.action, responder)).await.is_err() {
                    return; // The server was dropped.
                }
            }
            Err(refusal) => {
                if refusals.len() > 4096 {
                    refusals.clear(); // Bound the memory; forgetting only re-allows replies.
                }
                refuse(&mut send, identity, refusal, &mut refusals).await;
            }
        }
    }
}

async fn refuse(
    send: &mut RouterSendHalf,
    identity: Bytes,
    refusal: Refusal,
    counts: &mut HashMap<Bytes, u32>,
) {
    let peer = short_hex(&identity);
    if !refusal.authenticated {
        let n = counts.entry(identity.clone()).or_insert(0);
        *n += 1;
        if *n > MAX_UNAUTHENTICATED_REFUSALS {
            if *n == MAX_UNAUTHENTICATED_REFUSALS + 1 {
                tracing::warn!(%peer, "glitter: peer keeps sending bad requests; ignoring it");
            }
            return;
        }
    }
    tracing::warn!(%peer, reason = %refusal.reason, "glitter: refused action request");
    let reply = ActionReply::error(format!("glitter: {}", refusal.reason), 0);
    let msg = reply_message(&identity, refusal.request_id, &reply);
    // Short: a refusal must never hold up good requests behind it.
    let _ = send_with_timeout(send, msg, Duration::from_millis(100)).await;
}
