//! Store tests on real databases (SQLite file, MariaDB, PostgreSQL): dump round trips,
//! import rules, auto-increment after import, migrations, and unreadable rows.

mod store_support;

use gs::rows::{
    AnnouncementRow, ChallengeRow, DynamicFlagRow, FeedbackRow, GamePolicyRow, LogRow,
    SubmissionRow, Tables, TriggerRow, UserProfileRow, UserRow,
};
use gs::store::StoreError;
use store_support::{golden, Kind, TestDb};

fn max_id<T>(rows: &[T], id: fn(&T) -> i64) -> i64 {
    rows.iter().map(id).max().unwrap_or(0)
}

/// Import then export gives back the same rows, for each golden dump.
async fn golden_round_trip(kind: Kind) {
    for name in ["running", "ended"] {
        let db = TestDb::new(kind).await;
        let store = db.store().await;
        let dump = golden(name);
        assert!(store.is_empty().await.unwrap());
        store.import(&dump, false).await.unwrap();
        assert!(!store.is_empty().await.unwrap());
        let back = store.export().await.unwrap();
        assert_eq!(
            back.tables.submission.len(),
            dump.tables.submission.len(),
            "{name}"
        );
        assert_eq!(back, dump, "{name} on {kind:?}");
        store.close().await;
    }
}

/// Import refuses a database with rows (changing nothing) unless told to replace them.
async fn import_refuses_non_empty(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    let running = golden("running");
    let ended = golden("ended");
    store.import(&running, false).await.unwrap();
    let err = store.import(&ended, false).await.unwrap_err();
    assert!(matches!(err, StoreError::NotEmpty(_)), "{err}");
    assert!(err.to_string().contains("--replace"), "{err}");
    assert_eq!(store.export().await.unwrap(), running);
    store.import(&ended, true).await.unwrap();
    assert_eq!(store.export().await.unwrap(), ended);
    store.close().await;
}

/// A failing import leaves nothing behind: all or nothing.
async fn import_is_all_or_nothing(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    let mut dump = golden("running");
    // The last submission points at a user that does not exist: the foreign key fails
    // after every other table went in.
    let last = dump.tables.submission.len() - 1;
    dump.tables.submission[last].user_id = 999_999;
    let err = store.import(&dump, false).await.unwrap_err();
    assert!(err.to_string().contains("submission"), "{err}");
    assert!(store.is_empty().await.unwrap());
    // Same on replace: the old rows survive a failed replacement.
    let ended = golden("ended");
    store.import(&ended, false).await.unwrap();
    assert!(store.import(&dump, true).await.is_err());
    assert_eq!(store.export().await.unwrap(), ended);
    store.close().await;
}

/// After an import, new rows get ids past the imported ones, in every table.
async fn ids_after_import(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    // Import the larger contest, then replace it by the smaller: ids must still not collide.
    store.import(&golden("running"), false).await.unwrap();
    let dump = golden("ended");
    store.import(&dump, true).await.unwrap();
    let t = &dump.tables;

    let sub = SubmissionRow {
        id: 0,
        user_id: 2,
        challenge_key: "tutorial".into(),
        flag: "flag{x}".into(),
        timestamp_ms: 1,
        score_override_or_null: None,
        percentage_override_or_null: None,
    };
    let sid = store.insert_submission(&sub).await.unwrap();
    assert!(sid > max_id(&t.submission, |r| r.id), "submission id {sid}");

    let mut user = t.user[1].clone();
    user.login_key = "manual:new-user".into();
    user.auth_token = Some("new-auth-token".into());
    let profile = UserProfileRow {
        nickname: Some("New".into()),
        ..Default::default()
    };
    let (uid, pid) = store.insert_user(&user, &profile).await.unwrap();
    assert!(uid > max_id(&t.user, |r| r.id), "user id {uid}");
    assert!(pid > max_id(&t.user_profile, |r| r.id), "profile id {pid}");

    let mut ch = t.challenge[0].clone();
    ch.id = 0;
    ch.key = "brand_new".into();
    let cid = store.upsert_challenge(&ch).await.unwrap();
    assert!(cid > max_id(&t.challenge, |r| r.id), "challenge id {cid}");

    let tr = TriggerRow {
        id: 0,
        tick: 123_456,
        timestamp_s: 4_000_000_000,
        name: "x".into(),
    };
    let tid = store.upsert_trigger(&tr).await.unwrap();
    assert!(tid > max_id(&t.trigger, |r| r.id), "trigger id {tid}");

    let gp = GamePolicyRow {
        id: 0,
        effective_after: 123_456,
        can_view_problem: true,
        can_submit_flag: false,
        can_submit_writeup: true,
        is_submission_deducted: false,
    };
    let gid = store.upsert_game_policy(&gp).await.unwrap();
    assert!(gid > max_id(&t.game_policy, |r| r.id), "policy id {gid}");

    let an = AnnouncementRow {
        id: 0,
        timestamp_s: 5,
        title: "t".into(),
        content_template: "c".into(),
    };
    let aid = store.upsert_announcement(&an).await.unwrap();
    assert!(
        aid > max_id(&t.announcement, |r| r.id),
        "announcement id {aid}"
    );
    store.close().await;
}

