//! Write batches: several writes in one transaction, so that the reducer can commit a
//! burst of actions at once and answer them only after the commit.

use super::db::{Engine, Tx, Val};
use super::tables::TableRow;
use super::{found, insert_rows, insert_sql, link_profile, update_sql, Context, Result, Store};
use crate::rows::{DynamicFlagRow, FeedbackRow, SubmissionRow, UserProfileRow, UserRow};

/// An open transaction collecting writes; nothing is visible before [`WriteBatch::commit`].
pub struct WriteBatch {
    pub(super) tx: Tx,
    /// Submissions with their ids, written together by [`WriteBatch::flush`] (SQLite):
    /// one statement for a burst instead of a round trip to the driver's thread each.
    deferred_submissions: Vec<SubmissionRow>,
    /// The id the next deferred submission gets, once read in this transaction.
    next_submission_id: Option<i64>,
    /// Whether submissions are deferred: SQLite, where the ids the database would give
    /// can be read beforehand (the write lock is held from `BEGIN IMMEDIATE` on).
    defer_submissions: bool,
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteBatch")
    }
}

impl Store {
    /// Starts a batch of writes.
    pub async fn write_batch(&self) -> Result<WriteBatch> {
        let tx = self.begin("writing a batch").await?;
        Ok(WriteBatch {
            defer_submissions: tx.engine() == Engine::Sqlite,
            tx,
            deferred_submissions: Vec::new(),
            next_submission_id: None,
        })
    }
}

impl WriteBatch {
    async fn insert_new<T: TableRow>(&mut self, row: &T) -> Result<i64> {
        let (sql, vals) = insert_sql::<T>(self.tx.engine(), row.values());
        self.tx
            .insert(&sql, &vals)
            .await
            .ctx(|| format!("inserting into table `{}`", T::TABLE))
    }

    /// Inserts a submission (its `id` is ignored); returns the new id. On SQLite the row
    /// is sent with the others at [`WriteBatch::flush`], under the id SQLite would give it.
    pub async fn insert_submission(&mut self, row: &SubmissionRow) -> Result<i64> {
        if !self.defer_submissions {
            return self.insert_new(row).await;
        }
        let id = match self.next_submission_id {
            Some(id) => id,
            None => match self.first_free_submission_id().await {
                Ok(id) => id,
                Err(e) => {
                    // Not a database we created (no AUTOINCREMENT): one row at a time.
                    tracing::debug!("submissions are inserted one by one: {e}");
                    self.defer_submissions = false;
                    return self.insert_new(row).await;
                }
            },
        };
        self.next_submission_id = Some(id + 1);
        self.deferred_submissions
            .push(SubmissionRow { id, ..row.clone() });
        Ok(id)
    }

    /// The id SQLite gives the next submission: one past the largest it ever gave
    /// (`AUTOINCREMENT` never reuses the id of a deleted row).
    async fn first_free_submission_id(&mut self) -> Result<i64> {
        let sql = "SELECT MAX(v) FROM (SELECT MAX(id) AS v FROM submission \
                   UNION ALL SELECT seq AS v FROM sqlite_sequence WHERE name = 'submission')";
        let largest = self
            .tx
            .fetch_int(sql, &[])
            .await
            .ctx(|| "reading the next submission id".to_owned())?;
        Ok(largest.unwrap_or(0) + 1)
    }

    /// Writes the deferred submissions (a few multi-row statements). A failure means the
    /// batch must be rolled back.
    pub async fn flush(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.deferred_submissions);
        insert_rows(&mut self.tx, &rows, |_| {}).await
    }

    /// Inserts feedback (its `id` is ignored); returns the new id.
    pub async fn insert_feedback(&mut self, row: &FeedbackRow) -> Result<i64> {
        self.insert_new(row).await
    }

    /// Replaces every column of the row with the same id.
    async fn update_row<T: TableRow>(&mut self, row: &T) -> Result<()> {
        let (sql, vals) = update_sql(self.tx.engine(), row);
        let n = self
            .tx
            .exec(&sql, &vals)
            .await
            .ctx(|| format!("updating row {} of table `{}`", row.id(), T::TABLE))?;
        found(n, T::TABLE, row.id())
    }

    /// Stores a generated dynamic flag value: inserted when its `id` is 0, else the row
    /// with that id is replaced (a new generator made it again). Returns the id.
    pub async fn put_dynamic_flag(&mut self, row: &DynamicFlagRow) -> Result<i64> {
        if row.id == 0 {
            return self.insert_new(row).await;
        }
        self.update_row(row).await.map(|()| row.id)
    }

    /// Inserts a user and its first profile and links them; returns `(user_id, profile_id)`.
    pub async fn insert_user(
        &mut self,
        user: &UserRow,
        profile: &UserProfileRow,
    ) -> Result<(i64, i64)> {
        let mut vals = user.values();
        // profile_id: linked after the profile exists (the foreign keys form a cycle).
        vals[8] = Val::OptInt(None);
        let (sql, vals) = insert_sql::<UserRow>(self.tx.engine(), vals);
        let user_id = self
            .tx
            .insert(&sql, &vals)
            .await
            .ctx(|| format!("inserting user `{}`", user.login_key))?;
        let profile_id = link_profile(&mut self.tx, user_id, profile).await?;
        Ok((user_id, profile_id))
    }

    /// Inserts a new profile of `user_id` and points the user at it; returns its id.
    pub async fn insert_profile_and_link(
        &mut self,
        user_id: i64,
        profile: &UserProfileRow,
    ) -> Result<i64> {
        link_profile(&mut self.tx, user_id, profile).await
    }

    /// Replaces a user row (every column) by its id.
    pub async fn update_user(&mut self, user: &UserRow) -> Result<()> {
        self.update_row(user).await
    }

    /// Ends the batch without writing anything.
    pub async fn rollback(self) {
        self.tx.rollback().await
    }

    /// Makes every write of the batch durable at once (deferred rows included: call
    /// [`WriteBatch::flush`] first to tell a failed write from a failed commit).
    pub async fn commit(mut self) -> Result<()> {
        self.flush().await?;
        self.tx
            .commit()
            .await
            .ctx(|| "committing a batch of writes".to_owned())
    }
}
