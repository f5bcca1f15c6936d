//! The SQL side: connecting to SQLite, MySQL/MariaDB or PostgreSQL, migrations, loading
//! every row at start-up, the reducer's writes, and dump import/export (schema.md).

mod action_ids;
mod batch;
mod db;
mod dump;
mod game_load;
pub use game_load::load_game;
mod listing;
mod schema;
mod sqlite_load;
mod tables;
mod tls;
pub use tls::{url_tls_param, DbTls, TlsMode};

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row};

pub use crate::rows::RowProblem;
use crate::rows::{
    AnnouncementRow, ChallengeRow, FeedbackRow, GamePolicyRow, LogRow, SubmissionRow, Tables,
    TriggerRow, UserProfileRow, UserRow,
};
pub use batch::WriteBatch;
pub use db::Engine;
use db::{Pools, Tx, Val};
pub use game_load::{GameRows, SubmissionChunks};
pub use listing::{ListPage, ListQuery};
pub use schema::LATEST_VERSION;
use tables::TableRow;

/// What went wrong in the store; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no engine we know.
    #[error("unsupported database URL `{0}`\n  help: use sqlite://PATH, mysql://USER:PASSWORD@HOST/DB or postgres://USER:PASSWORD@HOST/DB")]
    UnknownScheme(String),
    /// The SQLite file's directory could not be created.
    #[error("cannot create the directory `{path}` for the SQLite database: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A statement failed; `what` says what we were doing.
    #[error("{what}: {source}")]
    Sql {
        /// What we were doing, e.g. "importing table `user`".
        what: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// `import` into a database that holds rows, without `replace`.
    #[error("the database already holds rows (table `{0}` is not empty)\n  help: pass --replace to delete every row first, or import into an empty database")]
    NotEmpty(&'static str),
    /// The database was migrated by a newer build.
    #[error("the database schema is at version {found}, newer than this build knows ({known})\n  help: run a newer gs against this database")]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Reading a SQLite file directly (the load path) failed.
    #[error("{what}: {source}")]
    SqliteRead {
        /// What we were doing.
        what: String,
        /// The driver's error.
        source: rusqlite::Error,
    },
    /// The loading thread died.
    #[error("loading the database failed: {0}")]
    LoadTask(String),
    /// An in-memory SQLite database cannot be shared between connections.
    #[error("in-memory SQLite databases are not supported (`{0}`)\n  help: use a file, e.g. sqlite://data/gs.db")]
    InMemory(String),
    /// An update or delete named a row that does not exist.
    #[error("table `{table}` has no row with id {id}")]
    NotFound {
        /// The table.
        table: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The TLS handshake with the database server failed, or the server has no TLS while
    /// `[database] tls` requires it.
    #[error("{what}: {source}\n  help: {help}")]
    Tls {
        /// What we were doing.
        what: String,
        /// The driver's error.
        source: sqlx::Error,
        /// What to check, for the configured mode.
        help: &'static str,
    },
    /// `[database] tls` requires TLS of an SQLite file.
    #[error("`[database] tls = \"{0}\"` cannot apply to SQLite (a local file, no connection to encrypt)\n  help: use tls = \"off\" or \"prefer\" (both ignored for SQLite), or a MySQL/PostgreSQL URL")]
    SqliteTls(&'static str),
    /// Rows that could not be read; an export refuses to silently leave them out.
    #[error("{} row(s) could not be read:\n{}\n  help: fix or delete these rows in the database, then try again", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    BadRows(Vec<RowProblem>),
}

/// A short alias for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches what we were doing to a driver error.
trait Context<T> {
    /// Wraps the error with `what`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, sqlx::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| StoreError::Sql {
            what: what(),
            source,
        })
    }
}

/// What `load_all` gives: every table, and the rows it had to leave out.
pub type LoadResult = Result<(Tables, Vec<RowProblem>)>;

/// When a SQLite commit reaches the disk (`PRAGMA synchronous` in WAL mode), for the
/// reducer's connections (`[database] sqlite_synchronous`); the other engines ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// Every commit is on the disk before it is acknowledged (an fsync of the WAL per
    /// commit): nothing acknowledged is lost, even by a power failure.
    #[default]
    Full,
    /// A commit is in the operating system's cache when acknowledged and reaches the disk
    /// at the next checkpoint: nothing acknowledged is lost when gs crashes or is killed;
    /// a power failure or kernel crash can undo the last commits (the database stays
    /// consistent).
    Normal,
}

