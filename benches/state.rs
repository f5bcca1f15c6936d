//! Benchmarks of the state layer: the full rebuild on the critical path of every restart,
//! and one live submission (including board invalidation) on the reducer's hot path.
//!
//! Run: `cargo bench --bench state`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gs::demo::{generate, ContestShape};
use gs::rows::{DynamicFlagRow, SubmissionRow, Tables};
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

/// The contest with the first flag of three challenges made `dynamic`, every user's value
/// of them already generated (6,000 `dynamic_flag` rows), and the submissions that were
/// correct for those flags rewritten to the users' generated values.
fn contest_with_dynamic_flags(users: usize, submissions: usize) -> Tables {
    let mut t = contest(users, submissions);
    let base = Game::build(t.clone(), 2000, GameOptions::default());
    let mut converted = Vec::new();
    for ch in t.challenge.iter_mut().take(3) {
        let Some(flags) = ch.flags.as_array_mut() else {
            continue;
        };
        flags[0]["type"] = "dynamic".into();
        flags[0]["val"] = format!("{}/flag", ch.key).into();
        converted.push(ch.key.clone());
    }
    let value = |key: &str, uid: i64| format!("flag{{dyn_{key}_{uid:08}}}");
    for s in &mut t.submission {
        if !converted.contains(&s.challenge_key) {
            continue;
        }
        let old = base.challenge(&s.challenge_key).and_then(|c| {
            c.flags[0]
                .spec
                .correct_value(&c.row.key, s.user_id, None)
                .ok()
        });
        if old.as_deref() == Some(s.flag.as_str()) {
            s.flag = value(&s.challenge_key, s.user_id);
        }
    }
    let mut id = 0;
    for key in &converted {
        for u in &t.user {
            id += 1;
            t.dynamic_flag.push(DynamicFlagRow {
                id,
                user_id: u.id,
                challenge_key: key.clone(),
                flag_idx: 0,
                generator: format!("{key}/flag"),
                value: value(key, u.id),
                timestamp_ms: 1_790_000_000_000,
            });
        }
    }
    t
}

fn full_rebuild_with_dynamic_flags(c: &mut Criterion) {
    let tables = contest_with_dynamic_flags(2_000, 20_000);
    let plain = Game::build(contest(2_000, 20_000), 2000, GameOptions::default());
    let game = Game::build(tables.clone(), 2000, GameOptions::default());
    // The rewritten submissions are judged on the stored values: the same scores as
    // before the conversion, so the rebuild really matched them.
    assert_eq!(game.dynamic_value_count(), 6_000);
    let totals = |g: &Game| g.users.iter().map(|u| u.tot_score).collect::<Vec<_>>();
    assert_eq!(totals(&game), totals(&plain));
    c.bench_function(
        "full rebuild 2000 users / 20000 submissions, 3 dynamic flags generated per user",
        |b| {
            b.iter_batched(
                || tables.clone(),
                |t| Game::build(t, 2000, GameOptions::default()),
                BatchSize::LargeInput,
            )
        },
    );
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
                let Ok(flag) = f.spec.correct_value(&ch.row.key, u.id(), None) else {
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

criterion_group!(
    benches,
    full_rebuild,
    full_rebuild_with_dynamic_flags,
    incremental_submission
);
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