/// Migrating again is a no-op and keeps the rows.
async fn migrate_twice(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = gs::store::Store::connect(&db.url).await.unwrap();
    let versions = gs::store::LATEST_VERSION as usize;
    assert_eq!(store.migrate().await.unwrap(), versions);
    assert_eq!(store.migrate().await.unwrap(), 0);
    let dump = golden("ended");
    store.import(&dump, false).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), 0);
    store.close().await;
    // A second process migrating the same database finds nothing to do either.
    let again = gs::store::Store::connect(&db.url).await.unwrap();
    assert_eq!(again.migrate().await.unwrap(), 0);
    assert_eq!(again.export().await.unwrap(), dump);
    again.close().await;
}

/// A challenge whose JSON does not parse is reported and left out; the rest loads.
async fn malformed_json_row(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    let dump = golden("running");
    store.import(&dump, false).await.unwrap();
    let bad = dump.tables.challenge[2].id;
    let update = match kind {
        Kind::MySql => format!("UPDATE challenge SET flags = '[{{\"broken\": ' WHERE id = {bad}"),
        _ => format!("UPDATE challenge SET flags = '[{{\"broken\": ' WHERE id = {bad}"),
    };
    match kind {
        // MariaDB guards JSON columns with a CHECK constraint; switch it off to plant the row.
        Kind::MySql => {
            db.raw(&["SET SESSION check_constraint_checks = 0", &update])
                .await
        }
        _ => db.raw(&[&update]).await,
    }
    let (tables, problems) = store.load_all().await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].table, "challenge");
    assert_eq!(problems[0].id, Some(bad));
    assert!(
        problems[0].message.contains("flags"),
        "{}",
        problems[0].message
    );
    let mut expected = dump.tables.clone();
    expected.challenge.retain(|c| c.id != bad);
    assert_eq!(tables, expected);
    let err = store.export().await.unwrap_err();
    assert!(err.to_string().contains(&format!("row id {bad}")), "{err}");
    store.close().await;
}