/// What a WAL checkpoint found: frames (pages) written to the WAL since it last
/// started over, and how many of them are now in the database file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalFrames {
    /// Frames in the WAL.
    pub in_wal: i64,
    /// Frames copied into the database file (all of them unless a reader holds some).
    pub copied: i64,
}

/// A connection pool to the contest database.
#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
    /// The SQLite file, read directly by `load_all`.
    sqlite_file: Option<PathBuf>,
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(pair) => pair,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The first connection's result, a TLS failure explained for the configured mode.
fn first_connection<C>(
    result: std::result::Result<C, sqlx::Error>,
    tls: &DbTls,
    what: impl FnOnce() -> String,
) -> Result<C> {
    // sqlx reports "the server has no TLS" as `Error::Tls` and a handshake that rustls
    // refused (certificate, host name) as an I/O error carrying the rustls error.
    let is_tls = |e: &sqlx::Error| match e {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()),
        _ => false,
    };
    match result {
        Err(source) if is_tls(&source) => Err(StoreError::Tls {
            what: what(),
            source,
            help: match tls.mode {
                TlsMode::Verify if tls.ca_file.is_none() => "tls = \"verify\" needs TLS on the server and a certificate from a public CA (Mozilla's roots) naming the URL's host; for a private CA set `[database] ca_file`",
                TlsMode::Verify => "tls = \"verify\" needs TLS on the server and a certificate signed by a CA of `[database] ca_file` (or a public one) naming the URL's host",
                TlsMode::Require => "tls = \"require\" needs a server with TLS enabled; enable it there, or set tls = \"prefer\" to fall back to a plain connection",
                TlsMode::Prefer | TlsMode::Off => "the server offered TLS and the handshake failed; tls = \"off\" connects without TLS",
            },
        }),
        other => other.ctx(what),
    }
}

impl Store {
    /// Copies the WAL's committed pages into the SQLite file without waiting for
    /// readers or the writer (`PRAGMA wal_checkpoint(PASSIVE)`; nothing to do is cheap).
    /// The other engines have no WAL: a no-op that reports no frames.
    pub async fn checkpoint(&self) -> Result<WalFrames> {
        let Pools::Sqlite(pool) = &self.pools else {
            return Ok(WalFrames::default());
        };
        let what = || "checkpointing the SQLite WAL".to_owned();
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(pool)
            .await
            .ctx(what)?;
        // (busy, frames in the WAL, frames copied into the database file)
        Ok(WalFrames {
            in_wal: row.try_get(1).ctx(what)?,
            copied: row.try_get(2).ctx(what)?,
        })
    }

