//! The engine layer: one pool type per database engine behind one enum, and the few
//! primitives (execute, insert returning the id, fetch and decode) that everything else uses.

use futures_util::TryStreamExt;
use sqlx::mysql::{MySql, MySqlPool, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgRow, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Database, Encode, Row, Type};

/// Which SQL engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, one file, the embedded default.
    Sqlite,
    /// MySQL ≥ 5.7.8 or MariaDB ≥ 10.2.7.
    MySql,
    /// PostgreSQL.
    Postgres,
}

impl Engine {
    /// Quotes an identifier (`user`, `key` and `group` are reserved words).
    pub(crate) fn quote(self, ident: &str) -> String {
        match self {
            Engine::MySql => format!("`{ident}`"),
            Engine::Sqlite | Engine::Postgres => format!("\"{ident}\""),
        }
    }

    /// The placeholder for the `n`-th (1-based) bound value.
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Engine::Postgres => format!("${n}"),
            Engine::Sqlite | Engine::MySql => "?".to_string(),
        }
    }

    /// Rewrites `?` placeholders to `$n` for PostgreSQL. Only used on our own SQL text,
    /// which never holds a `?` inside a literal.
    pub(crate) fn sql(self, text: &str) -> String {
        if self != Engine::Postgres {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len() + 8);
        let mut n = 0;
        for c in text.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// One value to bind; JSON columns are bound as their text.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Owned(String),
    Bool(bool),
}

/// Binds every value in order (sqlx 0.9 encodes each at once, so `args` need not outlive
/// the query). Generic so that each engine's arm shares this code.
fn bind_all<'q, 'a, DB>(
    mut q: Query<'q, DB, <DB as Database>::Arguments>,
    args: &'a [Val<'a>],
) -> Query<'q, DB, <DB as Database>::Arguments>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
{
    for v in args {
        q = match v {
            Val::Int(i) => q.bind(*i),
            Val::OptInt(i) => q.bind(*i),
            Val::Text(s) => q.bind(*s),
            Val::OptText(s) => q.bind(*s),
            Val::Owned(s) => q.bind(s.as_str()),
            Val::Bool(b) => q.bind(*b),
        };
    }
    q
}

/// A column that could not be read; the message is shown with the table and row id.
pub(crate) type ColResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Typed access to one fetched row, the same on every engine and driver.
pub(crate) trait RowGet {
    /// An integer column.
    fn int(&self, i: usize) -> ColResult<i64>;
    /// A nullable integer column.
    fn opt_int(&self, i: usize) -> ColResult<Option<i64>>;
    /// A text column.
    fn text(&self, i: usize) -> ColResult<String>;
    /// A nullable text column.
    fn opt_text(&self, i: usize) -> ColResult<Option<String>>;
    /// A boolean column (TINYINT(1) on MySQL).
    fn boolean(&self, i: usize) -> ColResult<bool>;
    /// A JSON column's text. Unchecked because MySQL 8 reports JSON columns as binary
    /// strings; the text is parsed (and a bad one reported) by the caller.
    fn json_text(&self, i: usize) -> ColResult<Option<String>>;
}

macro_rules! impl_row_get {
    ($row:ty) => {
        impl RowGet for $row {
            fn int(&self, i: usize) -> ColResult<i64> {
                Ok(self.try_get(i)?)
            }
            fn opt_int(&self, i: usize) -> ColResult<Option<i64>> {
                Ok(self.try_get(i)?)
            }
            fn text(&self, i: usize) -> ColResult<String> {
                Ok(self.try_get(i)?)
            }
            fn opt_text(&self, i: usize) -> ColResult<Option<String>> {
                Ok(self.try_get(i)?)
            }
            fn boolean(&self, i: usize) -> ColResult<bool> {
                Ok(self.try_get(i)?)
            }
            fn json_text(&self, i: usize) -> ColResult<Option<String>> {
                Ok(self.try_get_unchecked(i)?)
            }
        }
    };
}
impl_row_get!(MySqlRow);
impl_row_get!(PgRow);
impl_row_get!(SqliteRow);

/// rusqlite's rows, for the fast SQLite load path (`sqlite_load`).
impl RowGet for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> ColResult<i64> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> ColResult<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> ColResult<String> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> ColResult<Option<String>> {
        Ok(self.get(i)?)
    }
    fn boolean(&self, i: usize) -> ColResult<bool> {
        Ok(self.get(i)?)
    }
    fn json_text(&self, i: usize) -> ColResult<Option<String>> {
        Ok(self.get(i)?)
    }
}

/// A pool of connections to one engine.
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
    Postgres(PgPool),
}

/// An open transaction on a pooled connection; rolled back when dropped without `commit`.
///
/// BEGIN, COMMIT and ROLLBACK are plain statements rather than sqlx's `Transaction`:
/// sqlx counts the depth and decrements it only when COMMIT or ROLLBACK succeed, so a
/// commit that failed (disk full: SQLite has already rolled back, and the ROLLBACK that
/// follows fails too) returned the connection to the pool at depth 1, and every later
/// BEGIN on it failed until a restart. Here a connection whose transaction did not end
/// cleanly is closed instead of returned, and the pool opens a fresh one.
pub(crate) struct Tx {
    conn: Option<Conn>,
}

