//! The police's index from flag text to the users whose correct flag it is, kept up to
//! date one user or challenge at a time, and the check of one wrong submission (pure).
//!
//! Each challenge has a map from a 64-bit keyed hash of a flag text to the (user, flag)
//! pairs whose correct value it is, for every flag type that tells users apart (leet,
//! partitioned, wordlist, dynamic). Values come from [`FlagSpec::correct_value`] with the
//! game's dynamic flag generator, the same derivation the scoring uses, so a dynamic
//! generator configured in [`super::GameOptions`] is indexed with no change here. A check
//! hashes the text once and reads one map entry: its cost does not grow with the users.

use super::challenge::UserIdx;
use super::flag::{FlagKind, IMPOSSIBLE_FLAG};
use super::game::Game;
use super::user::{FlagRef, SubIdx};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// A hasher for keys that already are hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One (user, flag position) pair packed in a u64; the top bit marks an overflow list.
type Packed = u64;
const MANY: u64 = 1 << 63;

fn pack(user: UserIdx, flag: u32) -> Packed {
    (u64::from(user) << 32) | u64::from(flag)
}

fn unpack(p: Packed) -> (UserIdx, u32) {
    ((p >> 32) as UserIdx, p as u32)
}

#[derive(Debug, Default, Clone)]
struct ChallengeIndex {
    by_text: HashMap<u64, Packed, BuildHasherDefault<Prehashed>>,
    /// Texts shared by several users (partitioned flags): their pairs.
    many: Vec<Vec<Packed>>,
}

impl ChallengeIndex {
    fn insert(&mut self, text_hash: u64, user: UserIdx, flag: u32) {
        let p = pack(user, flag);
        match self.by_text.get_mut(&text_hash) {
            None => {
                self.by_text.insert(text_hash, p);
            }
            Some(v) if *v & MANY != 0 => self.many[(*v & !MANY) as usize].push(p),
            Some(v) => {
                let first = *v;
                *v = MANY | self.many.len() as u64;
                self.many.push(vec![first, p]);
            }
        }
    }

    fn get(&self, text_hash: u64) -> &[Packed] {
        match self.by_text.get(&text_hash) {
            None => &[],
            Some(v) if *v & MANY != 0 => &self.many[(*v & !MANY) as usize],
            Some(v) => std::slice::from_ref(v),
        }
    }
}

/// The flag-text index of every challenge, by challenge row id.
#[derive(Debug, Clone)]
pub struct FlagIndex {
    hasher: RandomState,
    by_challenge: HashMap<i64, ChallengeIndex>,
    /// (user, flag) pairs indexed.
    entries: usize,
}

/// How an origin user relates to the flag that was submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginStatus {
    /// Passed the flag, at this time (ms).
    Passed(i64),
    /// Has a score but did not pass this flag.
    DoesNotPass,
    /// Has no score at all.
    EmptyUser,
}

/// A user whose correct flag was submitted by someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Their uid.
    pub uid: i64,
    /// Their login key.
    pub login_key: String,
    /// Whether and when they passed the flag.
    pub status: OriginStatus,
}

/// What the police found about one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The text is another user's correct flag.
    SharedFlag {
        /// Those users, in the reference's order.
        origins: Vec<Origin>,
    },
    /// The text is one of the challenge's honeypot flags.
    Honeypot,
}

/// A police report on one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The submission id.
    pub sid: i64,
    /// The submitter's uid.
    pub uid: i64,
    /// The submitter's login key.
    pub login_key: String,
    /// The challenge key submitted to.
    pub challenge_key: String,
    /// What was found.
    pub finding: Finding,
}

/// Whether a flag type gives different users different values.
fn per_user(kind: &FlagKind) -> bool {
    !matches!(kind, FlagKind::Static(_))
}

impl Default for FlagIndex {
    fn default() -> Self {
        FlagIndex {
            hasher: RandomState::new(),
            by_challenge: HashMap::new(),
            entries: 0,
        }
    }
}

