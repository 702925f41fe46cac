//! Tests of the retained store: the spec's matching examples (MQTT 5.0 §4.7.1, §4.7.2)
//! adapted to retained messages, replace and delete (§3.3.1.3), expiry (§3.3.2.3.3),
//! bounds, and a seeded property test against a naive scan.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{RetainChange, RetainedLimits, RetainedStore};
use crate::broker::session::Message;
use crate::protocol::{QoS, TopicFilter, TopicName};

fn message(topic: &str, payload: &[u8], expiry_at_ms: Option<u64>) -> Message {
    Message {
        topic: TopicName::new(topic).expect("valid test topic"),
        payload: Bytes::copy_from_slice(payload),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: None,
        expiry_at_ms,
    }
}

fn set_at(
    store: &mut RetainedStore,
    topic: &str,
    payload: &[u8],
    expiry: Option<u64>,
    now_ms: u64,
) -> RetainChange {
    let message = message(topic, payload, expiry);
    let topic = message.topic.clone();
    let change = store.set(&topic, message, now_ms);
    store.check_invariants();
    change
}

fn set(store: &mut RetainedStore, topic: &str, payload: &[u8]) -> RetainChange {
    set_at(store, topic, payload, None, 0)
}

fn matched_at(store: &RetainedStore, filter: &str, now_ms: u64) -> Vec<String> {
    let filter = TopicFilter::new(filter).expect("valid test filter");
    let mut found = Vec::new();
    store.matching(&filter, now_ms, |message| {
        found.push(message.topic.as_str().to_owned())
    });
    found.sort_unstable();
    found
}

fn matched(store: &RetainedStore, filter: &str) -> Vec<String> {
    matched_at(store, filter, 0)
}

