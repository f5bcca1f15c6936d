//! Glitter: the reducer⇄worker protocol over ZeroMQ — message types and transport only.
//! Actions go worker → reducer (DEALER/ROUTER, many in flight); events go reducer → workers (PUB/SUB).
//!
//! # Wire format (`gs-glitter/1`; full text in `docs/glitter.md`)
//!
//! Every message is a ZeroMQ multipart message (ZMTP 3, NULL mechanism). Text frames are
//! UTF-8; bodies are JSON objects, so a worker in any language with a ZeroMQ binding and
//! a JSON parser can attach.
//!
//! **Action request** (worker DEALER → reducer ROUTER), exactly five frames:
//!
//! | # | frame | content |
//! |---|-------|---------|
//! | 0 | delimiter | empty (so that a plain REQ socket works as a client too) |
//! | 1 | protocol | `gs-glitter/1` ([`PROTOCOL_VERSION`]) |
//! | 2 | token | the shared secret, UTF-8; compared in constant time |
//! | 3 | request id | 1–64 opaque bytes chosen by the client, echoed in the reply |
//! | 4 | body | JSON [`Action`], tagged by `"type"` (`"SUBMIT_FLAG"`, …) |
//!
//! **Action reply** (ROUTER → DEALER), four frames: empty delimiter, protocol, the request
//! id, JSON [`ActionReply`] `{"error_msg": null|"…", "state_counter": n, "data": …}`.
//! Replies may arrive in any order; the request id pairs them with requests. A refused
//! request (bad token, bad protocol, malformed, unknown type, hello with another protocol
//! version) gets a reply whose `error_msg` starts with `glitter:` and whose
//! `state_counter` is 0; the action is not executed.
//!
//! **Event** (PUB → SUB), three frames: topic = the kind's wire name (`"NEW_SUBMISSION"`;
//! SUB prefix filters work on it), protocol, JSON [`Event`]
//! `{"kind": "…", "state_counter": n, "id": n, "tick": n, "epoch": n?, "push": {…}?}`.
//!
//! **Limits.** A frame larger than [`MAX_FRAME_BYTES`] (1 MiB) or a message of more than
//! [`MAX_FRAMES_PER_MESSAGE`] frames makes the bound side close that connection at once,
//! before the frame is buffered; clients refuse to send such messages.
//!
//! # Why a guard in front of the bound sockets
//! The `zeromq` crate trusts frame lengths: an 18-byte frame header announcing a 1 TiB
//! frame makes it reserve that much and abort the process. So bound sockets listen on a
//! private endpoint, and the frame guard (`guard.rs`) accepts the public connections,
//! checks every inbound frame header against the limits and copies the bytes through.

#![warn(missing_docs)]

pub mod message;
pub mod sync;

mod client;
mod endpoint;
mod events;
mod guard;
mod server;
mod wire;

use std::time::Duration;

pub use client::ActionClient;
pub use events::{EventPublisher, EventSubscriber};
pub use message::{Action, ActionReply, Event, EventKind, PushMessage, Telemetry};
pub use server::{ActionServer, Responder};
pub use sync::{ResyncReason, SyncDecision, SyncTracker};

/// The protocol version; a worker with another one is refused at hello.
pub const PROTOCOL_VERSION: &str = "gs-glitter/1";

/// The largest frame either side accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// The most frames one message may have (requests use 5).
pub const MAX_FRAMES_PER_MESSAGE: usize = 8;

/// The longest request id, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 64;

/// How long [`ActionClient::call`] waits for a reply by default.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long connecting waits for the peer by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the reducer publishes SYNC when idle (the contract asks for at least every
/// 3 s; once a second lets workers notice a dead or restarted reducer within seconds).
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Silence after which a worker resynchronizes: two SYNC intervals plus half a second.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_millis(2500);

/// The longest action id, in bytes (printable ASCII).
pub const MAX_ACTION_ID_BYTES: usize = 64;

/// Most events in one FETCH_EVENTS reply (well under the frame limit).
pub const MAX_FETCHED_EVENTS: usize = 500;

/// Simultaneous connections one bound socket accepts; more are closed at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// Everything that can go wrong in glitter's transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GlitterError {
    /// The address is not a usable ZeroMQ endpoint here.
    #[error("glitter: bad address {addr:?}: {reason}")]
    Address {
        /// The address as given.
        addr: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An operating-system error, with what was being done.
    #[error("glitter: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The ZeroMQ layer failed.
    #[error("glitter: zeromq: {0}")]
    Transport(String),
    /// No reply came in time; the action may or may not have been executed.
    #[error("glitter: no reply from the reducer within {0:?}")]
    Timeout(Duration),
    /// The connection dropped while waiting; the action may or may not have been executed.
    #[error("glitter: connection to the reducer lost while waiting for the reply")]
    Disconnected,
    /// An action with an id got no answer within the retry budget; it may or may not
    /// have been executed (at most once).
    #[error("glitter: no answer from the reducer after retrying for {0:?}")]
    Unanswered(Duration),
    /// A message is larger than the frame limit; nothing was sent.
    #[error("glitter: message of {size} bytes exceeds the {limit}-byte frame limit")]
    TooLarge {
        /// The message's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer sent something that does not follow the wire format.
    #[error("glitter: malformed message: {0}")]
    Malformed(String),
    /// The argument is invalid (e.g. an empty token).
    #[error("glitter: {0}")]
    Invalid(String),
}

/// The result type of glitter's transport.
pub type Result<T, E = GlitterError> = std::result::Result<T, E>;

impl From<zeromq::ZmqError> for GlitterError {
    fn from(e: zeromq::ZmqError) -> Self {
        // Keep the crate's types out of our API: the message is what callers need.
        GlitterError::Transport(e.to_string())
    }
}

/// Aborts a background task when dropped, so that dropping a socket stops its helpers.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
