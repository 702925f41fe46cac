//! The retained-message store (MQTT 5.0 §3.3.1.3, §4.7), pure and sans-IO:
//!
//! * [`RetainedStore`]: replicated on every shard, written only through the mesh so every
//!   shard sees the same retained messages; a subscribe reads its shard's replica.
//! * [`RetainedLimits`]: its bounds; defaults in `limits.rs`.
//!
//! A trie of topic levels (`node.rs`, `children.rs`) with the message at the node where its
//! topic ends, and one walk of a topic filter over it (`walk.rs`).

mod limits;
mod node;
mod store;
mod walk;

#[cfg(test)]
mod tests;

pub use limits::{RetainedLimits, RETAINED_BYTES_MAX_DEFAULT, RETAINED_MESSAGES_MAX_DEFAULT};
pub use store::{RetainChange, RetainedStore};
