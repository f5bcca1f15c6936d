//! Benchmarks of the state layer: the full rebuild on the critical path of every restart,
//! and one live submission (including board invalidation) on the reducer's hot path.
//!
//! Run: `cargo bench --bench state`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gs::demo::{generate, ContestShape};
use gs::rows::{SubmissionRow, Tables};
use gs::state::flag::NoDynamicFlags;
use gs::state::{Game, GameOptions};
use std::time::{Duration, Instant};

fn contest(users: usize, submissions: usize) -> Tables {
    generate(&ContestShape {
        seed: 7,
        users,
        submissions,
        ..ContestShape::default()
    })
}

fn full_rebuild(c: &mut Criterion) {
    let tables = contest(2_000, 20_000);
    c.bench_function("full rebuild 2000 users / 20000 submissions", |b| {
        b.iter_batched(
            || tables.clone(),
            |t| Game::build(t, 2000, GameOptions::default()),
            BatchSize::LargeInput,
        )
    });
}

/// New correct submissions for users who have not passed the flag yet.
fn fresh_correct_submissions(game: &Game, first_id: i64, n: usize) -> Vec<SubmissionRow> {
    let mut out = Vec::with_capacity(n);
    let mut id = first_id;
    'outer: for (ui, u) in game.users.iter().enumerate().rev() {
        for &ci in &game.chall_order {
            let ch = &game.challenges[ci as usize];
            for (fi, f) in ch.flags.iter().enumerate() {
                let r = gs::state::user::FlagRef {
                    chall: ci,
                    flag: fi as u32,
                };
                if game.users[ui].passed(r).is_some() {
                    continue;
                }
                let Ok(flag) = f
                    .spec
                    .correct_value(&ch.row.key, fi, u.id(), &NoDynamicFlags)
                else {
                    continue;
                };
                out.push(SubmissionRow {
                    id,
                    user_id: u.id(),
                    challenge_key: ch.row.key.clone(),
                    flag,
                    timestamp_ms: 1_790_000_000_000 + id,
                    score_override_or_null: None,
                    percentage_override_or_null: None,
                });
                id += 1;
                if out.len() == n {
                    break 'outer;
                }
            }
        }
    }
    out
}

fn incremental_submission(c: &mut Criterion) {
    let tables = contest(2_000, 20_000);
    let base = Game::build(tables, 2000, GameOptions::default());
    let next_id = base.submissions.last().map_or(1, |s| s.id + 1);
    const CHUNK: usize = 2_000;
    let pool = fresh_correct_submissions(&base, next_id, CHUNK);
    c.bench_function(
        "one live correct submission (2000 users / 20000 submissions)",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let mut game = base.clone();
                    // Touch the boards so that the invalidation really drops cached work.
                    let _ = game.answer_board(None, "score_all", 0);
                    for row in pool.iter().take((iters - done).min(CHUNK as u64) as usize) {
                        let row = row.clone();
                        let start = Instant::now();
                        let pushes = game.apply_submission(row);
                        total += start.elapsed();
                        std::hint::black_box(pushes).ok();
                        done += 1;
                    }
                }
                total
            })
        },
    );
    c.bench_function("render score_all after a change (2000 users)", |b| {
        b.iter_batched(
            || {
                let mut game = base.clone();
                let row = pool[0].clone();
                game.apply_submission(row).ok();
                game
            },
            |game| game.answer_board(None, "score_all", 0),
            BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, full_rebuild, incremental_submission);
criterion_main!(benches, answer_benches);

fn answers(c: &mut Criterion) {
    let tables = contest(2_000, 20_000);
    let game = Game::build(tables, 2000, GameOptions::default());
    let viewer = game
        .users
        .iter()
        .position(|u| u.check_play_game().is_ok())
        .map(|i| i as u32);
    c.bench_function("answer game as JSON text (logged-in player)", |b| {
        b.iter(|| serde_json::to_vec(&game.answer_game(viewer)))
    });
    c.bench_function("answer game_info (logged-in player)", |b| {
        b.iter(|| serde_json::to_vec(&game.answer_game_info(viewer, true, 0)))
    });
    let u = &game.users[viewer.unwrap_or(0) as usize];
    c.bench_function("check_play_game", |b| b.iter(|| u.check_play_game()));
}

criterion_group!(answer_benches, answers);
