//! `Trie<T>`: the generic core under [`super::SubscriptionTrie`] and [`super::RouteTable`]:
//! topic filters stored level by level with a payload `T` per filter, and the one matching
//! walk of a topic name against them (MQTT 5.0 §4.7). Pure, no I/O.
//!
//! A node stands for a filter prefix. Its exact-level children are keyed by level, its `+`
//! child is a field of its own, and the payload of the filter `{prefix}/#` sits in the node
//! itself (`multi`), since `#` is always the last level and matches the prefix too.

use crate::broker::children::Children;

/// A filter's level that matches exactly one topic level.
const SINGLE_LEVEL_WILDCARD: &str = "+";

/// A filter's last level that matches its parent and any number of levels below.
const MULTI_LEVEL_WILDCARD: &str = "#";

/// Frames of the matching walk held on the stack before it spills into a `Vec`: a topic
/// against filters of up to about this many levels matches without allocating.
const WALK_INLINE_FRAMES: usize = 16;

/// Filters level by level, a payload `T` per filter. Lives wherever its owner lives (one
/// per shard in both uses).
pub(super) struct Trie<T> {
    root: Node<T>,
    /// Nodes below the root, for tests and memory accounting.
    node_count: usize,
}

struct Node<T> {
    children: Children<Node<T>>,
    single: Option<Box<Node<T>>>,
    /// The payload of the filter that ends at this node.
    exact: Option<Box<T>>,
    /// The payload of the filter `{this node}/#` (`#` at the root).
    multi: Option<Box<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            children: Children::default(),
            single: None,
            exact: None,
            multi: None,
        }
    }
}

impl<T> Node<T> {
    fn child(&self, level: &str) -> Option<&Node<T>> {
        if level == SINGLE_LEVEL_WILDCARD {
            self.single.as_deref()
        } else {
            self.children.get(level)
        }
    }

    fn child_mut(&mut self, level: &str) -> Option<&mut Node<T>> {
        if level == SINGLE_LEVEL_WILDCARD {
            self.single.as_deref_mut()
        } else {
            self.children.get_mut(level)
        }
    }

    fn slot(&self, slot: Slot) -> &Option<Box<T>> {
        match slot {
            Slot::Exact => &self.exact,
            Slot::Multi => &self.multi,
        }
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut Option<Box<T>> {
        match slot {
            Slot::Exact => &mut self.exact,
            Slot::Multi => &mut self.multi,
        }
    }

    fn child_count(&self) -> usize {
        self.children.len() + usize::from(self.single.is_some())
    }

    fn has_payload(&self) -> bool {
        self.exact.is_some() || self.multi.is_some()
    }
}

/// Dropping is iterative: the default recursive drop of a chain of thousands of nodes (one
/// filter of thousands of levels) would exhaust the stack.
impl<T> Drop for Node<T> {
    fn drop(&mut self) {
        if self.child_count() == 0 {
            return;
        }
        let mut orphans = Vec::new();
        self.take_children_into(&mut orphans);
        while let Some(mut node) = orphans.pop() {
            node.take_children_into(&mut orphans);
            // `node` now drops without children: no recursion.
        }
    }
}

impl<T> Node<T> {
    fn take_children_into(&mut self, orphans: &mut Vec<Node<T>>) {
        if let Some(single) = self.single.take() {
            orphans.push(*single);
        }
        match std::mem::take(&mut self.children) {
            Children::Few(few) => orphans.extend(few.into_iter().map(|(_, node)| node)),
            Children::Many(many) => orphans.extend(many.into_values()),
        }
    }
}

/// Which payload of its last node a filter names.
#[derive(Clone, Copy)]
enum Slot {
    Exact,
    Multi,
}

/// Splits a filter into the levels that lead to its node and the slot in that node:
/// `a/b` is (`a/b`, Exact), `a/#` is (`a`, Multi), `/#` is (``, Multi) (one empty level),
/// `#` is (no levels, Multi).
fn split_filter(filter: &str) -> (Option<&str>, Slot) {
    if filter == MULTI_LEVEL_WILDCARD {
        (None, Slot::Multi)
    } else if let Some(path) = filter
        .strip_suffix(MULTI_LEVEL_WILDCARD)
        .and_then(|f| f.strip_suffix('/'))
    {
        (Some(path), Slot::Multi)
    } else {
        (Some(filter), Slot::Exact)
    }
}

fn levels(path: Option<&str>) -> impl Iterator<Item = &str> {
    path.into_iter().flat_map(|path| path.split('/'))
}

/// The first level of `topic` and the rest, `None` when it was the last level.
fn split_level(topic: &str) -> (&str, Option<&str>) {
    match topic.split_once('/') {
        Some((level, rest)) => (level, Some(rest)),
        None => (topic, None),
    }
}

impl<T> Default for Trie<T> {
    fn default() -> Self {
        Self {
            root: Node::default(),
            node_count: 0,
        }
    }
}

impl<T> Trie<T> {
    /// Nodes below the root: 0 once every filter is gone.
    pub(super) fn node_count(&self) -> usize {
        self.node_count
    }

