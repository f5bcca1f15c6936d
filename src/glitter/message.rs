//! The glitter message types: actions (worker → reducer), replies, and events.
//! Plain serde data; their JSON shape is the language-neutral wire body (docs/glitter.md).

use std::collections::BTreeMap;

pub use crate::state::PushMessage;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A request from a worker to the reducer; the JSON body is tagged by `"type"`.
///
/// Unknown JSON fields are ignored so that a newer worker may add optional fields;
/// an unknown `"type"` is refused by the server with an error reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Action {
    /// Create a user for a login identity (OAuth subject, manual login key…).
    RegisterUser {
        /// Unique key of the login identity, e.g. `"iaaa:2100012345"`.
        login_key: String,
        /// Provider-specific properties kept with the user row.
        login_properties: Value,
        /// The user group (rules decide which groups exist).
        group: String,
    },
    /// Replace a user's profile fields.
    UpdateProfile {
        /// The user.
        uid: i64,
        /// Profile field → new value; fields the group may not set are ignored by the reducer.
        profile: BTreeMap<String, String>,
    },
    /// The user agreed to the terms.
    AgreeTerm {
        /// The user.
        uid: i64,
    },
    /// Submit a flag for a challenge.
    SubmitFlag {
        /// The user.
        uid: i64,
        /// The challenge's key.
        challenge_key: String,
        /// The submitted flag, as typed.
        flag: String,
        /// Request metadata for anti-cheat (remote address, user agent…); may be empty.
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        meta: Map<String, Value>,
    },
    /// Leave feedback on a challenge.
    SubmitFeedback {
        /// The user.
        uid: i64,
        /// The challenge's key.
        challenge_key: String,
        /// The feedback text.
        content: String,
    },
    /// First message of a worker; a protocol mismatch is refused with an error reply.
    WorkerHello {
        /// A name for the worker, unique among workers (e.g. `"worker-0"`).
        worker_id: String,
        /// [`crate::glitter::PROTOCOL_VERSION`] of the worker.
        protocol_version: String,
    },
    /// Periodic telemetry of a worker (about every 10 s).
    WorkerHeartbeat {
        /// The worker's name, as in its hello.
        worker_id: String,
        /// What the worker reports.
        telemetry: Telemetry,
    },
    /// The state changes after counter `after` of reducer instance `epoch`, from the
    /// reducer's replay buffer, so that a worker that missed some catches up without
    /// reloading. Answered with `data: {"events": [...]}` (oldest first, at most
    /// [`crate::glitter::MAX_FETCHED_EVENTS`]) or an error when they are no longer kept.
    FetchEvents {
        /// The last counter the worker applied.
        after: u64,
        /// The reducer instance the worker followed.
        epoch: u64,
    },
}

impl Action {
    /// The wire name of this action's type, e.g. `"SUBMIT_FLAG"` (for logs).
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::RegisterUser { .. } => "REGISTER_USER",
            Action::UpdateProfile { .. } => "UPDATE_PROFILE",
            Action::AgreeTerm { .. } => "AGREE_TERM",
            Action::SubmitFlag { .. } => "SUBMIT_FLAG",
            Action::SubmitFeedback { .. } => "SUBMIT_FEEDBACK",
            Action::WorkerHello { .. } => "WORKER_HELLO",
            Action::WorkerHeartbeat { .. } => "WORKER_HEARTBEAT",
            Action::FetchEvents { .. } => "FETCH_EVENTS",
        }
    }

    /// Every action type's wire name, to tell "unknown type" apart from "bad fields".
    pub const TYPE_NAMES: &'static [&'static str] = &[
        "REGISTER_USER",
        "UPDATE_PROFILE",
        "AGREE_TERM",
        "SUBMIT_FLAG",
        "SUBMIT_FEEDBACK",
        "WORKER_HELLO",
        "WORKER_HEARTBEAT",
        "FETCH_EVENTS",
    ];

    /// Whether the action may change data, i.e. whether it should carry an action id so
    /// that a retry is executed at most once.
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Action::WorkerHello { .. }
                | Action::WorkerHeartbeat { .. }
                | Action::FetchEvents { .. }
        )
    }
}

/// What a worker reports in its heartbeat; every field may be omitted on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Telemetry {
    /// The worker's state counter.
    pub state_counter: u64,
    /// The worker's current tick.
    pub tick: i64,
    /// Whether the worker serves data (false while it resynchronizes).
    pub game_available: bool,
    /// Users in the worker's state.
    pub n_users: u64,
    /// Submissions in the worker's state.
    pub n_submissions: u64,
    /// Distinct users with an open WebSocket on this worker.
    pub ws_online_uids: u64,
    /// Open WebSocket connections on this worker.
    pub ws_online_clients: u64,
    /// Anything else the worker wants on the status page.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The reducer's answer to one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReply {
    /// `None` on success; otherwise a message fit to show the player.
    pub error_msg: Option<String>,
    /// The reducer's state counter after the action; the worker waits to reach it.
    pub state_counter: u64,
    /// Optional action-specific result (e.g. the new user's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The reducer instance whose counter `state_counter` is (0: unknown).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
    /// The outcome is not known yet (a commit whose result was lost): send the same
    /// action with the same action id again. Never set for an action without an id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retry: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ActionReply {
    /// A success at `state_counter`.
    pub fn ok(state_counter: u64) -> Self {
        ActionReply {
            error_msg: None,
            state_counter,
            data: None,
            epoch: 0,
            retry: false,
        }
    }

    /// A failure with a message, at `state_counter`.
    pub fn error(msg: impl Into<String>, state_counter: u64) -> Self {
        ActionReply {
            error_msg: Some(msg.into()),
            ..ActionReply::ok(state_counter)
        }
    }

    /// "Not known yet, ask again with the same action id."
    pub fn retry_later(state_counter: u64) -> Self {
        ActionReply {
            retry: true,
            ..ActionReply::error(
                "glitter: the outcome is not known yet; retry",
                state_counter,
            )
        }
    }

    /// The same reply carrying `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Whether the action succeeded.
    pub fn is_ok(&self) -> bool {
        self.error_msg.is_none()
    }
}

