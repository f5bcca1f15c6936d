//! Dynamic flags and generated attachments through the real reducer and a worker, with the
//! example generators of `examples/generators/` (Python with hashlib, a zip writer, a
//! shell script through the neutral protocol) and test-only slow and failing ones.

mod common;
mod dynamic_support;
mod http_support;

use dynamic_support::{calls, prepare, shell_flag, token_of, zip_entry, zip_flag, Cluster};
use gs::state::actions::DYNAMIC_FLAG_UNAVAILABLE;
use gs::store::Store;
use http_support::auth_token;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zip_attachment_holds_the_players_flag_and_a_restart_runs_no_generator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let attachments = dir.path().join("attachments");
    let tables = prepare(&attachments, 0);
    let (tok2, tok4) = (token_of(&tables, 2), token_of(&tables, 4));
    let cluster = Cluster::start(dir.path(), Some(tables), &[]).await;

    // Player 2 downloads the zip, reads the flag out of it and submits it: correct.
    let (status, zip) = cluster
        .download(&auth_token(2), "zipchal", "chall.zip")
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    let flag2 = zip_entry(&zip, "flag.txt").trim().to_owned();
    assert_eq!(flag2, zip_flag(&tok2), "the zip holds player 2's own flag");
    assert!(zip_entry(&zip, "README.txt").contains("Title of zipchal"));
    // Cached as the reference does: a link under the module's _cache folder.
    let cache = attachments.join("zipchal/gen/_cache/2.bin");
    assert!(std::fs::symlink_metadata(&cache)
        .expect("cache link")
        .file_type()
        .is_symlink());
    // The shell script through the neutral protocol, then player 2's own zip flag: both
    // correct. Another player submitting either is wrong.
    assert_eq!(
        cluster
            .submit(&auth_token(4), "shchal", &shell_flag(&tok4))
            .await,
        None
    );
    assert_eq!(
        cluster.submit(&auth_token(2), "zipchal", &flag2).await,
        None
    );
    assert_eq!(
        cluster
            .submit(&auth_token(4), "zipchal", &flag2)
            .await
            .as_deref(),
        Some("Flag错误")
    );
    assert_eq!(
        cluster
            .submit(&auth_token(6), "shchal", &shell_flag(&tok4))
            .await
            .as_deref(),
        Some("Flag错误")
    );

    // Eight concurrent first downloads by one player generate once, all the same bytes.
    let auth8 = auth_token(8);
    let downloads = (0..8).map(|_| cluster.download(&auth8, "zipchal", "chall.zip"));
    let answers = futures::future::join_all(downloads).await;
    for (s, body) in &answers {
        assert_eq!(*s, 200, "{}", String::from_utf8_lossy(body));
        assert!(*body == answers[0].1, "the same file for every download");
    }
    assert_eq!(
        calls(&attachments, "zipchal/gen")
            .iter()
            .filter(|&&u| u == 8)
            .count(),
        1,
        "gen.py ran once for player 8"
    );

    let flag8 = zip_entry(&answers[0].1, "flag.txt").trim().to_owned();
    assert_eq!(cluster.submit(&auth8, "zipchal", &flag8).await, None);
    let flag_runs = calls(&attachments, "zipchal/flag").len();
    let gen_runs = calls(&attachments, "zipchal/gen").len();
    cluster.stop().await;

    // Restart with every generator broken: the rebuild needs none, and judges the same.
    for folder in ["zipchal/flag", "zipchal/gen", "shchal/flag"] {
        let d = attachments.join(folder);
        for f in ["flag.py", "gen.py", "flag"] {
            if d.join(f).exists() {
                std::fs::write(d.join(f), "raise SystemExit('must not run')\n").expect("break");
            }
        }
    }
    let cluster = Cluster::start(dir.path(), None, &[]).await;
    assert_eq!(
        cluster
            .submit(&auth_token(2), "zipchal", &flag2)
            .await
            .as_deref(),
        Some("已经提交过此Flag"),
        "player 2 still passed zipchal after the rebuild"
    );
    assert_eq!(
        cluster
            .submit(&auth_token(8), "zipchal", &flag8)
            .await
            .as_deref(),
        Some("已经提交过此Flag")
    );
    let (status, again) = cluster
        .download(&auth_token(2), "zipchal", "chall.zip")
        .await;
    assert_eq!((status, again), (200, zip), "the cached file is served");
    assert_eq!(calls(&attachments, "zipchal/flag").len(), flag_runs);
    assert_eq!(calls(&attachments, "zipchal/gen").len(), gen_runs);
    let store = Store::connect(&cluster.config.database.url)
        .await
        .expect("db");
    let dump = store.export().await.expect("export");
    let rows = &dump.tables.dynamic_flag;
    assert!(rows
        .iter()
        .any(|r| r.user_id == 2 && r.challenge_key == "zipchal" && r.value == flag2));
    let mut keys: Vec<_> = rows
        .iter()
        .map(|r| (r.user_id, r.challenge_key.clone(), r.flag_idx))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), rows.len(), "one row per user and flag");
    store.close().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_generator_fails_for_its_player_only_and_a_fix_is_picked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let attachments = dir.path().join("attachments");
    let tables = prepare(&attachments, 0);
    let cluster = Cluster::start(
        dir.path(),
        Some(tables),
        &[("GS_GENERATORS__RETRY_AFTER_S", "2")],
    )
    .await;

    // The submission is kept, judged wrong, and the player is told why.
    assert_eq!(
        cluster
            .submit(&auth_token(6), "failchal", "flag{guess}")
            .await
            .as_deref(),
        Some(DYNAMIC_FLAG_UNAVAILABLE)
    );
    // Others are unaffected.
    let tok4 = {
        let store = Store::connect(&cluster.config.database.url)
            .await
            .expect("db");
        let dump = store.export().await.expect("export");
        store.close().await;
        assert!(
            dump.tables
                .submission
                .iter()
                .any(|s| s.user_id == 6 && s.flag == "flag{guess}"),
            "the submission was stored"
        );
        token_of(&dump.tables, 4)
    };
    assert_eq!(
        cluster
            .submit(&auth_token(4), "zipchal", &zip_flag(&tok4))
            .await,
        None
    );
    // The attachment that needs the flag: 附件暂时不可用, and no new run within the retry delay.
    let (status, body) = cluster
        .download(&auth_token(8), "failchal", "fail.zip")
        .await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (500, "附件暂时不可用")
    );
    let runs = calls(&attachments, "failchal/flag").len();
    let (status, _) = cluster
        .download(&auth_token(8), "failchal", "fail.zip")
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        calls(&attachments, "failchal/flag").len(),
        runs,
        "not retried at once"
    );

    // Fixed: after the retry delay the flag and the attachment are made.
    std::fs::write(attachments.join("failchal/flag/fixed"), "").expect("fix");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, zip) = cluster
        .download(&auth_token(8), "failchal", "fail.zip")
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(zip_entry(&zip, "flag.txt").trim(), "flag{fixed_8}");
    assert_eq!(
        cluster
            .submit(&auth_token(8), "failchal", "flag{fixed_8}")
            .await,
        None
    );
    cluster.stop().await;
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * 0.99).round() as usize]
}