// MQTT 5.0 §4.7.1.2, §4.7.1.3, §4.7.2 and §4.7.3 examples, with the retained messages as
// the topics and the subscribe's filter as the query.
#[test]
fn spec_matching_examples() {
    let mut store = RetainedStore::default();
    let topics = [
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport",
        "$SYS/broker/uptime",
        "a//b",
        "/finance",
    ];
    for topic in topics {
        assert_eq!(set(&mut store, topic, b"x"), RetainChange::Inserted);
    }
    assert_eq!(store.len(), topics.len());
    let cases: &[(&str, &[&str])] = &[
        // `#` matches the parent level and everything below.
        (
            "sport/#",
            &[
                "sport",
                "sport/tennis/player1",
                "sport/tennis/player1/ranking",
            ],
        ),
        (
            "sport/tennis/player1/#",
            &["sport/tennis/player1", "sport/tennis/player1/ranking"],
        ),
        // `+` matches exactly one level.
        ("sport/tennis/+", &["sport/tennis/player1"]),
        ("sport/+", &[]),
        ("+", &["sport"]),
        // A leading wildcard does not match `$` topics (§4.7.2).
        (
            "#",
            &[
                "/finance",
                "a//b",
                "sport",
                "sport/tennis/player1",
                "sport/tennis/player1/ranking",
            ],
        ),
        ("+/broker/uptime", &[]),
        ("$SYS/#", &["$SYS/broker/uptime"]),
        ("$SYS/broker/+", &["$SYS/broker/uptime"]),
        // An empty level is a level: `+` matches it (§4.7.1.3, §4.7.3).
        ("+/+", &["/finance"]),
        ("/+", &["/finance"]),
        ("a/+/b", &["a//b"]),
        ("a//b", &["a//b"]),
        (
            "+/#",
            &[
                "/finance",
                "a//b",
                "sport",
                "sport/tennis/player1",
                "sport/tennis/player1/ranking",
            ],
        ),
        // Exact filters.
        ("sport", &["sport"]),
        ("sport/tennis", &[]),
        ("nothing/here", &[]),
        // No retained messages for a Shared Subscription (§4.8.2).
        ("$share/group/#", &[]),
        ("$share/group/sport", &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(matched(&store, filter), *expected, "filter {filter}");
    }
}

#[test]
fn set_replaces_and_get_reads() {
    let mut store = RetainedStore::default();
    assert_eq!(set(&mut store, "a/b", b"one"), RetainChange::Inserted);
    assert_eq!(set(&mut store, "a/b", b"three"), RetainChange::Replaced);
    let held = store
        .get(&TopicName::new("a/b").unwrap())
        .expect("retained");
    assert_eq!(held.payload, Bytes::from_static(b"three"));
    assert_eq!(store.len(), 1);
    assert_eq!(store.bytes(), 3 + 5);
    assert_eq!(store.node_count(), 2);
    assert!(store.get(&TopicName::new("a").unwrap()).is_none());
    assert!(store.get(&TopicName::new("a/b/c").unwrap()).is_none());
    assert_eq!(matched(&store, "a/+"), ["a/b"]);
}

#[test]
fn empty_payload_deletes_and_prunes() {
    // MQTT 5.0 §3.3.1.3 / 3.1.1 §3.3.1.3: a retained PUBLISH with an empty payload removes
    // the topic's retained message, and is not stored itself.
    let mut store = RetainedStore::default();
    set(&mut store, "a/b/c/d", b"x");
    set(&mut store, "a/b", b"x");
    set(&mut store, "a/x", b"x");
    assert_eq!(store.node_count(), 5);
    assert_eq!(set(&mut store, "a/b/c/d", b""), RetainChange::Deleted);
    assert_eq!(store.node_count(), 3);
    assert_eq!(matched(&store, "#"), ["a/b", "a/x"]);
    // A node with children stays when its own message goes.
    set(&mut store, "a/b/c", b"x");
    assert_eq!(set(&mut store, "a/b", b""), RetainChange::Deleted);
    assert_eq!(store.node_count(), 4);
    assert_eq!(matched(&store, "a/#"), ["a/b/c", "a/x"]);
    assert_eq!(set(&mut store, "a/b/c", b""), RetainChange::Deleted);
    assert_eq!(set(&mut store, "a/x", b""), RetainChange::Deleted);
    assert_eq!(store.node_count(), 0);
    assert_eq!((store.len(), store.bytes()), (0, 0));
    assert!(store.is_empty());
    // Deleting what is not there changes nothing, and stores nothing.
    assert_eq!(set(&mut store, "a/b", b""), RetainChange::NoOp);
    assert_eq!(store.node_count(), 0);
    assert_eq!(matched(&store, "#"), Vec::<String>::new());
}

#[test]
fn expired_messages_are_not_visited_and_are_purged() {
    // MQTT 5.0 §3.3.2.3.3: once the Message Expiry Interval has passed, the retained
    // message is not delivered to new subscribers.
    let mut store = RetainedStore::default();
    set_at(&mut store, "a/soon", b"x", Some(100), 0);
    set_at(&mut store, "a/later", b"x", Some(200), 0);
    set_at(&mut store, "a/never", b"x", None, 0);
    assert_eq!(store.next_expiry_ms(), Some(100));
    assert_eq!(
        matched_at(&store, "a/+", 99),
        ["a/later", "a/never", "a/soon"]
    );
    assert_eq!(matched_at(&store, "a/+", 100), ["a/later", "a/never"]);
    assert_eq!(matched_at(&store, "a/soon", 100), Vec::<String>::new());
    assert_eq!(store.purge_expired(99), 0);
    assert_eq!(store.purge_expired(100), 1);
    store.check_invariants();
    assert_eq!(store.len(), 2);
    assert_eq!(store.next_expiry_ms(), Some(200));
    // Replacing moves the message's expiry; a message without one leaves the index.
    assert_eq!(
        set_at(&mut store, "a/later", b"y", None, 150),
        RetainChange::Replaced
    );
    assert_eq!(store.next_expiry_ms(), None);
    assert_eq!(store.purge_expired(10_000), 0);
    // A message that arrives already expired replaces the old one, so deletes it.
    assert_eq!(
        set_at(&mut store, "a/never", b"x", Some(300), 300),
        RetainChange::Deleted
    );
    assert_eq!(
        set_at(&mut store, "a/gone", b"x", Some(300), 300),
        RetainChange::NoOp
    );
    set_at(&mut store, "a/later", b"x", Some(400), 300);
    assert_eq!(store.purge_expired(400), 1);
    store.check_invariants();
    assert_eq!(store.node_count(), 0);
    assert!(store.is_empty());
}

#[test]
fn bounds_refuse_and_leave_the_store_unchanged() {
    let mut store = RetainedStore::new(RetainedLimits {
        messages_max: 2,
        bytes_max: 10,
    });
    assert_eq!(store.limits().messages_max, 2);
    assert_eq!(set(&mut store, "a", b"1"), RetainChange::Inserted);
    assert_eq!(set(&mut store, "b", b"1"), RetainChange::Inserted);
    // A third topic passes messages_max; the nodes of its path are not left behind.
    assert_eq!(set(&mut store, "c/d/e", b"1"), RetainChange::RefusedFull);
    assert_eq!(store.node_count(), 2);
    assert!(store.get(&TopicName::new("c/d/e").unwrap()).is_none());
    // Replacing at messages_max is fine: the count does not grow.
    assert_eq!(set(&mut store, "a", b"22"), RetainChange::Replaced);
    assert_eq!(store.bytes(), (1 + 2) + (1 + 1));
    // A replacement that passes bytes_max is refused and the old message kept.
    assert_eq!(set(&mut store, "b", b"1234567"), RetainChange::RefusedFull);
    assert_eq!(
        store.get(&TopicName::new("b").unwrap()).unwrap().payload,
        Bytes::from_static(b"1")
    );
    assert_eq!(set(&mut store, "b", b"123456"), RetainChange::Replaced);
    assert_eq!(store.bytes(), 10);
    // Deleting always works and frees room.
    assert_eq!(set(&mut store, "b", b""), RetainChange::Deleted);
    assert_eq!(set(&mut store, "c/d/e", b"1"), RetainChange::Inserted);
    // Under a new topic's prefix, a refused insert prunes only what it created.
    assert_eq!(
        set(&mut store, "c/d/e/f/g", b"1"),
        RetainChange::RefusedFull
    );
    assert_eq!(store.node_count(), 4);
    store.check_invariants();
}

#[test]
fn deep_topics_walk_and_prune_without_recursion() {
    // 30,001 empty levels: a valid topic name far deeper than any call stack could recurse.
    let deep = "/".repeat(30_000);
    let mut store = RetainedStore::default();
    set(&mut store, &deep, b"x");
    set(&mut store, "a", b"x");
    assert_eq!(store.node_count(), 30_002);
    assert_eq!(matched(&store, "#").len(), 2);
    // Compared without `assert_eq!`, whose message would print the 30,000-byte topic.
    assert!(matched(&store, &format!("{deep}#")) == [deep.clone()]);
    // `{deep}+` has as many levels as the topic, the last `+` for its last empty level.
    assert!(matched(&store, &format!("{deep}+")) == [deep.clone()]);
    assert!(matched(&store, &format!("{}+", "/".repeat(29_999))).is_empty());
    assert!(matched(&store, &deep) == [deep.clone()]);
    assert_eq!(set(&mut store, &deep, b""), RetainChange::Deleted);
    assert_eq!(store.node_count(), 1);
    // And a store dropped with a deep topic in it drops iteratively.
    set(&mut store, &deep, b"x");
    drop(store);
}

/// xorshift64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOPIC_LEVELS: [&str; 4] = ["a", "b", "", "$SYS"];
const FILTER_LEVELS: [&str; 6] = ["a", "b", "", "$SYS", "+", "#"];

fn random_levels(rng: &mut Rng, alphabet: &[&str]) -> Vec<String> {
    let depth = 1 + rng.below(4);
    (0..depth)
        .map(|_| alphabet[rng.below(alphabet.len())].to_owned())
        .collect()
}

/// MQTT 5.0 §4.7, written as plainly as possible to check the trie walk against.
fn reference_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let topic: Vec<&str> = topic.split('/').collect();
    for (i, level) in filter.split('/').enumerate() {
        if level == "#" {
            // The first `i` levels matched, so the topic has at least `i`: `a/#` takes `a`.
            return true;
        }
        match topic.get(i) {
            Some(t) if level == "+" || level == *t => {}
            _ => return false,
        }
    }
    filter.split('/').count() == topic.len()
}

