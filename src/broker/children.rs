//! `Children`: the children of one topic-level trie node (the subscription index's and the
//! retained store's), keyed by level. Most nodes have a handful of children
//! (`fleet/{id}/telemetry/{gps,temp}`), a few have very many (`fleet/{id}` with 100k ids):
//! a short vector scanned in order for the first, a hash map for the second.
//! Pure, no I/O.

use std::collections::{hash_map, HashMap};

/// Up to this many children live in a vector scanned linearly; one more and they move to a
/// hash map. 8 short keys fit in a few cache lines, and a scan of them beats hashing.
const FEW_CHILDREN_MAX: usize = 8;

/// A hash map shrinks back to a vector when it falls to this many children, below
/// [`FEW_CHILDREN_MAX`] so that one insert/remove pair at the edge does not flip the
/// representation each time.
const MANY_CHILDREN_MIN: usize = FEW_CHILDREN_MAX / 2;

const _: () = assert!(MANY_CHILDREN_MIN < FEW_CHILDREN_MAX);

/// The children of one node, keyed by topic level (which may be the empty string).
///
/// The map uses std's `RandomState` (SipHash with a per-map random key) on purpose: the
/// keys are topic levels chosen by clients, and a fixed fast hash would let one client
/// insert colliding levels and make every lookup on that node linear.
pub(crate) enum Children<N> {
    Few(Vec<(Box<str>, N)>),
    // Boxed so that every node, most of which have few children, does not carry an inline
    // 48-byte map.
    #[allow(clippy::box_collection)]
    Many(Box<HashMap<Box<str>, N>>),
}

impl<N> Default for Children<N> {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl<N> Children<N> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Few(few) => few.len(),
            Self::Many(many) => many.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, level: &str) -> Option<&N> {
        match self {
            Self::Few(few) => few.iter().find(|(key, _)| &**key == level).map(|(_, n)| n),
            Self::Many(many) => many.get(level),
        }
    }

    pub(crate) fn get_mut(&mut self, level: &str) -> Option<&mut N> {
        match self {
            Self::Few(few) => few
                .iter_mut()
                .find(|(key, _)| &**key == level)
                .map(|(_, n)| n),
            Self::Many(many) => many.get_mut(level),
        }
    }

    /// The child at `level`, created with `new` if absent; `created` tells which.
    pub(crate) fn get_or_insert_with(
        &mut self,
        level: &str,
        new: impl FnOnce() -> N,
    ) -> (&mut N, bool) {
        if let Self::Few(few) = self {
            if few.len() == FEW_CHILDREN_MAX && !few.iter().any(|(key, _)| &**key == level) {
                let many: HashMap<Box<str>, N> = std::mem::take(few).into_iter().collect();
                *self = Self::Many(Box::new(many));
            }
        }
        match self {
            Self::Few(few) => {
                let (index, created) = match few.iter().position(|(key, _)| &**key == level) {
                    Some(index) => (index, false),
                    None => {
                        few.push((level.into(), new()));
                        (few.len() - 1, true)
                    }
                };
                (&mut few[index].1, created)
            }
            Self::Many(many) => {
                // Look up before inserting so that an existing level costs no allocation.
                let created = !many.contains_key(level);
                if created {
                    many.insert(level.into(), new());
                }
                let child = many
                    .get_mut(level)
                    .expect("the child was found or inserted just above");
                (child, created)
            }
        }
    }

    pub(crate) fn remove(&mut self, level: &str) -> Option<N> {
        match self {
            Self::Few(few) => {
                let position = few.iter().position(|(key, _)| &**key == level)?;
                // Order among children does not matter.
                Some(few.swap_remove(position).1)
            }
            Self::Many(many) => {
                let removed = many.remove(level);
                if many.len() <= MANY_CHILDREN_MIN {
                    let few: Vec<(Box<str>, N)> = std::mem::take(&mut **many).into_iter().collect();
                    *self = Self::Few(few);
                }
                removed
            }
        }
    }

    /// Every child with its level, in no particular order.
    pub(crate) fn iter(&self) -> Iter<'_, N> {
        match self {
            Self::Few(few) => Iter::Few(few.iter()),
            Self::Many(many) => Iter::Many(many.iter()),
        }
    }

    /// Moves every child into `out`, leaving none.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<N>) {
        match std::mem::take(self) {
            Self::Few(few) => out.extend(few.into_iter().map(|(_, node)| node)),
            Self::Many(many) => out.extend(many.into_values()),
        }
    }
}

/// The iterator of [`Children::iter`]: `(level, child)`.
pub(crate) enum Iter<'a, N> {
    Few(std::slice::Iter<'a, (Box<str>, N)>),
    Many(hash_map::Iter<'a, Box<str>, N>),
}

impl<'a, N> Iterator for Iter<'a, N> {
    type Item = (&'a str, &'a N);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Few(few) => few.next().map(|(key, node)| (&**key, node)),
            Self::Many(many) => many.next().map(|(key, node)| (&**key, node)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_into_a_map_iterates_and_shrinks_back() {
        let mut children: Children<usize> = Children::default();
        for i in 0..100 {
            let (value, created) = children.get_or_insert_with(&i.to_string(), || i);
            assert!(created);
            assert_eq!(*value, i);
        }
        assert!(matches!(children, Children::Many(_)));
        let (value, created) = children.get_or_insert_with("42", || 0);
        assert!(!created);
        assert_eq!(*value, 42);
        let mut seen: Vec<usize> = children
            .iter()
            .map(|(key, value)| {
                assert_eq!(key, value.to_string());
                *value
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        for i in 0..100 {
            assert_eq!(children.get(&i.to_string()), Some(&i));
            assert_eq!(children.remove(&i.to_string()), Some(i));
            assert_eq!(children.get(&i.to_string()), None);
        }
        assert!(matches!(children, Children::Few(_)));
        assert!(children.is_empty());
        assert_eq!(children.remove(""), None);
        assert_eq!(children.iter().count(), 0);
    }
}
