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
use super::flag::IMPOSSIBLE_FLAG;
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
            if !flag.spec.is_per_user() {
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
        let chall = game.submission_challenge(s)?;
        let flag = game.submitted_flag(s);
        let ch = game.challenges.get(chall as usize)?;
        let submitter = &game.users[s.user as usize];
        let report = |finding| Report {
            sid: s.id,
            uid: submitter.row.id,
            login_key: submitter.row.login_key.clone(),
            challenge_key: ch.row.key.clone(),
            finding,
        };
        if ch.honeypots.iter().any(|h| **h == *flag) {
            return Some(report(Finding::Honeypot));
        }
        let mut found: Vec<(UserIdx, FlagRef)> = self
            .lookup(game, chall, flag)
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
