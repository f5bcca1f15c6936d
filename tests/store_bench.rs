//! Load-time measurement: 1,000,000 submissions and 20,000 users in SQLite, loaded by
//! `load_all`. Ignored by default; run in release mode:
//! `cargo nextest run --release --run-ignored only --test store_bench --no-capture`.

use std::time::Instant;

use gs::rows::{Dump, SubmissionRow, Tables, UserProfileRow, UserRow};
use gs::store::Store;

const USERS: i64 = 20_000;
const SUBMISSIONS: i64 = 1_000_000;

/// A contest of the target size, with realistic string lengths.
fn big_dump() -> Dump {
    let mut t = Tables::default();
    for id in 1..=USERS {
        t.user.push(UserRow {
            id,
            login_key: format!("iaaa:{:010}", id),
            login_properties: serde_json::json!({"type": "iaaa", "info": {"identityId": id, "name": "x"}}),
            timestamp_ms: 1_700_000_000_000 + id,
            enabled: true,
            group: "pku".into(),
            token: Some(format!("{id}:token-token-token-token-token-token")),
            auth_token: Some(format!("{id}_authtoken-0000000000000000000000000000000000")),
            profile_id: Some(id),
            terms_agreed: true,
            last_feedback_ms: None,
        });
        t.user_profile.push(UserProfileRow {
            id,
            user_id: id,
            timestamp_ms: 1_700_000_000_000 + id,
            nickname: Some(format!("player {id}")),
            qq: Some("10001".into()),
            tel: None,
            email: Some(format!("u{id}@example.com")),
            stuid: Some(format!("{:010}", id)),
            comment: None,
        });
    }
    for id in 1..=SUBMISSIONS {
        t.submission.push(SubmissionRow {
            id,
            user_id: 1 + (id * 7919) % USERS,
            challenge_key: format!("chall_{}", id % 40),
            flag: format!("flag{{wrong_{:016x}}}", id.wrapping_mul(0x9E37_79B9)),
            timestamp_ms: 1_700_000_000_000 + id * 10,
            score_override_or_null: None,
            percentage_override_or_null: None,
        });
    }
    Dump { tables: t }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes a while; run in release mode to measure"]
async fn load_one_million_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("big.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let dump = big_dump();
    let started = Instant::now();
    store.import(&dump, false).await.unwrap();
    eprintln!("import: {:?}", started.elapsed());
    drop(dump);
    store.close().await;

    // A fresh connection, as at start-up.
    let store = Store::connect(&url).await.unwrap();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let (tables, problems) = store.load_all().await.unwrap();
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        assert!(problems.is_empty());
        assert_eq!(tables.submission.len() as i64, SUBMISSIONS);
        assert_eq!(tables.user.len() as i64, USERS);
        eprintln!("load_all: {secs:.3} s");
    }
    eprintln!("load_all best of 3: {best:.3} s");
}
