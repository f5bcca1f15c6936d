//! The table of committed action ids: a write batch records each action's id and reply
//! with its rows, so that a retried action is answered from the record, never run twice.

use super::batch::WriteBatch;
use super::db::{Engine, Val};
use super::schema::ACTION_TABLE;
use super::{Context, Result, Store, StoreError};
use std::collections::HashSet;

/// Most records in one INSERT statement (3 bound values each; every engine takes far
/// more than 3 × this many, SQLite's lowest limit being 999 values before 3.32).
const RECORDS_PER_STATEMENT: usize = 256;

impl WriteBatch {
    /// Records that the action `action_id` is committed with this batch, answered `reply`.
    pub async fn record_action(
        &mut self,
        action_id: &str,
        committed_ms: i64,
        reply: &str,
    ) -> Result<()> {
        self.record_actions(committed_ms, &[(action_id, reply)])
            .await
    }

    /// Records that the actions `(action id, reply)` are committed with this batch, all at
    /// `committed_ms`: one multi-row INSERT per [`RECORDS_PER_STATEMENT`] records instead
    /// of one statement per action.
    pub async fn record_actions(
        &mut self,
        committed_ms: i64,
        records: &[(&str, &str)],
    ) -> Result<()> {
        let e = self.tx.engine();
        let mut rest = records;
        for size in super::statement_sizes(records.len(), RECORDS_PER_STATEMENT) {
            let (chunk, after) = rest.split_at(size);
            rest = after;
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let sql = e.sql(&format!(
                "INSERT INTO {} (action_id, committed_ms, reply) VALUES {rows}",
                e.quote(ACTION_TABLE)
            ));
            let vals: Vec<Val<'_>> = chunk
                .iter()
                .flat_map(|&(id, reply)| [Val::Text(id), Val::Int(committed_ms), Val::Text(reply)])
                .collect();
            let n = self.tx.exec(&sql, &vals).await.ctx(|| {
                format!(
                    "recording {} action ids ({}…)",
                    chunk.len(),
                    chunk.first().map_or("", |r| r.0)
                )
            })?;
            if n != chunk.len() as u64 {
                return Err(StoreError::Sql {
                    what: format!("recording {} action ids", chunk.len()),
                    source: sqlx::Error::Protocol(format!("{n} rows inserted")),
                });
            }
        }
        Ok(())
    }
}

impl Store {
    /// The actions committed at or after `since_ms`: `(action id, reply)`, oldest first.
    pub async fn committed_actions(&self, since_ms: i64) -> Result<Vec<(String, String)>> {
        let what = || "reading the committed action ids".to_owned();
        let mut tx = self.begin("reading the committed action ids").await?;
        let e = tx.engine();
        let sql = e.sql(&format!(
            "SELECT action_id, reply FROM {} WHERE committed_ms >= ? ORDER BY committed_ms",
            e.quote(ACTION_TABLE)
        ));
        let mut out = Vec::new();
        tx.for_each_row_with(&sql, &[Val::Int(since_ms)], |r| {
            if let (Ok(id), Ok(reply)) = (r.text(0), r.text(1)) {
                out.push((id, reply));
            }
        })
        .await
        .ctx(what)?;
        tx.rollback().await;
        Ok(out)
    }

    /// Which of `ids` are committed, once every transaction that may still be writing them
    /// has ended. A commit whose reply was lost (a killed or broken connection) can still
    /// be finishing on the server; a plain read before it ends would call it not stored.
    /// So each id is claimed in a transaction that is then rolled back: the claim waits for
    /// an uncommitted record of the same id to be committed or rolled back, and finds a
    /// committed one as a duplicate.
    pub async fn settled_actions(&self, ids: &[&str]) -> Result<HashSet<String>> {
        let what = || "settling the fate of action ids".to_owned();
        let mut tx = self.begin("settling the fate of action ids").await?;
        let e = tx.engine();
        let table = e.quote(ACTION_TABLE);
        let sql = e.sql(&match e {
            Engine::Sqlite => format!(
                "INSERT OR IGNORE INTO {table} (action_id, committed_ms, reply) VALUES (?, 0, '')"
            ),
            Engine::MySql => format!(
                "INSERT IGNORE INTO {table} (action_id, committed_ms, reply) VALUES (?, 0, '')"
            ),
            Engine::Postgres => format!(
                "INSERT INTO {table} (action_id, committed_ms, reply) VALUES (?, 0, '') \
                 ON CONFLICT (action_id) DO NOTHING"
            ),
        });
        let mut committed = HashSet::new();
        for id in ids {
            let inserted = tx.exec(&sql, &[Val::Text(id)]).await.ctx(what)?;
            if inserted == 0 {
                committed.insert((*id).to_owned());
            }
        }
        tx.rollback().await;
        Ok(committed)
    }

    /// Deletes the records of actions committed before `before_ms`; returns how many.
    pub async fn forget_actions_before(&self, before_ms: i64) -> Result<u64> {
        let e = self.engine();
        let sql = e.sql(&format!(
            "DELETE FROM {} WHERE committed_ms < ?",
            e.quote(ACTION_TABLE)
        ));
        self.pools
            .exec(&sql, &[Val::Int(before_ms)])
            .await
            .ctx(|| "forgetting old action ids".to_owned())
    }
}
