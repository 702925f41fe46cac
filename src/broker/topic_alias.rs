//! Server-to-client Topic Aliases (MQTT 5.0 §3.3.2.3.4), decided purely: a topic in, the
//! alias to send with it out. The map lives for one network connection, as the spec says;
//! one per connection whose client allows aliases, on the shard that serves it.

use std::collections::HashMap;
use std::num::NonZeroU16;

use crate::protocol::TopicName;

/// How the broker gives Topic Aliases to the topics it sends a client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutboundAliasPolicy {
    /// Never: every PUBLISH carries its topic.
    Off,
    /// The first topics sent take the aliases and keep them for the connection: no topic
    /// is ever re-sent in full once aliased, and later topics go without an alias.
    First,
    /// Aliases go to the topics sent; when all are taken, the least recently sent topic
    /// gives its alias to the new one (the new topic is sent in full once).
    #[default]
    Lru,
}

impl OutboundAliasPolicy {
    /// The configuration words, in the order the documentation lists them.
    pub const NAMES: [&'static str; 3] = ["lru", "first", "off"];

    /// The policy a configuration word names.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "lru" => Some(Self::Lru),
            "first" => Some(Self::First),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

/// What to send a PUBLISH with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AliasUse {
    /// Send the topic and set this alias to it.
    Set(NonZeroU16),
    /// Send an empty topic and this alias: the client has the topic already.
    Use(NonZeroU16),
}

/// The aliases given on one connection.
#[derive(Debug)]
pub struct OutboundAliases {
    policy: OutboundAliasPolicy,
    maximum: u16,
    by_topic: HashMap<TopicName, u16>,
    /// Index = alias - 1: the topic holding it and when it was last sent.
    slots: Vec<(TopicName, u64)>,
    tick: u64,
}

impl OutboundAliases {
    /// Aliases 1..=`maximum` under `policy`; `None` when no alias can be given (the
    /// client's Topic Alias Maximum, or ours, is 0, or the policy is off).
    pub fn new(policy: OutboundAliasPolicy, maximum: u16) -> Option<Self> {
        (policy != OutboundAliasPolicy::Off && maximum > 0).then(|| OutboundAliases {
            policy,
            maximum,
            by_topic: HashMap::new(),
            slots: Vec::new(),
            tick: 0,
        })
    }

    /// The alias to send `topic` with, if any; records the choice, so call it only for a
    /// PUBLISH that is sent.
    pub fn assign(&mut self, topic: &TopicName) -> Option<AliasUse> {
        self.tick += 1;
        if let Some(&alias) = self.by_topic.get(topic) {
            self.slots[usize::from(alias - 1)].1 = self.tick;
            return NonZeroU16::new(alias).map(AliasUse::Use);
        }
        // Detached: the map outlives the buffer the topic was read from.
        let topic = topic.detached();
        let alias = if self.slots.len() < usize::from(self.maximum) {
            self.slots.push((topic.clone(), self.tick));
            self.slots.len() as u16
        } else if self.policy == OutboundAliasPolicy::Lru {
            let (slot, _) = self
                .slots
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, last_sent))| *last_sent)?;
            let (old, _) = std::mem::replace(&mut self.slots[slot], (topic.clone(), self.tick));
            self.by_topic.remove(&old);
            slot as u16 + 1
        } else {
            return None;
        };
        self.by_topic.insert(topic, alias);
        NonZeroU16::new(alias).map(AliasUse::Set)
    }

    /// Topics holding an alias now.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no topic holds an alias.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).unwrap()
    }

    fn alias(n: u16) -> NonZeroU16 {
        NonZeroU16::new(n).unwrap()
    }

    #[test]
    fn no_aliases_when_off_or_the_maximum_is_zero() {
        assert!(OutboundAliases::new(OutboundAliasPolicy::Off, 10).is_none());
        assert!(OutboundAliases::new(OutboundAliasPolicy::Lru, 0).is_none());
    }

    #[test]
    fn a_topic_is_sent_in_full_once_then_by_alias() {
        let mut aliases = OutboundAliases::new(OutboundAliasPolicy::Lru, 2).unwrap();
        assert_eq!(aliases.assign(&topic("a")), Some(AliasUse::Set(alias(1))));
        assert_eq!(aliases.assign(&topic("b")), Some(AliasUse::Set(alias(2))));
        assert_eq!(aliases.assign(&topic("a")), Some(AliasUse::Use(alias(1))));
        assert_eq!(aliases.assign(&topic("b")), Some(AliasUse::Use(alias(2))));
    }

    #[test]
    fn lru_gives_the_least_recently_sent_alias_to_a_new_topic() {
        let mut aliases = OutboundAliases::new(OutboundAliasPolicy::Lru, 2).unwrap();
        aliases.assign(&topic("a"));
        aliases.assign(&topic("b"));
        aliases.assign(&topic("a")); // b is now the least recently sent
        assert_eq!(aliases.assign(&topic("c")), Some(AliasUse::Set(alias(2))));
        // §3.3.2.3.4: b lost its alias, so it must be sent in full again.
        assert_eq!(aliases.assign(&topic("b")), Some(AliasUse::Set(alias(1))));
        assert_eq!(aliases.assign(&topic("c")), Some(AliasUse::Use(alias(2))));
        assert_eq!(aliases.len(), 2, "never more aliases than the maximum");
    }

    #[test]
    fn first_keeps_the_aliases_and_sends_later_topics_plain() {
        let mut aliases = OutboundAliases::new(OutboundAliasPolicy::First, 1).unwrap();
        assert_eq!(aliases.assign(&topic("a")), Some(AliasUse::Set(alias(1))));
        assert_eq!(aliases.assign(&topic("b")), None);
        assert_eq!(aliases.assign(&topic("a")), Some(AliasUse::Use(alias(1))));
    }

    #[test]
    fn policy_names_round_trip() {
        for name in OutboundAliasPolicy::NAMES {
            assert!(OutboundAliasPolicy::from_name(name).is_some());
        }
        assert_eq!(OutboundAliasPolicy::from_name("LRU"), None);
    }
}
