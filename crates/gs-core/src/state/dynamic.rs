//! Generated values of `dynamic` flags: raw inputs of the game (`dynamic_flag` rows), kept
//! per user, so that judging and rebuilding never run a generator.

use crate::rows::DynamicFlagRow;
use std::collections::HashMap;

/// The stored values, per uid (a user has a handful at most: a short list is enough).
#[derive(Debug, Clone, Default)]
pub struct DynamicValues {
    by_uid: HashMap<i64, Vec<DynamicFlagRow>>,
}

impl DynamicValues {
    /// Indexes the rows; a later row for the same user and flag replaces an earlier one.
    pub fn new(rows: Vec<DynamicFlagRow>) -> DynamicValues {
        let mut out = DynamicValues::default();
        for row in rows {
            out.insert(row);
        }
        out
    }

    /// Stores a row, replacing the one of the same user and flag; returns the old one.
    pub fn insert(&mut self, row: DynamicFlagRow) -> Option<DynamicFlagRow> {
        let list = self.by_uid.entry(row.user_id).or_default();
        match list
            .iter_mut()
            .find(|r| r.challenge_key == row.challenge_key && r.flag_idx == row.flag_idx)
        {
            Some(old) => Some(std::mem::replace(old, row)),
            None => {
                list.push(row);
                None
            }
        }
    }

    /// The row of `uid` for flag `flag_idx` of challenge `key`, whatever made it.
    pub fn row(&self, uid: i64, key: &str, flag_idx: usize) -> Option<&DynamicFlagRow> {
        self.by_uid
            .get(&uid)?
            .iter()
            .find(|r| r.challenge_key == key && r.flag_idx == flag_idx as i64)
    }

    /// The value of `uid` for that flag, if it was made by `generator` (the flag's
    /// current folder: a value of an earlier generator no longer counts).
    pub fn value(&self, uid: i64, key: &str, flag_idx: usize, generator: &str) -> Option<&str> {
        self.row(uid, key, flag_idx)
            .filter(|r| r.generator == generator)
            .map(|r| r.value.as_str())
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.by_uid.values().map(Vec::len).sum()
    }

    /// Whether no value is stored.
    pub fn is_empty(&self) -> bool {
        self.by_uid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: i64, key: &str, idx: i64, generator: &str, value: &str) -> DynamicFlagRow {
        DynamicFlagRow {
            id: 0,
            user_id: uid,
            challenge_key: key.into(),
            flag_idx: idx,
            generator: generator.into(),
            value: value.into(),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn values_count_only_for_their_generator() {
        let mut v = DynamicValues::new(vec![
            row(1, "a", 0, "gen", "flag{1}"),
            row(1, "a", 1, "gen", "flag{2}"),
            row(2, "a", 0, "gen", "flag{3}"),
        ]);
        assert_eq!(v.len(), 3);
        assert_eq!(v.value(1, "a", 1, "gen"), Some("flag{2}"));
        assert_eq!(v.value(1, "a", 1, "other"), None);
        assert_eq!(v.value(3, "a", 0, "gen"), None);
        let old = v.insert(row(1, "a", 1, "other", "flag{4}"));
        assert_eq!(old.map(|r| r.value), Some("flag{2}".into()));
        assert_eq!(v.value(1, "a", 1, "other"), Some("flag{4}"));
        assert_eq!(v.len(), 3);
    }
}
