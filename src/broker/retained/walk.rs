//! The matching walk of one topic filter over the retained trie: the inverse of
//! subscription matching (MQTT 5.0 §4.7). An exact level descends to one child, `+` to
//! every child, `#` visits its parent and the whole subtree; a filter whose first level is
//! a wildcard skips topics starting with `$` (§4.7.2). Iterative: the stack holds one
//! frame per level in progress, not one per candidate, so `fleet/+/...` over 100k vehicles
//! holds one iterator, and no topic depth can exhaust the call stack. Pure, no I/O.

use super::node::Node;
use crate::broker::children;
use crate::broker::session::Message;

/// A filter's level that matches exactly one topic level.
const SINGLE_LEVEL_WILDCARD: &str = "+";

/// A filter's last level that matches its parent and any number of levels below.
const MULTI_LEVEL_WILDCARD: &str = "#";

/// Frames reserved up front: filters of up to about this many levels with wildcards walk
/// without growing the stack.
const WALK_FRAMES_RESERVED: usize = 8;

/// The children a frame still has to enter.
enum Candidates<'t> {
    /// The one child of an exact level, if there is one.
    One(Option<&'t Node>),
    /// Every child, for `+` and `#`; `skip_system` at the root under a leading wildcard.
    All {
        children: children::Iter<'t, Node>,
        skip_system: bool,
    },
}

impl<'t> Iterator for Candidates<'t> {
    type Item = &'t Node;

    fn next(&mut self) -> Option<&'t Node> {
        match self {
            Self::One(one) => one.take(),
            Self::All {
                children,
                skip_system,
            } => children
                .find(|(level, _)| !(*skip_system && level.starts_with('$')))
                .map(|(_, node)| node),
        }
    }
}

/// What a candidate child still has to match.
#[derive(Clone, Copy)]
enum Rest<'f> {
    /// The filter levels after the child's (`None`: the child's level was the last).
    Levels(Option<&'f str>),
    /// Everything below a `#`: the child and all its descendants match.
    Subtree,
}

struct Frame<'t, 'f> {
    candidates: Candidates<'t>,
    rest: Rest<'f>,
}

/// Calls `visit` once with every message in the trie under `root` whose topic matches
/// `filter` (a valid topic filter, not shared), in no particular order.
pub(super) fn walk<'t>(root: &'t Node, filter: &str, mut visit: impl FnMut(&'t Message)) {
    let mut stack = Vec::with_capacity(WALK_FRAMES_RESERVED);
    enter(root, Some(filter), true, &mut stack, &mut visit);
    while let Some(frame) = stack.last_mut() {
        let rest = frame.rest;
        let Some(node) = frame.candidates.next() else {
            stack.pop();
            continue;
        };
        match rest {
            Rest::Levels(levels) => enter(node, levels, false, &mut stack, &mut visit),
            Rest::Subtree => {
                if let Some(message) = node.message.as_deref() {
                    visit(message);
                }
                // Leaves, most of a subtree, cost no frame.
                if !node.children.is_empty() {
                    stack.push(Frame {
                        candidates: Candidates::All {
                            children: node.children.iter(),
                            skip_system: false,
                        },
                        rest: Rest::Subtree,
                    });
                }
            }
        }
    }
}

/// Matches the filter levels `levels` below `node` (`None`: `node` matched the last one).
fn enter<'t, 'f>(
    node: &'t Node,
    levels: Option<&'f str>,
    at_root: bool,
    stack: &mut Vec<Frame<'t, 'f>>,
    visit: &mut impl FnMut(&'t Message),
) {
    let Some(levels) = levels else {
        if let Some(message) = node.message.as_deref() {
            visit(message);
        }
        return;
    };
    let (level, rest) = match levels.split_once('/') {
        Some((level, rest)) => (level, Some(rest)),
        None => (levels, None),
    };
    let frame = match level {
        MULTI_LEVEL_WILDCARD => {
            // `a/#` matches `a` too (§4.7.1.2); the root holds no message.
            if let Some(message) = node.message.as_deref() {
                visit(message);
            }
            Frame {
                candidates: Candidates::All {
                    children: node.children.iter(),
                    skip_system: at_root,
                },
                rest: Rest::Subtree,
            }
        }
        SINGLE_LEVEL_WILDCARD => Frame {
            candidates: Candidates::All {
                children: node.children.iter(),
                skip_system: at_root,
            },
            rest: Rest::Levels(rest),
        },
        exact => Frame {
            candidates: Candidates::One(node.children.get(exact)),
            rest: Rest::Levels(rest),
        },
    };
    stack.push(frame);
}
