//! Golden test of the HTTP layer: every `static` question of shared/golden asked over real
//! HTTP must equal the reference's answer; the `live` and `after_live` questions too, with
//! the stand-in reducer of tests/http_support applying the mutations.

mod common;
mod http_support;
mod store_support;

use common::{first_difference, golden_json, normalize, CONTESTS};
use http_support::{start, Setup};
use store_support::{Kind, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_answers_over_http_equal_the_reference() {
    let (mut equal, mut total) = (0, 0);
    let mut report = Vec::new();
    for contest in CONTESTS {
        let worker = start(Setup::contest(contest)).await;
        let answers = golden_json(&format!("{contest}.answers.json"));
        for q in answers["static"].as_array().expect("static list") {
            let endpoint = q["endpoint"].as_str().expect("endpoint");
            let token = q["auth_token"].as_str();
            let (status, answer) = worker.wish(endpoint, token, &q["body"]).await;
            total += 1;
            if status != 200 {
                report.push(format!("{contest} {endpoint}: HTTP {status}"));
                continue;
            }
            let expected = normalize(&q["answer"], false);
            match first_difference(&expected, &normalize(&answer, false), "") {
                None => equal += 1,
                Some(d) => report.push(format!("{contest} {endpoint} as {token:?}: {d}")),
            }
        }
    }
    println!("golden static answers over HTTP: {equal}/{total} equal");
    for line in report.iter().take(40) {
        println!("  {line}");
    }
    assert_eq!(equal, total, "{} answers differ", total - equal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_after_live_over_http_with_the_stand_in_reducer() {
    let (mut equal, mut total) = (0, 0);
    let mut report = Vec::new();
    for contest in CONTESTS {
        let worker = start(Setup::contest(contest)).await;
        let answers = golden_json(&format!("{contest}.answers.json"));
        for (list, live_times) in [("live", false), ("after_live", true)] {
            for q in answers[list].as_array().expect("list") {
                let endpoint = q["endpoint"].as_str().expect("endpoint");
                let token = q["auth_token"].as_str();
                let (status, answer) = worker.wish(endpoint, token, &q["body"]).await;
                total += 1;
                let expected = normalize(&q["answer"], live_times);
                match first_difference(&expected, &normalize(&answer, live_times), "") {
                    None if status == 200 => equal += 1,
                    None => report.push(format!("{contest} {list} {endpoint}: HTTP {status}")),
                    Some(d) => {
                        report.push(format!("{contest} {list} {endpoint} as {token:?}: {d}"))
                    }
                }
            }
        }
    }
    println!("golden live + after_live answers over HTTP: {equal}/{total} equal");
    for line in report.iter().take(40) {
        println!("  {line}");
    }
    assert_eq!(equal, total, "{} answers differ", total - equal);
}

/// The static answers of every contest loaded from a database of engine `kind`.
async fn static_answers_from(kind: Kind) {
    let (mut equal, mut total) = (0, 0);
    let mut report = Vec::new();
    for contest in CONTESTS {
        let db = TestDb::new(kind).await;
        let store = db.store().await;
        store
            .import(&store_support::golden(contest), false)
            .await
            .expect("import");
        let options = gs::state::GameOptions {
            admins: [1].into_iter().collect(),
        };
        let game = gs::store::load_game(&store, None, options)
            .await
            .expect("load");
        store.close().await;
        // The game as this engine loads it, served without a reducer.
        let worker = start(Setup {
            tables: None,
            env: Vec::new(),
            reducer: false,
        })
        .await;
        worker.shared.install(game, 1);
        let answers = golden_json(&format!("{contest}.answers.json"));
        for q in answers["static"].as_array().expect("static list") {
            let endpoint = q["endpoint"].as_str().expect("endpoint");
            let token = q["auth_token"].as_str();
            let (status, answer) = worker.wish(endpoint, token, &q["body"]).await;
            total += 1;
            let expected = normalize(&q["answer"], false);
            match first_difference(&expected, &normalize(&answer, false), "") {
                None if status == 200 => equal += 1,
                None => report.push(format!("{contest} {endpoint}: HTTP {status}")),
                Some(d) => report.push(format!("{contest} {endpoint} as {token:?}: {d}")),
            }
        }
        drop(worker);
        drop(db);
    }
    println!("golden static answers over HTTP from {kind:?}: {equal}/{total} equal");
    for line in report.iter().take(20) {
        println!("  {line}");
    }
    assert_eq!(equal, total, "{} answers differ", total - equal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_answers_over_http_from_mariadb() {
    static_answers_from(Kind::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_answers_over_http_from_postgresql() {
    static_answers_from(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_answers_over_http_from_sqlite() {
    static_answers_from(Kind::Sqlite).await;
}
