//! Staff notifications: messages for the organizers (feedback, writeups, police reports,
//! pushes, error logs) throttled per channel and posted to webhooks from a bounded queue.
//!
//! Each event is notified by the one process that sees it once: the reducer (feedback,
//! log rows it writes, the admin's test message), the worker that stored a writeup, the
//! police (reports, pushes). Sending never blocks the caller: [`Notifier::notify`]
//! throttles and enqueues; a background task posts with a timeout, retries with
//! exponential backoff, and counts what was sent, failed, throttled or dropped.

pub mod messages;
pub mod target;
pub mod throttle;

use crate::config::NotifyConfig;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use target::Target;
use throttle::{Throttle, Verdict};
use tokio::sync::mpsc;

/// How often held-back messages are summarized when their channel has room again (at
/// most; twice per throttle window when the window is shorter).
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(30);

/// The first retry waits this long; each later one twice as long (capped at 30 s).
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Counters of one notifier (for the admin status page and telemetry).
#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    throttled: AtomicU64,
    dropped: AtomicU64,
}

/// A snapshot of a notifier's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyStats {
    /// Whether any webhook is configured (otherwise messages are only logged).
    pub configured: bool,
    /// Messages waiting in the queue.
    pub queued: u64,
    /// Messages every target accepted.
    pub sent: u64,
    /// Messages some target refused after every retry.
    pub failed: u64,
    /// Messages held back by the throttle (later summarized).
    pub throttled: u64,
    /// Messages dropped because the queue was full.
    pub dropped: u64,
}

/// The notifier of one process.
#[derive(Debug)]
pub struct Notifier {
    configured: bool,
    log_levels: Vec<String>,
    throttle: Arc<Mutex<Throttle>>,
    queue: Option<mpsc::Sender<String>>,
    counters: Arc<Counters>,
}

impl Notifier {
    /// A notifier for `config`; starts its sending task when a webhook is configured
    /// (and a Tokio runtime is running; otherwise messages are only logged).
    pub fn start(config: &NotifyConfig) -> Arc<Notifier> {
        let targets = target::targets(config);
        let throttle = Arc::new(Mutex::new(Throttle::new(
            config.throttle_max,
            config.throttle_window_s as i64 * 1000,
        )));
        let counters = Arc::new(Counters::default());
        let runtime = tokio::runtime::Handle::try_current().ok();
        let timeout = Duration::from_secs(config.timeout_s);
        // Building a client reads the system's CA store (rustls-platform-verifier); on a
        // host without one it fails, and the notifier then says so instead of panicking.
        let client = match (&runtime, targets.is_empty()) {
            (Some(_), false) => reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .build()
                .map_err(|e| {
                    tracing::error!(
                        "staff notifications are off: cannot build the HTTP client: {e} \
                         (TLS certificates are checked against the system's CA store; \
                         Debian: apt-get install ca-certificates)"
                    )
                })
                .ok(),
            _ => None,
        };
        let queue = match (runtime, client) {
            (Some(rt), Some(client)) => {
                let (tx, rx) = mpsc::channel(config.queue);
                let window = Duration::from_secs(config.throttle_window_s);
                rt.spawn(send_loop(Sender {
                    summary_every: SUMMARY_INTERVAL.min(window / 2),
                    targets,
                    client,
                    retries: config.retries,
                    counters: counters.clone(),
                    throttle: throttle.clone(),
                    rx,
                }));
                Some(tx)
            }
            _ => None,
        };
        Arc::new(Notifier {
            configured: queue.is_some(),
            log_levels: config
                .log_levels
                .iter()
                .map(|l| normalized_level(l))
                .collect(),
            throttle,
            queue,
            counters,
        })
    }

    /// A notifier that only logs (tests, tools).
    pub fn disabled() -> Arc<Notifier> {
        Notifier::start(&NotifyConfig::default())
    }

    /// Sends `text` to the staff on `channel` (throttled per channel); never waits.
    pub fn notify(&self, channel: &str, text: String) {
        // Logged under a target outside `gs`, so that it never becomes a log row that
        // would be notified again.
        tracing::info!(target: "notify", "{channel}: {text}");
        let Some(queue) = &self.queue else { return };
        let verdict = self
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(channel, &text, crate::clock::now_ms());
        match verdict {
            Verdict::Throttled => {
                self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Send { text } => self.enqueue(queue, text),
        }
    }

    fn enqueue(&self, queue: &mpsc::Sender<String>, text: String) {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        if queue.try_send(text).is_err() {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "notify", "staff message dropped: the queue is full");
        }
    }

    /// Whether log rows at `level` go to the staff.
    pub fn wants_log_level(&self, level: &str) -> bool {
        let level = normalized_level(level);
        self.log_levels.contains(&level)
    }

    /// The counters now.
    pub fn stats(&self) -> NotifyStats {
        let c = &self.counters;
        NotifyStats {
            configured: self.configured,
            queued: c.queued.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }
}

/// A log level in lower case, `warning` spelled `warn` (tracing's spelling).
fn normalized_level(level: &str) -> String {
    match level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_owned(),
        other => other.to_owned(),
    }
}

struct Sender {
    summary_every: Duration,
    targets: Vec<Target>,
    client: reqwest::Client,
    retries: u32,
    counters: Arc<Counters>,
    throttle: Arc<Mutex<Throttle>>,
    rx: mpsc::Receiver<String>,
}

async fn send_loop(mut s: Sender) {
    let mut summaries = tokio::time::interval(s.summary_every);
    summaries.tick().await;
    loop {
        let text = tokio::select! {
            msg = s.rx.recv() => match msg {
                Some(text) => {
                    s.counters.queued.fetch_sub(1, Ordering::Relaxed);
                    text
                }
                None => return,
            },
            _ = summaries.tick() => {
                let due = s
                    .throttle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .due_summaries(crate::clock::now_ms());
                for text in due {
                    deliver(&s, &text).await;
                }
                continue;
            }
        };
        deliver(&s, &text).await;
    }
}

/// Posts one message to every target, retrying each failed target with backoff.
async fn deliver(s: &Sender, text: &str) {
    let mut ok = true;
    for target in &s.targets {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            match target.post(&s.client, text).await {
                Ok(()) => break,
                Err(e) if attempt < s.retries => {
                    tracing::warn!(
                        target: "notify",
                        "staff message to {}: {e}; retrying in {backoff:?}",
                        target.name()
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!(
                        target: "notify",
                        "staff message to {} failed after {} attempts: {e}",
                        target.name(),
                        attempt + 1
                    );
                    ok = false;
                    break;
                }
            }
        }
    }
    let counter = if ok {
        &s.counters.sent
    } else {
        &s.counters.failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
}
