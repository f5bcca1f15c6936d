//! The schema of schema.md and its migrations, rendered for each engine from one table list.
//! Every step is idempotent, so an existing Guiding Star MySQL database is adopted as it is.

use super::db::{Engine, Pools, Val};
use super::{Context, StoreError};

/// The version table; one row per applied migration.
const VERSION_TABLE: &str = "gs_migration";

/// Column types, abstract over the engines.
#[derive(Clone, Copy)]
enum Ty {
    /// The auto-incremented primary key.
    Id,
    /// A reference to another table's id.
    IdRef,
    /// `INT` in schema.md (BIGINT on PostgreSQL, which decodes only INT8 as i64).
    Int,
    BigInt,
    Varchar(u16),
    Text,
    Json,
    Bool,
}

/// One column: name, type, NULL allowed, UNIQUE, default (engine-specific, if any).
struct Col {
    name: &'static str,
    ty: Ty,
    null: bool,
    unique: bool,
    default: Option<fn(Engine) -> Option<&'static str>>,
}

const fn c(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        null: false,
        unique: false,
        default: None,
    }
}
const fn null(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        null: true,
        unique: false,
        default: None,
    }
}
const fn uniq(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        null: false,
        unique: true,
        default: None,
    }
}

/// A foreign key `column → table(id)`.
struct Fk {
    column: &'static str,
    target: &'static str,
}

/// One table: columns, foreign keys created with it, and indexed columns.
struct Table {
    name: &'static str,
    cols: &'static [Col],
    fks: &'static [Fk],
}

fn false_default(_: Engine) -> Option<&'static str> {
    Some("FALSE")
}

/// MySQL 5.7 allows no expression defaults; the writer always supplies the time there.
fn now_s_default(e: Engine) -> Option<&'static str> {
    match e {
        Engine::Sqlite => Some("(CAST(strftime('%s','now') AS INTEGER))"),
        Engine::Postgres => Some("(CAST(EXTRACT(EPOCH FROM now()) AS BIGINT))"),
        Engine::MySql => None,
    }
}

