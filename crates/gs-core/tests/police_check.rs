//! The police's check on generated contests (property tests): an integration test,
//! since it uses the demo generator, which itself builds on the state.

use gs_core::demo::{generate, ContestShape};
use gs_core::rows::{SubmissionRow, Tables};
use gs_core::state::challenge::UserIdx;
use gs_core::state::flag::FlagKind;
use gs_core::state::game::Game;
use gs_core::state::police::*;
use gs_core::state::user::{FlagRef, SubIdx};
use gs_core::state::GameOptions;
use proptest::prelude::*;

fn demo(seed: u64, users: usize) -> Tables {
    generate(&ContestShape {
        seed,
        users,
        submissions: users * 10,
        ..ContestShape::default()
    })
}

fn game_of(tables: Tables) -> Game {
    Game::build(tables, 5000, GameOptions::default())
}

fn correct(game: &Game, u: UserIdx, f: FlagRef) -> String {
    let ch = &game.challenges[f.chall as usize];
    ch.flags[f.flag as usize]
        .spec
        .correct_value(
            &ch.row.key,
            game.users[u as usize].row.id,
            game.dynamic_value(game.users[u as usize].row.id, &ch.row.key, f.flag as usize),
        )
        .unwrap()
}

/// Every per-user flag of every user is found under its text, and both indexes
/// answer every such lookup alike.
fn assert_same_answers(game: &Game, a: &FlagIndex, b: &FlagIndex) {
    assert_eq!(a.len(), b.len());
    for (ci, ch) in game.challenges.iter().enumerate() {
        for (fi, flag) in ch.flags.iter().enumerate() {
            for u in 0..game.users.len() as UserIdx {
                let f = FlagRef {
                    chall: ci as u32,
                    flag: fi as u32,
                };
                let text = correct(game, u, f);
                let mut x = a.lookup(game, ci as u32, &text);
                let mut y = b.lookup(game, ci as u32, &text);
                x.sort();
                y.sort();
                assert_eq!(x, y, "challenge {} flag {fi} user {u}", ch.row.key);
                assert_eq!(x.contains(&(u, f)), flag.spec.is_per_user());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Adding users and challenges (and changing one) one at a time gives the index a
    /// full build gives.
    #[test]
    fn incremental_index_equals_full_build(seed in 0u64..1000, held_users in 1usize..6, held_challs in 1usize..3) {
        let full = demo(seed, 30);
        let mut start = full.clone();
        let late_users = start.user.split_off(start.user.len() - held_users);
        let late_challs = start.challenge.split_off(start.challenge.len() - held_challs);
        start.submission.retain(|s| !late_users.iter().any(|u| u.id == s.user_id));
        let mut game = game_of(start);
        let mut index = FlagIndex::build(&game);
        for u in late_users {
            let (uid, before) = (u.id, game.users.len());
            game.upsert_user(u, None);
            index.user_changed(&game, uid, before);
        }
        for c in late_challs {
            let id = c.id;
            game.upsert_challenge(c).unwrap();
            index.challenge_changed(&game, id);
        }
        // A changed challenge (new salt / values) is indexed afresh.
        let mut changed = game.challenges[0].row.clone();
        changed.flags = serde_json::json!([{"name": "", "type": "leet", "base_score": 100,
            "val": "flag{a_brand_new_leetable_flag_value}", "salt": "new"}]);
        let id = changed.id;
        game.upsert_challenge(changed).unwrap();
        index.challenge_changed(&game, id);
        let rebuilt = FlagIndex::build(&game);
        assert_same_answers(&game, &index, &rebuilt);
        // A deleted challenge leaves nothing behind.
        game.remove_challenge(id);
        index.challenge_changed(&game, id);
        prop_assert_eq!(index.len(), FlagIndex::build(&game).len());
    }
}

fn submit(game: &mut Game, uid: i64, key: &str, flag: &str) -> SubIdx {
    let id = game.submissions.last().map_or(1, |s| s.id + 1);
    game.apply_submission(SubmissionRow {
        id,
        user_id: uid,
        challenge_key: key.to_owned(),
        flag: flag.to_owned(),
        timestamp_ms: 1_789_500_000_000,
        score_override_or_null: None,
        percentage_override_or_null: None,
    })
    .unwrap();
    (game.submissions.len() - 1) as SubIdx
}

fn find_flag(game: &Game, pred: impl Fn(&FlagKind) -> bool) -> FlagRef {
    for (ci, ch) in game.challenges.iter().enumerate() {
        for (fi, f) in ch.flags.iter().enumerate() {
            if pred(&f.spec.kind) {
                return FlagRef {
                    chall: ci as u32,
                    flag: fi as u32,
                };
            }
        }
    }
    panic!("no such flag in the demo");
}

#[test]
fn someone_elses_leet_flag_is_reported_and_ones_own_is_not() {
    let mut game = game_of(demo(3, 40));
    let index = FlagIndex::build(&game);
    let f = find_flag(&game, |k| matches!(k, FlagKind::Leet { .. }));
    let key = game.challenges[f.chall as usize].row.key.clone();
    let (a, b) = (0 as UserIdx, 1 as UserIdx);
    let a_flag = correct(&game, a, f);
    let b_uid = game.users[b as usize].row.id;
    let s = submit(&mut game, b_uid, &key, &a_flag);
    let r = index.check(&game, s).expect("a report");
    assert_eq!(r.uid, b_uid);
    assert_eq!(r.challenge_key, key);
    let Finding::SharedFlag { origins } = r.finding else {
        panic!("{:?}", r.finding)
    };
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].uid, game.users[a as usize].row.id);
    // Correct, duplicate, unknown challenge, or nobody's flag: no report.
    let own = correct(&game, b, f);
    let s = submit(&mut game, b_uid, &key, &own);
    assert_eq!(index.check(&game, s), None);
    let s = submit(&mut game, b_uid, &key, &own);
    assert!(game.submissions[s as usize].duplicate);
    assert_eq!(index.check(&game, s), None);
    let s = submit(&mut game, b_uid, "no_such_challenge", &a_flag);
    assert_eq!(index.check(&game, s), None);
    let s = submit(&mut game, b_uid, &key, "flag{nobody_has_this}");
    assert_eq!(index.check(&game, s), None);
}

#[test]
fn partitioned_origins_in_the_reference_order() {
    let mut game = game_of(demo(5, 60));
    let index = FlagIndex::build(&game);
    let f = find_flag(&game, |k| matches!(k, FlagKind::Partitioned(_)));
    let key = game.challenges[f.chall as usize].row.key.clone();
    let value = correct(&game, 0, f);
    let holders: Vec<UserIdx> = (0..game.users.len() as UserIdx)
        .filter(|&u| correct(&game, u, f) == value)
        .collect();
    let submitter = (0..game.users.len() as UserIdx)
        .find(|u| !holders.contains(u))
        .unwrap();
    let sub_uid = game.users[submitter as usize].row.id;
    // Expected, computed another way: the flag's passers in passing order, then
    // users with a score by uid, then the rest by uid.
    let flag = &game.challenges[f.chall as usize].flags[f.flag as usize];
    let mut expected: Vec<i64> = flag
        .passed_users
        .iter()
        .filter(|u| holders.contains(u))
        .map(|&u| game.users[u as usize].row.id)
        .collect();
    let mut rest: Vec<(bool, i64)> = holders
        .iter()
        .filter(|u| !flag.passed_users.contains(u))
        .map(|&u| {
            let user = &game.users[u as usize];
            (user.tot_score <= 0, user.row.id)
        })
        .collect();
    rest.sort();
    expected.extend(rest.into_iter().map(|(_, uid)| uid));
    assert!(expected.len() > 3, "the demo should share the value widely");
    let s = submit(&mut game, sub_uid, &key, &value);
    let Some(Report {
        finding: Finding::SharedFlag { origins },
        ..
    }) = index.check(&game, s)
    else {
        panic!("no report");
    };
    let got: Vec<i64> = origins.iter().map(|o| o.uid).collect();
    assert_eq!(got, expected);
    for o in &origins {
        let u = game.user_idx(o.uid).unwrap();
        let want = match game.user_passed(u, f) {
            Some(p) => OriginStatus::Passed(game.submissions[p as usize].timestamp_ms),
            None if game.users[u as usize].tot_score > 0 => OriginStatus::DoesNotPass,
            None => OriginStatus::EmptyUser,
        };
        assert_eq!(o.status, want);
    }
}

#[test]
fn honeypots_are_reported_and_never_correct() {
    let mut tables = demo(7, 20);
    let mut row = tables.challenge[0].clone();
    row.chall_metadata[gs_core::state::challenge::HONEYPOT_FLAGS_KEY] =
        serde_json::json!(["flag{decoy_one}"]);
    tables.challenge[0] = row.clone();
    let mut game = game_of(tables);
    let index = FlagIndex::build(&game);
    let uid = game.users[2].row.id;
    let s = submit(&mut game, uid, &row.key, "flag{decoy_one}");
    assert_eq!(game.submissions[s as usize].matched, None);
    let r = index.check(&game, s).unwrap();
    assert_eq!(r.finding, Finding::Honeypot);
    // A honeypot that is a real flag's value is refused on save; a decoy is fine.
    let hp = gs_core::state::challenge::HONEYPOT_FLAGS_KEY;
    let mut bad = row.clone();
    bad.flags = serde_json::json!([{"name": "", "type": "static", "base_score": 100,
        "val": "flag{the_real_one}"}]);
    bad.chall_metadata[hp] = serde_json::json!(["flag{the_real_one}"]);
    let err = gs_core::state::challenge::validate_challenge(&bad).unwrap_err();
    assert!(err.contains("honeypot"), "{err}");
    bad.chall_metadata[hp] = serde_json::json!(["flag{a_decoy}"]);
    assert_eq!(gs_core::state::challenge::validate_challenge(&bad), Ok(()));
    bad.chall_metadata[hp] = serde_json::json!("flag{not_a_list}");
    assert!(gs_core::state::challenge::validate_challenge(&bad).is_err());
}

#[test]
fn a_generated_dynamic_flag_is_indexed_when_it_is_set() {
    let mut tables = demo(9, 20);
    let mut row = tables.challenge[0].clone();
    row.flags = serde_json::json!([{"name": "", "type": "dynamic", "base_score": 100,
        "val": "gen_folder"}]);
    tables.challenge[0] = row.clone();
    let mut game = game_of(tables);
    let mut index = FlagIndex::build(&game);
    let (owner, other) = (game.users[0].row.id, game.users[1].row.id);
    // Not generated yet: nothing to trace.
    let before = submit(&mut game, other, &row.key, "flag{the_owners_own}");
    assert!(index.check(&game, before).is_none());
    game.set_dynamic_flag(gs_core::rows::DynamicFlagRow {
        id: 1,
        user_id: owner,
        challenge_key: row.key.clone(),
        flag_idx: 0,
        generator: "gen_folder".into(),
        value: "flag{the_owners_own}".into(),
        timestamp_ms: 0,
    });
    index.dynamic_value_set(&game, owner, &row.key, 0);
    let s = submit(&mut game, other, &row.key, "flag{the_owners_own}");
    assert_eq!(
        game.submissions[s as usize].matched, None,
        "not the other's flag"
    );
    let r = index.check(&game, s).expect("a report");
    assert_eq!(r.uid, other);
    assert_eq!(r.challenge_key, row.key);
}