#[test]
fn reference_matcher_agrees_with_the_spec() {
    assert!(reference_matches("a/#", "a"));
    assert!(reference_matches("#", "a//b"));
    assert!(!reference_matches("#", "$SYS/x"));
    assert!(!reference_matches("+/x", "$SYS/x"));
    assert!(reference_matches("$SYS/+", "$SYS/x"));
    assert!(reference_matches("+/+", "/x"));
    assert!(!reference_matches("a/+", "a"));
    assert!(!reference_matches("a", "a/b"));
}

#[test]
fn matching_agrees_with_a_naive_scan() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let limits = RetainedLimits {
            messages_max: 5 + rng.below(40),
            bytes_max: 40 + rng.below(200),
        };
        let mut store = RetainedStore::new(limits);
        let mut model: BTreeMap<String, Message> = BTreeMap::new();
        let mut now_ms = 0u64;
        for step in 0..2_000 {
            now_ms += rng.below(3) as u64;
            match rng.below(10) {
                0..=5 => {
                    let topic = random_levels(&mut rng, &TOPIC_LEVELS).join("/");
                    if topic.is_empty() {
                        continue;
                    }
                    let payload_len = [0, 1, 2, 5][rng.below(4)];
                    let expiry = (rng.below(3) == 0).then(|| now_ms + rng.below(20) as u64);
                    let message = message(&topic, &vec![7; payload_len], expiry);
                    // The model: §3.3.1.3 plus the bounds as documented.
                    let expected = if payload_len == 0 || message.is_expired(now_ms) {
                        match model.remove(&topic) {
                            Some(_) => RetainChange::Deleted,
                            None => RetainChange::NoOp,
                        }
                    } else {
                        let old = model.get(&topic).map(Message::size_bytes);
                        let len_after = model.len() + usize::from(old.is_none());
                        let bytes_after: usize =
                            model.values().map(Message::size_bytes).sum::<usize>()
                                - old.unwrap_or(0)
                                + message.size_bytes();
                        if len_after > limits.messages_max || bytes_after > limits.bytes_max {
                            RetainChange::RefusedFull
                        } else {
                            model.insert(topic.clone(), message.clone());
                            if old.is_some() {
                                RetainChange::Replaced
                            } else {
                                RetainChange::Inserted
                            }
                        }
                    };
                    let name = message.topic.clone();
                    assert_eq!(
                        store.set(&name, message, now_ms),
                        expected,
                        "seed {seed} step {step} {topic:?}"
                    );
                }
                6..=8 => {
                    let filter = random_levels(&mut rng, &FILTER_LEVELS);
                    // `#` only as the last level.
                    let last = filter.len() - 1;
                    let filter: Vec<&str> = filter
                        .iter()
                        .enumerate()
                        .map(|(i, level)| {
                            if level == "#" && i != last {
                                "+"
                            } else {
                                level.as_str()
                            }
                        })
                        .collect();
                    let filter = filter.join("/");
                    let Ok(parsed) = TopicFilter::new(&filter) else {
                        continue;
                    };
                    let mut found = Vec::new();
                    store.matching(&parsed, now_ms, |m| found.push(m.topic.as_str().to_owned()));
                    found.sort_unstable();
                    let expected: Vec<String> = model
                        .iter()
                        .filter(|(topic, m)| {
                            !m.is_expired(now_ms) && reference_matches(&filter, topic)
                        })
                        .map(|(topic, _)| topic.clone())
                        .collect();
                    assert_eq!(found, expected, "seed {seed} step {step} filter {filter:?}");
                }
                _ => {
                    let before = model.len();
                    model.retain(|_, m| !m.is_expired(now_ms));
                    assert_eq!(store.purge_expired(now_ms), before - model.len());
                }
            }
            assert_eq!(store.len(), model.len());
        }
        store.check_invariants();
        for topic in model.keys() {
            let name = TopicName::new(topic).unwrap();
            let expected = store.get(&name).expect("stored").clone();
            assert_eq!(model[topic], expected);
            assert_eq!(
                store.set(&name, message(topic, b"", None), now_ms),
                RetainChange::Deleted
            );
        }
        store.check_invariants();
        assert_eq!(store.node_count(), 0);
        assert_eq!(store.bytes(), 0);
        assert_eq!(store.next_expiry_ms(), None);
    }
}