/// The tables of schema.md, in creation order (`user` before what references it).
/// `user.profile_id → user_profile` closes a cycle and is added afterwards.
const TABLES: &[Table] = &[
    Table {
        name: "trigger",
        cols: &[
            c("id", Ty::Id),
            uniq("tick", Ty::Int),
            uniq("timestamp_s", Ty::BigInt),
            c("name", Ty::Varchar(64)),
        ],
        fks: &[],
    },
    Table {
        name: "game_policy",
        cols: &[
            c("id", Ty::Id),
            uniq("effective_after", Ty::Int),
            c("can_view_problem", Ty::Bool),
            c("can_submit_flag", Ty::Bool),
            c("can_submit_writeup", Ty::Bool),
            c("is_submission_deducted", Ty::Bool),
        ],
        fks: &[],
    },
    Table {
        name: "challenge",
        cols: &[
            c("id", Ty::Id),
            c("effective_after", Ty::Int),
            uniq("key", Ty::Varchar(32)),
            c("title", Ty::Varchar(64)),
            c("category", Ty::Varchar(32)),
            c("sorting_index", Ty::Int),
            c("desc_template", Ty::Text),
            c("chall_metadata", Ty::Json),
            c("actions", Ty::Json),
            c("flags", Ty::Json),
        ],
        fks: &[],
    },
    Table {
        name: "user",
        cols: &[
            c("id", Ty::Id),
            uniq("login_key", Ty::Varchar(192)),
            c("login_properties", Ty::Json),
            c("timestamp_ms", Ty::BigInt),
            c("enabled", Ty::Bool),
            c("group", Ty::Varchar(32)),
            null("token", Ty::Varchar(512)),
            Col {
                name: "auth_token",
                ty: Ty::Varchar(128),
                null: true,
                unique: true,
                default: None,
            },
            null("profile_id", Ty::IdRef),
            c("terms_agreed", Ty::Bool),
            null("last_feedback_ms", Ty::BigInt),
        ],
        fks: &[],
    },
    Table {
        name: "user_profile",
        cols: &[
            c("id", Ty::Id),
            c("user_id", Ty::IdRef),
            c("timestamp_ms", Ty::BigInt),
            null("nickname", Ty::Varchar(128)),
            null("qq", Ty::Varchar(128)),
            null("tel", Ty::Varchar(128)),
            null("email", Ty::Varchar(128)),
            null("stuid", Ty::Varchar(128)),
            null("comment", Ty::Varchar(128)),
        ],
        fks: &[Fk {
            column: "user_id",
            target: "user",
        }],
    },
    Table {
        name: "submission",
        cols: &[
            c("id", Ty::Id),
            c("user_id", Ty::IdRef),
            c("challenge_key", Ty::Varchar(32)),
            c("flag", Ty::Varchar(128)),
            c("timestamp_ms", Ty::BigInt),
            null("score_override_or_null", Ty::Int),
            null("percentage_override_or_null", Ty::Int),
        ],
        fks: &[Fk {
            column: "user_id",
            target: "user",
        }],
    },
    Table {
        name: "announcement",
        cols: &[
            c("id", Ty::Id),
            Col {
                name: "timestamp_s",
                ty: Ty::BigInt,
                null: false,
                unique: false,
                default: Some(now_s_default),
            },
            c("title", Ty::Text),
            c("content_template", Ty::Text),
        ],
        fks: &[],
    },
    Table {
        name: "feedback",
        cols: &[
            c("id", Ty::Id),
            c("user_id", Ty::IdRef),
            c("timestamp_ms", Ty::BigInt),
            c("challenge_key", Ty::Varchar(32)),
            c("content", Ty::Text),
            Col {
                name: "checked",
                ty: Ty::Bool,
                null: false,
                unique: false,
                default: Some(false_default),
            },
        ],
        fks: &[Fk {
            column: "user_id",
            target: "user",
        }],
    },
    Table {
        name: "log",
        cols: &[
            c("id", Ty::Id),
            c("timestamp_ms", Ty::BigInt),
            c("level", Ty::Varchar(32)),
            c("process", Ty::Varchar(64)),
            c("module", Ty::Varchar(96)),
            c("message", Ty::Text),
        ],
        fks: &[],
    },
    Table {
        name: "dynamic_flag",
        cols: &[
            c("id", Ty::Id),
            c("user_id", Ty::IdRef),
            c("challenge_key", Ty::Varchar(32)),
            c("flag_idx", Ty::Int),
            c("generator", Ty::Text),
            c("value", Ty::Text),
            c("timestamp_ms", Ty::BigInt),
        ],
        fks: &[Fk {
            column: "user_id",
            target: "user",
        }],
    },
];

/// Column sets that are unique together, per table: one generated value per user and flag.
const UNIQUE_TOGETHER: &[(&str, &[&str])] =
    &[("dynamic_flag", &["user_id", "challenge_key", "flag_idx"])];

/// The foreign key that closes the user ⇄ user_profile cycle.
const CYCLE_FK: Fk = Fk {
    column: "profile_id",
    target: "user_profile",
};

/// Every table name of schema.md, in creation order.
pub(crate) fn table_names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|t| t.name)
}

fn render_type(e: Engine, ty: Ty) -> String {
    match (ty, e) {
        (Ty::Id, Engine::Sqlite) => "INTEGER PRIMARY KEY AUTOINCREMENT".into(),
        (Ty::Id, Engine::MySql) => "INT NOT NULL AUTO_INCREMENT PRIMARY KEY".into(),
        (Ty::Id, Engine::Postgres) => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY".into(),
        (Ty::IdRef | Ty::Int, Engine::Sqlite) => "INTEGER".into(),
        (Ty::IdRef | Ty::Int, Engine::MySql) => "INT".into(),
        (Ty::IdRef | Ty::Int | Ty::BigInt, _) => "BIGINT".into(),
        (Ty::Varchar(n), _) => format!("VARCHAR({n})"),
        (Ty::Text, _) => "TEXT".into(),
        (Ty::Json, Engine::MySql) => "JSON".into(),
        (Ty::Json, _) => "TEXT".into(),
        (Ty::Bool, Engine::MySql) => "BOOL".into(),
        (Ty::Bool, _) => "BOOLEAN".into(),
    }
}

