//! Push messages: what connected players are told (first bloods, announcements, ticks),
//! produced by the state as plain values and delivered later by the transport.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A push message for players' WebSockets, produced by the reducer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushMessage {
    /// The JSON sent to the browser as it is.
    pub payload: Value,
    /// Only users in these groups; `None` means every group.
    #[serde(default)]
    pub to_groups: Option<Vec<String>>,
    /// Only these users; `None` means every user.
    #[serde(default)]
    pub to_uids: Option<Vec<i64>>,
}

impl PushMessage {
    /// A message for everybody.
    pub fn broadcast(payload: Value) -> Self {
        PushMessage {
            payload,
            to_groups: None,
            to_uids: None,
        }
    }

    /// Whether a connection of user `uid` in `group` should get this message.
    pub fn reaches(&self, uid: i64, group: &str) -> bool {
        let group_ok = self
            .to_groups
            .as_ref()
            .is_none_or(|gs| gs.iter().any(|g| g == group));
        let uid_ok = self.to_uids.as_ref().is_none_or(|us| us.contains(&uid));
        group_ok && uid_ok
    }
}
