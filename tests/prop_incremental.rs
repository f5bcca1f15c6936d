//! Property: applying submissions one by one gives exactly the state of a full rebuild,
//! boards, histories and every per-user answer included; so do other one-row changes.

use gs::demo::{generate, ContestShape};
use gs::rows::Tables;
use gs::state::{Game, GameOptions};
use proptest::prelude::*;
use serde_json::Value;

const NOW_S: i64 = 1_790_000_000;

fn options() -> GameOptions {
    GameOptions {
        admins: [1].into_iter().collect(),
        ..GameOptions::default()
    }
}

/// Every answer that depends on scoring, for every board, user and challenge.
fn snapshot(game: &Game) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let admin = game.user_idx(1);
    for b in gs::rules::BOARDS {
        out.push((
            format!("board {}", b.key),
            (*game.answer_board(None, b.key, NOW_S)).clone(),
        ));
        out.push((
            format!("admin board {}", b.key),
            (*game.answer_board(admin, b.key, NOW_S)).clone(),
        ));
    }
    for (i, u) in game.users.iter().enumerate() {
        let v = Some(i as u32);
        out.push((
            format!("game {}", u.id()),
            serde_json::to_value(game.answer_game(v)).expect("serializes"),
        ));
        out.push((
            format!("my_submissions {}", u.id()),
            game.answer_my_submissions(v, NOW_S),
        ));
        out.push((
            format!("submissions {}", u.id()),
            game.answer_submissions_of(u.id(), NOW_S),
        ));
        out.push((
            format!("tot {}", u.id()),
            serde_json::json!([u.tot_score, u.tot_score_by_cat]),
        ));
    }
    for ch in game.challenges_in_order() {
        out.push((
            format!("touched {}", ch.row.key),
            game.answer_touched_users(admin, &ch.row.key),
        ));
    }
    out
}

fn assert_same(full: &Game, incremental: &Game) {
    let (a, b) = (snapshot(full), snapshot(incremental));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(
            x, y,
            "{name} differs between full rebuild and incremental application"
        );
    }
}

fn without_submissions(tables: &Tables) -> Tables {
    Tables {
        submission: Vec::new(),
        ..tables.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn submissions_one_by_one_equal_full_rebuild(seed in any::<u64>(), users in 2usize..40, subs in 0usize..400) {
        let tables = generate(&ContestShape { seed, users, submissions: subs, ..ContestShape::default() });
        let full = Game::build(tables.clone(), 2000, options());
        let mut inc = Game::build(without_submissions(&tables), 2000, options());
        for row in tables.submission.clone() {
            // Pushes are values; the incremental path must accept every row a rebuild accepts.
            let _ = inc.apply_submission(row);
        }
        assert_same(&full, &inc);
    }

    #[test]
    fn one_row_changes_equal_full_rebuild(seed in any::<u64>(), which in 0usize..4) {
        let tables = generate(&ContestShape { seed, users: 30, submissions: 300, ..ContestShape::default() });
        let mut inc = Game::build(tables.clone(), 2000, options());
        let mut changed = tables.clone();
        match which {
            0 => {
                // An admin moves a user to another group.
                let u = &mut changed.user[3];
                u.group = if u.group == "pku" { "other".into() } else { "pku".into() };
                inc.upsert_user(u.clone(), None);
            }
            1 => {
                // An admin overrides a submission's score.
                let s = &mut changed.submission[10];
                s.score_override_or_null = Some(77);
                inc.update_submission(s.clone()).expect("submission exists");
            }
            2 => {
                // An admin changes a challenge's flags.
                let c = &mut changed.challenge[2];
                c.flags = serde_json::json!([{"name": "", "type": "static", "base_score": 123, "val": "flag{changed}"}]);
                inc.upsert_challenge(c.clone()).expect("valid challenge");
            }
            _ => {
                // An admin retitles a challenge and moves it in the list.
                let c = &mut changed.challenge[4];
                c.title = "Renamed".into();
                c.sorting_index = -5;
                inc.upsert_challenge(c.clone()).expect("valid challenge");
            }
        }
        let full = Game::build(changed, 2000, options());
        assert_same(&full, &inc);
    }
}
