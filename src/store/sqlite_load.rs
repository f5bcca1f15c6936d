//! The SQLite load path: reads every table straight through rusqlite, on a blocking
//! thread, because sqlx copies each value twice and hands rows over one by one.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::db::Engine;
use super::tables::TableRow;
use super::{LoadResult, RowProblem, StoreError};
use crate::rows::{SubmissionRow, Tables};

/// Wraps a rusqlite error with what we were doing.
fn ctx(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::SqliteRead { what, source }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(ctx(format!("opening `{}` to load it", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(ctx("setting the busy timeout"))?;
    Ok(conn)
}

/// Reads what the game needs inside one read transaction: the small tables first (sent
/// through `tables`), then the submissions in chunks through `chunks`, so that the game
/// is built while the rest is still being read and no full copy of the rows exists.
pub(super) fn load_game_streaming(
    path: &Path,
    tables: std::sync::mpsc::SyncSender<Result<(Tables, Vec<RowProblem>), StoreError>>,
    chunks: std::sync::mpsc::SyncSender<Chunk>,
) {
    let run = || -> Result<(), StoreError> {
        let mut conn = open(path)?;
        let tx = conn
            .transaction()
            .map_err(ctx("starting a read transaction"))?;
        let mut problems = Vec::new();
        let small = Tables {
            trigger: load_table(&tx, &mut problems)?,
            game_policy: load_table(&tx, &mut problems)?,
            challenge: load_table(&tx, &mut problems)?,
            user_profile: load_table(&tx, &mut problems)?,
            user: load_table(&tx, &mut problems)?,
            announcement: load_table(&tx, &mut problems)?,
            dynamic_flag: load_table(&tx, &mut problems)?,
            ..Tables::default()
        };
        if tables.send(Ok((small, problems))).is_err() {
            return Ok(());
        }
        let mut problems = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        for_each_row::<SubmissionRow>(&tx, &mut problems, |row| {
            chunk.push(row);
            if chunk.len() == CHUNK_ROWS {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                return chunks.send(Chunk::Rows(full)).is_ok();
            }
            true
        })?;
        let _ = chunks.send(Chunk::Rows(chunk));
        let _ = chunks.send(Chunk::Problems(problems));
        tx.commit().map_err(ctx("ending the read transaction"))
    };
    if let Err(e) = run() {
        // Whichever side is still listening learns why the load stopped.
        let e = std::sync::Arc::new(e);
        let _ = tables.send(Err(StoreError::LoadTask(e.to_string())));
        let _ = chunks.send(Chunk::Failed(StoreError::LoadTask(e.to_string())));
    }
}

/// Submissions per streamed chunk.
const CHUNK_ROWS: usize = 8192;

/// One message of the submission stream.
#[derive(Debug)]
pub(super) enum Chunk {
    /// Rows in id order.
    Rows(Vec<SubmissionRow>),
    /// Rows that could not be read (sent once, at the end).
    Problems(Vec<RowProblem>),
    /// The load failed.
    Failed(StoreError),
}

/// Reads every table, ordered by id, inside one read transaction (one WAL snapshot).
pub(super) fn load_all(path: &Path) -> LoadResult {
    let mut conn = open(path)?;
    let tx = conn
        .transaction()
        .map_err(ctx("starting a read transaction"))?;
    let mut problems = Vec::new();
    let tables = Tables {
        trigger: load_table(&tx, &mut problems)?,
        game_policy: load_table(&tx, &mut problems)?,
        challenge: load_table(&tx, &mut problems)?,
        user_profile: load_table(&tx, &mut problems)?,
        user: load_table(&tx, &mut problems)?,
        submission: load_table(&tx, &mut problems)?,
        announcement: load_table(&tx, &mut problems)?,
        feedback: load_table(&tx, &mut problems)?,
        log: load_table(&tx, &mut problems)?,
        dynamic_flag: load_table(&tx, &mut problems)?,
    };
    tx.commit().map_err(ctx("ending the read transaction"))?;
    Ok((tables, problems))
}

/// `SELECT` every column of one table ordered by id, decoding with the shared decoder.
fn load_table<T: TableRow>(
    conn: &Connection,
    problems: &mut Vec<RowProblem>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for_each_row::<T>(conn, problems, |r| {
        out.push(r);
        true
    })?;
    Ok(out)
}

/// Decodes every row of one table in id order; `each` returns false to stop early.
fn for_each_row<T: TableRow>(
    conn: &Connection,
    problems: &mut Vec<RowProblem>,
    mut each: impl FnMut(T) -> bool,
) -> Result<(), StoreError> {
    let e = Engine::Sqlite;
    let cols: Vec<String> = T::COLUMNS.iter().map(|c| e.quote(c)).collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY id",
        cols.join(", "),
        e.quote(T::TABLE)
    );
    let what = || format!("reading table `{}`", T::TABLE);
    let mut stmt = conn.prepare(&sql).map_err(ctx(what()))?;
    let mut rows = stmt.query([]).map_err(ctx(what()))?;
    while let Some(row) = rows.next().map_err(ctx(what()))? {
        match T::decode(row) {
            Ok(r) => {
                if !each(r) {
                    return Ok(());
                }
            }
            Err(message) => problems.push(RowProblem {
                table: T::TABLE,
                id: row.get(0).ok(),
                message,
            }),
        }
    }
    Ok(())
}