    /// Connects to `sqlite://PATH` (creating the file and its directory), `mysql://…`
    /// or `postgres://…` with the default TLS mode (`prefer`). Does not migrate.
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, &DbTls::default()).await
    }

    /// Connects like [`Store::connect`], with TLS to a server as `tls` says (SQLite: a
    /// mode that requires TLS is an error, the others are ignored).
    pub async fn connect_with(url: &str, tls: &DbTls) -> Result<Store> {
        Store::connect_inner(url, tls, SqliteSync::Full, false).await
    }

    /// The reducer's store: connects like [`Store::connect_with`], with SQLite commits
    /// made durable as `sync` says and never checkpointing the WAL themselves (a commit
    /// that does costs two more fsyncs: the writer calls [`Store::checkpoint`] from a task
    /// of its own instead).
    pub async fn connect_writer(url: &str, tls: &DbTls, sync: SqliteSync) -> Result<Store> {
        Store::connect_inner(url, tls, sync, true).await
    }

    async fn connect_inner(
        url: &str,
        tls: &DbTls,
        sync: SqliteSync,
        writer: bool,
    ) -> Result<Store> {
        let shown = redact_url(url);
        let what = || format!("cannot connect to the database `{shown}`");
        let mut sqlite_file = None;
        let pools = if url.starts_with("sqlite:") {
            if tls.mode.requires_tls() {
                return Err(StoreError::SqliteTls(tls.mode.name()));
            }
            let opts = SqliteConnectOptions::from_str(url)
                .ctx(what)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match sync {
                    SqliteSync::Full => SqliteSynchronous::Full,
                    SqliteSync::Normal => SqliteSynchronous::Normal,
                })
                .foreign_keys(true)
                .pragma("wal_autocheckpoint", if writer { "0" } else { "1000" })
                .busy_timeout(Duration::from_secs(10));
            let file = opts.get_filename().to_path_buf();
            // `load_all` opens the file itself, which a private in-memory database is not.
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Err(StoreError::InMemory(shown));
            }
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            sqlite_file = Some(file);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await
                .ctx(what)?;
            Pools::Sqlite(pool)
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let opts = tls.mysql(MySqlConnectOptions::from_str(&url).ctx(what)?);
            // One plain connection first: the pool would only say it timed out.
            first_connection(opts.connect().await, tls, what)?
                .close()
                .await
                .ctx(what)?;
            let pool = MySqlPoolOptions::new().connect_with(opts).await.ctx(what)?;
            Pools::MySql(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = tls.postgres(PgConnectOptions::from_str(url).ctx(what)?);
            first_connection(opts.connect().await, tls, what)?
                .close()
                .await
                .ctx(what)?;
            let pool = PgPoolOptions::new().connect_with(opts).await.ctx(what)?;
            Pools::Postgres(pool)
        } else {
            return Err(StoreError::UnknownScheme(shown));
        };
        Ok(Store { pools, sqlite_file })
    }

    /// The SQLite database file, when the engine is SQLite.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_file.as_deref()
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.pools.engine()
    }

    /// Runs `SELECT 1`: whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<()> {
        self.pools
            .exec("SELECT 1", &[])
            .await
            .map(|_| ())
            .ctx(|| "the database does not answer".to_owned())
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        self.pools.close().await
    }

    /// Creates or upgrades the schema; returns how many migrations ran (0: up to date).
    pub async fn migrate(&self) -> Result<usize> {
        schema::migrate(&self.pools).await
    }

    /// Starts a transaction.
    async fn begin(&self, what: &str) -> Result<Tx> {
        self.pools
            .begin()
            .await
            .ctx(|| format!("{what}: cannot start a transaction"))
    }

    /// Reads every table, each ordered by id, from one consistent snapshot. Rows that
    /// cannot be read are logged, left out and returned as problems; never a panic.
    pub async fn load_all(&self) -> LoadResult {
        let (tables, problems) = match &self.sqlite_file {
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || sqlite_load::load_all(&path))
                    .await
                    .map_err(|e| StoreError::LoadTask(e.to_string()))??
            }
            None => self.load_all_sqlx().await?,
        };
        for p in &problems {
            tracing::error!(table = p.table, id = ?p.id, "row skipped: {}", p.message);
        }
        Ok((tables, problems))
    }

    /// `load_all` for MySQL and PostgreSQL.
    async fn load_all_sqlx(&self) -> LoadResult {
        let mut tx = self.begin("loading the database").await?;
        if tx.engine() == Engine::Postgres {
            // PostgreSQL's default gives each statement its own snapshot.
            tx.exec(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                &[],
            )
            .await
            .ctx(|| "loading the database".into())?;
        }
        let mut problems = Vec::new();
        let tables = Tables {
            trigger: load_table(&mut tx, &mut problems).await?,
            game_policy: load_table(&mut tx, &mut problems).await?,
            challenge: load_table(&mut tx, &mut problems).await?,
            user_profile: load_table(&mut tx, &mut problems).await?,
            user: load_table(&mut tx, &mut problems).await?,
            submission: load_table(&mut tx, &mut problems).await?,
            announcement: load_table(&mut tx, &mut problems).await?,
            feedback: load_table(&mut tx, &mut problems).await?,
            log: load_table(&mut tx, &mut problems).await?,
            dynamic_flag: load_table(&mut tx, &mut problems).await?,
        };
        tx.commit().await.ctx(|| "loading the database".into())?;
        Ok((tables, problems))
    }

    /// Whether every table of schema.md is empty.
    pub async fn is_empty(&self) -> Result<bool> {
        let mut tx = self.begin("checking whether the database is empty").await?;
        let found = dump::first_non_empty(&mut tx).await?;
        tx.rollback().await;
        Ok(found.is_none())
    }

    /// Inserts a submission (its `id` is ignored); returns the new id.
    pub async fn insert_submission(&self, row: &SubmissionRow) -> Result<i64> {
        self.insert_new(row).await
    }

    /// Inserts a user (its `id` and `profile_id` are ignored), then its first profile
    /// (its `id` and `user_id` are ignored), and links them, in one transaction.
    /// Returns `(user_id, profile_id)`.
    pub async fn insert_user(
        &self,
        user: &UserRow,
        profile: &UserProfileRow,
    ) -> Result<(i64, i64)> {
        let what = || format!("inserting user `{}`", user.login_key);
        let mut tx = self.begin("inserting a user").await?;
        let mut vals = user.values();
        vals[8] = Val::OptInt(None);
        let (sql, vals) = insert_sql::<UserRow>(tx.engine(), vals);
        let user_id = tx.insert(&sql, &vals).await.ctx(what)?;
        let profile_id = link_profile(&mut tx, user_id, profile).await?;
        tx.commit().await.ctx(what)?;
        Ok((user_id, profile_id))
    }

    /// Inserts a new profile for `user_id` (the row's `id` and `user_id` are ignored) and
    /// points the user at it, in one transaction. Returns the profile's id.
    pub async fn insert_profile_and_link(
        &self,
        user_id: i64,
        profile: &UserProfileRow,
    ) -> Result<i64> {
        let mut tx = self.begin("inserting a profile").await?;
        let id = link_profile(&mut tx, user_id, profile).await?;
        tx.commit()
            .await
            .ctx(|| format!("inserting a profile for user {user_id}"))?;
        Ok(id)
    }

    /// Replaces a user row (every column) by its id.
    pub async fn update_user(&self, user: &UserRow) -> Result<()> {
        self.update_row(user).await
    }

    /// Inserts feedback (its `id` is ignored); returns the new id.
    pub async fn insert_feedback(&self, row: &FeedbackRow) -> Result<i64> {
        self.insert_new(row).await
    }

    /// Sets `user.last_feedback_ms`.
    pub async fn set_last_feedback(&self, user_id: i64, timestamp_ms: i64) -> Result<()> {
        let e = self.engine();
        let sql = e.sql(&format!(
            "UPDATE {} SET last_feedback_ms = ? WHERE id = ?",
            e.quote("user")
        ));
        let n = self
            .pools
            .exec(&sql, &[Val::Int(timestamp_ms), Val::Int(user_id)])
            .await
            .ctx(|| format!("setting last_feedback_ms of user {user_id}"))?;
        found(n, "user", user_id)
    }

    /// Inserts a log line (its `id` is ignored); returns the new id.
    pub async fn insert_log(&self, row: &LogRow) -> Result<i64> {
        self.insert_new(row).await
    }

    /// Sets the score and percentage overrides of a submission.
    pub async fn update_submission_overrides(
        &self,
        id: i64,
        score_override: Option<i64>,
        percentage_override: Option<i64>,
    ) -> Result<()> {
        let e = self.engine();
        let sql = e.sql(&format!(
            "UPDATE {} SET score_override_or_null = ?, percentage_override_or_null = ? WHERE id = ?",
            e.quote("submission")
        ));
        let vals = [
            Val::OptInt(score_override),
            Val::OptInt(percentage_override),
            Val::Int(id),
        ];
        let n = self
            .pools
            .exec(&sql, &vals)
            .await
            .ctx(|| format!("updating the overrides of submission {id}"))?;
        found(n, "submission", id)
    }

    /// Inserts a challenge when its id is 0 (returning the new id), else replaces the
    /// row with that id (returning it).
    pub async fn upsert_challenge(&self, row: &ChallengeRow) -> Result<i64> {
        self.upsert(row).await
    }

    /// Deletes a challenge.
    pub async fn delete_challenge(&self, id: i64) -> Result<()> {
        self.delete::<ChallengeRow>(id).await
    }

    /// Inserts a trigger when its id is 0, else replaces the row with that id; returns the id.
    pub async fn upsert_trigger(&self, row: &TriggerRow) -> Result<i64> {
        self.upsert(row).await
    }

    /// Deletes a trigger.
    pub async fn delete_trigger(&self, id: i64) -> Result<()> {
        self.delete::<TriggerRow>(id).await
    }

    /// Inserts a game policy when its id is 0, else replaces the row with that id; returns the id.
    pub async fn upsert_game_policy(&self, row: &GamePolicyRow) -> Result<i64> {
        self.upsert(row).await
    }

    /// Deletes a game policy.
    pub async fn delete_game_policy(&self, id: i64) -> Result<()> {
        self.delete::<GamePolicyRow>(id).await
    }

    /// Inserts an announcement when its id is 0, else replaces the row with that id; returns the id.
    pub async fn upsert_announcement(&self, row: &AnnouncementRow) -> Result<i64> {
        self.upsert(row).await
    }

    /// Deletes an announcement.
    pub async fn delete_announcement(&self, id: i64) -> Result<()> {
        self.delete::<AnnouncementRow>(id).await
    }

    /// Inserts a row without its id; returns the id the database gave it.
    async fn insert_new<T: TableRow>(&self, row: &T) -> Result<i64> {
        let (sql, vals) = insert_sql::<T>(self.engine(), row.values());
        self.pools
            .insert(&sql, &vals)
            .await
            .ctx(|| format!("inserting into table `{}`", T::TABLE))
    }

    /// Replaces every column of the row with the same id.
    async fn update_row<T: TableRow>(&self, row: &T) -> Result<()> {
        let (sql, vals) = update_sql(self.engine(), row);
        let n = self
            .pools
            .exec(&sql, &vals)
            .await
            .ctx(|| format!("updating row {} of table `{}`", row.id(), T::TABLE))?;
        found(n, T::TABLE, row.id())
    }

    /// Id 0 inserts, any other id replaces.
    async fn upsert<T: TableRow>(&self, row: &T) -> Result<i64> {
        if row.id() == 0 {
            self.insert_new(row).await
        } else {
            self.update_row(row).await.map(|()| row.id())
        }
    }

    /// Deletes the row with that id.
    async fn delete<T: TableRow>(&self, id: i64) -> Result<()> {
        let e = self.engine();
        let sql = e.sql(&format!("DELETE FROM {} WHERE id = ?", e.quote(T::TABLE)));
        let n = self
            .pools
            .exec(&sql, &[Val::Int(id)])
            .await
            .ctx(|| format!("deleting row {id} of table `{}`", T::TABLE))?;
        found(n, T::TABLE, id)
    }
}