/// The reducer's writes land where `load_all` finds them.
async fn writes(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    let dump = golden("ended");
    store.import(&dump, false).await.unwrap();
    let mut want: Tables = dump.tables.clone();

    // A new user with a profile, then a second profile.
    let mut user: UserRow = want.user[3].clone();
    user.login_key = "github:42".into();
    user.auth_token = None;
    user.token = None;
    user.login_properties =
        serde_json::json!({"type": "github", "info": {"id": 42, "ü": [1.5, null]}});
    let p1 = UserProfileRow {
        timestamp_ms: 10,
        nickname: Some("猫".into()),
        ..Default::default()
    };
    let (uid, pid1) = store.insert_user(&user, &p1).await.unwrap();
    let p2 = UserProfileRow {
        timestamp_ms: 11,
        email: Some("a@b.c".into()),
        ..Default::default()
    };
    let pid2 = store.insert_profile_and_link(uid, &p2).await.unwrap();
    assert_ne!(pid1, pid2);
    user.id = uid;
    user.profile_id = Some(pid2);
    want.user_profile.push(UserProfileRow {
        id: pid1,
        user_id: uid,
        ..p1
    });
    want.user_profile.push(UserProfileRow {
        id: pid2,
        user_id: uid,
        ..p2
    });

    // Whole-row update, then last_feedback_ms.
    user.enabled = false;
    user.terms_agreed = true;
    user.group = "other".into();
    store.update_user(&user).await.unwrap();
    store.set_last_feedback(uid, 777).await.unwrap();
    user.last_feedback_ms = Some(777);
    want.user.push(user.clone());

    let fb = FeedbackRow {
        id: 0,
        user_id: uid,
        timestamp_ms: 778,
        challenge_key: "tutorial".into(),
        content: "hello".into(),
        checked: false,
    };
    let fid = store.insert_feedback(&fb).await.unwrap();
    want.feedback.push(FeedbackRow { id: fid, ..fb });

    let log = LogRow {
        id: 0,
        timestamp_ms: 9,
        level: "info".into(),
        process: "reducer".into(),
        module: "test".into(),
        message: "line".into(),
    };
    let lid = store.insert_log(&log).await.unwrap();
    want.log.push(LogRow { id: lid, ..log });

    let sub_id = want.submission[5].id;
    store
        .update_submission_overrides(sub_id, Some(50), None)
        .await
        .unwrap();
    want.submission[5].score_override_or_null = Some(50);
    want.submission[5].percentage_override_or_null = None;

    // Replace and delete the admin-edited tables.
    let mut ch: ChallengeRow = want.challenge[1].clone();
    ch.title = "Renamed".into();
    ch.flags =
        serde_json::json!([{"type": "static", "val": "flag{new}", "name": "", "base_score": 100}]);
    assert_eq!(store.upsert_challenge(&ch).await.unwrap(), ch.id);
    want.challenge[1] = ch;
    let gone = want.challenge.remove(0).id;
    store.delete_challenge(gone).await.unwrap();
    let err = store.delete_challenge(gone).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                table: "challenge",
                ..
            }
        ),
        "{err}"
    );

    let tid = want.trigger.pop().unwrap().id;
    store.delete_trigger(tid).await.unwrap();
    let gid = want.game_policy.pop().unwrap().id;
    store.delete_game_policy(gid).await.unwrap();
    let mut an = want.announcement[0].clone();
    an.title = "Changed".into();
    store.upsert_announcement(&an).await.unwrap();
    want.announcement[0] = an;
    let aid = want.announcement.pop().unwrap().id;
    store.delete_announcement(aid).await.unwrap();

    let missing = UserRow {
        id: 999_999,
        ..user
    };
    assert!(matches!(
        store.update_user(&missing).await,
        Err(StoreError::NotFound { .. })
    ));

    let (got, problems) = store.load_all().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(got, want);
    store.close().await;
}

/// An older database gets the `dynamic_flag` table from migration 3; its rows survive
/// a dump round trip, and a second row for the same user and flag is refused.
async fn dynamic_flag_table(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.store().await.close().await;
    db.raw(&[
        "DROP TABLE dynamic_flag",
        "DELETE FROM gs_migration WHERE version = 3",
    ])
    .await;
    let store = gs::store::Store::connect(&db.url).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), 1, "migration 3 ran");
    let mut dump = golden("running");
    let row = |id: i64, user_id: i64, flag_idx: i64| DynamicFlagRow {
        id,
        user_id,
        challenge_key: "misc_zip".into(),
        flag_idx,
        generator: "misc_zip/flag".into(),
        value: format!("flag{{dyn_{user_id}_{flag_idx}}}"),
        timestamp_ms: 1_790_000_000_123,
    };
    dump.tables.dynamic_flag = vec![row(1, 2, 0), row(2, 2, 1), row(3, 4, 0)];
    store.import(&dump, false).await.unwrap();
    assert_eq!(store.export().await.unwrap(), dump);
    let mut twice = dump.clone();
    twice.tables.dynamic_flag.push(row(9, 4, 0));
    assert!(
        store.import(&twice, true).await.is_err(),
        "one value per user and flag"
    );
    assert_eq!(store.export().await.unwrap(), dump, "nothing changed");
    store.close().await;
}

