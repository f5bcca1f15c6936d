//! The event stream: the reducer's PUB (behind the frame guard) and the workers' SUB.
//! Delivery is best effort by design; the state counter lets a worker notice a loss.

use std::time::Duration;

use zeromq::prelude::*;
use zeromq::{PubSocket, SocketOptions, SubSocket, ZmqMessage};

use super::guard::{bind_guarded, Guard};
use super::message::Event;
use super::{endpoint, wire, GlitterError, Result, DEFAULT_CONNECT_TIMEOUT};

/// The reducer's event socket; `publish` may be called from several tasks.
pub struct EventPublisher {
    socket: tokio::sync::Mutex<PubSocket>,
    guard: Guard,
}

impl std::fmt::Debug for EventPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventPublisher")
            .field("endpoint", &self.guard.endpoint)
            .finish()
    }
}

impl EventPublisher {
    /// Binds `addr` (`ipc://path` or `tcp://host:port`).
    pub async fn bind(addr: &str) -> Result<Self> {
        let parsed = endpoint::parse(addr)?;
        let mut socket = PubSocket::new();
        let guard = bind_guarded(&mut socket, &parsed, "event").await?;
        tracing::info!(endpoint = %guard.endpoint, "glitter: event publisher bound");
        Ok(EventPublisher {
            socket: tokio::sync::Mutex::new(socket),
            guard,
        })
    }

    /// Sends `event` to every subscriber; a subscriber too slow to keep up misses it.
    pub async fn publish(&self, event: &Event) -> Result<()> {
        let frames = wire::encode_event(event)?;
        let msg = ZmqMessage::try_from(frames).map_err(|e| GlitterError::Invalid(e.to_string()))?;
        self.socket.lock().await.send(msg).await?;
        Ok(())
    }

    /// The bound address with the port resolved.
    pub fn endpoint(&self) -> &str {
        &self.guard.endpoint
    }
}

/// A worker's subscription to every event.
pub struct EventSubscriber {
    socket: SubSocket,
}

impl std::fmt::Debug for EventSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSubscriber")
    }
}

impl EventSubscriber {
    /// Connects to the reducer's event socket at `addr` and subscribes to everything.
    ///
    /// Events published before the subscription reaches the reducer are missed (ZeroMQ's
    /// "slow joiner"); the handshake waits for a SYNC, which covers that.
    pub async fn connect(addr: &str) -> Result<Self> {
        Self::connect_with(addr, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// Connects, waiting at most `connect_timeout` for the reducer.
    pub async fn connect_with(addr: &str, connect_timeout: Duration) -> Result<Self> {
        endpoint::parse(addr)?;
        let mut options = SocketOptions::default();
        options.connect_timeout(connect_timeout);
        let mut socket = SubSocket::with_options(options);
        // The crate's SUB reconnects by itself and re-sends the subscription.
        socket.connect(addr).await?;
        socket.subscribe("").await?;
        Ok(EventSubscriber { socket })
    }

    /// The next well-formed event; malformed ones are logged and skipped. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Event> {
        loop {
            let msg = self.socket.recv().await?;
            match wire::decode_event(&msg.into_vec()) {
                Ok(event) => return Ok(event),
                // Skipping is safe: a lost state change shows up as a counter gap.
                Err(e) => tracing::warn!(error = %e, "glitter: skipped a malformed event"),
            }
        }
    }
}
