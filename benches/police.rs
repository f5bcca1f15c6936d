//! Benchmark of the police: checking one wrong submission against the flag-text index at
//! 20,000 users with 40 per-user flags each (800,000 indexed values).
//!
//! Run: `cargo bench --bench police`

use criterion::{criterion_group, criterion_main, Criterion};
use gs::demo::{generate, ContestShape};
use gs::rows::SubmissionRow;
use gs::state::flag::NoDynamicFlags;
use gs::state::police::{Finding, FlagIndex};
use gs::state::{Game, GameOptions};
use serde_json::json;
use std::time::Instant;

const USERS: usize = 20_000;
const PER_USER_FLAGS: usize = 40;

/// 20,000 users; 40 challenges of one per-user flag each (leet, partitioned, wordlist).
fn contest() -> Game {
    let mut tables = generate(&ContestShape {
        seed: 11,
        users: USERS,
        submissions: 100_000,
        ..ContestShape::default()
    });
    let template = tables.challenge[0].clone();
    tables.challenge.clear();
    for i in 0..PER_USER_FLAGS {
        let key = format!("pc_{i}");
        let flag = match i % 3 {
            0 => json!({"name": "", "type": "leet", "base_score": 100,
                "val": format!("flag{{this_is_a_leetable_flag_for_police_bench_{i}}}"), "salt": key}),
            1 => json!({"name": "", "type": "partitioned", "base_score": 100,
                "val": (0..8).map(|p| format!("flag{{police_bench_{i}_part_{p}}}")).collect::<Vec<_>>()}),
            _ => json!({"name": "", "type": "wordlist", "base_score": 100,
                "val": format!("flag{{bench-{i}-%1-%2-%3}}"),
                "words": [["a", "b", "c", "d", "e", "f"], ["g", "h", "i", "j", "k"], ["l", "m", "n", "o", "p", "q", "r"]]}),
        };
        let mut row = template.clone();
        row.id = i as i64 + 1;
        row.key = key;
        row.flags = json!([flag]);
        tables.challenge.push(row);
    }
    Game::build(tables, 5000, GameOptions::default())
}

fn check(c: &mut Criterion) {
    let mut game = contest();
    let started = Instant::now();
    let index = FlagIndex::build(&game);
    eprintln!(
        "index of {} values for {} users built in {:?}",
        index.len(),
        game.users.len(),
        started.elapsed()
    );
    // User 0 submits user 1's leet flag of pc_0: a report with one origin.
    let ch = &game.challenges[0];
    let other = ch.flags[0]
        .spec
        .correct_value(&ch.row.key, 0, game.users[1].row.id, &NoDynamicFlags)
        .unwrap();
    let key = ch.row.key.clone();
    let row = |id: i64, flag: &str| SubmissionRow {
        id,
        user_id: game.users[0].row.id,
        challenge_key: key.clone(),
        flag: flag.to_owned(),
        timestamp_ms: 1_790_000_000_000,
        score_override_or_null: None,
        percentage_override_or_null: None,
    };
    let next = game.submissions.last().map_or(1, |s| s.id + 1);
    let (shared, nobody) = (
        row(next, &other),
        row(next + 1, "flag{nobody_has_this_one}"),
    );
    game.apply_submission(shared).unwrap();
    game.apply_submission(nobody).unwrap();
    let (s_shared, s_nobody) = (
        (game.submissions.len() - 2) as u32,
        (game.submissions.len() - 1) as u32,
    );
    let r = index.check(&game, s_shared).expect("a report");
    assert!(matches!(r.finding, Finding::SharedFlag { ref origins } if !origins.is_empty()));
    assert_eq!(index.check(&game, s_nobody), None);
    c.bench_function(
        "police check: another user's flag (20k users x 40 flags)",
        |b| b.iter(|| index.check(&game, s_shared)),
    );
    c.bench_function("police check: nobody's flag (20k users x 40 flags)", |b| {
        b.iter(|| index.check(&game, s_nobody))
    });
}

criterion_group!(benches, check);
criterion_main!(benches);
