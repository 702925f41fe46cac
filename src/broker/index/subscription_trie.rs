//! `SubscriptionTrie<S, V>`: the shard-local subscription index (DESIGN.md "Routing"):
//! topic filter → local subscribers and shared groups. Pure, no I/O.

use std::collections::HashMap;
use std::hash::Hash;

use super::subscribers::Subscribers;
use super::trie::Trie;
use crate::protocol::{TopicFilter, TopicName};

/// Topic filter → the subscribers `S` (a session key) homed on this shard, each with its
/// subscription options `V`, and the shared groups (`$share/{group}/{filter}`) with their
/// members on this shard. One per shard; only that shard reads and writes it.
///
/// A shared subscription is stored under its inner filter, in its group's member set,
/// apart from the plain subscribers of that filter. The per-filter count that drives route
/// updates (0→1: add the route, 1→0: remove it) counts both, since the route table routes a
/// shared subscription by its inner filter too.
pub struct SubscriptionTrie<S, V> {
    trie: Trie<FilterEntry<S, V>>,
    filter_count: usize,
    subscription_count: usize,
}

/// What a subscribe changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscribeOutcome {
    /// False if the subscriber already had this subscription: its options were replaced
    /// (MQTT 5.0 §3.8.4, [MQTT-3.8.4-3]).
    pub is_new_subscription: bool,
    /// The (inner) filter had no subscription on this shard before: add the route.
    pub filter_count_went_0_to_1: bool,
}

/// What an unsubscribe removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsubscribed<V> {
    /// The options of the removed subscription.
    pub options: V,
    /// The (inner) filter has no subscription left on this shard: the route may go.
    pub filter_count_went_1_to_0: bool,
}

/// One subscription, or one shared group, whose filter matches a topic.
#[derive(Debug)]
pub enum Match<'a, S, V> {
    /// A plain subscription.
    Subscription {
        /// Who subscribed.
        subscriber: S,
        /// Its subscription options.
        options: &'a V,
        /// The filter that matched.
        filter: &'a str,
    },
    /// A shared group: the caller delivers to one of its members.
    SharedGroup {
        /// The ShareName.
        group: &'a str,
        /// The inner filter that matched (without `$share/{group}/`).
        filter: &'a str,
        /// The group's members on this shard; never empty.
        members: Members<'a, S, V>,
    },
}

/// The members of one shared group on this shard, in a stable order between changes to
/// the group, so that the caller can pick the i-th (round robin) in O(1).
pub struct Members<'a, S, V>(&'a Subscribers<S, V>);

impl<S: Copy + Eq + Hash, V> Members<'_, S, V> {
    /// Members in the group.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if the group has no member here (never, for a matched group).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `index`-th member and its options.
    pub fn get(&self, index: usize) -> Option<(S, &V)> {
        self.0.get_index(index)
    }

    /// Every member and its options.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (S, &V)> + '_ {
        self.0.iter()
    }

    /// The group's next round-robin turn (1, 2, ...): each group on each shard counts
    /// its own.
    pub fn next_turn(&self) -> u64 {
        self.0.next_turn()
    }
}

impl<S: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for Members<'_, S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.entries()).finish()
    }
}

/// Everything subscribed to one inner filter on this shard.
struct FilterEntry<S, V> {
    /// The inner filter, copied: a slice of the SUBSCRIBE packet would keep its whole read
    /// buffer alive.
    filter: Box<str>,
    subscribers: Subscribers<S, V>,
    /// ShareName → members. std's SipHash: ShareNames are chosen by clients.
    groups: HashMap<Box<str>, Subscribers<S, V>>,
    /// Plain subscribers plus members of every group.
    subscription_count: usize,
}

impl<S, V> Default for SubscriptionTrie<S, V> {
    fn default() -> Self {
        Self {
            trie: Trie::default(),
            filter_count: 0,
            subscription_count: 0,
        }
    }
}

