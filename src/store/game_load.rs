//! Loading what the game needs (every table but logs and feedback) with the submissions
//! streamed in chunks: the game is built while the rest is read, and the rows never
//! exist twice in memory. Start-up of a large contest depends on it.

use super::sqlite_load::{self, Chunk};
use super::{Result, RowProblem, Store, StoreError};
use crate::rows::{SubmissionRow, Tables};
use std::sync::mpsc;

/// Chunks in flight between the reading thread and the builder.
const CHANNEL_CHUNKS: usize = 4;

/// The rows of a game: the small tables now, the submissions as an iterator of chunks.
#[derive(Debug)]
pub struct GameRows {
    /// Every table the game needs, without submissions.
    pub tables: Tables,
    /// Rows of those tables that could not be read.
    pub problems: Vec<RowProblem>,
    /// The submissions, in id order, in chunks.
    pub submissions: SubmissionChunks,
}

/// An iterator over chunks of submissions; check [`SubmissionChunks::finish`] afterwards.
#[derive(Debug)]
pub struct SubmissionChunks {
    source: Source,
    problems: Vec<RowProblem>,
    error: Option<StoreError>,
}

#[derive(Debug)]
enum Source {
    Channel(mpsc::Receiver<Chunk>),
    Loaded(Option<Vec<SubmissionRow>>),
}

impl Iterator for SubmissionChunks {
    type Item = Vec<SubmissionRow>;

    fn next(&mut self) -> Option<Vec<SubmissionRow>> {
        match &mut self.source {
            Source::Loaded(rows) => rows.take(),
            Source::Channel(rx) => loop {
                match rx.recv() {
                    Ok(Chunk::Rows(rows)) => return Some(rows),
                    Ok(Chunk::Problems(p)) => self.problems.extend(p),
                    Ok(Chunk::Failed(e)) => {
                        self.error = Some(e);
                        return None;
                    }
                    Err(_) => return None,
                }
            },
        }
    }
}

impl SubmissionChunks {
    /// After the iteration: the unreadable submission rows, or why the load failed.
    pub fn finish(mut self) -> Result<Vec<RowProblem>> {
        // Drain so that a reader thread still sending learns nothing is lost.
        while self.next().is_some() {}
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.problems),
        }
    }
}

impl Store {
    /// Loads the game's rows from one consistent snapshot, submissions streamed.
    pub async fn load_game_rows(&self) -> Result<GameRows> {
        match &self.sqlite_file {
            Some(path) => {
                let path = path.clone();
                let (tables_tx, tables_rx) = mpsc::sync_channel(1);
                let (chunks_tx, chunks_rx) = mpsc::sync_channel(CHANNEL_CHUNKS);
                std::thread::Builder::new()
                    .name("gs-load".into())
                    .spawn(move || sqlite_load::load_game_streaming(&path, tables_tx, chunks_tx))
                    .map_err(|e| StoreError::LoadTask(e.to_string()))?;
                let (tables, problems) = tokio::task::spawn_blocking(move || tables_rx.recv())
                    .await
                    .map_err(|e| StoreError::LoadTask(e.to_string()))?
                    .map_err(|_| StoreError::LoadTask("the loading thread stopped".into()))??;
                Ok(GameRows {
                    tables,
                    problems,
                    submissions: SubmissionChunks {
                        source: Source::Channel(chunks_rx),
                        problems: Vec::new(),
                        error: None,
                    },
                })
            }
            None => {
                let (mut tables, problems) = self.load_all().await?;
                let rows = std::mem::take(&mut tables.submission);
                tables.log.clear();
                tables.feedback.clear();
                Ok(GameRows {
                    tables,
                    problems,
                    submissions: SubmissionChunks {
                        source: Source::Loaded(Some(rows)),
                        problems: Vec::new(),
                        error: None,
                    },
                })
            }
        }
    }
}

/// Loads the game from the database: the full rebuild, with the submissions streamed in
/// while they are read. `tick: None` computes the tick from the triggers and the clock.
pub async fn load_game(
    store: &Store,
    tick: Option<i64>,
    options: crate::state::GameOptions,
) -> anyhow::Result<crate::state::Game> {
    let started = std::time::Instant::now();
    let super::GameRows {
        tables,
        problems,
        mut submissions,
    } = store.load_game_rows().await?;
    let game = tokio::task::spawn_blocking(move || {
        let tick = tick.unwrap_or_else(|| {
            crate::state::trigger::Timeline::new(tables.trigger.clone())
                .tick_at(crate::clock::now_s())
        });
        let game = crate::state::Game::build_streaming(tables, tick, options, &mut submissions);
        submissions.finish().map(|more| (game, more))
    })
    .await??;
    let (game, more) = game;
    // The store logged the rows it could not read; these are the rows the game refused.
    for problem in &game.problems {
        tracing::warn!("bad row skipped: {problem}");
    }
    tracing::info!(
        "loaded {} users and {} submissions at tick {} in {:?} ({} rows skipped)",
        game.users.len(),
        game.submissions.len(),
        game.cur_tick,
        started.elapsed(),
        problems.len() + more.len() + game.problems.len()
    );
    Ok(game)
}
