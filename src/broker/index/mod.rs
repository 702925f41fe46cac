//! The subscription index (DESIGN.md "Routing"), pure and sans-IO:
//!
//! * [`SubscriptionTrie`]: one per shard, filter → local subscribers and shared groups.
//! * [`RouteTable`]: replicated on every shard, filter → [`ShardSet`] of shards with a
//!   subscriber; written only by route updates from the mesh.
//!
//! Both sit on one generic trie (`trie.rs`) with one matching walk (MQTT 5.0 §4.7).

mod route_table;
mod shard_set;
mod subscribers;
mod subscription_trie;
mod trie;

#[cfg(test)]
mod tests;

pub use route_table::RouteTable;
pub use shard_set::ShardSet;
pub use subscription_trie::{Match, Members, SubscribeOutcome, SubscriptionTrie, Unsubscribed};
