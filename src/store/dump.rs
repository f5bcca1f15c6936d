//! Dump import and export (schema.md): all-or-nothing in one transaction, refusing a
//! non-empty database unless told to replace it, auto-increment counters moved past the ids.

use super::db::{Engine, Tx, Val};
use super::schema::table_names;
use super::{insert_rows, Context, Result, Store, StoreError};
use crate::rows::{Dump, Tables};

/// The first table of schema.md that holds a row, if any.
pub(super) async fn first_non_empty(tx: &mut Tx) -> Result<Option<&'static str>> {
    let e = tx.engine();
    for name in table_names() {
        let sql = format!("SELECT id FROM {} LIMIT 1", e.quote(name));
        let hit = tx
            .fetch_int(&sql, &[])
            .await
            .ctx(|| format!("checking whether table `{name}` is empty"))?;
        if hit.is_some() {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Deletes every row, children first, breaking the user ⇄ profile cycle.
async fn delete_all(tx: &mut Tx) -> Result<()> {
    let e = tx.engine();
    let what = |t: &str| format!("deleting the rows of table `{t}`");
    for t in [
        "log",
        "feedback",
        "submission",
        "announcement",
        "dynamic_flag",
    ] {
        tx.exec(&format!("DELETE FROM {}", e.quote(t)), &[])
            .await
            .ctx(|| what(t))?;
    }
    tx.exec(
        &format!("UPDATE {} SET profile_id = NULL", e.quote("user")),
        &[],
    )
    .await
    .ctx(|| what("user"))?;
    for t in [
        "user_profile",
        "user",
        "challenge",
        "game_policy",
        "trigger",
    ] {
        tx.exec(&format!("DELETE FROM {}", e.quote(t)), &[])
            .await
            .ctx(|| what(t))?;
    }
    Ok(())
}

/// Leaves `user.profile_id` NULL: the profiles do not exist yet.
fn without_profile(v: &mut [Val<'_>]) {
    v[8] = Val::OptInt(None);
}

/// Leaves the values as they are.
fn unchanged(_: &mut [Val<'_>]) {}

/// Points each user at its profile, once both exist.
async fn link_profiles(tx: &mut Tx, tables: &Tables) -> Result<()> {
    let e = tx.engine();
    let sql = e.sql(&format!(
        "UPDATE {} SET profile_id = ? WHERE id = ?",
        e.quote("user")
    ));
    for u in &tables.user {
        if let Some(pid) = u.profile_id {
            tx.exec(&sql, &[Val::Int(pid), Val::Int(u.id)])
                .await
                .ctx(|| {
                    format!(
                        "importing table `user`: linking user {} to profile {pid}",
                        u.id
                    )
                })?;
        }
    }
    Ok(())
}

/// Moves each auto-increment counter past the largest id. SQLite (AUTOINCREMENT keeps
/// `sqlite_sequence` at the largest id ever inserted) and InnoDB (which raises its
/// counter on an explicit id) do this by themselves; PostgreSQL sequences do not.
async fn bump_counters(tx: &mut Tx) -> Result<()> {
    if tx.engine() != Engine::Postgres {
        return Ok(());
    }
    for t in table_names() {
        let q = Engine::Postgres.quote(t);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{q}', 'id'), COALESCE((SELECT MAX(id) FROM {q}), 0) + 1, false)"
        );
        tx.exec(&sql, &[])
            .await
            .ctx(|| format!("moving the id sequence of table `{t}` past the imported ids"))?;
    }
    Ok(())
}

impl Store {
    /// Loads a dump in one transaction: all of it or nothing. Refuses a database that
    /// holds rows unless `replace`, which deletes every row first.
    pub async fn import(&self, dump: &Dump, replace: bool) -> Result<()> {
        let mut tx = self.begin("importing a dump").await?;
        if replace {
            delete_all(&mut tx).await?;
        } else if let Some(table) = first_non_empty(&mut tx).await? {
            return Err(StoreError::NotEmpty(table));
        }
        let t = &dump.tables;
        insert_rows(&mut tx, &t.trigger, unchanged).await?;
        insert_rows(&mut tx, &t.game_policy, unchanged).await?;
        insert_rows(&mut tx, &t.challenge, unchanged).await?;
        insert_rows(&mut tx, &t.user, without_profile).await?;
        insert_rows(&mut tx, &t.user_profile, unchanged).await?;
        link_profiles(&mut tx, t).await?;
        insert_rows(&mut tx, &t.submission, unchanged).await?;
        insert_rows(&mut tx, &t.announcement, unchanged).await?;
        insert_rows(&mut tx, &t.feedback, unchanged).await?;
        insert_rows(&mut tx, &t.log, unchanged).await?;
        insert_rows(&mut tx, &t.dynamic_flag, unchanged).await?;
        bump_counters(&mut tx).await?;
        tx.commit().await.ctx(|| "importing a dump: commit".into())
    }

    /// Every row of every table. Refuses (listing them) if any row cannot be read, so a
    /// backup never silently lacks rows.
    pub async fn export(&self) -> Result<Dump> {
        let (tables, problems) = self.load_all().await?;
        if !problems.is_empty() {
            return Err(StoreError::BadRows(problems));
        }
        Ok(Dump { tables })
    }
}