/// What an event is about; wire names are SCREAMING_SNAKE (`"NEW_SUBMISSION"`).
///
/// A kind this build does not know decodes as [`EventKind::Unknown`] instead of failing,
/// so that a newer reducer's extra kinds do not break older subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum EventKind {
    /// Periodic heartbeat with the current counter and tick; changes nothing.
    Sync,
    /// Game policies were edited: reload them.
    ReloadGamePolicy,
    /// Triggers were edited: reload them.
    ReloadTrigger,
    /// Announcement `id` changed.
    UpdateAnnouncement,
    /// Challenge `id` changed.
    UpdateChallenge,
    /// User `id` changed (registered, profile, terms…).
    UpdateUser,
    /// Submission `id` changed (e.g. an admin override).
    UpdateSubmission,
    /// Submission `id` was created.
    NewSubmission,
    /// The tick became `tick`.
    TickUpdate,
    /// A push message for WebSockets; changes nothing.
    Push,
    /// A kind unknown to this build.
    #[serde(other)]
    Unknown,
}

impl EventKind {
    /// Every known kind (not [`EventKind::Unknown`]).
    pub const ALL: [EventKind; 10] = [
        EventKind::Sync,
        EventKind::ReloadGamePolicy,
        EventKind::ReloadTrigger,
        EventKind::UpdateAnnouncement,
        EventKind::UpdateChallenge,
        EventKind::UpdateUser,
        EventKind::UpdateSubmission,
        EventKind::NewSubmission,
        EventKind::TickUpdate,
        EventKind::Push,
    ];

    /// The wire name, also used as the event's topic frame.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Sync => "SYNC",
            EventKind::ReloadGamePolicy => "RELOAD_GAME_POLICY",
            EventKind::ReloadTrigger => "RELOAD_TRIGGER",
            EventKind::UpdateAnnouncement => "UPDATE_ANNOUNCEMENT",
            EventKind::UpdateChallenge => "UPDATE_CHALLENGE",
            EventKind::UpdateUser => "UPDATE_USER",
            EventKind::UpdateSubmission => "UPDATE_SUBMISSION",
            EventKind::NewSubmission => "NEW_SUBMISSION",
            EventKind::TickUpdate => "TICK_UPDATE",
            EventKind::Push => "PUSH",
            EventKind::Unknown => "UNKNOWN",
        }
    }

    /// Whether the kind is a state change, i.e. it carries the counter incremented by one.
    ///
    /// SYNC and PUSH carry the current counter unchanged; `Unknown` is not known to be either.
    pub fn changes_state(self) -> bool {
        !matches!(self, EventKind::Sync | EventKind::Push | EventKind::Unknown)
    }
}

/// One published event `(kind, state_counter, id)` with its optional extras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The reducer's state counter: +1 per state change, unchanged for SYNC and PUSH.
    pub state_counter: u64,
    /// The changed row's id (0 when not applicable).
    #[serde(default)]
    pub id: i64,
    /// The current tick (SYNC) or the new tick (TICK_UPDATE); 0 otherwise.
    #[serde(default)]
    pub tick: i64,
    /// The reducer instance, random per start; 0 means unknown. A change means a restart.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
    /// The message of a PUSH event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushMessage>,
    /// When the reducer published it, in microseconds since the epoch (0: unknown), so
    /// that workers can measure the event latency.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sent_us: u64,
    /// The change itself (`state::Change` as JSON), so that workers need not read the
    /// database for each event; a worker that cannot use it resynchronizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Event {
    /// An event of `kind` about row `id`.
    pub fn new(kind: EventKind, state_counter: u64, id: i64) -> Self {
        Event {
            kind,
            state_counter,
            id,
            tick: 0,
            epoch: 0,
            push: None,
            sent_us: 0,
            data: None,
        }
    }

    /// A SYNC at `state_counter` and `tick`.
    pub fn sync(state_counter: u64, tick: i64) -> Self {
        Event {
            tick,
            ..Event::new(EventKind::Sync, state_counter, 0)
        }
    }

    /// A TICK_UPDATE to `tick`.
    pub fn tick_update(state_counter: u64, tick: i64) -> Self {
        Event {
            tick,
            ..Event::new(EventKind::TickUpdate, state_counter, 0)
        }
    }

    /// A PUSH of `message` at the current `state_counter`.
    pub fn push(state_counter: u64, message: PushMessage) -> Self {
        Event {
            push: Some(message),
            sent_us: 0,
            data: None,
            ..Event::new(EventKind::Push, state_counter, 0)
        }
    }

    /// The same event stamped with the reducer instance `epoch`.
    pub fn with_epoch(mut self, epoch: u64) -> Self {
        self.epoch = epoch;
        self
    }
}
