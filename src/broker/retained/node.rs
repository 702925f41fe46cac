//! `Node`: one topic level of the retained trie, holding the retained message of the topic
//! that ends there. Pure, no I/O.

use crate::broker::children::Children;
use crate::broker::session::Message;

/// A node stands for a topic prefix (the root for none); its children are the next levels.
#[derive(Default)]
pub(super) struct Node {
    pub(super) children: Children<Node>,
    /// The retained message of the topic that ends at this node, boxed since most nodes
    /// (`fleet`, `fleet/vehicle-7`, ...) are prefixes without one.
    pub(super) message: Option<Box<Message>>,
}

impl Node {
    /// Neither a message nor children: nothing keeps it.
    pub(super) fn is_empty(&self) -> bool {
        self.message.is_none() && self.children.is_empty()
    }
}

/// Dropping is iterative: the default recursive drop of a chain of thousands of nodes (one
/// topic of thousands of levels, which a 65,535-byte topic name allows) would exhaust the
/// stack.
impl Drop for Node {
    fn drop(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let mut orphans = Vec::new();
        self.children.drain_into(&mut orphans);
        while let Some(mut node) = orphans.pop() {
            node.children.drain_into(&mut orphans);
            // `node` now drops without children: no recursion.
        }
    }
}