/// `CREATE TABLE IF NOT EXISTS` for one table. SQLite cannot add a foreign key later, but
/// accepts a reference to a table that does not exist yet, so it gets the cycle inline.
fn create_table(e: Engine, t: &Table) -> String {
    let mut parts = Vec::new();
    for col in t.cols {
        let mut s = format!("{} {}", e.quote(col.name), render_type(e, col.ty));
        if !matches!(col.ty, Ty::Id) {
            s.push_str(if col.null { " NULL" } else { " NOT NULL" });
        }
        if let Some(d) = col.default.and_then(|f| f(e)) {
            s.push_str(" DEFAULT ");
            s.push_str(d);
        }
        if col.unique {
            s.push_str(" UNIQUE");
        }
        if e == Engine::Sqlite && t.name == "user" && col.name == CYCLE_FK.column {
            s.push_str(&format!(" REFERENCES {}(id)", e.quote(CYCLE_FK.target)));
        }
        parts.push(s);
    }
    for (_, cols) in UNIQUE_TOGETHER.iter().filter(|(name, _)| *name == t.name) {
        let cols: Vec<String> = cols.iter().map(|c| e.quote(c)).collect();
        parts.push(format!("UNIQUE ({})", cols.join(", ")));
    }
    for fk in t.fks {
        parts.push(format!(
            "FOREIGN KEY ({}) REFERENCES {}(id)",
            e.quote(fk.column),
            e.quote(fk.target)
        ));
    }
    let tail = if e == Engine::MySql {
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    } else {
        ""
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {}\n){tail}",
        e.quote(t.name),
        parts.join(",\n  ")
    )
}

/// Indexes on the referencing columns; MySQL creates those with the foreign key itself.
fn create_indexes(e: Engine) -> Vec<String> {
    if e == Engine::MySql {
        return Vec::new();
    }
    let mut out = Vec::new();
    for t in TABLES {
        let cols = t.fks.iter().map(|f| f.column);
        let extra = (t.name == "user").then_some(CYCLE_FK.column);
        for column in cols.chain(extra) {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {}({})",
                e.quote(&format!("ix_{}_{}", t.name, column)),
                e.quote(t.name),
                e.quote(column)
            ));
        }
    }
    out
}

/// Creates the tables of schema.md (keeping any that exist) and closes the FK cycle.
async fn migration_1(pools: &Pools) -> Result<(), sqlx::Error> {
    let e = pools.engine();
    let existing = existing_tables(pools).await?;
    for t in TABLES {
        if existing.contains(&t.name) {
            tracing::info!(table = t.name, "table exists already; kept as it is");
        }
        pools.exec(&create_table(e, t), &[]).await?;
    }
    for sql in create_indexes(e) {
        pools.exec(&sql, &[]).await?;
    }
    if e != Engine::Sqlite && !has_foreign_key(pools, "user", CYCLE_FK.column).await? {
        let sql = format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}(id)",
            e.quote("user"),
            e.quote("fk_user_profile_id"),
            e.quote(CYCLE_FK.column),
            e.quote(CYCLE_FK.target)
        );
        pools.exec(&sql, &[]).await?;
    }
    Ok(())
}

/// Adds the `dynamic_flag` table (generated values of dynamic flags) to an older schema.
async fn migration_3(pools: &Pools) -> Result<(), sqlx::Error> {
    let e = pools.engine();
    if let Some(t) = TABLES.iter().find(|t| t.name == "dynamic_flag") {
        pools.exec(&create_table(e, t), &[]).await?;
    }
    for sql in create_indexes(e) {
        pools.exec(&sql, &[]).await?;
    }
    Ok(())
}

/// The current schema's (or database's) function, for information_schema queries.
fn schema_fn(e: Engine) -> &'static str {
    match e {
        Engine::MySql => "DATABASE()",
        Engine::Postgres | Engine::Sqlite => "current_schema()",
    }
}

/// Names of the tables of schema.md that already exist.
async fn existing_tables(pools: &Pools) -> Result<Vec<&'static str>, sqlx::Error> {
    let e = pools.engine();
    let mut out = Vec::new();
    for name in table_names() {
        let sql = match e {
            Engine::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?".to_string()
            }
            _ => e.sql(&format!(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = {} AND table_name = ?",
                schema_fn(e)
            )),
        };
        if pools
            .fetch_int(&sql, &[Val::Text(name)])
            .await?
            .unwrap_or(0)
            > 0
        {
            out.push(name);
        }
    }
    Ok(out)
}

