//! The SQLite load path: reads every table straight through rusqlite, on a blocking
//! thread, because sqlx copies each value twice and hands rows over one by one.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::db::Engine;
use super::tables::TableRow;
use super::{LoadResult, RowProblem, StoreError};
use crate::rows::Tables;

/// Wraps a rusqlite error with what we were doing.
fn ctx(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::SqliteRead { what, source }
}

/// Reads every table, ordered by id, inside one read transaction (one WAL snapshot).
pub(super) fn load_all(path: &Path) -> LoadResult {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)
        .map_err(ctx(format!("opening `{}` to load it", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(ctx("setting the busy timeout"))?;
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
    };
    tx.commit().map_err(ctx("ending the read transaction"))?;
    Ok((tables, problems))
}

/// `SELECT` every column of one table ordered by id, decoding with the shared decoder.
fn load_table<T: TableRow>(
    conn: &Connection,
    problems: &mut Vec<RowProblem>,
) -> Result<Vec<T>, StoreError> {
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
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(ctx(what()))? {
        match T::decode(row) {
            Ok(r) => out.push(r),
            Err(message) => problems.push(RowProblem {
                table: T::TABLE,
                id: row.get(0).ok(),
                message,
            }),
        }
    }
    Ok(out)
}
