//! `RetainedStore`: topic → retained message, as a trie of topic levels, with bounds and
//! an expiry index. Pure, no I/O, no clock: time is a `now_ms` parameter.

use std::collections::BTreeSet;

use super::limits::RetainedLimits;
use super::node::Node;
use super::walk::walk;
use crate::broker::session::Message;
use crate::protocol::{TopicFilter, TopicName};

/// What [`RetainedStore::set`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetainChange {
    /// The topic had no retained message; now it has this one.
    Inserted,
    /// The topic's retained message was replaced by this one.
    Replaced,
    /// An empty payload (or an already expired message) removed the topic's retained
    /// message.
    Deleted,
    /// An empty payload (or an already expired message) for a topic without a retained
    /// message: nothing to do.
    NoOp,
    /// Storing the message would pass [`RetainedLimits`]: it was not stored and the
    /// topic's previous retained message, if any, is kept. The caller counts it.
    RefusedFull,
}

/// The retained messages of the broker (MQTT 5.0 §3.3.1.3), by topic name.
///
/// Replicated on every shard, written only through the mesh so every shard sees the same
/// retained messages; payloads are shared `Bytes` so replicas share memory. A subscribe
/// reads the local replica with [`RetainedStore::matching`] and needs no other shard.
///
/// Messages are held in a trie of topic levels, the message at the node where its topic
/// ends; a filter walks it (an exact level descends one child, `+` all children, `#` the
/// whole subtree). Nodes left with neither message nor children are pruned at once, so
/// memory returns as messages go. Expired messages are never visited and are removed by
/// [`RetainedStore::purge_expired`], which finds them through an index by expiry time
/// instead of scanning the store.
pub struct RetainedStore {
    root: Node,
    limits: RetainedLimits,
    /// Messages held.
    len: usize,
    /// Topic and payload bytes of the messages held (`Message::size_bytes`).
    bytes: usize,
    /// Nodes below the root.
    node_count: usize,
    /// `(expiry_at_ms, topic)` of every message held that expires. The topic shares the
    /// message's buffer.
    expiries: BTreeSet<(u64, TopicName)>,
}

impl Default for RetainedStore {
    fn default() -> Self {
        Self::new(RetainedLimits::default())
    }
}

impl RetainedStore {
    /// An empty store bounded by `limits`.
    pub fn new(limits: RetainedLimits) -> Self {
        Self {
            root: Node::default(),
            limits,
            len: 0,
            bytes: 0,
            node_count: 0,
            expiries: BTreeSet::new(),
        }
    }

    /// Applies a PUBLISH with RETAIN 1 to `topic` (MQTT 5.0 §3.3.1.3, 3.1.1 §3.3.1.3): a
    /// non-empty payload replaces the topic's retained message, an empty one deletes it. A
    /// message already expired at `now_ms` also deletes it: it replaces the old one and
    /// would never be delivered. `message.topic` must be `topic`, alias resolved.
    ///
    /// Past [`RetainedLimits`] (a new topic beyond `messages_max`, or `bytes_max` exceeded
    /// after a replacement) the message is not stored and [`RetainChange::RefusedFull`] is
    /// returned; the store is unchanged. Expired messages not yet purged count against the
    /// limits, so the caller purges before a refusal is final if it wants it exact.
    pub fn set(&mut self, topic: &TopicName, message: Message, now_ms: u64) -> RetainChange {
        assert!(
            !topic.is_empty(),
            "retained message with an unresolved alias"
        );
        assert_eq!(
            &message.topic, topic,
            "retained message stored under another topic"
        );
        if message.payload.is_empty() || message.is_expired(now_ms) {
            return match self.remove(topic) {
                Some(_) => RetainChange::Deleted,
                None => RetainChange::NoOp,
            };
        }
        let size_bytes = message.size_bytes();
        let (slot, created) = slot_mut(&mut self.root, topic.as_str());
        self.node_count += created;
        let old_size_bytes = slot.as_deref().map_or(0, Message::size_bytes);
        let len_after = self.len + usize::from(slot.is_none());
        let bytes_after = self.bytes - old_size_bytes + size_bytes;
        if len_after > self.limits.messages_max || bytes_after > self.limits.bytes_max {
            if created > 0 {
                self.prune(topic.as_str());
            }
            return RetainChange::RefusedFull;
        }
        let new_expiry = message.expiry_at_ms;
        let (change, old_expiry) = match slot {
            // Reuse the box: a replace allocates nothing.
            Some(held) => {
                let old = std::mem::replace(&mut **held, message);
                (RetainChange::Replaced, old.expiry_at_ms)
            }
            None => {
                *slot = Some(Box::new(message));
                (RetainChange::Inserted, None)
            }
        };
        self.len = len_after;
        self.bytes = bytes_after;
        if old_expiry != new_expiry {
            if let Some(at) = old_expiry {
                let removed = self.expiries.remove(&(at, topic.clone()));
                debug_assert!(removed, "expiry index out of step");
            }
            if let Some(at) = new_expiry {
                self.expiries.insert((at, topic.clone()));
            }
        }
        change
    }

