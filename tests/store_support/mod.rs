//! Shared helpers for the store tests: a throw-away database per test on each engine,
//! and the golden dumps. Each test makes its own uniquely named database and drops it.
#![allow(dead_code)]

use std::path::PathBuf;

use gs::rows::Dump;
use gs::store::Store;
use sqlx::Connection;

/// The engines the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    MySql,
    Postgres,
}

/// The MariaDB/MySQL server (root, no password), overridable for other machines.
pub fn mysql_server() -> String {
    std::env::var("GSTEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// The PostgreSQL server (trust auth as `postgres`), overridable for other machines.
pub fn postgres_server() -> String {
    std::env::var("GSTEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database that exists for one test and is dropped when this value is.
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

fn unique_name() -> String {
    format!(
        "gs_test_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

impl TestDb {
    /// Creates an empty database on the engine.
    pub async fn new(kind: Kind) -> TestDb {
        let name = unique_name();
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                // A sub-directory that does not exist yet: connect must create it.
                let path = dir.path().join("sub").join(format!("{name}.db"));
                TestDb {
                    kind,
                    url: format!("sqlite://{}", path.display()),
                    name,
                    _dir: Some(dir),
                }
            }
            Kind::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&mysql_server())
                    .await
                    .expect("MariaDB at 127.0.0.1:3306 (start it with .ci/run)");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
                )))
                .execute(&mut c)
                .await
                .expect("create database");
                TestDb {
                    kind,
                    url: format!("{}/{name}", mysql_server()),
                    name,
                    _dir: None,
                }
            }
            Kind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_server()))
                    .await
                    .expect("PostgreSQL at 127.0.0.1:5432 (start it with .ci/run)");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut c)
                    .await
                    .expect("create database");
                TestDb {
                    kind,
                    url: format!("{}/{name}", postgres_server()),
                    name,
                    _dir: None,
                }
            }
        }
    }

    /// The database's name on its server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connects and migrates.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    /// Runs raw SQL statements on one connection (to plant rows the store would never write).
    pub async fn raw(&self, statements: &[&str]) {
        match self.kind {
            Kind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect");
                for s in statements {
                    sqlx::query(sqlx::AssertSqlSafe(*s))
                        .execute(&mut c)
                        .await
                        .expect(s);
                }
            }
            Kind::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&self.url)
                    .await
                    .expect("connect");
                for s in statements {
                    sqlx::query(sqlx::AssertSqlSafe(*s))
                        .execute(&mut c)
                        .await
                        .expect(s);
                }
            }
            Kind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect");
                for s in statements {
                    sqlx::query(sqlx::AssertSqlSafe(*s))
                        .execute(&mut c)
                        .await
                        .expect(s);
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.kind == Kind::Sqlite {
            return; // the temp dir goes with `_dir`
        }
        let (kind, name) = (self.kind, self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let done = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(drop_database(kind, &name))
                .map_err(|e| e.to_string())
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {done:?}", self.name);
        }
    }
}

/// Drops a test database on its server.
async fn drop_database(kind: Kind, name: &str) -> Result<(), sqlx::Error> {
    match kind {
        Kind::MySql => {
            let mut c = sqlx::MySqlConnection::connect(&mysql_server()).await?;
            // A test that panicked leaves its pool's connections open, perhaps inside a
            // transaction whose locks would block the drop forever: end them first.
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
            )
            .bind(name)
            .fetch_all(&mut c)
            .await?;
            for id in ids {
                // The connection may have ended by itself meanwhile.
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("KILL {id}")))
                    .execute(&mut c)
                    .await;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{name}`"
            )))
            .execute(&mut c)
            .await?;
        }
        Kind::Postgres => {
            let mut c =
                sqlx::PgConnection::connect(&format!("{}/postgres", postgres_server())).await?;
            // FORCE: a pool the test did not close must not keep the database alive.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut c)
            .await?;
        }
        Kind::Sqlite => {}
    }
    Ok(())
}

/// The directory of the golden files.
pub fn golden_dir() -> PathBuf {
    gs::testing::golden_dir()
}

/// Reads one golden dump by name (`running` or `ended`).
pub fn golden(name: &str) -> Dump {
    let path = golden_dir().join(format!("{name}.contest.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Generates one `#[tokio::test]` per engine for an `async fn(Kind)` scenario.
#[macro_export]
macro_rules! on_all_engines {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::store_support::Kind;
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(Kind::Sqlite).await
            }
            #[tokio::test]
            async fn mysql() {
                super::$scenario(Kind::MySql).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$scenario(Kind::Postgres).await
            }
        }
    )*};
}