    /// The payload of `filter` (a valid, non-shared topic filter).
    pub(super) fn get(&self, filter: &str) -> Option<&T> {
        let (path, slot) = split_filter(filter);
        let mut node = &self.root;
        for level in levels(path) {
            node = node.child(level)?;
        }
        node.slot(slot).as_deref()
    }

    /// The payload slot of `filter` (a valid, non-shared topic filter), its path created.
    /// The caller fills it; a path left without payload is pruned only by
    /// [`Trie::update_existing`], so fill it.
    pub(super) fn slot_mut(&mut self, filter: &str) -> &mut Option<Box<T>> {
        let (path, slot) = split_filter(filter);
        let mut created = 0;
        let mut node = &mut self.root;
        for level in levels(path) {
            node = if level == SINGLE_LEVEL_WILDCARD {
                node.single.get_or_insert_with(|| {
                    created += 1;
                    Box::default()
                })
            } else {
                let (child, new) = node.children.get_or_insert_with(level, Node::default);
                created += usize::from(new);
                child
            };
        }
        self.node_count += created;
        node.slot_mut(slot)
    }

    /// Runs `update` on the payload slot of `filter` if its node exists, then prunes the
    /// nodes left with neither payload nor children, so that memory returns.
    pub(super) fn update_existing<R>(
        &mut self,
        filter: &str,
        update: impl FnOnce(&mut Option<Box<T>>) -> R,
    ) -> Option<R> {
        let (path, slot) = split_filter(filter);
        let mut node = &mut self.root;
        for level in levels(path) {
            node = node.child_mut(level)?;
        }
        let result = update(node.slot_mut(slot));
        if !node.has_payload() && node.child_count() == 0 {
            self.prune(path);
        }
        Some(result)
    }

    /// Removes the chain of nodes above the empty node at `path` that hold nothing else.
    /// Two passes down the path instead of recursion, so that a filter of thousands of
    /// levels cannot exhaust the stack.
    fn prune(&mut self, path: Option<&str>) {
        // The deepest node on the path that must stay (the root always does): it has a
        // payload or another child. Everything below it on the path goes.
        let mut keep_depth = 0;
        let mut depth = 0;
        let mut node = &self.root;
        for level in levels(path) {
            if node.has_payload() || node.child_count() > 1 {
                keep_depth = depth;
            }
            let Some(child) = node.child(level) else {
                debug_assert!(false, "prune of a path that is not in the trie");
                return;
            };
            node = child;
            depth += 1;
        }
        if depth == 0 {
            return;
        }
        let mut node = &mut self.root;
        let mut levels = levels(path);
        for level in levels.by_ref().take(keep_depth) {
            let Some(child) = node.child_mut(level) else {
                return;
            };
            node = child;
        }
        let Some(level) = levels.next() else {
            return;
        };
        if level == SINGLE_LEVEL_WILDCARD {
            node.single = None;
        } else {
            node.children.remove(level);
        }
        self.node_count -= depth - keep_depth;
    }

