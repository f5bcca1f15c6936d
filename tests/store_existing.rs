//! An existing Guiding Star MySQL database (tables made by the original backend, its own
//! constraint names and INT ids) is adopted as it is: migrate keeps it, and it loads.

mod store_support;

use sqlx::{Connection, Row};
use store_support::{golden, Kind, TestDb};

/// The tables as the original deployment's SQLAlchemy models create them on MySQL.
const ORIGINAL_DDL: &[&str] = &[
    "CREATE TABLE `trigger` (id INTEGER NOT NULL AUTO_INCREMENT, tick INTEGER NOT NULL, timestamp_s BIGINT NOT NULL, name VARCHAR(64) NOT NULL, PRIMARY KEY (id), UNIQUE (tick), UNIQUE (timestamp_s))",
    "CREATE TABLE game_policy (id INTEGER NOT NULL AUTO_INCREMENT, effective_after INTEGER NOT NULL, can_view_problem BOOL NOT NULL, can_submit_flag BOOL NOT NULL, can_submit_writeup BOOL NOT NULL, is_submission_deducted BOOL NOT NULL, PRIMARY KEY (id), UNIQUE (effective_after))",
    "CREATE TABLE challenge (id INTEGER NOT NULL AUTO_INCREMENT, effective_after INTEGER NOT NULL, `key` VARCHAR(32) NOT NULL, title VARCHAR(64) NOT NULL, category VARCHAR(32) NOT NULL, sorting_index INTEGER NOT NULL, desc_template TEXT NOT NULL, chall_metadata JSON, actions JSON NOT NULL, flags JSON NOT NULL, PRIMARY KEY (id), UNIQUE (`key`))",
    "CREATE TABLE `user` (id INTEGER NOT NULL AUTO_INCREMENT, login_key VARCHAR(192) NOT NULL, login_properties JSON NOT NULL, timestamp_ms BIGINT NOT NULL, enabled BOOL NOT NULL, `group` VARCHAR(32) NOT NULL, token VARCHAR(512), auth_token VARCHAR(128), profile_id INTEGER, terms_agreed BOOL NOT NULL, last_feedback_ms BIGINT, PRIMARY KEY (id), UNIQUE (login_key))",
    "CREATE UNIQUE INDEX ix_user_auth_token ON `user` (auth_token)",
    "CREATE TABLE user_profile (id INTEGER NOT NULL AUTO_INCREMENT, user_id INTEGER NOT NULL, timestamp_ms BIGINT NOT NULL, nickname VARCHAR(128), qq VARCHAR(128), tel VARCHAR(128), email VARCHAR(128), stuid VARCHAR(128), comment VARCHAR(128), PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES `user` (id))",
    "ALTER TABLE `user` ADD FOREIGN KEY(profile_id) REFERENCES user_profile (id)",
    "CREATE TABLE submission (id INTEGER NOT NULL AUTO_INCREMENT, user_id INTEGER NOT NULL, challenge_key VARCHAR(32) NOT NULL, flag VARCHAR(128) NOT NULL, timestamp_ms BIGINT NOT NULL, score_override_or_null INTEGER, percentage_override_or_null INTEGER, PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES `user` (id))",
    "CREATE TABLE announcement (id INTEGER NOT NULL AUTO_INCREMENT, timestamp_s INTEGER NOT NULL, title TEXT NOT NULL, content_template TEXT NOT NULL, PRIMARY KEY (id))",
    "CREATE TABLE feedback (id INTEGER NOT NULL AUTO_INCREMENT, user_id INTEGER NOT NULL, timestamp_ms BIGINT NOT NULL, challenge_key VARCHAR(32) NOT NULL, content TEXT NOT NULL, checked BOOL NOT NULL, PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES `user` (id))",
    "CREATE TABLE log (id INTEGER NOT NULL AUTO_INCREMENT, timestamp_ms BIGINT NOT NULL, level VARCHAR(32) NOT NULL, process VARCHAR(64) NOT NULL, module VARCHAR(96) NOT NULL, message TEXT NOT NULL, PRIMARY KEY (id))",
    "INSERT INTO `user` (id, login_key, login_properties, timestamp_ms, enabled, `group`, token, auth_token, profile_id, terms_agreed, last_feedback_ms) VALUES (1, 'manual:a', '{\"type\": \"manual\"}', 5, 1, 'staff', NULL, 'at', NULL, 1, NULL)",
    "INSERT INTO user_profile (id, user_id, timestamp_ms, nickname) VALUES (1, 1, 6, 'Alice')",
    "UPDATE `user` SET profile_id = 1 WHERE id = 1",
    "INSERT INTO submission (user_id, challenge_key, flag, timestamp_ms) VALUES (1, 'tutorial', 'flag{x}', 7)",
];

#[tokio::test]
async fn original_mysql_database_is_adopted() {
    let db = TestDb::new(Kind::MySql).await;
    db.raw(ORIGINAL_DDL).await;
    let store = gs::store::Store::connect(&db.url).await.unwrap();
    assert_eq!(
        store.migrate().await.unwrap(),
        gs::store::LATEST_VERSION as usize
    );
    assert_eq!(store.migrate().await.unwrap(), 0);

    let (tables, problems) = store.load_all().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(tables.user.len(), 1);
    assert_eq!(tables.user[0].profile_id, Some(1));
    assert!(tables.user[0].enabled && tables.user[0].terms_agreed);
    assert_eq!(tables.user_profile[0].nickname.as_deref(), Some("Alice"));
    assert_eq!(tables.submission[0].flag, "flag{x}");

    // The cycle's foreign key was found under its original name, not added twice.
    let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    let fks: i64 = sqlx::query(
        "SELECT COUNT(*) FROM information_schema.key_column_usage \
         WHERE table_schema = DATABASE() AND table_name = 'user' \
           AND column_name = 'profile_id' AND referenced_table_name IS NOT NULL",
    )
    .fetch_one(&mut c)
    .await
    .unwrap()
    .get(0);
    assert_eq!(fks, 1);

    // And the whole store works on it.
    let dump = golden("running");
    store.import(&dump, true).await.unwrap();
    assert_eq!(store.export().await.unwrap(), dump);
    store.close().await;
}

/// SQLite runs in WAL mode with foreign keys on.
#[tokio::test]
async fn sqlite_is_wal_with_foreign_keys() {
    let db = TestDb::new(Kind::Sqlite).await;
    let store = db.store().await;
    let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut c)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    // A submission of a user that does not exist is refused by the foreign key.
    let sub = gs::rows::SubmissionRow {
        id: 0,
        user_id: 42,
        challenge_key: "k".into(),
        flag: "f".into(),
        timestamp_ms: 1,
        score_override_or_null: None,
        percentage_override_or_null: None,
    };
    let err = store.insert_submission(&sub).await.unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    store.close().await;
}