/// `Ok` when a statement touched a row, else `NotFound`.
fn found(rows_affected: u64, table: &'static str, id: i64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound { table, id })
    } else {
        Ok(())
    }
}

/// `INSERT INTO t (every column but id) VALUES (…)` and its values.
fn insert_sql<T: TableRow>(e: db::Engine, mut vals: Vec<Val<'_>>) -> (String, Vec<Val<'_>>) {
    vals.remove(0);
    let cols: Vec<String> = T::COLUMNS[1..].iter().map(|c| e.quote(c)).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|n| e.placeholder(n)).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        e.quote(T::TABLE),
        cols.join(", "),
        marks.join(", ")
    );
    (sql, vals)
}

/// Bound values per statement: below SQLite's 32,766 and the 65,535 of MySQL and PostgreSQL.
const MAX_PARAMS: usize = 30_000;
/// Rows per multi-row `INSERT`, so a statement stays a reasonable size.
const MAX_ROWS: usize = 1_000;

/// How `n` rows are split over multi-row statements of at most `max` rows: full
/// statements, then powers of two, so that few distinct statement texts exist and the
/// driver's cache of prepared statements keeps them (40 rows: 32 + 8).
fn statement_sizes(mut n: usize, max: usize) -> impl Iterator<Item = usize> {
    let max = max.max(1);
    std::iter::from_fn(move || {
        let take = if n >= max {
            max
        } else if n > 0 {
            1 << n.ilog2()
        } else {
            return None;
        };
        n -= take;
        Some(take)
    })
}

