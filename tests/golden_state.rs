//! Golden test of the state layer: every `static` question of shared/golden answered by
//! the rebuilt state must equal the reference implementation's recorded answer.

mod common;

use common::{first_difference, golden_json, normalize, CONTESTS};
use gs::rows::Dump;
use gs::state::trigger::Timeline;
use gs::state::{Game, GameOptions};
use gs::store::Store;
use serde_json::Value;

/// The answer of the state layer to one golden question.
fn ask(game: &Game, endpoint: &str, auth_token: Option<&str>, now_s: i64) -> Value {
    let viewer = auth_token
        .and_then(|t| game.user_by_auth_token(t))
        .and_then(|u| game.user_idx(u.id()));
    let (name, arg) = endpoint.split_once('/').unwrap_or((endpoint, ""));
    match name {
        "game_info" => {
            serde_json::to_value(game.answer_game_info(viewer, true, now_s)).expect("serializes")
        }
        "announcements" => game.answer_announcements(viewer),
        "triggers" => game.answer_triggers(),
        "game" => serde_json::to_value(game.answer_game(viewer)).expect("serializes"),
        "challenge" => game.answer_challenge(viewer, arg),
        "get_touched_users" => game.answer_touched_users(viewer, arg),
        "board" => (*game.answer_board(viewer, arg, now_s)).clone(),
        "my_submissions" => game.answer_my_submissions(viewer, now_s),
        "submissions" => match arg.parse::<i64>() {
            Ok(uid) => game.answer_submissions_of(uid, now_s),
            Err(_) => panic!("bad uid in {endpoint}"),
        },
        other => panic!("no state answer for endpoint {other}"),
    }
}

/// Builds a contest's state as the servers do: the golden dump imported into a fresh
/// SQLite database, then loaded and rebuilt at the current tick.
pub fn load_contest(name: &str) -> Game {
    let dump: Dump =
        serde_json::from_value(golden_json(&format!("{name}.contest.json"))).expect("dump parses");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("golden.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let game = runtime.block_on(async {
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        store.import(&dump, false).await.expect("import");
        let options = GameOptions {
            admins: [1].into_iter().collect(),
        };
        let game = gs::store::load_game(&store, None, options)
            .await
            .expect("load");
        store.close().await;
        game
    });
    let expected_tick = Timeline::new(dump.tables.trigger.clone()).tick_at(now_ms() / 1000);
    assert_eq!(game.cur_tick, expected_tick);
    assert!(
        game.problems.is_empty(),
        "golden dump has bad rows: {:?}",
        game.problems
    );
    game
}

#[test]
fn static_answers_equal_the_reference() {
    let now_s = gs::clock::now_s();
    let mut report = Vec::new();
    let (mut equal, mut total) = (0, 0);
    for contest in CONTESTS {
        let game = load_contest(contest);
        let answers = golden_json(&format!("{contest}.answers.json"));
        for q in answers["static"].as_array().expect("static list") {
            let endpoint = q["endpoint"].as_str().expect("endpoint");
            let token = q["auth_token"].as_str();
            let expected = normalize(&q["answer"], false);
            let actual = normalize(&ask(&game, endpoint, token, now_s), false);
            total += 1;
            match first_difference(&expected, &actual, "") {
                None => equal += 1,
                Some(d) => report.push(format!("{contest} {endpoint} as {token:?}: {d}")),
            }
        }
    }
    println!("golden static answers: {equal}/{total} equal");
    for line in report
        .iter()
        .filter(|l| {
            std::env::var("GOLDEN_FILTER").map_or(true, |f| !f.split(",").any(|x| l.contains(x)))
        })
        .take(40)
    {
        println!("  {line}");
    }
    assert_eq!(
        equal,
        total,
        "{} answers differ from the reference",
        total - equal
    );
}

use gs::clock::now_ms;

