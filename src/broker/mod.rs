//! The broker on top of the codec and the shard runtime.
//!
//! * [`shard_broker`]: the broker state of one shard, and its mesh, deadline and deferral
//!   tasks; [`sessions`], [`routing`] and [`packets`] are its parts.
//! * [`connection`]: the connection driver; [`handshake`] decides the first packet,
//!   purely; [`connections`] is the shard's table of live connections.
//! * Pure building blocks: [`session`] (one client's session state machine), [`index`]
//!   (subscription trie and route table), [`retained`] (retained-message store),
//!   [`read_buffer`].
//! * [`shared_strategy`]: which member of a shared group gets a message (pure);
//!   [`shared`]: giving a leaving member's undelivered messages to another.
//! * [`auth`]: authentication on the owner shard before attach, and re-authentication.
//! * [`sys`]: the `$SYS` topic tree, summed on shard 0 from every shard's [`counters`].

pub mod auth;
mod children;
pub mod connection;
pub mod connections;
pub mod counters;
pub mod delayed;
pub mod handshake;
pub mod index;
pub mod mesh_message;
pub mod packets;
pub mod problem;
pub mod read_buffer;
pub mod retained;
pub mod routing;
pub mod session;
pub mod sessions;
pub mod shard_broker;
pub mod shard_main;
pub mod shared;
pub mod shared_strategy;
pub mod sys;
pub mod topic_alias;