/// Whether `table.column` already carries a foreign key, whatever its name (an existing
/// Guiding Star database names its constraints its own way).
async fn has_foreign_key(pools: &Pools, table: &str, column: &str) -> Result<bool, sqlx::Error> {
    let e = pools.engine();
    let sql = e.sql(&format!(
        "SELECT COUNT(*) FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu \
           ON tc.constraint_name = kcu.constraint_name \
          AND tc.table_schema = kcu.table_schema \
          AND tc.table_name = kcu.table_name \
         WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = {} \
           AND tc.table_name = ? AND kcu.column_name = ?",
        schema_fn(e)
    ));
    let n = pools
        .fetch_int(&sql, &[Val::Text(table), Val::Text(column)])
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// The table of committed action ids (exactly-once actions; not part of schema.md and
/// of dumps): each id is written in the same transaction as the rows of its action.
pub(crate) const ACTION_TABLE: &str = "gs_action";

/// Creates the table of committed action ids with an index on the commit time.
async fn migration_2(pools: &Pools) -> Result<(), sqlx::Error> {
    let e = pools.engine();
    let table = e.quote(ACTION_TABLE);
    let index = e.quote("ix_gs_action_committed_ms");
    let (index_inline, tail) = match e {
        // MySQL has no CREATE INDEX IF NOT EXISTS: the index is part of the table.
        Engine::MySql => (
            format!(", INDEX {index} (committed_ms)"),
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ),
        Engine::Sqlite | Engine::Postgres => (String::new(), ""),
    };
    pools
        .exec(
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (action_id VARCHAR(64) NOT NULL PRIMARY KEY, \
                 committed_ms BIGINT NOT NULL, reply TEXT NOT NULL{index_inline}){tail}"
            ),
            &[],
        )
        .await?;
    if e != Engine::MySql {
        pools
            .exec(
                &format!("CREATE INDEX IF NOT EXISTS {index} ON {table} (committed_ms)"),
                &[],
            )
            .await?;
    }
    Ok(())
}

/// The latest schema version this build knows.
pub const LATEST_VERSION: i64 = 3;

/// Brings the schema up to date; returns how many migrations ran (0 when up to date).
pub(crate) async fn migrate(pools: &Pools) -> Result<usize, StoreError> {
    let e = pools.engine();
    pools
        .exec(
            &format!(
                "CREATE TABLE IF NOT EXISTS {} (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)",
                e.quote(VERSION_TABLE)
            ),
            &[],
        )
        .await
        .ctx(|| format!("creating table `{VERSION_TABLE}`"))?;
    let current = pools
        .fetch_int(
            &format!("SELECT MAX(version) FROM {}", e.quote(VERSION_TABLE)),
            &[],
        )
        .await
        .ctx(|| format!("reading table `{VERSION_TABLE}`"))?
        .unwrap_or(0);
    if current > LATEST_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: LATEST_VERSION,
        });
    }
    let mut applied = 0;
    for version in (current + 1)..=LATEST_VERSION {
        tracing::info!(version, "applying schema migration");
        // Each step is idempotent, so a migration cut short (MySQL cannot roll back DDL)
        // simply runs again next time.
        if version == 1 {
            migration_1(pools)
                .await
                .ctx(|| "schema migration 1 (creating the tables)".into())?;
        }
        if version == 2 {
            migration_2(pools)
                .await
                .ctx(|| "schema migration 2 (the table of committed action ids)".into())?;
        }
        if version == 3 {
            migration_3(pools)
                .await
                .ctx(|| "schema migration 3 (the dynamic_flag table)".into())?;
        }
        let sql = e.sql(&format!(
            "INSERT INTO {} (version, applied_ms) VALUES (?, ?)",
            e.quote(VERSION_TABLE)
        ));
        pools
            .exec(&sql, &[Val::Int(version), Val::Int(crate::clock::now_ms())])
            .await
            .ctx(|| format!("recording schema migration {version}"))?;
        applied += 1;
    }
    Ok(applied)
}