/// Plays one mutating golden question against the state as worker and reducer would.
fn act(game: &mut Game, endpoint: &str, token: Option<&str>, body: &Value) -> Value {
    let ok = serde_json::json!({"error": null});
    let viewer = token
        .and_then(|t| game.user_by_auth_token(t))
        .and_then(|u| game.user_idx(u.id()));
    let now = now_ms();
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    match endpoint {
        "submit_flag" => {
            let (key, flag) = (text("challenge_key"), text("flag"));
            let ui = match game.precheck_submit_flag(viewer, &key, &flag, now) {
                Ok(ui) => ui,
                Err(refusal) => return refusal,
            };
            let uid = game.users[ui as usize].id();
            let new = match game.reduce_submit_flag(uid, &key, &flag, now) {
                Ok(n) => n,
                Err(msg) => return gs::state::answers::error_answer("REDUCER_ERROR", msg),
            };
            let id = game.submissions.last().map_or(1, |s| s.id + 1);
            game.apply_submission(new.into_row(id)).expect("applies");
            match game.submission_verdict(id) {
                None => ok,
                Some(msg) => gs::state::answers::error_answer("REDUCER_ERROR", msg),
            }
        }
        "submit_feedback" => {
            let ui = match game.precheck_feedback(
                viewer,
                &text("challenge_key"),
                &text("feedback"),
                now,
            ) {
                Ok(ui) => ui,
                Err(refusal) => return refusal,
            };
            let mut row = game.users[ui as usize].row.clone();
            row.last_feedback_ms = Some(now);
            game.upsert_user(row, None);
            ok
        }
        "agree_term" => {
            let Some(ui) = viewer else {
                return gs::state::answers::error_answer("NO_USER", "未登录");
            };
            let mut row = game.users[ui as usize].row.clone();
            row.terms_agreed = true;
            game.upsert_user(row, None);
            ok
        }
        other => panic!("no live action {other}"),
    }
}

#[test]
fn live_actions_and_boards_after_them_equal_the_reference() {
    let (mut equal, mut total) = (0, 0);
    let mut report = Vec::new();
    for contest in CONTESTS {
        let mut game = load_contest(contest);
        let answers = golden_json(&format!("{contest}.answers.json"));
        for q in answers["live"].as_array().expect("live list") {
            let endpoint = q["endpoint"].as_str().expect("endpoint");
            let token = q["auth_token"].as_str();
            let expected = normalize(&q["answer"], false);
            let actual = normalize(&act(&mut game, endpoint, token, &q["body"]), false);
            total += 1;
            match first_difference(&expected, &actual, "") {
                None => equal += 1,
                Some(d) => report.push(format!("{contest} live {endpoint} as {token:?}: {d}")),
            }
        }
        let now_s = now_ms() / 1000;
        for q in answers["after_live"].as_array().expect("after_live list") {
            let endpoint = q["endpoint"].as_str().expect("endpoint");
            let token = q["auth_token"].as_str();
            let expected = normalize(&q["answer"], true);
            let actual = normalize(&ask(&game, endpoint, token, now_s), true);
            total += 1;
            match first_difference(&expected, &actual, "") {
                None => equal += 1,
                Some(d) => report.push(format!("{contest} after_live {endpoint}: {d}")),
            }
        }
    }
    println!("golden live + after_live answers: {equal}/{total} equal");
    for line in &report {
        println!("  {line}");
    }
    assert_eq!(
        equal,
        total,
        "{} answers differ from the reference",
        total - equal
    );
}

/// Every object's keys in document order, depth first, with their paths.
fn key_order(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                out.push(format!("{path}.{k}"));
                key_order(child, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                key_order(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn game_answers_keep_the_reference_key_order() {
    // `game` and `game_info` are serialized straight from the game state: their text
    // must list the keys in the order the reference's JSON does, not just hold the same
    // values.
    let mut checked = 0;
    for contest in CONTESTS {
        let game = load_contest(contest);
        let answers = golden_json(&format!("{contest}.answers.json"));
        for q in answers["static"].as_array().expect("static list") {
            let endpoint = q["endpoint"].as_str().expect("endpoint");
            if endpoint != "game" && endpoint != "game_info" {
                continue;
            }
            let token = q["auth_token"].as_str();
            let text = serde_json::to_string(&ask(&game, endpoint, token, 0)).expect("text");
            let ours: Value = serde_json::from_str(&text).expect("JSON");
            let (mut expected, mut actual) = (Vec::new(), Vec::new());
            key_order(&q["answer"], "", &mut expected);
            key_order(&ours, "", &mut actual);
            assert_eq!(actual, expected, "{contest} {endpoint} as {token:?}");
            checked += 1;
        }
    }
    assert!(checked > 0, "the golden contests ask `game`");
}
