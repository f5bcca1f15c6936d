//! A userspace TCP proxy that impairs the link it stands for (this kernel has no `netem`
//! qdisc): every byte is delayed, "lost" segments arrive only after a retransmission
//! timeout, and the connection can be cut at random.
//!
//! What it models: TCP hides loss from the application, which sees it as a stall. A
//! segment (one read of up to 16 KiB) lost with probability `loss` is delivered a
//! retransmission timeout late — Linux's RTO, at least 200 ms plus the round trip — and
//! everything behind it waits (head-of-line blocking, bytes stay in order). `cut` is
//! the chance per segment that the connection is closed in both directions, queued bytes
//! dropped, as when a middlebox or a long outage kills it. The delay applies to each
//! direction (a round trip of twice `delay`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// What the link does to the bytes it carries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Impairment {
    /// One-way delay of every byte.
    pub delay: Duration,
    /// Probability that a segment is lost and arrives a retransmission timeout late.
    pub loss: f64,
    /// Probability per segment that the connection is cut.
    pub cut: f64,
}

impl Impairment {
    /// How much later a lost segment arrives: Linux's retransmission timeout, the round
    /// trip plus at least 200 ms.
    pub fn retransmission_delay(&self) -> Duration {
        self.delay * 2 + Duration::from_millis(200)
    }
}

/// What the link did so far.
#[derive(Debug, Default)]
pub struct LinkCounts {
    /// Segments carried.
    pub segments: AtomicU64,
    /// Segments delivered late as lost.
    pub lost: AtomicU64,
    /// Connections cut.
    pub cuts: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
}

#[derive(Debug, Default)]
struct Link {
    impairment: Mutex<Impairment>,
    counts: LinkCounts,
}

/// A proxy from a local address to `target`; stops (closing every connection) when dropped.
#[derive(Debug)]
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    link: Arc<Link>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// How one direction of a connection ended.
#[derive(Debug, PartialEq)]
enum Ended {
    Closed,
    Cut,
}

impl Proxy {
    /// Listens on `listen` (port 0: any free one) and forwards to `target`.
    pub async fn start(listen: SocketAddr, target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(listen).await.expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let link = Arc::new(Link::default());
        let accept_link = link.clone();
        let accept = tokio::spawn(async move {
            // Dropped with the accept task: every connection ends with the proxy.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    // Out of file descriptors, perhaps: try again shortly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                accept_link
                    .counts
                    .connections
                    .fetch_add(1, Ordering::Relaxed);
                let link = accept_link.clone();
                connections.spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let up = pump(client_read, server_write, link.clone());
                    let down = pump(server_read, client_write, link);
                    tokio::pin!(up, down);
                    // A cut ends both directions at once; a close lets the other finish.
                    tokio::select! {
                        ended = &mut up => if ended == Ended::Closed { down.await; },
                        ended = &mut down => if ended == Ended::Closed { up.await; },
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Proxy { addr, link, accept }
    }

    /// Sets what the link does from now on.
    pub fn impair(&self, impairment: Impairment) {
        *self.link.impairment.lock().unwrap() = impairment;
    }

    /// What the link did so far.
    pub fn counts(&self) -> &LinkCounts {
        &self.link.counts
    }
}

/// Carries one direction: each segment read is written when it is due.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, link: Arc<Link>) -> Ended {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut last_due = Instant::now();
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return Ended::Closed,
                Ok(n) => n,
            };
            let impairment = *link.impairment.lock().unwrap();
            let counts = &link.counts;
            counts.segments.fetch_add(1, Ordering::Relaxed);
            if rand::random::<f64>() < impairment.cut {
                counts.cuts.fetch_add(1, Ordering::Relaxed);
                return Ended::Cut;
            }
            let mut due = Instant::now() + impairment.delay;
            if rand::random::<f64>() < impairment.loss {
                counts.lost.fetch_add(1, Ordering::Relaxed);
                due += impairment.retransmission_delay();
            }
            // In order, as TCP delivers: a late segment holds up those behind it.
            due = due.max(last_due);
            last_due = due;
            if tx.send((due, buf[..n].to_vec())).is_err() {
                return Ended::Closed;
            }
        }
    };
    tokio::pin!(writer);
    tokio::select! {
        ended = reader => {
            if ended == Ended::Closed {
                // Deliver what is queued, then close this direction.
                writer.await;
            }
            ended
        }
        () = &mut writer => Ended::Closed,
    }
}
