//! `GET /service/ws/push`: the WebSocket that forwards the reducer's push messages to
//! players who may play, at most [`MAX_CONNECTIONS_PER_USER`] per user.

use super::reply::Answer;
use super::request::{viewer, Session};
use super::{lock, HttpState};
use crate::worker::OutgoingPush;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

/// Open connections one user may have (tabs, devices).
pub const MAX_CONNECTIONS_PER_USER: usize = 16;

/// Close code for refused connections; the frontend shows the reason.
pub const CLOSE_REFUSED: u16 = 4337;

/// Close code when the server shuts down ("going away").
const CLOSE_GOING_AWAY: u16 = 1001;

/// A ping this often keeps proxies from closing quiet connections.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// A client that does not take a message within this time is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest message accepted from the browser (it sends nothing meaningful).
const MAX_INCOMING_BYTES: usize = 4096;

/// Read buffer of a connection. The library's default (128 KiB, allocated up front) made
/// an idle connection cost ~146 KB; the browser sends nothing but pongs and closes.
const READ_BUFFER_BYTES: usize = 4096;

/// Unsent bytes a slow client may hold before its connection fails; messages are written
/// at once (no write buffering), so this only fills while the client does not read.
const MAX_WRITE_BUFFER_BYTES: usize = 1 << 20;

/// One counted connection of a user; gives its place back when dropped.
struct Slot {
    st: Arc<HttpState>,
    uid: i64,
}

impl Slot {
    /// Counts a new connection of `uid`, unless the user already has the maximum.
    fn acquire(st: &Arc<HttpState>, uid: i64) -> Option<Slot> {
        let mut per_user = lock(&st.ws_per_user);
        let n = per_user.entry(uid).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_USER {
            return None;
        }
        *n += 1;
        // Updated under the map's lock so that the two figures agree with each other.
        if *n == 1 {
            st.shared.ws.users.fetch_add(1, Ordering::Relaxed);
        }
        st.shared.ws.clients.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            st: st.clone(),
            uid,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_user = lock(&self.st.ws_per_user);
        if let Some(n) = per_user.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                per_user.remove(&self.uid);
                self.st.shared.ws.users.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.st.shared.ws.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `GET /service/ws/push`.
pub(super) async fn push(
    State(st): State<Arc<HttpState>>,
    session: Session,
    ws: WebSocketUpgrade,
) -> Answer {
    let token = session.auth_token.as_deref();
    let decided = st.shared.read(|g| {
        let u = &g.users[viewer(g, token).ok_or("未登录")? as usize];
        u.check_play_game().map_err(|(_, msg)| msg)?;
        Ok((u.id(), u.row.group.clone()))
    });
    let verdict = decided.unwrap_or(Err("服务暂时不可用"));
    // Subscribed before the upgrade so that nothing sent meanwhile is missed.
    let rx = st.shared.pushes.subscribe();
    ws.max_message_size(MAX_INCOMING_BYTES)
        .max_frame_size(MAX_INCOMING_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let (uid, group) = match verdict {
                Ok(who) => who,
                Err(reason) => return refuse(socket, reason).await,
            };
            let Some(slot) = Slot::acquire(&st, uid) else {
                return refuse(socket, "同时打开的页面过多，请关闭一些页面后刷新").await;
            };
            forward(&st, socket, uid, group, rx).await;
            drop(slot);
        })
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        // Give the browser a moment to answer the close, so it sees the reason.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(m)) = socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

async fn refuse(socket: WebSocket, reason: &str) {
    close(socket, CLOSE_REFUSED, reason).await;
}

/// Forwards push messages meant for this user until either side goes away.
async fn forward(
    st: &Arc<HttpState>,
    mut socket: WebSocket,
    uid: i64,
    mut group: String,
    mut rx: Receiver<Arc<OutgoingPush>>,
) {
    let mut stopping = st.stopping.subscribe();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(push) => {
                    let msg = &push.message;
                    // The group may change (an admin moves the user); without a game the
                    // last known group is used. Only group-targeted messages need it.
                    if msg.to_groups.is_some() {
                        if let Some(Some(g)) = st.shared.read(|g| g.user_by_id(uid).map(|u| u.row.group.clone())) {
                            group = g;
                        }
                    }
                    if !msg.reaches(uid, &group) {
                        continue;
                    }
                    let text = Message::Text(push.text.clone());
                    match tokio::time::timeout(SEND_TIMEOUT, socket.send(text)).await {
                        Ok(Ok(())) => {}
                        _ => return,
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    // Too slow to keep up: the missed messages are gone; later ones still come.
                    tracing::warn!("WebSocket of U#{uid} missed {n} push messages");
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default()))).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
            // The guard `wait_for` returns must not live across the close below.
            () = async { let _ = stopping.wait_for(|s| *s).await; } => {
                return close(socket, CLOSE_GOING_AWAY, "服务器重启中").await;
            }
        }
    }
}