/// Inserts rows with their ids, many per statement. `adjust` may change the values of
/// a row before it is bound (used to leave `user.profile_id` for later).
async fn insert_rows<T: TableRow>(
    tx: &mut Tx,
    rows: &[T],
    adjust: fn(&mut [Val<'_>]),
) -> Result<()> {
    let e = tx.engine();
    let ncols = T::COLUMNS.len();
    let cols: Vec<String> = T::COLUMNS.iter().map(|c| e.quote(c)).collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        e.quote(T::TABLE),
        cols.join(", ")
    );
    let mut rest = rows;
    for size in statement_sizes(rows.len(), (MAX_PARAMS / ncols).clamp(1, MAX_ROWS)) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut sql = String::with_capacity(head.len() + chunk.len() * ncols * 4);
        sql.push_str(&head);
        let mut vals = Vec::with_capacity(chunk.len() * ncols);
        for (i, row) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..ncols {
                if j > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&e.placeholder(vals.len() + j + 1));
            }
            sql.push(')');
            let mut v = row.values();
            adjust(&mut v);
            vals.extend(v);
        }
        let what = || {
            format!(
                "inserting into table `{}` (rows with ids {}..={})",
                T::TABLE,
                chunk.first().map_or(0, |r| r.id()),
                chunk.last().map_or(0, |r| r.id())
            )
        };
        let n = tx.exec(&sql, &vals).await.ctx(what)?;
        if n != chunk.len() as u64 {
            return Err(StoreError::Sql {
                what: what(),
                source: sqlx::Error::Protocol(format!("{n} of {} rows inserted", chunk.len())),
            });
        }
    }
    Ok(())
}