/// A connection checked out of one engine's pool.
pub(crate) enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    MySql(PoolConnection<MySql>),
    Postgres(PoolConnection<Postgres>),
}

/// Runs one statement without preparing it (BEGIN, COMMIT, ROLLBACK).
async fn raw(conn: &mut Conn, sql: &'static str) -> Result<(), sqlx::Error> {
    match conn {
        // A bare `&str` has no arguments: sent as a simple query, never prepared.
        Conn::Sqlite(c) => sqlx::Executor::execute(&mut **c, sql).await.map(drop),
        Conn::MySql(c) => sqlx::Executor::execute(&mut **c, sql).await.map(drop),
        Conn::Postgres(c) => sqlx::Executor::execute(&mut **c, sql).await.map(drop),
    }
}

impl Conn {
    /// Closes the connection when it is dropped instead of returning it to the pool.
    fn discard(&mut self) {
        match self {
            Conn::Sqlite(c) => c.close_on_drop(),
            Conn::MySql(c) => c.close_on_drop(),
            Conn::Postgres(c) => c.close_on_drop(),
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // Dropped without `commit` or `rollback` (an error path): close the connection;
        // the server, or SQLite, rolls back an open transaction when its connection closes.
        if let Some(conn) = self.conn.as_mut() {
            conn.discard();
        }
    }
}

/// Runs `$body` with `$e` bound to each engine's executor; the body is the same text
/// and type-checks once per engine.
macro_rules! on_pool {
    ($pools:expr, |$e:ident| $body:expr) => {
        match $pools {
            Pools::Sqlite($e) => $body,
            Pools::MySql($e) => $body,
            Pools::Postgres($e) => $body,
        }
    };
}

macro_rules! on_tx {
    ($tx:expr, |$e:ident| $body:expr) => {
        match $tx.conn_mut() {
            Conn::Sqlite(t) => {
                let $e = &mut **t;
                $body
            }
            Conn::MySql(t) => {
                let $e = &mut **t;
                $body
            }
            Conn::Postgres(t) => {
                let $e = &mut **t;
                $body
            }
        }
    };
}

/// The statement text for an insert that yields the new id: MySQL has no `RETURNING`
/// (it reports the id in the reply instead).
fn returning_id(engine: Engine, sql: &str) -> String {
    match engine {
        Engine::MySql => sql.to_string(),
        Engine::Sqlite | Engine::Postgres => format!("{sql} RETURNING id"),
    }
}

impl Pools {
    /// The engine behind this pool.
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Pools::Sqlite(_) => Engine::Sqlite,
            Pools::MySql(_) => Engine::MySql,
            Pools::Postgres(_) => Engine::Postgres,
        }
    }

    /// Starts a transaction.
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let (mut conn, begin) = match self {
            // IMMEDIATE takes the write lock up front: a deferred transaction that reads
            // and then writes fails at once with "database is locked" (SQLite does not wait
            // on a lock upgrade) whenever another connection is writing.
            Pools::Sqlite(p) => (Conn::Sqlite(p.acquire().await?), "BEGIN IMMEDIATE"),
            Pools::MySql(p) => (Conn::MySql(p.acquire().await?), "BEGIN"),
            Pools::Postgres(p) => (Conn::Postgres(p.acquire().await?), "BEGIN"),
        };
        if let Err(e) = raw(&mut conn, begin).await {
            // Whatever state it is in, this connection is not reused.
            conn.discard();
            return Err(e);
        }
        Ok(Tx { conn: Some(conn) })
    }

    /// Executes one statement; returns the number of rows affected.
    pub(crate) async fn exec(&self, sql: &str, args: &[Val<'_>]) -> Result<u64, sqlx::Error> {
        on_pool!(self, |e| Ok(bind_all(
            sqlx::query(AssertSqlSafe(sql)),
            args
        )
        .execute(e)
        .await?
        .rows_affected()))
    }

    /// Executes an `INSERT` and returns the id the database gave the new row.
    pub(crate) async fn insert(&self, sql: &str, args: &[Val<'_>]) -> Result<i64, sqlx::Error> {
        let sql = returning_id(self.engine(), sql);
        match self {
            Pools::MySql(e) => {
                let done = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                    .execute(e)
                    .await?;
                id_from_u64(done.last_insert_id())
            }
            Pools::Sqlite(e) => bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                .fetch_one(e)
                .await?
                .try_get(0),
            Pools::Postgres(e) => bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                .fetch_one(e)
                .await?
                .try_get(0),
        }
    }

    /// Fetches one integer (a count, a version).
    pub(crate) async fn fetch_int(
        &self,
        sql: &str,
        args: &[Val<'_>],
    ) -> Result<Option<i64>, sqlx::Error> {
        on_pool!(self, |e| {
            let row = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                .fetch_optional(e)
                .await?;
            row.map(|r| r.try_get::<Option<i64>, _>(0))
                .transpose()
                .map(Option::flatten)
        })
    }

    /// Closes every connection (for tests that drop their database afterwards).
    pub(crate) async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }
}

impl Tx {
    fn conn_mut(&mut self) -> &mut Conn {
        // Only `commit` and `Drop` take the connection, and both consume the `Tx`.
        self.conn
            .as_mut()
            .expect("a Tx holds its connection until it ends")
    }

    /// The engine behind this transaction.
    pub(crate) fn engine(&self) -> Engine {
        match self.conn.as_ref() {
            Some(Conn::Sqlite(_)) | None => Engine::Sqlite,
            Some(Conn::MySql(_)) => Engine::MySql,
            Some(Conn::Postgres(_)) => Engine::Postgres,
        }
    }

    /// Commits the transaction. When the commit fails the connection is closed, not
    /// returned to the pool: its transaction state is unknown.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        let result = raw(&mut conn, "COMMIT").await;
        if result.is_err() {
            conn.discard();
        }
        result
    }

    /// Rolls the transaction back and returns the connection to the pool (or closes it
    /// when even that fails).
    pub(crate) async fn rollback(mut self) {
        if let Some(mut conn) = self.conn.take() {
            if raw(&mut conn, "ROLLBACK").await.is_err() {
                conn.discard();
            }
        }
    }

    /// Executes one statement; returns the number of rows affected.
    pub(crate) async fn exec(&mut self, sql: &str, args: &[Val<'_>]) -> Result<u64, sqlx::Error> {
        on_tx!(self, |e| Ok(bind_all(
            sqlx::query(AssertSqlSafe(sql)),
            args
        )
        .execute(e)
        .await?
        .rows_affected()))
    }

    /// Executes an `INSERT` and returns the id the database gave the new row.
    pub(crate) async fn insert(&mut self, sql: &str, args: &[Val<'_>]) -> Result<i64, sqlx::Error> {
        let sql = returning_id(self.engine(), sql);
        match self.conn_mut() {
            Conn::MySql(t) => {
                let done = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                    .execute(&mut **t)
                    .await?;
                id_from_u64(done.last_insert_id())
            }
            Conn::Sqlite(t) => bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                .fetch_one(&mut **t)
                .await?
                .try_get(0),
            Conn::Postgres(t) => bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                .fetch_one(&mut **t)
                .await?
                .try_get(0),
        }
    }

    /// Fetches one integer (a count, a maximum).
    pub(crate) async fn fetch_int(
        &mut self,
        sql: &str,
        args: &[Val<'_>],
    ) -> Result<Option<i64>, sqlx::Error> {
        on_tx!(self, |e| {
            let row = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                .fetch_optional(e)
                .await?;
            row.map(|r| r.try_get::<Option<i64>, _>(0))
                .transpose()
                .map(Option::flatten)
        })
    }

    /// Streams the rows of a query through `each`, one at a time, so that a million rows
    /// never sit in memory twice.
    pub(crate) async fn for_each_row<F>(
        &mut self,
        sql: &str,
        mut each: F,
    ) -> Result<(), sqlx::Error>
    where
        F: FnMut(&dyn RowGet),
    {
        on_tx!(self, |e| {
            let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(e);
            while let Some(row) = rows.try_next().await? {
                each(&row);
            }
            Ok(())
        })
    }
}

impl Tx {
    /// Streams the rows of a query with bound values through `each`.
    pub(crate) async fn for_each_row_with<F>(
        &mut self,
        sql: &str,
        args: &[Val<'_>],
        mut each: F,
    ) -> Result<(), sqlx::Error>
    where
        F: FnMut(&dyn RowGet),
    {
        on_tx!(self, |e| {
            let mut rows = bind_all(sqlx::query(AssertSqlSafe(sql)), args).fetch(e);
            while let Some(row) = rows.try_next().await? {
                each(&row);
            }
            Ok(())
        })
    }
}

/// MySQL reports ids as u64; ours are i64.
fn id_from_u64(id: u64) -> Result<i64, sqlx::Error> {
    i64::try_from(id).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::Engine;

    #[test]
    fn placeholders_and_quotes_per_engine() {
        let q = "UPDATE `user` SET a = ?, b = ? WHERE id = ?";
        assert_eq!(Engine::MySql.sql(q), q);
        assert_eq!(Engine::Sqlite.sql(q), q);
        assert_eq!(
            Engine::Postgres.sql(q),
            "UPDATE `user` SET a = $1, b = $2 WHERE id = $3"
        );
        assert_eq!(Engine::MySql.quote("key"), "`key`");
        assert_eq!(Engine::Postgres.quote("group"), "\"group\"");
        assert_eq!(Engine::Postgres.placeholder(7), "$7");
        assert_eq!(Engine::Sqlite.placeholder(7), "?");
    }
}