/// The static flag of the golden `tutorial` challenge.
const TUTORIAL_FLAG: &str = "flag{tutorial_static_0_474354}";

/// The bar: a generator sleeping 30 s delays its own player only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thirty_second_generator_delays_only_its_player() {
    const SLOW_S: u64 = 30;
    let dir = tempfile::tempdir().expect("tempdir");
    let attachments = dir.path().join("attachments");
    let tables = prepare(&attachments, SLOW_S);
    let uids = [4, 6, 8];
    let cluster = std::sync::Arc::new(
        Cluster::start(
            dir.path(),
            Some(tables),
            &[("GS_GENERATORS__TIMEOUT_S", "90")],
        )
        .await,
    );
    let started = Instant::now();
    let slow = {
        let c = cluster.clone();
        tokio::spawn(async move {
            let answer = c.submit(&auth_token(2), "slowchal", "flag{slow_2}").await;
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latencies = Vec::new();
    let mut committed = 0;
    let mut last_submit = std::collections::HashMap::new();
    // While it sleeps: other players read and submit; each submission is committed.
    while !slow.is_finished() {
        for uid in &uids {
            let t = Instant::now();
            let (status, v) = cluster
                .wish("game", Some(&auth_token(*uid)), &json!({}))
                .await;
            latencies.push(t.elapsed());
            assert_eq!(
                (status, &v["error"]),
                (200, &serde_json::Value::Null),
                "{v}"
            );
            // A duplicate counts as wrong for the 10 s rate limit: space each user's.
            let due = last_submit
                .get(uid)
                .is_none_or(|t: &Instant| t.elapsed() > Duration::from_millis(10_500));
            if due {
                last_submit.insert(*uid, Instant::now());
                let t = Instant::now();
                let answer = cluster
                    .submit(&auth_token(*uid), "tutorial", TUTORIAL_FLAG)
                    .await;
                latencies.push(t.elapsed());
                assert!(
                    answer.is_none() || answer.as_deref() == Some("已经提交过此Flag"),
                    "{answer:?}"
                );
                committed += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (answer, took) = slow.await.expect("slow task");
    assert_eq!(
        answer, None,
        "the waiting player is judged on the real value"
    );
    assert!(took >= Duration::from_secs(SLOW_S), "{took:?}");
    let p99 = p99(latencies.clone());
    println!(
        "during the {SLOW_S} s generator: {} requests by other players, p99 {p99:?}, {committed} submissions committed",
        latencies.len()
    );
    assert!(committed >= uids.len() * 2, "the reducer kept committing");
    assert!(p99 <= Duration::from_millis(50), "p99 {p99:?}");
    match std::sync::Arc::try_unwrap(cluster) {
        Ok(c) => c.stop().await,
        Err(_) => panic!("cluster still shared"),
    }
}

/// A value stored after the player's submissions (the generator failed at first) judges
/// them again live, giving exactly what a full rebuild gives; `correct_flag` (the accessor
/// the police uses) returns the stored value.
#[test]
fn a_late_value_rejudges_live_as_a_rebuild_would() {
    use gs::rows::{DynamicFlagRow, SubmissionRow};
    use gs::state::{Change, Game, GameOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tables = prepare(dir.path(), 0);
    let next_id = tables.submission.iter().map(|s| s.id).max().unwrap_or(0) + 1;
    let ts = tables
        .submission
        .iter()
        .map(|s| s.timestamp_ms)
        .max()
        .unwrap_or(0)
        + 1;
    tables.submission.push(SubmissionRow {
        id: next_id,
        user_id: 2,
        challenge_key: "zipchal".into(),
        flag: "flag{late}".into(),
        timestamp_ms: ts,
        score_override_or_null: None,
        percentage_override_or_null: None,
    });
    let tick = 2000;
    let options = || GameOptions {
        admins: [1].into_iter().collect(),
    };
    let mut live = Game::build(tables.clone(), tick, options());
    assert!(live.problems.is_empty(), "{:?}", live.problems);
    assert_eq!(
        live.submission_verdict(next_id),
        Some(DYNAMIC_FLAG_UNAVAILABLE)
    );
    let before = live.user_by_id(2).expect("user").tot_score;
    let row = DynamicFlagRow {
        id: 1,
        user_id: 2,
        challenge_key: "zipchal".into(),
        flag_idx: 0,
        generator: "zipchal/flag".into(),
        value: "flag{late}".into(),
        timestamp_ms: ts + 5,
    };
    Change::SetDynamicFlag { row: row.clone() }
        .apply(&mut live)
        .expect("applies");
    tables.dynamic_flag.push(row);
    let rebuilt = Game::build(tables, tick, options());
    assert_eq!(live.submission_verdict(next_id), None, "now correct");
    let after = live.user_by_id(2).expect("user").tot_score;
    assert!(after > before, "{before} -> {after}");
    let totals = |g: &Game| {
        g.users
            .iter()
            .map(|u| (u.id(), u.tot_score))
            .collect::<Vec<_>>()
    };
    assert_eq!(totals(&live), totals(&rebuilt));
    assert_eq!(
        live.answer_board(None, "score_all", 0),
        rebuilt.answer_board(None, "score_all", 0)
    );
    let user = live.user_idx(2).expect("user");
    let f = gs::state::user::FlagRef {
        chall: live.chall_idx("zipchal").expect("chall"),
        flag: 0,
    };
    assert_eq!(live.correct_flag(user, f), "flag{late}");
    // Another user has no value: nothing can match for them.
    let other = live.user_idx(4).expect("user");
    assert_eq!(
        live.correct_flag(other, f),
        gs::state::flag::IMPOSSIBLE_FLAG
    );
}

/// `gs attachments generate` against a running reducer: every enabled player's zip once,
/// with a summary line; downloads are then served from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gs_attachments_generate_makes_every_players_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let attachments = dir.path().join("attachments");
    let tables = prepare(&attachments, 0);
    let enabled: Vec<i64> = tables
        .user
        .iter()
        .filter(|u| u.enabled)
        .map(|u| u.id)
        .collect();
    let cluster = Cluster::start(dir.path(), Some(tables), &[]).await;
    let config_file = dir.path().join("gs.toml");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gs"))
            .args(["attachments", "generate", "--config"])
            .arg(config_file)
            .args(["--challenge", "zipchal"])
            .output()
            .expect("gs runs")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = enabled.len();
    assert!(
        stdout.contains(&format!("{n} items, {n} generated, 0 failed")),
        "{stdout}"
    );
    let mut made = calls(&attachments, "zipchal/gen");
    made.sort();
    assert_eq!(made, enabled, "one gen.py run per enabled player");
    for uid in &enabled {
        let link = attachments.join(format!("zipchal/gen/_cache/{uid}.bin"));
        assert!(link.is_file(), "{}", link.display());
    }
    // The players' downloads are served from the cache: no new run.
    let (status, zip) = cluster
        .download(&auth_token(2), "zipchal", "chall.zip")
        .await;
    assert_eq!(status, 200);
    assert!(zip_entry(&zip, "flag.txt").starts_with("flag{zip_"));
    assert_eq!(calls(&attachments, "zipchal/gen").len(), n);
    cluster.stop().await;
}