/// A batch's action ids go in with multi-row INSERTs (more than one statement's worth
/// here): every record is read back with its reply, and a repeated id fails the batch
/// without storing any of it.
async fn action_ids_recorded_in_bulk(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    let ids: Vec<String> = (0..300).map(|i| format!("w.{i}")).collect();
    let replies: Vec<String> = (0..300).map(|i| format!("{{\"n\":{i}}}")).collect();
    let records: Vec<(&str, &str)> = ids
        .iter()
        .map(String::as_str)
        .zip(replies.iter().map(String::as_str))
        .collect();
    let mut batch = store.write_batch().await.unwrap();
    batch.record_actions(5, &records).await.unwrap();
    batch.commit().await.unwrap();
    let mut got = store.committed_actions(0).await.unwrap();
    got.sort_by_key(|(id, _)| id[2..].parse::<u32>().unwrap());
    let want: Vec<(String, String)> = ids.iter().cloned().zip(replies.iter().cloned()).collect();
    assert_eq!(got, want);
    let mut again = store.write_batch().await.unwrap();
    let err = again
        .record_actions(6, &[("new.1", "{}"), ("w.7", "{}")])
        .await;
    assert!(err.is_err(), "a repeated action id is refused");
    again.rollback().await;
    assert_eq!(store.committed_actions(0).await.unwrap().len(), 300);
    store.close().await;
}

