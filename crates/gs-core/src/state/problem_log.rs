//! Problems met while answering (a template that does not render, a flag that cannot be
//! derived), kept as values: the state does no IO, so the process that owns the game
//! takes them and logs them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Messages waiting to be logged by the game's owner; cheap to check when empty.
#[derive(Debug, Default)]
pub struct ProblemLog {
    pending: AtomicBool,
    messages: Mutex<Vec<String>>,
}

impl Clone for ProblemLog {
    /// A clone starts empty: the messages belong to whoever holds the original.
    fn clone(&self) -> Self {
        ProblemLog::default()
    }
}

impl ProblemLog {
    /// Keeps `message` for the owner to log.
    pub fn record(&self, message: String) {
        // A poisoned lock only means a panic elsewhere; the list is still valid.
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        messages.push(message);
        self.pending.store(true, Ordering::Release);
    }

    /// The messages recorded since the last call (none without taking the lock).
    pub fn take(&self) -> Vec<String> {
        // A plain load first: readers on every core call this, and a swap would make
        // them contend for the flag's cache line.
        if !self.pending.load(Ordering::Acquire) || !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_each_message_once() {
        let log = ProblemLog::default();
        assert!(log.take().is_empty());
        log.record("a".into());
        log.record("b".into());
        assert_eq!(log.take(), ["a", "b"]);
        assert!(log.take().is_empty());
        log.record("c".into());
        assert!(log.clone().take().is_empty(), "a clone starts empty");
        assert_eq!(log.take(), ["c"]);
    }
}
