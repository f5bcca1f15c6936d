//! The worker's end of the action socket: a DEALER shared by every task of the worker.
//! Many calls are in flight at once; replies are paired with calls by request id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::oneshot;
use zeromq::prelude::*;
use zeromq::{
    DealerRecvHalf, DealerSendHalf, DealerSocket, SocketEvent, SocketOptions, ZmqMessage,
};

use super::message::{Action, ActionReply};
use super::{endpoint, wire, AbortOnDrop, GlitterError, Result};
use super::{DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT};

/// A connection to the reducer's action socket; cheap to clone, usable from many tasks.
///
/// The `zeromq` DEALER does not reconnect by itself, so the client opens a new connection
/// on the next call after the old one dropped (e.g. the reducer restarted).
#[derive(Clone)]
pub struct ActionClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ActionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("ActionClient")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

struct Inner {
    addr: String,
    token: String,
    call_timeout: Duration,
    connect_timeout: Duration,
    next_id: AtomicU64,
    next_generation: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
}

struct Pending {
    generation: u64,
    tx: oneshot::Sender<Result<ActionReply>>,
}

/// One ZeroMQ connection; replaced when it dies.
struct Conn {
    generation: u64,
    send: tokio::sync::Mutex<DealerSendHalf>,
    alive: Arc<AtomicBool>,
    _reader: AbortOnDrop,
}

impl ActionClient {
    /// Connects to the reducer at `addr` with the default timeouts (5 s per call).
    pub async fn connect(addr: &str, token: &str) -> Result<Self> {
        Self::connect_with(addr, token, DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// Connects with explicit timeouts for each call and for (re)connecting.
    pub async fn connect_with(
        addr: &str,
        token: &str,
        call_timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self> {
        if token.is_empty() {
            return Err(GlitterError::Invalid(
                "the glitter token must not be empty".to_owned(),
            ));
        }
        endpoint::parse(addr)?;
        let inner = Arc::new(Inner {
            addr: addr.to_owned(),
            token: token.to_owned(),
            call_timeout,
            connect_timeout,
            next_id: AtomicU64::new(1),
            next_generation: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            conn: tokio::sync::Mutex::new(None),
        });
        // Connect now so that a wrong address is reported at start-up, not at the first call.
        inner.connection().await?;
        Ok(ActionClient { inner })
    }

    /// Sends `action` and waits for its reply, at most the call timeout.
    ///
    /// On [`GlitterError::Timeout`] or [`GlitterError::Disconnected`] the action may or
    /// may not have been executed; a refusal comes back as a reply whose `error_msg`
    /// starts with `glitter:`.
    pub async fn call(&self, action: Action) -> Result<ActionReply> {
        self.attempt(&action, None, self.inner.call_timeout).await
    }

    /// Sends `action` under `action_id` until it is answered, at most for `budget`: an
    /// unanswered attempt (timeout, lost connection, reducer restart) and a reply asking
    /// for a retry are repeated with the same id, which the reducer executes at most
    /// once. [`GlitterError::Unanswered`] means the outcome is unknown.
    pub async fn call_once(
        &self,
        action: &Action,
        action_id: &str,
        budget: Duration,
    ) -> Result<ActionReply> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(GlitterError::Unanswered(budget));
            }
            let timeout = left.min(self.inner.call_timeout);
            match self.attempt(action, Some(action_id), timeout).await {
                Ok(reply) if !reply.retry => return Ok(reply),
                Ok(_) | Err(GlitterError::Timeout(_) | GlitterError::Disconnected) => {}
                Err(GlitterError::Transport(e)) => {
                    tracing::debug!(action_id, "glitter: attempt failed: {e}; retrying")
                }
                Err(e) => return Err(e),
            }
            let left = budget.saturating_sub(started.elapsed());
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    async fn attempt(
        &self,
        action: &Action,
        action_id: Option<&str>,
        call_timeout: Duration,
    ) -> Result<ActionReply> {
        let inner = &self.inner;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let frames =
            wire::encode_request(&inner.token, id.to_string().as_bytes(), action, action_id)?;
        let msg = ZmqMessage::try_from(frames).map_err(|e| GlitterError::Invalid(e.to_string()))?;
        let _forget = ForgetOnDrop { inner, id };
        let exchange = async {
            let mut msg = Some(msg);
            // A failed send means nothing left this process, so one retry on a fresh
            // connection cannot execute the action twice.
            for attempt in 0..2 {
                let conn = inner.connection().await?;
                // A fresh channel per attempt: the old connection's reader may fail the old one.
                let (tx, rx) = oneshot::channel();
                lock(&inner.pending).insert(
                    id,
                    Pending {
                        generation: conn.generation,
                        tx,
                    },
                );
                // Checked after registering: the reader marks death before failing pending calls.
                if !conn.alive.load(Ordering::Acquire) {
                    continue;
                }
                let Some(m) = msg.take() else { break };
                let sent = { conn.send.lock().await.send(m).await };
                match sent {
                    Ok(()) => return rx.await.unwrap_or(Err(GlitterError::Disconnected)),
                    Err(zeromq::ZmqError::ReturnToSender { message, .. }) if attempt == 0 => {
                        conn.alive.store(false, Ordering::Release);
                        msg = Some(message);
                    }
                    Err(e) => {
                        conn.alive.store(false, Ordering::Release);
                        return Err(e.into());
                    }
                }
            }
            Err(GlitterError::Disconnected)
        };
        match tokio::time::timeout(call_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(GlitterError::Timeout(call_timeout)),
        }
    }

    /// The address this client talks to.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the map leaves it consistent (single inserts/removes).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes a call's pending entry however the call ends (reply, timeout, cancellation).
struct ForgetOnDrop<'a> {
    inner: &'a Inner,
    id: u64,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        lock(&self.inner.pending).remove(&self.id);
    }
}

impl Inner {
    /// The live connection, opening a new one if there is none.
    async fn connection(self: &Arc<Self>) -> Result<Arc<Conn>> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| c.alive.load(Ordering::Acquire)) {
            return Ok(conn.clone());
        }
        let conn = Arc::new(self.open().await?);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn open(self: &Arc<Self>) -> Result<Conn> {
        let mut options = SocketOptions::default();
        options.connect_timeout(self.connect_timeout);
        let mut socket = DealerSocket::with_options(options);
        let monitor = socket.monitor();
        socket.connect(&self.addr).await?;
        let (send, recv) = socket.split();
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let alive = Arc::new(AtomicBool::new(true));
        let reader = tokio::spawn(read_replies(
            recv,
            monitor,
            Arc::downgrade(self),
            generation,
            alive.clone(),
        ));
        tracing::debug!(addr = %self.addr, generation, "glitter: connected to reducer");
        Ok(Conn {
            generation,
            send: tokio::sync::Mutex::new(send),
            alive,
            _reader: AbortOnDrop(reader),
        })
    }
}

