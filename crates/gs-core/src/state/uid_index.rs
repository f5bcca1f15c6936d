//! Lookup from user id to user index: a plain vector for the usual dense ids, a hash map
//! for the rest. It is on the hot path of every submission of a rebuild.

use super::challenge::UserIdx;
use std::collections::HashMap;

const ABSENT: UserIdx = UserIdx::MAX;

/// Maps user ids to indexes in the game's user list.
#[derive(Debug, Clone, Default)]
pub struct UidIndex {
    dense: Vec<UserIdx>,
    sparse: HashMap<i64, UserIdx>,
}

impl UidIndex {
    /// The index of `uid`.
    pub fn get(&self, uid: i64) -> Option<UserIdx> {
        match usize::try_from(uid).ok().and_then(|i| self.dense.get(i)) {
            Some(&idx) if idx != ABSENT => Some(idx),
            Some(_) => None,
            None => self.sparse.get(&uid).copied(),
        }
    }

    /// Records the index of `uid`.
    pub fn insert(&mut self, uid: i64, idx: UserIdx) {
        // Ids up to a few times the number of users stay dense; outliers go to the map.
        let dense_limit = 4 * (self.dense.len() + self.sparse.len()) + 4096;
        match usize::try_from(uid) {
            Ok(i) if i < dense_limit => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, ABSENT);
                }
                self.dense[i] = idx;
            }
            _ => {
                self.sparse.insert(uid, idx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_ids() {
        let mut ix = UidIndex::default();
        ix.insert(1, 0);
        ix.insert(3, 1);
        ix.insert(1 << 40, 2);
        ix.insert(-5, 3);
        assert_eq!(ix.get(1), Some(0));
        assert_eq!(ix.get(2), None);
        assert_eq!(ix.get(3), Some(1));
        assert_eq!(ix.get(1 << 40), Some(2));
        assert_eq!(ix.get(-5), Some(3));
        assert_eq!(ix.get(99_999), None);
    }
}
