//! Bad rows are reported with their table and id and skipped; the rest of the contest loads.

use gs::demo::{generate, ContestShape};
use gs::state::{Game, GameOptions};
use serde_json::json;

#[test]
fn bad_rows_are_reported_and_skipped() {
    let mut tables = generate(&ContestShape {
        seed: 3,
        users: 20,
        submissions: 200,
        ..ContestShape::default()
    });
    let good = Game::build(tables.clone(), 2000, GameOptions::default());

    // A challenge whose flags are not a list, one with an unknown flag type, a submission
    // of a user who does not exist, and a trigger reusing a tick.
    let mut malformed = tables.challenge[0].clone();
    malformed.id = 100;
    malformed.key = "malformed".into();
    malformed.flags = json!("{not json");
    let mut unknown_type = tables.challenge[0].clone();
    unknown_type.id = 101;
    unknown_type.key = "unknown_type".into();
    unknown_type.flags =
        json!([{"name": "", "type": "quantum", "val": "flag{x}", "base_score": 1}]);
    tables.challenge.push(malformed);
    tables.challenge.push(unknown_type);
    let mut orphan = tables.submission[0].clone();
    orphan.id = 10_000;
    orphan.user_id = 999_999;
    tables.submission.push(orphan);
    let mut dup_tick = tables.trigger[1].clone();
    dup_tick.id = 50;
    dup_tick.timestamp_s += 1;
    tables.trigger.push(dup_tick);

    let game = Game::build(tables, 2000, GameOptions::default());
    let found: Vec<(&str, i64)> = game
        .problems
        .iter()
        .map(|p| (p.table, p.id.unwrap_or(0)))
        .collect();
    assert!(found.contains(&("challenge", 100)), "{:?}", game.problems);
    assert!(found.contains(&("challenge", 101)), "{:?}", game.problems);
    assert!(
        found.contains(&("submission", 10_000)),
        "{:?}",
        game.problems
    );
    assert!(found.contains(&("trigger", 50)), "{:?}", game.problems);
    assert_eq!(found.len(), 4, "{:?}", game.problems);
    let unknown = game
        .problems
        .iter()
        .find(|p| p.id == Some(101))
        .map(|p| p.message.clone());
    assert!(unknown.is_some_and(|m| m.contains("unknown flag type")));

    // Everything else is exactly as without the bad rows.
    assert_eq!(game.challenges.len(), good.challenges.len());
    for b in gs::rules::BOARDS {
        assert_eq!(
            game.answer_board(None, b.key, 0),
            good.answer_board(None, b.key, 0),
            "board {}",
            b.key
        );
    }
}
