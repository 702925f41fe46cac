//! `RouteTable`: topic filter → the shards that have at least one subscriber to it
//! (DESIGN.md "Routing"). Pure, no I/O.

use super::shard_set::ShardSet;
use super::trie::Trie;
use crate::protocol::{TopicFilter, TopicName};

/// Filter → mask of shards with a local subscription to it. Replicated on every shard,
/// written only by route updates from the mesh inbox; the publisher's shard reads it once
/// per PUBLISH to find the target shards.
///
/// A shared subscription `$share/{group}/{filter}` routes by its inner `{filter}`, like the
/// shard's [`super::SubscriptionTrie`] counts it: the bit of a shard stands for "some
/// subscription, shared or not, to this filter lives here".
#[derive(Default)]
pub struct RouteTable {
    trie: Trie<ShardSet>,
    filter_count: usize,
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `shard` as subscribed to `filter`; true if that changed the table.
    ///
    /// # Panics
    /// If `shard` is not below [`ShardSet::CAPACITY`] (a runtime invariant).
    pub fn add(&mut self, filter: &TopicFilter, shard: usize) -> bool {
        let slot = self.trie.slot_mut(filter.filter());
        let shards = match slot {
            Some(shards) => shards,
            None => {
                self.filter_count += 1;
                slot.insert(Box::default())
            }
        };
        shards.insert(shard)
    }

    /// Clears `shard` from `filter`; true if that changed the table. The filter and its
    /// nodes go with its last shard.
    pub fn remove(&mut self, filter: &TopicFilter, shard: usize) -> bool {
        let update = self.trie.update_existing(filter.filter(), |slot| {
            let Some(shards) = slot else {
                return (false, false);
            };
            let removed = shards.remove(shard);
            let gone = shards.is_empty();
            if gone {
                *slot = None;
            }
            (removed, gone)
        });
        let Some((removed, gone)) = update else {
            return false;
        };
        self.filter_count -= usize::from(gone);
        removed
    }

    /// The shards to forward a PUBLISH to `topic` to: the union of the masks of every
    /// filter that matches it (MQTT 5.0 §4.7).
    pub fn route(&self, topic: &TopicName) -> ShardSet {
        let mut shards = ShardSet::new();
        self.trie
            .walk(topic.as_str(), |matched| shards.union_with(matched));
        shards
    }

    /// The mask of `filter` exactly (no matching).
    pub fn shards_of(&self, filter: &TopicFilter) -> ShardSet {
        self.trie.get(filter.filter()).copied().unwrap_or_default()
    }

    /// Filters with at least one shard.
    pub fn filter_count(&self) -> usize {
        self.filter_count
    }

    /// Trie nodes held: 0 once every filter is gone.
    pub fn node_count(&self) -> usize {
        self.trie.node_count()
    }

    /// True if no filter has a shard.
    pub fn is_empty(&self) -> bool {
        self.filter_count == 0
    }
}
