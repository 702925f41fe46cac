//! What shards send each other through the mesh.

use shard::Handoff;

use super::counters::SysSnapshot;
use super::session::Message;
pub use super::session::SharedGroupRef;
use crate::protocol::{Connect, TopicFilter};

/// One message between shards. Order is kept per (source, target) pair, so a publisher's
/// messages reach every other shard in the order it sent them.
#[derive(Debug)]
pub enum MeshMessage {
    /// A connection whose CONNECT names a client id homed on the target shard: the target
    /// adopts the socket and the bytes read after CONNECT.
    Handoff(Handoff<HandoffState>),
    /// An application message for the target's local subscribers: its plain
    /// subscriptions when `plain`, and the shared groups in `groups`, which the publishing
    /// shard assigned to the target (each group's message goes to exactly one shard).
    Publish {
        /// The message.
        message: Message,
        /// Deliver to plain (non-shared) subscriptions.
        plain: bool,
        /// Shared groups this shard delivers the message to, one member each.
        groups: Vec<SharedGroupRef>,
        /// The shared-subscription strategy's key for the message (the hash of its
        /// publisher's client id or of its topic; `SharedStrategy::message_key`), so the
        /// target chooses the member as the publishing shard would.
        shared_key: u64,
    },
    /// The source has a first subscriber for these filters; the target adds the source to
    /// its route table and answers [`MeshMessage::RouteAck`] with `token`.
    RouteAdd {
        /// Filters that went from no subscriber to one on the source.
        filters: Vec<TopicFilter>,
        /// When they did, in milliseconds on the broker's clock (the same on every shard):
        /// the `sticky` strategy prefers the shard whose members of a group go back
        /// furthest.
        since_ms: u64,
        /// Echoed in the ack.
        token: u64,
    },
    /// The target applied the [`MeshMessage::RouteAdd`] with this token.
    RouteAck {
        /// The token of the route update.
        token: u64,
    },
    /// The source has no subscriber left for this filter.
    RouteRemove {
        /// The filter.
        filter: TopicFilter,
    },
    /// A retained message (or, with an empty payload, its deletion) for every replica.
    Retain(Message),
    /// The source's counters for the `$SYS` tree, to shard 0 every interval.
    SysStats(SysSnapshot),
}

/// What travels with a handed-off connection.
#[derive(Debug)]
pub struct HandoffState {
    /// The CONNECT the accepting shard decoded.
    pub connect: Box<Connect>,
    /// The client's address, for the log.
    pub peer: Option<std::net::SocketAddr>,
}