    /// Calls `visit` once with the payload of every filter that matches `topic` (a topic
    /// name) by MQTT 5.0 §4.7: `+` matches one level, empty included; `#` matches its parent
    /// level and any number below; filters starting with a wildcard do not match topics
    /// starting with `$` (§4.7.2). Allocates only for filters deeper than
    /// [`WALK_INLINE_FRAMES`] levels with wildcards along the way.
    pub(super) fn walk<'t, 's>(&'t self, topic: &'s str, mut visit: impl FnMut(&'t T)) {
        let root = &self.root;
        let system_topic = topic.starts_with('$');
        if !system_topic {
            if let Some(payload) = root.multi.as_deref() {
                visit(payload);
            }
        }
        let mut stack = WalkStack::new(root);
        let (level, rest) = split_level(topic);
        if let Some(child) = root.children.get(level) {
            stack.push((child, rest));
        }
        if !system_topic {
            if let Some(child) = root.single.as_deref() {
                stack.push((child, rest));
            }
        }
        // Each node is reached from its one parent, so it is visited at most once.
        while let Some((node, rest)) = stack.pop() {
            if let Some(payload) = node.multi.as_deref() {
                visit(payload);
            }
            match rest {
                None => {
                    if let Some(payload) = node.exact.as_deref() {
                        visit(payload);
                    }
                }
                Some(rest) => {
                    let (level, rest) = split_level(rest);
                    if let Some(child) = node.children.get(level) {
                        stack.push((child, rest));
                    }
                    if let Some(child) = node.single.as_deref() {
                        stack.push((child, rest));
                    }
                }
            }
        }
    }
}

/// A node still to visit and the topic levels left after it (`None`: none left).
type Frame<'t, 's, T> = (&'t Node<T>, Option<&'s str>);

/// The walk's depth-first stack: inline first, then a `Vec` for unusually deep filters.
struct WalkStack<'t, 's, T> {
    inline: [Frame<'t, 's, T>; WALK_INLINE_FRAMES],
    inline_len: usize,
    spill: Vec<Frame<'t, 's, T>>,
}

impl<'t, 's, T> WalkStack<'t, 's, T> {
    /// `filler` only initialises unused slots.
    fn new(filler: &'t Node<T>) -> Self {
        Self {
            inline: [(filler, None); WALK_INLINE_FRAMES],
            inline_len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, frame: Frame<'t, 's, T>) {
        if let Some(slot) = self.inline.get_mut(self.inline_len) {
            *slot = frame;
            self.inline_len += 1;
        } else {
            self.spill.push(frame);
        }
    }

    fn pop(&mut self) -> Option<Frame<'t, 's, T>> {
        if let Some(frame) = self.spill.pop() {
            return Some(frame);
        }
        self.inline_len = self.inline_len.checked_sub(1)?;
        self.inline.get(self.inline_len).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(trie: &Trie<&'static str>, topic: &str) -> Vec<&'static str> {
        let mut found = Vec::new();
        trie.walk(topic, |filter| found.push(*filter));
        found.sort_unstable();
        found
    }

    fn insert(trie: &mut Trie<&'static str>, filter: &'static str) {
        *trie.slot_mut(filter) = Some(Box::new(filter));
    }

    fn remove(trie: &mut Trie<&'static str>, filter: &str) {
        trie.update_existing(filter, |slot| *slot = None);
    }

    #[test]
    fn split_filter_levels() {
        let split = |f| {
            let (path, slot) = split_filter(f);
            (
                levels(path).collect::<Vec<_>>(),
                matches!(slot, Slot::Multi),
            )
        };
        assert_eq!(split("#"), (vec![], true));
        assert_eq!(split("/#"), (vec![""], true));
        assert_eq!(split("a/#"), (vec!["a"], true));
        assert_eq!(split("a"), (vec!["a"], false));
        assert_eq!(split("/"), (vec!["", ""], false));
        assert_eq!(split("a//+"), (vec!["a", "", "+"], false));
    }

    #[test]
    fn prune_keeps_shared_prefixes() {
        let mut trie = Trie::default();
        insert(&mut trie, "a/b/c/d");
        insert(&mut trie, "a/b");
        insert(&mut trie, "a/+/x");
        assert_eq!(trie.node_count(), 6);
        remove(&mut trie, "a/b/c/d");
        assert_eq!(trie.node_count(), 4);
        assert_eq!(matched(&trie, "a/b"), ["a/b"]);
        remove(&mut trie, "a/b");
        assert_eq!(trie.node_count(), 3);
        remove(&mut trie, "a/+/x");
        assert_eq!(trie.node_count(), 0);
        // Removing what is not there changes nothing.
        remove(&mut trie, "a/b");
        assert_eq!(trie.node_count(), 0);
    }

    #[test]
    fn deep_filters_spill_and_prune_without_recursion() {
        let mut trie = Trie::default();
        let deep_wildcards: &'static str = Box::leak("+/".repeat(20_000).into_boxed_str());
        let deep_wildcards = &deep_wildcards[..deep_wildcards.len() - 1];
        insert(&mut trie, deep_wildcards);
        let topic = "/".repeat(19_999);
        assert_eq!(matched(&trie, &topic), [deep_wildcards]);
        assert_eq!(trie.node_count(), 20_000);
        remove(&mut trie, deep_wildcards);
        assert_eq!(trie.node_count(), 0);
    }
}