    /// The retained message of `topic`, expired or not (see [`Message::is_expired`]).
    pub fn get(&self, topic: &TopicName) -> Option<&Message> {
        let mut node = &self.root;
        for level in topic.as_str().split('/') {
            node = node.children.get(level)?;
        }
        node.message.as_deref()
    }

    /// Calls `visit` once with every retained message not expired at `now_ms` whose topic
    /// matches `filter` (MQTT 5.0 §4.7: `+` one level, empty included; `#` its parent and
    /// everything below; a leading wildcard does not match `$` topics), in no particular
    /// order. A shared filter visits nothing: retained messages are not sent for a Shared
    /// Subscription (MQTT 5.0 §4.8.2), and the caller is not expected to ask.
    pub fn matching<'s>(
        &'s self,
        filter: &TopicFilter,
        now_ms: u64,
        mut visit: impl FnMut(&'s Message),
    ) {
        if filter.is_shared() {
            return;
        }
        let mut visit_live = |message: &'s Message| {
            if !message.is_expired(now_ms) {
                visit(message);
            }
        };
        if filter.has_wildcards() {
            walk(&self.root, filter.filter(), visit_live);
        } else {
            // A filter without wildcards names one topic.
            let mut node = Some(&self.root);
            for level in filter.filter().split('/') {
                node = node.and_then(|node| node.children.get(level));
            }
            if let Some(message) = node.and_then(|node| node.message.as_deref()) {
                visit_live(message);
            }
        }
    }

    /// Removes every message expired at `now_ms` and the nodes left empty; returns how
    /// many. Costs the expired messages only, not a scan of the store.
    pub fn purge_expired(&mut self, now_ms: u64) -> usize {
        let mut purged = 0;
        while let Some((at, _)) = self.expiries.first() {
            if *at > now_ms {
                break;
            }
            let Some((_, topic)) = self.expiries.pop_first() else {
                break;
            };
            let message = self
                .take(topic.as_str())
                .expect("every indexed expiry has its message");
            self.forget(&message);
            purged += 1;
        }
        purged
    }

    /// The earliest `expiry_at_ms` among the messages held: when a purge next has work.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Messages held, expired ones not yet purged included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no message is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Topic and payload bytes of the messages held (`Message::size_bytes`): what
    /// [`RetainedLimits::bytes_max`] bounds. Trie nodes and keys are not counted.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Trie nodes below the root: 0 once every message is gone.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// The bounds the store was built with.
    pub fn limits(&self) -> RetainedLimits {
        self.limits
    }

    /// Removes the retained message of `topic` with its accounting and expiry entry.
    fn remove(&mut self, topic: &TopicName) -> Option<Message> {
        let message = self.take(topic.as_str())?;
        if let Some(at) = message.expiry_at_ms {
            let removed = self.expiries.remove(&(at, topic.clone()));
            debug_assert!(removed, "expiry index out of step");
        }
        self.forget(&message);
        Some(message)
    }

    fn forget(&mut self, message: &Message) {
        self.len -= 1;
        self.bytes -= message.size_bytes();
    }

    /// Takes the message of `topic` out of the trie and prunes the nodes left empty; the
    /// caller does the accounting. Two passes down the path instead of recursion.
    fn take(&mut self, topic: &str) -> Option<Message> {
        // The deepest node on the path that must stay (the root always does): it has a
        // message or another child. If the topic's node has children, it stays itself.
        let mut keep_depth = 0;
        let mut depth = 0;
        let mut node = &self.root;
        for level in topic.split('/') {
            if node.message.is_some() || node.children.len() > 1 {
                keep_depth = depth;
            }
            node = node.children.get(level)?;
            depth += 1;
        }
        node.message.as_ref()?;
        if !node.children.is_empty() {
            keep_depth = depth;
        }
        let mut levels = topic.split('/');
        let mut node = &mut self.root;
        for level in levels.by_ref().take(keep_depth) {
            node = node.children.get_mut(level)?;
        }
        let Some(level) = levels.next() else {
            return node.message.take().map(|message| *message);
        };
        // Detach the chain below the kept node and take the message from its end; each
        // link is dropped childless, so nothing recurses.
        let mut chain = node.children.remove(level)?;
        for level in levels {
            chain = chain.children.remove(level)?;
        }
        self.node_count -= depth - keep_depth;
        chain.message.take().map(|message| *message)
    }

    /// Removes the nodes on the path of `topic` left empty by a refused insert.
    fn prune(&mut self, topic: &str) {
        let mut keep_depth = 0;
        let mut depth = 0;
        let mut node = &self.root;
        for level in topic.split('/') {
            if node.message.is_some() || node.children.len() > 1 {
                keep_depth = depth;
            }
            let Some(child) = node.children.get(level) else {
                return;
            };
            node = child;
            depth += 1;
        }
        if !node.is_empty() {
            return;
        }
        let mut levels = topic.split('/');
        let mut node = &mut self.root;
        for level in levels.by_ref().take(keep_depth) {
            let Some(child) = node.children.get_mut(level) else {
                return;
            };
            node = child;
        }
        if let Some(level) = levels.next() {
            node.children.remove(level);
            self.node_count -= depth - keep_depth;
        }
    }

    /// Messages, bytes, expiries and nodes counted again by a full walk, against the
    /// running totals.
    #[cfg(test)]
    pub(super) fn check_invariants(&self) {
        let mut nodes = 0;
        let mut len = 0;
        let mut bytes = 0;
        let mut expiring = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            if let Some(message) = node.message.as_deref() {
                len += 1;
                bytes += message.size_bytes();
                if let Some(at) = message.expiry_at_ms {
                    expiring += 1;
                    assert!(self.expiries.contains(&(at, message.topic.clone())));
                }
            }
            for (_, child) in node.children.iter() {
                assert!(!child.is_empty(), "an empty node was not pruned");
                nodes += 1;
                stack.push(child);
            }
        }
        assert_eq!(nodes, self.node_count);
        assert_eq!(len, self.len);
        assert_eq!(bytes, self.bytes);
        assert_eq!(expiring, self.expiries.len());
    }
}

/// The message slot of `topic` under `root`, its path created; also how many nodes that
/// created.
fn slot_mut<'t>(root: &'t mut Node, topic: &str) -> (&'t mut Option<Box<Message>>, usize) {
    let mut created = 0;
    let mut node = root;
    for level in topic.split('/') {
        let (child, new) = node.children.get_or_insert_with(level, Node::default);
        created += usize::from(new);
        node = child;
    }
    (&mut node.message, created)
}