/// `UPDATE` of every column but `id` of the row with `row`'s id, and its values.
fn update_sql<T: TableRow>(e: db::Engine, row: &T) -> (String, Vec<Val<'_>>) {
    let sets: Vec<String> = T::COLUMNS[1..]
        .iter()
        .map(|c| format!("{} = ?", e.quote(c)))
        .collect();
    let sql = e.sql(&format!(
        "UPDATE {} SET {} WHERE id = ?",
        e.quote(T::TABLE),
        sets.join(", ")
    ));
    let mut vals = row.values();
    vals.remove(0);
    vals.push(Val::Int(row.id()));
    (sql, vals)
}

/// Inserts a profile for `user_id` and points the user at it.
async fn link_profile(tx: &mut Tx, user_id: i64, profile: &UserProfileRow) -> Result<i64> {
    let e = tx.engine();
    let what = || format!("inserting a profile for user {user_id}");
    let mut vals = profile.values();
    vals[1] = Val::Int(user_id);
    let (sql, vals) = insert_sql::<UserProfileRow>(e, vals);
    let profile_id = tx.insert(&sql, &vals).await.ctx(what)?;
    let sql = e.sql(&format!(
        "UPDATE {} SET profile_id = ? WHERE id = ?",
        e.quote("user")
    ));
    let n = tx
        .exec(&sql, &[Val::Int(profile_id), Val::Int(user_id)])
        .await
        .ctx(what)?;
    found(n, "user", user_id)?;
    Ok(profile_id)
}

/// `SELECT` every column of a table ordered by id, decoding row by row.
async fn load_table<T: TableRow>(tx: &mut Tx, problems: &mut Vec<RowProblem>) -> Result<Vec<T>> {
    let e = tx.engine();
    let cols: Vec<String> = T::COLUMNS.iter().map(|c| e.quote(c)).collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY id",
        cols.join(", "),
        e.quote(T::TABLE)
    );
    let mut out = Vec::new();
    tx.for_each_row(&sql, |r| match T::decode(r) {
        Ok(row) => out.push(row),
        Err(message) => problems.push(RowProblem {
            table: T::TABLE,
            id: r.int(0).ok(),
            message,
        }),
    })
    .await
    .ctx(|| format!("reading table `{}`", T::TABLE))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("mysql://root:pw@h:3306/db"),
            "mysql://root:***@h:3306/db"
        );
        assert_eq!(redact_url("postgres://a:b:c@h/db"), "postgres://a:***@h/db");
        assert_eq!(
            redact_url("postgres://postgres@h/db"),
            "postgres://postgres@h/db"
        );
        assert_eq!(redact_url("sqlite://data/gs.db"), "sqlite://data/gs.db");
    }

    #[tokio::test]
    async fn refuses_unknown_and_in_memory_urls() {
        let e = Store::connect("oracle://x:secret@h/db")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported") && !e.contains("secret") && e.contains("help"),
            "{e}"
        );
        let e = Store::connect("sqlite::memory:")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("in-memory") && e.contains("sqlite://data/gs.db"),
            "{e}"
        );
    }

    #[test]
    fn statements_cover_the_rows_in_few_sizes() {
        let sizes = |n, max| super::statement_sizes(n, max).collect::<Vec<_>>();
        assert_eq!(sizes(0, 256), Vec::<usize>::new());
        assert_eq!(sizes(1, 256), [1]);
        assert_eq!(sizes(40, 256), [32, 8]);
        assert_eq!(sizes(255, 256), [128, 64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(sizes(600, 256), [256, 256, 64, 16, 8]);
        assert_eq!(
            sizes(3, 0),
            [1, 1, 1],
            "a maximum of 0 still makes progress"
        );
        for n in 0..1100 {
            let got = sizes(n, 1000);
            assert_eq!(got.iter().sum::<usize>(), n);
            assert!(got.iter().all(|&k| k == 1000 || k.is_power_of_two()));
        }
    }
}
