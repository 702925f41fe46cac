//! `Subscribers<S, V>`: the subscribers of one filter (or the members of one shared group)
//! with their options: a dense vector, so that matching iterates it and a shared group can
//! pick its i-th member in O(1), plus a hash index once it is long enough that a linear
//! search on subscribe or unsubscribe would cost. Pure, no I/O.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::Hash;

/// At this many entries and above, a hash index finds a subscriber; below it, a scan of the
/// vector does (most filters have one subscriber).
const INDEXED_MIN: usize = 16;

/// The index is dropped again below this many entries.
const UNINDEXED_MAX: usize = INDEXED_MIN / 2;

const _: () = assert!(UNINDEXED_MAX < INDEXED_MIN);

/// Subscribers `S` of one filter with their options `V`, each at most once. Lives inside
/// the trie that holds it (one per shard).
pub(super) struct Subscribers<S, V> {
    list: Vec<(S, V)>,
    /// Position in `list` of each subscriber, kept while `list` has [`INDEXED_MIN`] or more.
    index: Option<HashMap<S, usize>>,
    /// The round-robin turn of a shared group: one per group, so that groups matched by
    /// the same messages do not take turns from each other. A `Cell` so that matching,
    /// which only reads the index, can take a turn.
    turn: Cell<u64>,
}

impl<S, V> Default for Subscribers<S, V> {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            index: None,
            turn: Cell::new(0),
        }
    }
}

impl<S, V> Subscribers<S, V> {
    /// The entries in their current order.
    pub(super) fn entries(&self) -> &[(S, V)] {
        &self.list
    }

    /// Takes the next round-robin turn (1, 2, ...).
    pub(super) fn next_turn(&self) -> u64 {
        let turn = self.turn.get().wrapping_add(1);
        self.turn.set(turn);
        turn
    }
}

impl<S: Copy + Eq + Hash, V> Subscribers<S, V> {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn iter(&self) -> impl ExactSizeIterator<Item = (S, &V)> + '_ {
        self.list
            .iter()
            .map(|(subscriber, options)| (*subscriber, options))
    }

    pub(super) fn get_index(&self, index: usize) -> Option<(S, &V)> {
        self.list
            .get(index)
            .map(|(subscriber, options)| (*subscriber, options))
    }

    fn position(&self, subscriber: S) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(&subscriber).copied(),
            None => self.list.iter().position(|(s, _)| *s == subscriber),
        }
    }

    pub(super) fn get(&self, subscriber: S) -> Option<&V> {
        let position = self.position(subscriber)?;
        self.list.get(position).map(|(_, options)| options)
    }

    /// Adds or replaces; returns the options replaced.
    pub(super) fn insert(&mut self, subscriber: S, options: V) -> Option<V> {
        if let Some(position) = self.position(subscriber) {
            if let Some((_, old)) = self.list.get_mut(position) {
                return Some(std::mem::replace(old, options));
            }
        }
        self.list.push((subscriber, options));
        let position = self.list.len() - 1;
        match &mut self.index {
            Some(index) => {
                index.insert(subscriber, position);
            }
            None if self.list.len() >= INDEXED_MIN => {
                let index = self
                    .list
                    .iter()
                    .enumerate()
                    .map(|(position, (s, _))| (*s, position))
                    .collect();
                self.index = Some(index);
            }
            None => {}
        }
        None
    }

    /// Removes `subscriber`; returns its options. The last entry takes its place.
    pub(super) fn remove(&mut self, subscriber: S) -> Option<V> {
        let position = self.position(subscriber)?;
        if position >= self.list.len() {
            return None;
        }
        let (_, options) = self.list.swap_remove(position);
        if self.list.len() < UNINDEXED_MAX {
            self.index = None;
        } else if let Some(index) = &mut self.index {
            index.remove(&subscriber);
            if let Some((moved, _)) = self.list.get(position) {
                index.insert(*moved, position);
            }
        }
        Some(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replace_remove_across_the_index_threshold() {
        let mut subscribers = Subscribers::default();
        for s in 0..40u32 {
            assert_eq!(subscribers.insert(s, s * 10), None);
        }
        assert!(subscribers.index.is_some());
        assert_eq!(subscribers.insert(7, 7), Some(70));
        assert_eq!(subscribers.len(), 40);
        for s in (0..40u32).rev().step_by(2) {
            assert!(subscribers.remove(s).is_some());
        }
        for s in 0..40u32 {
            // The odd ones, 7 included, are gone.
            let expected = (s % 2 == 0).then_some(s * 10);
            assert_eq!(subscribers.get(s).copied(), expected, "{s}");
        }
        for s in 0..40u32 {
            subscribers.remove(s);
        }
        assert!(subscribers.is_empty());
        assert!(subscribers.index.is_none());
        assert_eq!(subscribers.remove(3), None);
    }
}