impl<S: Copy + Eq + Hash, V> SubscriptionTrie<S, V> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes `subscriber` to `filter` with `options`, replacing the options of an
    /// existing identical subscription (same subscriber, same filter and group).
    pub fn subscribe(
        &mut self,
        filter: &TopicFilter,
        subscriber: S,
        options: V,
    ) -> SubscribeOutcome {
        let slot = self.trie.slot_mut(filter.filter());
        let filter_count_went_0_to_1 = slot.is_none();
        let entry = slot.get_or_insert_with(|| {
            Box::new(FilterEntry {
                filter: filter.filter().into(),
                subscribers: Subscribers::default(),
                groups: HashMap::new(),
                subscription_count: 0,
            })
        });
        let set = match filter.share_group() {
            None => &mut entry.subscribers,
            Some(group) => {
                if !entry.groups.contains_key(group) {
                    entry.groups.insert(group.into(), Subscribers::default());
                }
                entry
                    .groups
                    .get_mut(group)
                    .expect("the group was found or inserted just above")
            }
        };
        let is_new_subscription = set.insert(subscriber, options).is_none();
        if is_new_subscription {
            entry.subscription_count += 1;
            self.subscription_count += 1;
        }
        self.filter_count += usize::from(filter_count_went_0_to_1);
        SubscribeOutcome {
            is_new_subscription,
            filter_count_went_0_to_1,
        }
    }

    /// Removes the subscription of `subscriber` to `filter` (same group, for a shared one);
    /// `None` if there was none. An inner filter left without subscriptions is removed and
    /// its trie nodes pruned.
    pub fn unsubscribe(&mut self, filter: &TopicFilter, subscriber: S) -> Option<Unsubscribed<V>> {
        let group = filter.share_group();
        let removed = self.trie.update_existing(filter.filter(), |slot| {
            let entry = slot.as_mut()?;
            let options = match group {
                None => entry.subscribers.remove(subscriber)?,
                Some(group) => {
                    let members = entry.groups.get_mut(group)?;
                    let options = members.remove(subscriber)?;
                    if members.is_empty() {
                        entry.groups.remove(group);
                    }
                    options
                }
            };
            entry.subscription_count -= 1;
            let filter_count_went_1_to_0 = entry.subscription_count == 0;
            if filter_count_went_1_to_0 {
                *slot = None;
            }
            Some(Unsubscribed {
                options,
                filter_count_went_1_to_0,
            })
        });
        let unsubscribed = removed.flatten()?;
        self.subscription_count -= 1;
        self.filter_count -= usize::from(unsubscribed.filter_count_went_1_to_0);
        Some(unsubscribed)
    }

    /// Removes every subscription of `subscriber` among `filters` (the filters its session
    /// holds, since the index keeps no reverse map) and calls `filter_gone` with each filter
    /// whose inner filter has no subscription left on this shard.
    pub fn unsubscribe_all<'f>(
        &mut self,
        subscriber: S,
        filters: impl IntoIterator<Item = &'f TopicFilter>,
        mut filter_gone: impl FnMut(&'f TopicFilter),
    ) {
        for filter in filters {
            let unsubscribed = self.unsubscribe(filter, subscriber);
            if unsubscribed.is_some_and(|u| u.filter_count_went_1_to_0) {
                filter_gone(filter);
            }
        }
    }

    /// The options of `subscriber`'s subscription to `filter` (same group, if shared).
    pub fn get(&self, filter: &TopicFilter, subscriber: S) -> Option<&V> {
        let entry = self.trie.get(filter.filter())?;
        match filter.share_group() {
            None => entry.subscribers.get(subscriber),
            Some(group) => entry.groups.get(group)?.get(subscriber),
        }
    }

    /// The members on this shard of the shared group `group` of inner filter `filter`
    /// (exactly that filter: no matching); `None` when it has none here.
    pub fn group_members(&self, filter: &str, group: &str) -> Option<Members<'_, S, V>> {
        let members = self.trie.get(filter)?.groups.get(group)?;
        Some(Members(members))
    }

    /// Calls `visit` once for every plain subscription whose filter matches `topic` and
    /// once for every shared group whose inner filter matches it (MQTT 5.0 §4.7, §4.8.2).
    /// A subscriber with several matching filters is visited once per filter: the caller
    /// applies the overlap policy of its protocol version (MQTT 3.1.1 one copy at the
    /// highest QoS, MQTT 5.0 one per subscription). Does not allocate for topics and filters
    /// of ordinary depth. A Topic Alias must be resolved first: the empty topic name
    /// matches as one empty level.
    pub fn matches<'a>(&'a self, topic: &TopicName, mut visit: impl FnMut(Match<'a, S, V>)) {
        self.trie.walk(topic.as_str(), |entry| {
            let filter = &*entry.filter;
            for (subscriber, options) in entry.subscribers.iter() {
                visit(Match::Subscription {
                    subscriber,
                    options,
                    filter,
                });
            }
            for (group, members) in &entry.groups {
                visit(Match::SharedGroup {
                    group,
                    filter,
                    members: Members(members),
                });
            }
        });
    }

    /// Subscriptions held, plain and shared.
    pub fn subscription_count(&self) -> usize {
        self.subscription_count
    }

    /// Distinct inner filters with at least one subscription.
    pub fn filter_count(&self) -> usize {
        self.filter_count
    }

    /// Trie nodes held: 0 once every subscription is gone.
    pub fn node_count(&self) -> usize {
        self.trie.node_count()
    }

    /// True if no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.subscription_count == 0
    }
}
