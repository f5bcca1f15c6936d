//! Logging: human-readable lines on stdout (services) or stderr (commands), and for the reducer also
//! rows in the `log` table (level INFO and above from gs itself), written in batches by
//! a background task so that logging never waits for the database.

use crate::notify::Notifier;
use crate::rows::LogRow;
use crate::store::Store;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Lines waiting for the database beyond this are dropped (and counted on stderr).
const QUEUE: usize = 10_000;

static DB_SINK: OnceLock<mpsc::Sender<LogRow>> = OnceLock::new();
/// Lines queued for the database and not yet written (or given up).
static DB_PENDING: AtomicUsize = AtomicUsize::new(0);

/// Sets up logging for the process; call once, first thing. Services log to stdout;
/// one-shot commands to stderr, so that their own output (a dump on `-`) stays clean.
pub fn init(service: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,zeromq=warn"));
    let registry = tracing_subscriber::registry().with(filter).with(DbLayer);
    let _ = if service {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stdout)
            .with_ansi(std::io::stdout().is_terminal());
        registry.with(fmt).try_init()
    } else {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal());
        registry.with(fmt).try_init()
    };
}

/// Starts writing this process's log lines to the `log` table as `process`; rows at the
/// levels `[notify] log_levels` names also go to the staff (once: this process wrote them).
pub fn write_to_database(store: Store, process: &str, notifier: Arc<Notifier>) {
    let (tx, mut rx) = mpsc::channel::<LogRow>(QUEUE);
    if DB_SINK.set(tx).is_err() {
        return;
    }
    let process = process.to_owned();
    tokio::spawn(async move {
        while let Some(mut row) = rx.recv().await {
            row.process.clone_from(&process);
            if notifier.wants_log_level(&row.level) {
                let (channel, text) =
                    crate::notify::messages::log_row(&row.level, &row.module, &row.message);
                notifier.notify(&channel, text);
            }
            if let Err(e) = store.insert_log(&row).await {
                // Not through tracing: that would feed the failure back into this queue.
                eprintln!("cannot write a log line to the database: {e}");
            }
            DB_PENDING.fetch_sub(1, Ordering::Relaxed);
        }
    });
}

/// Waits (at most `limit`) until the lines logged so far are in the database: before
/// the store they go to is closed, so that the last lines (the shutdown's) are kept.
pub async fn flush_to_database(limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while DB_PENDING.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Forwards gs's own events of level INFO and above to the database task.
struct DbLayer;

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.push_str(&format!(" {}={value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message.push_str(&format!("{value:?}"));
        } else {
            self.fields
                .push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl<S: Subscriber> Layer<S> for DbLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(sink) = DB_SINK.get() else { return };
        let meta = event.metadata();
        if *meta.level() > Level::INFO || !meta.target().starts_with("gs") {
            return;
        }
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let row = LogRow {
            id: 0,
            timestamp_ms: crate::clock::now_ms(),
            level: reference_level(meta.level()).to_owned(),
            process: String::new(),
            module: reference_module(meta.target()),
            message: visitor.message + &visitor.fields,
        };
        DB_PENDING.fetch_add(1, Ordering::Relaxed);
        if sink.try_send(row).is_err() {
            DB_PENDING.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The level as the reference names it in the `log` table (lower case, `warning`).
fn reference_level(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// A module name in the reference's dotted style (`worker.http.auth`, not
/// `gs::worker::http::auth`), at most 32 characters like the reference's column.
fn reference_module(target: &str) -> String {
    let dotted = target
        .strip_prefix("gs::")
        .unwrap_or(target)
        .replace("::", ".");
    dotted.chars().take(32).collect()
}

/// Logs what the game recorded while answering (a template that failed to render, a
/// flag that cannot be derived): the game itself does no IO.
pub fn log_game_problems(game: &crate::state::Game) {
    for message in game.problem_log.take() {
        tracing::error!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_rows_name_levels_and_modules_like_the_reference() {
        assert_eq!(reference_level(&Level::WARN), "warning");
        assert_eq!(reference_level(&Level::ERROR), "error");
        assert_eq!(reference_module("gs::reducer::health"), "reducer.health");
        assert_eq!(
            reference_module("gs::worker::http::oauth::microsoft::flow"),
            "worker.http.oauth.microsoft.flow"
        );
        assert!(reference_module(&"gs::a".repeat(20)).chars().count() <= 32);
    }
}