/// Delivers replies to their calls until the connection dies, then fails its calls.
async fn read_replies(
    mut recv: DealerRecvHalf,
    mut monitor: futures::channel::mpsc::Receiver<SocketEvent>,
    inner: Weak<Inner>,
    generation: u64,
    alive: Arc<AtomicBool>,
) {
    loop {
        tokio::select! {
            msg = recv.recv() => {
                let Ok(msg) = msg else { break };
                let Some(inner) = inner.upgrade() else { return };
                deliver(&inner, &msg.into_vec());
            }
            ev = monitor.next() => match ev {
                Some(SocketEvent::Disconnected(_)) | None => break,
                Some(_) => {}
            },
        }
    }
    alive.store(false, Ordering::Release);
    let Some(inner) = inner.upgrade() else { return };
    tracing::warn!(addr = %inner.addr, "glitter: connection to the reducer lost");
    let mut pending = lock(&inner.pending);
    let dead: Vec<u64> = pending
        .iter()
        .filter(|(_, p)| p.generation == generation)
        .map(|(id, _)| *id)
        .collect();
    for id in dead {
        if let Some(p) = pending.remove(&id) {
            let _ = p.tx.send(Err(GlitterError::Disconnected));
        }
    }
}

fn deliver(inner: &Inner, frames: &[bytes::Bytes]) {
    let (id, reply) = match wire::decode_reply(frames) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "glitter: malformed reply from the reducer");
            return;
        }
    };
    let id = std::str::from_utf8(&id)
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let pending = id.and_then(|id| lock(&inner.pending).remove(&id));
    match pending {
        Some(p) => {
            let _ = p.tx.send(Ok(reply));
        }
        // A reply after its call timed out, or a refusal without a usable id.
        None => {
            tracing::debug!(error_msg = ?reply.error_msg, "glitter: reply without a waiting call")
        }
    }
}