impl FlagIndex {
    /// Indexes every user's flags of every challenge.
    pub fn build(game: &Game) -> FlagIndex {
        let mut index = FlagIndex::default();
        for chall in 0..game.challenges.len() as u32 {
            index.index_challenge(game, chall);
        }
        index
    }

    fn hash(&self, text: &str) -> u64 {
        self.hasher.hash_one(text)
    }

    /// (user, flag) pairs indexed.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    fn add(&mut self, game: &Game, chall: u32, users: std::ops::Range<UserIdx>) {
        let ch = &game.challenges[chall as usize];
        let mut added = 0;
        let mut entries: Vec<(u64, UserIdx, u32)> = Vec::new();
        for (fi, flag) in ch.flags.iter().enumerate() {
            if !per_user(&flag.spec.kind) {
                continue;
            }
            for user in users.clone() {
                let uid = game.users[user as usize].row.id;
                let Ok(text) = flag.spec.correct_value(
                    &ch.row.key,
                    uid,
                    game.dynamic_value(uid, &ch.row.key, fi),
                ) else {
                    continue;
                };
                if text != IMPOSSIBLE_FLAG {
                    entries.push((self.hash(&text), user, fi as u32));
                }
            }
        }
        let ci = self.by_challenge.entry(ch.row.id).or_default();
        for (h, user, fi) in entries {
            ci.insert(h, user, fi);
            added += 1;
        }
        self.entries += added;
    }

    fn index_challenge(&mut self, game: &Game, chall: u32) {
        let id = game.challenges[chall as usize].row.id;
        self.forget_challenge(id);
        self.add(game, chall, 0..game.users.len() as UserIdx);
    }

    fn forget_challenge(&mut self, id: i64) {
        if let Some(old) = self.by_challenge.remove(&id) {
            self.entries -=
                old.by_text.len() - old.many.len() + old.many.iter().map(Vec::len).sum::<usize>();
        }
    }

    /// After user `uid` was created or changed: indexes a new user's flags (a user's
    /// flags depend only on the uid, so a changed user needs nothing).
    pub fn user_changed(&mut self, game: &Game, uid: i64, users_before: usize) {
        let Some(user) = game.user_idx(uid) else {
            return;
        };
        if (user as usize) < users_before {
            return;
        }
        for chall in 0..game.challenges.len() as u32 {
            self.add(game, chall, user..user + 1);
        }
    }

    /// After user `uid`'s dynamic flag `flag_idx` of challenge `key` got its generated
    /// value: indexes that one value (a regenerated value's old text stays indexed, so a
    /// player submitting it is still traced to its owner).
    pub fn dynamic_value_set(&mut self, game: &Game, uid: i64, key: &str, flag_idx: usize) {
        let (Some(user), Some(chall)) = (game.user_idx(uid), game.chall_idx(key)) else {
            return;
        };
        let ch = &game.challenges[chall as usize];
        let Some(value) = game.dynamic_value(uid, key, flag_idx) else {
            return;
        };
        if ch.flags.get(flag_idx).is_none() || value == IMPOSSIBLE_FLAG {
            return;
        }
        let h = self.hash(value);
        self.by_challenge
            .entry(ch.row.id)
            .or_default()
            .insert(h, user, flag_idx as u32);
        self.entries += 1;
    }

    /// After challenge row `id` was created, changed or deleted: indexes it afresh.
    pub fn challenge_changed(&mut self, game: &Game, id: i64) {
        self.forget_challenge(id);
        if let Some(chall) = game.challenges.iter().position(|c| c.row.id == id) {
            self.add(game, chall as u32, 0..game.users.len() as UserIdx);
        }
    }

    /// The other users whose correct flag of `chall` is `text`, as (user, flag) pairs.
    pub fn lookup(&self, game: &Game, chall: u32, text: &str) -> Vec<(UserIdx, FlagRef)> {
        let Some(ch) = game.challenges.get(chall as usize) else {
            return Vec::new();
        };
        let Some(ci) = self.by_challenge.get(&ch.row.id) else {
            return Vec::new();
        };
        ci.get(self.hash(text))
            .iter()
            .map(|&p| {
                let (user, flag) = unpack(p);
                (user, FlagRef { chall, flag })
            })
            .collect()
    }

    /// Checks submission `sub` (already applied to `game`): `None` when it is correct, a
    /// duplicate, to an unknown challenge, or matches nobody else's flag.
    pub fn check(&self, game: &Game, sub: SubIdx) -> Option<Report> {
        let s = game.submissions.get(sub as usize)?;
        if s.matched.is_some() || s.duplicate {
            return None;
        }
        let chall = s.challenge?;
        let ch = game.challenges.get(chall as usize)?;
        let submitter = &game.users[s.user as usize];
        let report = |finding| Report {
            sid: s.id,
            uid: submitter.row.id,
            login_key: submitter.row.login_key.clone(),
            challenge_key: ch.row.key.clone(),
            finding,
        };
        if ch.honeypots.iter().any(|h| **h == *s.flag) {
            return Some(report(Finding::Honeypot));
        }
        let mut found: Vec<(UserIdx, FlagRef)> = self
            .lookup(game, chall, &s.flag)
            .into_iter()
            .filter(|&(u, _)| u != s.user)
            .collect();
        if found.is_empty() {
            return None;
        }
        // The reference's order: who passed that flag (earliest first), then users with
        // a score, then older uids.
        let passed_at = |u: UserIdx, f: FlagRef| {
            game.user_passed(u, f)
                .map(|p| game.submissions[p as usize].id)
        };
        found.sort_by_key(|&(u, f)| {
            let user = &game.users[u as usize];
            (
                passed_at(u, f).unwrap_or(i64::MAX),
                user.tot_score <= 0,
                user.row.id,
            )
        });
        // A user listed once, under the flag they passed first.
        let mut seen = std::collections::HashSet::new();
        found.retain(|&(u, _)| seen.insert(u));
        let origins = found
            .into_iter()
            .map(|(u, f)| {
                let user = &game.users[u as usize];
                let status = match game.user_passed(u, f) {
                    Some(p) => OriginStatus::Passed(game.submissions[p as usize].timestamp_ms),
                    None if user.tot_score > 0 => OriginStatus::DoesNotPass,
                    None => OriginStatus::EmptyUser,
                };
                Origin {
                    uid: user.row.id,
                    login_key: user.row.login_key.clone(),
                    status,
                }
            })
            .collect();
        Some(report(Finding::SharedFlag { origins }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{generate, ContestShape};
    use crate::rows::{SubmissionRow, Tables};
    use crate::state::GameOptions;
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
                    assert_eq!(x.contains(&(u, f)), per_user(&flag.spec.kind));
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
        row.chall_metadata[super::super::challenge::HONEYPOT_FLAGS_KEY] =
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
        let hp = super::super::challenge::HONEYPOT_FLAGS_KEY;
        let mut bad = row.clone();
        bad.flags = serde_json::json!([{"name": "", "type": "static", "base_score": 100,
            "val": "flag{the_real_one}"}]);
        bad.chall_metadata[hp] = serde_json::json!(["flag{the_real_one}"]);
        let err = super::super::challenge::validate_challenge(&bad).unwrap_err();
        assert!(err.contains("honeypot"), "{err}");
        bad.chall_metadata[hp] = serde_json::json!(["flag{a_decoy}"]);
        assert_eq!(super::super::challenge::validate_challenge(&bad), Ok(()));
        bad.chall_metadata[hp] = serde_json::json!("flag{not_a_list}");
        assert!(super::super::challenge::validate_challenge(&bad).is_err());
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
        game.set_dynamic_flag(crate::rows::DynamicFlagRow {
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
}
