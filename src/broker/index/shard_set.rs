//! `ShardSet`: a fixed-size set of shard indices, the value of the route table. Pure, no I/O.

use std::fmt;

const WORD_BITS: usize = u64::BITS as usize;
const WORDS: usize = 4;

/// A set of shards, indices `0..ShardSet::CAPACITY`: a fixed bitset, so a route lookup
/// unions masks without allocating. A value, lives wherever it is held.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ShardSet([u64; WORDS]);

impl ShardSet {
    /// Shard indices the set can hold: one more is a broken invariant.
    pub const CAPACITY: usize = WORDS * WORD_BITS;

    /// The empty set.
    pub const fn new() -> Self {
        Self([0; WORDS])
    }

    /// The set of one shard.
    pub fn single(shard: usize) -> Self {
        let mut set = Self::new();
        set.insert(shard);
        set
    }

    fn word_bit(shard: usize) -> Option<(usize, u64)> {
        (shard < Self::CAPACITY).then(|| (shard / WORD_BITS, 1 << (shard % WORD_BITS)))
    }

    /// Adds `shard`; true if it was not there.
    ///
    /// # Panics
    /// If `shard` is not below [`ShardSet::CAPACITY`]: shard indices come from the runtime,
    /// which never starts more than `shard::limits::SHARD_COUNT_MAX`.
    pub fn insert(&mut self, shard: usize) -> bool {
        let Some((word, bit)) = Self::word_bit(shard) else {
            panic!("shard index {shard} not below ShardSet::CAPACITY");
        };
        let added = self.0[word] & bit == 0;
        self.0[word] |= bit;
        added
    }

    /// Removes `shard`; true if it was there.
    pub fn remove(&mut self, shard: usize) -> bool {
        let Some((word, bit)) = Self::word_bit(shard) else {
            return false;
        };
        let removed = self.0[word] & bit != 0;
        self.0[word] &= !bit;
        removed
    }

    /// True if `shard` is in the set.
    pub fn contains(&self, shard: usize) -> bool {
        Self::word_bit(shard).is_some_and(|(word, bit)| self.0[word] & bit != 0)
    }

    /// True if no shard is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }

    /// Shards in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|word| word.count_ones() as usize).sum()
    }

    /// Adds every shard of `other`.
    pub fn union_with(&mut self, other: &ShardSet) {
        for (word, other) in self.0.iter_mut().zip(other.0) {
            *word |= other;
        }
    }

    /// The shards in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(index, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(index * WORD_BITS + bit)
            })
        })
    }
}

impl fmt::Debug for ShardSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

const _: () = assert!(shard::limits::SHARD_COUNT_MAX <= ShardSet::CAPACITY);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_union_iterate() {
        let mut set = ShardSet::new();
        assert!(set.is_empty());
        assert!(set.insert(0));
        assert!(set.insert(63));
        assert!(set.insert(64));
        assert!(set.insert(255));
        assert!(!set.insert(64));
        assert_eq!(set.len(), 4);
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 63, 64, 255]);
        assert!(set.remove(63));
        assert!(!set.remove(63));
        assert!(!set.remove(256));
        assert!(!set.contains(256));
        let mut other = ShardSet::single(1);
        other.union_with(&set);
        assert_eq!(format!("{other:?}"), "{0, 1, 64, 255}");
    }

    #[test]
    #[should_panic(expected = "not below ShardSet::CAPACITY")]
    fn a_shard_beyond_capacity_is_a_broken_invariant() {
        ShardSet::new().insert(ShardSet::CAPACITY);
    }
}