/// Settling action ids waits for a transaction still writing them and reports how it
/// ended (a commit whose reply was lost may still be finishing); the claims it makes to
/// find out leave nothing behind.
async fn settled_actions_wait_for_the_writer(kind: Kind) {
    use std::collections::HashSet;
    use std::time::Duration;
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    let mut done = store.write_batch().await.unwrap();
    done.record_action("a", 1, "{}").await.unwrap();
    done.commit().await.unwrap();
    for commits in [true, false] {
        let mut open = store.write_batch().await.unwrap();
        let id = if commits { "b" } else { "c" };
        open.record_action(id, 2, "{}").await.unwrap();
        let settling = tokio::spawn({
            let store = store.clone();
            let ids = ["a", id, "x"];
            async move { store.settled_actions(&ids).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !settling.is_finished(),
            "settled before the writer of {id} ended"
        );
        if commits {
            open.commit().await.unwrap();
        } else {
            open.rollback().await;
        }
        let settled = tokio::time::timeout(Duration::from_secs(10), settling)
            .await
            .expect("settled once the writer ended")
            .unwrap()
            .unwrap();
        let mut want: HashSet<String> = HashSet::from(["a".to_owned()]);
        if commits {
            want.insert(id.to_owned());
        }
        assert_eq!(settled, want);
    }
    let ids: Vec<String> = store
        .committed_actions(0)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["a", "b"], "the claims were rolled back");
    store.close().await;
}

/// A submission for `user_id` at `timestamp_ms`.
fn submission(user_id: i64, timestamp_ms: i64) -> SubmissionRow {
    SubmissionRow {
        id: 0,
        user_id,
        challenge_key: "tutorial".into(),
        flag: format!("flag{{try {timestamp_ms}}}"),
        timestamp_ms,
        score_override_or_null: None,
        percentage_override_or_null: (timestamp_ms % 3 == 0).then_some(50),
    }
}

/// A write batch's submissions (sent together at the end on SQLite) get the ids the
/// database gives, are stored exactly as returned, and vanish with a rollback; a row the
/// database refuses fails the flush and leaves nothing; SQLite never reuses the id of a
/// deleted last row.
async fn batch_submissions_get_the_database_ids(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    let dump = golden("ended");
    store.import(&dump, false).await.unwrap();
    let users: Vec<i64> = dump.tables.user.iter().map(|u| u.id).collect();
    let mut want = dump.tables.submission.clone();
    let mut last = max_id(&want, |r| r.id);

    // 40 rows (two statements on SQLite: 32 + 8) beside the batch's action records.
    let mut batch = store.write_batch().await.unwrap();
    for t in 0..40 {
        let row = submission(users[t as usize % users.len()], 1_000 + t);
        let id = batch.insert_submission(&row).await.unwrap();
        assert!(id > last, "id {id} after {last}");
        last = id;
        want.push(SubmissionRow { id, ..row });
    }
    batch.record_actions(7, &[("w.1", "{}")]).await.unwrap();
    batch.flush().await.unwrap();
    batch.commit().await.unwrap();
    let ids: Vec<i64> = want[want.len() - 40..].iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");

    // Rolled back: nothing of it stays.
    let mut batch = store.write_batch().await.unwrap();
    for t in 0..3 {
        batch
            .insert_submission(&submission(users[0], 2_000 + t))
            .await
            .unwrap();
    }
    batch.rollback().await;

    // The database refuses one row (no such user): the flush fails, the batch is rolled
    // back, and the next batch goes on.
    // (SQLite finds out at the flush, the others at the row's own INSERT.)
    let mut batch = store.write_batch().await.unwrap();
    let mut written = batch
        .insert_submission(&submission(users[1], 3_000))
        .await
        .map(drop);
    if written.is_ok() {
        written = batch
            .insert_submission(&submission(999_999, 3_001))
            .await
            .map(drop);
    }
    if written.is_ok() {
        written = batch.flush().await;
    }
    assert!(written.is_err(), "a submission of no user is refused");
    batch.rollback().await;

    let row = submission(users[2], 4_000);
    let id = store.insert_submission(&row).await.unwrap();
    assert!(id > last, "id {id} after {last}");
    want.push(SubmissionRow { id, ..row });
    let (got, problems) = store.load_all().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(got.submission, want);

    if kind == Kind::Sqlite {
        // AUTOINCREMENT: the id of a deleted last row is not given again.
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query("DELETE FROM submission WHERE id = ?")
            .bind(id)
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        let mut batch = store.write_batch().await.unwrap();
        let next = batch
            .insert_submission(&submission(users[0], 5_000))
            .await
            .unwrap();
        batch.commit().await.unwrap();
        assert_eq!(next, id + 1, "the deleted id {id} is skipped");
    }
    store.close().await;
}

/// The reducer's SQLite connections never checkpoint in a commit (two more fsyncs in a
/// player's wait): the database file stays as it was until `checkpoint` copies the WAL's
/// frames into it.
#[tokio::test]
async fn the_writer_checkpoints_only_when_asked() {
    use gs::store::{SqliteSync, Store};
    let db = TestDb::new(Kind::Sqlite).await;
    db.store().await.close().await;
    let file = std::path::PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    let size = || std::fs::metadata(&file).unwrap().len();
    let store = Store::connect_writer(&db.url, &Default::default(), SqliteSync::Normal)
        .await
        .unwrap();
    store.import(&golden("ended"), false).await.unwrap();
    store.checkpoint().await.unwrap();
    let before = size();
    // The reducer's way (an explicit transaction per batch), about 3 frames per commit:
    // past the 1,000 at which a commit checkpoints by default.
    for t in 0..700 {
        let mut batch = store.write_batch().await.unwrap();
        batch.insert_submission(&submission(1, t)).await.unwrap();
        batch.commit().await.unwrap();
    }
    assert_eq!(size(), before, "no commit wrote into the database file");
    let frames = store.checkpoint().await.unwrap();
    assert!(frames.in_wal > 1_000, "{frames:?}");
    assert_eq!(frames.copied, frames.in_wal, "{frames:?}");
    assert!(size() > before, "the checkpoint copied the new pages");
    store.close().await;
}

on_all_engines!(
    batch_submissions_get_the_database_ids,
    dynamic_flag_table,
    action_ids_recorded_in_bulk,
    settled_actions_wait_for_the_writer,
    golden_round_trip,
    import_refuses_non_empty,
    import_is_all_or_nothing,
    ids_after_import,
    migrate_twice,
    malformed_json_row,
    writes,
);
