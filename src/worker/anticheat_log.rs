//! The anti-cheat log files (`<anticheat_log>/<uid>.jsonl`): lines are handed to one
//! writer thread per worker, so that no request waits on the disk and a busy contest does
//! not open and close a file per line (it did, through `spawn_blocking`, once per
//! submission: a tenth of the worker's CPU at 5,000 submissions/s).
//!
//! Lines of one worker are written in the order they were appended. A file stays open
//! while lines keep coming and is closed after [`IDLE_CLOSE`] without any, so that an
//! operator who moves or deletes a log sees the next line in a new file within seconds.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::oneshot;

/// Lines waiting for the writer before `append` waits for room (back-pressure).
const QUEUE_LINES: usize = 16 * 1024;

/// Lines written per wake-up at most, so that a flush is answered in bounded time.
const LINES_PER_ROUND: usize = 4096;

/// Open files kept at most; beyond, all are closed (a new round opens what it needs).
const MAX_OPEN_FILES: usize = 256;

/// A file with no new line for this long is closed.
pub const IDLE_CLOSE: Duration = Duration::from_secs(2);

enum Msg {
    Line { uid: i64, bytes: Vec<u8> },
    Flush(oneshot::Sender<()>),
}

/// The writer of one worker's anti-cheat log lines; its thread starts with the first line
/// (a replica that serves no player never starts one) and ends when this is dropped,
/// after writing what is queued.
#[derive(Debug)]
pub struct AnticheatLog {
    dir: PathBuf,
    queue: OnceLock<flume::Sender<Msg>>,
}

impl AnticheatLog {
    /// A log writing into `dir` (created by the configuration check at start-up).
    pub fn new(dir: PathBuf) -> AnticheatLog {
        AnticheatLog {
            dir,
            queue: OnceLock::new(),
        }
    }

    fn queue(&self) -> &flume::Sender<Msg> {
        self.queue.get_or_init(|| {
            let (tx, rx) = flume::bounded(QUEUE_LINES);
            let dir = self.dir.clone();
            let spawned = std::thread::Builder::new()
                .name("anticheat-log".into())
                .spawn(move || write_loop(dir, rx));
            if let Err(e) = spawned {
                // The receiver is gone with the closure: every append reports the loss.
                tracing::error!("cannot start the anti-cheat log writer thread: {e}");
            }
            tx
        })
    }

    /// Queues one line (ending in `\n`) of user `uid`; waits only when the writer is
    /// [`QUEUE_LINES`] behind. A failure is logged, never shown to the player.
    pub async fn append(&self, uid: i64, bytes: Vec<u8>) {
        if self
            .queue()
            .send_async(Msg::Line { uid, bytes })
            .await
            .is_err()
        {
            tracing::error!("anti-cheat log of U#{uid}: the writer thread is not running");
        }
    }

    /// Waits until every line appended before is written to its file.
    pub async fn flush(&self) {
        let Some(queue) = self.queue.get() else {
            return;
        };
        let (done, written) = oneshot::channel();
        if queue.send_async(Msg::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

fn write_loop(dir: PathBuf, rx: flume::Receiver<Msg>) {
    let mut open: HashMap<i64, File> = HashMap::new();
    let mut lines: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut flushed: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let first = match rx.recv_timeout(IDLE_CLOSE) {
            Ok(msg) => msg,
            Err(flume::RecvTimeoutError::Timeout) => {
                open.clear();
                continue;
            }
            Err(flume::RecvTimeoutError::Disconnected) => return,
        };
        let mut take = |msg| match msg {
            Msg::Line { uid, bytes } => lines.push((uid, bytes)),
            Msg::Flush(done) => flushed.push(done),
        };
        take(first);
        for msg in rx.try_iter().take(LINES_PER_ROUND) {
            take(msg);
        }
        // One write per user and round: a stable sort keeps each user's lines in order.
        lines.sort_by_key(|&(uid, _)| uid);
        let mut failed: Vec<String> = Vec::new();
        for run in lines.chunk_by(|a, b| a.0 == b.0) {
            let uid = run[0].0;
            let bytes: Vec<u8> = run.iter().flat_map(|(_, b)| b.iter().copied()).collect();
            if let Err(e) = write_user(&dir, &mut open, uid, &bytes) {
                open.remove(&uid);
                failed.push(format!("U#{uid}: {e}"));
            }
        }
        if let Some(first) = failed.first() {
            tracing::error!(
                "cannot write the anti-cheat log of {} user(s) in {}: {first}",
                failed.len(),
                dir.display()
            );
        }
        lines.clear();
        if open.len() > MAX_OPEN_FILES {
            open.clear();
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Appends `bytes` to the user's file in one `write_all` on an `O_APPEND` file, so that
/// other writers of the same file (other workers) never interleave inside a line.
fn write_user(
    dir: &std::path::Path,
    open: &mut HashMap<i64, File>,
    uid: i64,
    bytes: &[u8],
) -> std::io::Result<()> {
    let file = match open.entry(uid) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => e.insert(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{uid}.jsonl")))?,
        ),
    };
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_arrive_in_order_per_user_and_flush_waits_for_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AnticheatLog::new(dir.path().to_path_buf());
        for i in 0..1000 {
            log.append(i % 3, format!("{i}\n").into_bytes()).await;
        }
        log.flush().await;
        for uid in 0..3 {
            let text = std::fs::read_to_string(dir.path().join(format!("{uid}.jsonl")))
                .expect("file written");
            let got: Vec<i64> = text.lines().map(|l| l.parse().unwrap()).collect();
            let want: Vec<i64> = (0..1000).filter(|i| i % 3 == uid).collect();
            assert_eq!(got, want);
        }
    }

    #[tokio::test]
    async fn a_deleted_file_is_created_again_once_idle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AnticheatLog::new(dir.path().to_path_buf());
        log.append(7, b"one\n".to_vec()).await;
        log.flush().await;
        let path = dir.path().join("7.jsonl");
        std::fs::remove_file(&path).expect("remove");
        tokio::time::sleep(IDLE_CLOSE + Duration::from_millis(500)).await;
        log.append(7, b"two\n".to_vec()).await;
        log.flush().await;
        assert_eq!(std::fs::read_to_string(&path).expect("new file"), "two\n");
    }

    #[tokio::test]
    async fn a_write_failure_is_logged_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        let log = AnticheatLog::new(missing.clone());
        log.append(1, b"lost\n".to_vec()).await;
        log.flush().await;
        std::fs::create_dir(&missing).expect("mkdir");
        log.append(1, b"kept\n".to_vec()).await;
        log.flush().await;
        assert_eq!(
            std::fs::read_to_string(missing.join("1.jsonl")).expect("file"),
            "kept\n"
        );
    }
}
