//! Tests of the subscription index against MQTT 5.0 §4.7 and §4.8.2, and against a naive
//! reference matcher over random filters and topics (fixed seed, so failures reproduce).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Match, RouteTable, ShardSet, SubscribeOutcome, SubscriptionTrie, Unsubscribed};
use crate::protocol::{TopicFilter, TopicName};

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).expect("valid test filter")
}

fn topic(t: &str) -> TopicName {
    TopicName::new(t).expect("valid test topic")
}

/// The filters (as given) among `filters` that match `topic`, sorted.
fn matching(filters: &[&str], topic_name: &str) -> Vec<String> {
    let mut trie = SubscriptionTrie::new();
    for (subscriber, f) in filters.iter().enumerate() {
        trie.subscribe(&filter(f), subscriber, ());
    }
    let mut found = Vec::new();
    trie.matches(&topic(topic_name), |m| {
        if let Match::Subscription { subscriber, .. } = m {
            found.push(filters[subscriber].to_string());
        }
    });
    found.sort();
    found
}

fn assert_matches(filters: &[&str], topic_name: &str, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|e| e.to_string()).collect();
    expected.sort();
    assert_eq!(
        matching(filters, topic_name),
        expected,
        "topic {topic_name:?}"
    );
}

// MQTT 5.0 §4.7.1.2 Multi-level wildcard.
#[test]
fn multi_level_wildcard() {
    let filters = ["sport/tennis/player1/#", "sport/#", "#", "sport/tennis/#"];
    for t in [
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
    ] {
        assert_matches(&filters, t, &filters);
    }
    assert_matches(&filters, "sport", &["sport/#", "#"]);
    assert_matches(
        &filters,
        "sport/tennis",
        &["sport/#", "#", "sport/tennis/#"],
    );
    assert_matches(&filters, "sports", &["#"]);
}

// MQTT 5.0 §4.7.1.3 Single-level wildcard.
#[test]
fn single_level_wildcard() {
    let filters = ["sport/tennis/+", "sport/+", "+", "+/+", "/+", "+/tennis/#"];
    assert_matches(
        &filters,
        "sport/tennis/player1",
        &["sport/tennis/+", "+/tennis/#"],
    );
    assert_matches(
        &filters,
        "sport/tennis/player2",
        &["sport/tennis/+", "+/tennis/#"],
    );
    assert_matches(&filters, "sport/tennis/player1/ranking", &["+/tennis/#"]);
    assert_matches(&filters, "sport", &["+"]);
    assert_matches(&filters, "sport/", &["sport/+", "+/+"]);
    assert_matches(&filters, "sport/tennis", &["sport/+", "+/+", "+/tennis/#"]);
    assert_matches(&filters, "/finance", &["+/+", "/+"]);
}

// MQTT 5.0 §4.7.2 Topics beginning with $.
#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let filters = [
        "#",
        "+/monitor/Clients",
        "$SYS/#",
        "$SYS/monitor/+",
        "+/#",
        "$SYS",
    ];
    assert_matches(
        &filters,
        "$SYS/monitor/Clients",
        &["$SYS/#", "$SYS/monitor/+"],
    );
    assert_matches(&filters, "$SYS/x", &["$SYS/#"]);
    assert_matches(&filters, "$SYS", &["$SYS/#", "$SYS"]);
    assert_matches(&filters, "$", &[]);
    assert_matches(
        &filters,
        "SYS/monitor/Clients",
        &["#", "+/monitor/Clients", "+/#"],
    );
    // Only the first level counts.
    assert_matches(&["a/+", "a/#"], "a/$SYS", &["a/+", "a/#"]);
}

// MQTT 5.0 §4.7.3: empty levels are levels; `/` has two.
#[test]
fn empty_levels() {
    let filters = [
        "a//b", "a/+/b", "a/b", "+", "+/+", "/+", "+/", "/", "/#", "#", "//",
    ];
    assert_matches(&filters, "a//b", &["a//b", "a/+/b", "#"]);
    assert_matches(&filters, "/", &["+/+", "/+", "+/", "/", "/#", "#"]);
    assert_matches(&filters, "//", &["/#", "#", "//"]);
    assert_matches(&filters, "a/", &["+/+", "+/", "#"]);
}

// MQTT 5.0 §4.8.2: a shared subscription is stored under its inner filter in its group,
// apart from plain subscribers, and reported once per group.
#[test]
fn shared_groups_are_stored_and_matched_apart() {
    let mut trie = SubscriptionTrie::new();
    let new_filter = SubscribeOutcome {
        is_new_subscription: true,
        filter_count_went_0_to_1: true,
    };
    let new_subscription = SubscribeOutcome {
        is_new_subscription: true,
        filter_count_went_0_to_1: false,
    };
    assert_eq!(trie.subscribe(&filter("a/+"), 1, 'p'), new_filter);
    assert_eq!(
        trie.subscribe(&filter("$share/g/a/+"), 2, 'x'),
        new_subscription
    );
    assert_eq!(
        trie.subscribe(&filter("$share/g/a/+"), 3, 'y'),
        new_subscription
    );
    assert_eq!(
        trie.subscribe(&filter("$share/h/a/+"), 1, 'z'),
        new_subscription
    );
    assert_eq!(trie.subscribe(&filter("$share/g/#"), 4, 'w'), new_filter);
    assert_eq!(trie.filter_count(), 2);
    assert_eq!(trie.subscription_count(), 5);

    let mut plain = Vec::new();
    let mut groups = Vec::new();
    trie.matches(&topic("a/b"), |m| match m {
        Match::Subscription {
            subscriber,
            options,
            filter,
        } => plain.push((subscriber, *options, filter.to_string())),
        Match::SharedGroup {
            group,
            filter,
            members,
        } => {
            let mut members: Vec<(i32, char)> = members.iter().map(|(s, o)| (s, *o)).collect();
            members.sort();
            groups.push((group.to_string(), filter.to_string(), members));
        }
    });
    groups.sort();
    assert_eq!(plain, [(1, 'p', "a/+".to_string())]);
    assert_eq!(
        groups,
        [
            ("g".to_string(), "#".to_string(), vec![(4, 'w')]),
            ("g".to_string(), "a/+".to_string(), vec![(2, 'x'), (3, 'y')]),
            ("h".to_string(), "a/+".to_string(), vec![(1, 'z')]),
        ]
    );

    assert_eq!(trie.get(&filter("$share/g/a/+"), 3), Some(&'y'));
    assert_eq!(trie.get(&filter("a/+"), 3), None);
    // Not a plain subscriber, not in group h: nothing to remove.
    assert_eq!(trie.unsubscribe(&filter("a/+"), 2), None);
    assert_eq!(trie.unsubscribe(&filter("$share/h/a/+"), 2), None);
    assert_eq!(trie.unsubscribe(&filter("$share/k/a/+"), 2), None);
    let kept = |options| {
        Some(Unsubscribed {
            options,
            filter_count_went_1_to_0: false,
        })
    };
    assert_eq!(trie.unsubscribe(&filter("$share/g/a/+"), 2), kept('x'));
    assert_eq!(trie.unsubscribe(&filter("a/+"), 1), kept('p'));
    assert_eq!(trie.unsubscribe(&filter("$share/h/a/+"), 1), kept('z'));
    assert_eq!(
        trie.unsubscribe(&filter("$share/g/a/+"), 3),
        Some(Unsubscribed {
            options: 'y',
            filter_count_went_1_to_0: true,
        })
    );
    assert_eq!(trie.filter_count(), 1);
    let mut seen = 0;
    trie.matches(&topic("a/b"), |_| seen += 1);
    assert_eq!(seen, 1);
}

#[test]
fn subscribing_again_replaces_the_options() {
    let mut trie = SubscriptionTrie::new();
    let f = filter("fleet/+/telemetry/#");
    assert!(trie.subscribe(&f, 7u64, 1u8).is_new_subscription);
    assert_eq!(
        trie.subscribe(&f, 7, 2),
        SubscribeOutcome {
            is_new_subscription: false,
            filter_count_went_0_to_1: false,
        }
    );
    assert_eq!(trie.get(&f, 7), Some(&2));
    assert_eq!(trie.subscription_count(), 1);
    let mut seen = Vec::new();
    trie.matches(&topic("fleet/v1/telemetry"), |m| {
        if let Match::Subscription { options, .. } = m {
            seen.push(*options);
        }
    });
    assert_eq!(seen, [2]);
}

#[test]
fn unsubscribe_prunes_every_node() {
    let mut trie = SubscriptionTrie::new();
    let filters = [
        "a/b/c",
        "a/b",
        "a/+/c/#",
        "#",
        "/",
        "+/+/+/+",
        "$share/g/a/b/c",
        "a/#",
    ];
    for (i, f) in filters.iter().enumerate() {
        trie.subscribe(&filter(f), i, ());
        trie.subscribe(&filter(f), 100 + i, ());
    }
    assert!(trie.node_count() > 0);
    let mut gone = Vec::new();
    for i in 0..filters.len() {
        let held: Vec<TopicFilter> = filters.iter().map(|f| filter(f)).collect();
        trie.unsubscribe_all(i, &held, |f| gone.push(f.to_string()));
    }
    assert!(gone.is_empty(), "each filter still has one subscriber");
    for (i, f) in filters.iter().enumerate() {
        let went_1_to_0 = trie
            .unsubscribe(&filter(f), 100 + i)
            .map(|u| u.filter_count_went_1_to_0);
        // `$share/g/a/b/c` shares its inner filter with `a/b/c`, removed first.
        assert_eq!(went_1_to_0, Some(*f != "a/b/c"), "{f}");
    }
    assert!(trie.is_empty());
    assert_eq!(trie.filter_count(), 0);
    assert_eq!(trie.node_count(), 0);
}

#[test]
fn route_table_unions_the_masks_of_matching_filters() {
    let mut routes = RouteTable::new();
    assert!(routes.add(&filter("a/+"), 1));
    assert!(!routes.add(&filter("a/+"), 1));
    assert!(routes.add(&filter("a/#"), 2));
    assert!(routes.add(&filter("#"), 3));
    assert!(routes.add(&filter("$share/g/a/b"), 200));
    assert!(routes.add(&filter("b"), 5));
    assert!(routes.add(&filter("a/+"), 70));
    let shards = |routes: &RouteTable, t| routes.route(&topic(t)).iter().collect::<Vec<_>>();
    assert_eq!(shards(&routes, "a/b"), [1, 2, 3, 70, 200]);
    assert_eq!(shards(&routes, "a"), [2, 3]);
    assert_eq!(shards(&routes, "b"), [3, 5]);
    assert_eq!(shards(&routes, "$SYS/a"), Vec::<usize>::new());
    assert_eq!(routes.shards_of(&filter("a/b")), ShardSet::single(200));
    assert_eq!(routes.filter_count(), 5);

    assert!(!routes.remove(&filter("a/+"), 2));
    assert!(!routes.remove(&filter("c/d"), 2));
    assert!(routes.remove(&filter("a/+"), 1));
    assert_eq!(shards(&routes, "a/b"), [2, 3, 70, 200]);
    for (f, shard) in [("a/+", 70), ("a/#", 2), ("#", 3), ("a/b", 200), ("b", 5)] {
        assert!(routes.remove(&filter(f), shard), "{f}");
    }
    assert!(routes.is_empty());
    assert_eq!(routes.node_count(), 0);
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const LEVELS: [&str; 4] = ["a", "b", "", "$SYS"];

fn random_filter(rng: &mut Rng) -> String {
    let mut levels: Vec<&str> = (0..1 + rng.below(4))
        .map(|_| rng.pick(&["a", "b", "", "$SYS", "+", "+"]))
        .collect();
    if rng.below(3) == 0 {
        levels.push("#");
    }
    let inner = levels.join("/");
    match rng.below(6) {
        0 => format!("$share/g/{inner}"),
        1 => format!("$share/h/{inner}"),
        _ => inner,
    }
}

fn random_topic(rng: &mut Rng) -> String {
    let levels: Vec<&str> = (0..1 + rng.below(4)).map(|_| rng.pick(&LEVELS)).collect();
    levels.join("/")
}

/// MQTT 5.0 §4.7 written as directly as possible.
fn reference_matches(inner_filter: &str, topic_name: &str) -> bool {
    if topic_name.starts_with('$') && inner_filter.starts_with(['+', '#']) {
        return false;
    }
    let filter_levels: Vec<&str> = inner_filter.split('/').collect();
    let topic_levels: Vec<&str> = topic_name.split('/').collect();
    for i in 0.. {
        match (filter_levels.get(i), topic_levels.get(i)) {
            (Some(&"#"), _) => return true,
            (None, None) => return true,
            (Some(&"+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            _ => return false,
        }
    }
    unreachable!("the loop returns")
}

/// What a match reports, in comparable form: plain (subscriber, filter, options) and
/// (group, filter) → members with options.
type Seen = (
    BTreeSet<(u32, String, u32)>,
    BTreeMap<(String, String), BTreeSet<(u32, u32)>>,
);

fn seen_by_trie(trie: &SubscriptionTrie<u32, u32>, topic_name: &TopicName) -> Seen {
    let mut seen = Seen::default();
    trie.matches(topic_name, |m| match m {
        Match::Subscription {
            subscriber,
            options,
            filter,
        } => {
            assert!(seen.0.insert((subscriber, filter.to_string(), *options)));
        }
        Match::SharedGroup {
            group,
            filter,
            members,
        } => {
            assert!(!members.is_empty());
            let members: BTreeSet<(u32, u32)> = members.iter().map(|(s, o)| (s, *o)).collect();
            let key = (group.to_string(), filter.to_string());
            assert!(seen.1.insert(key, members).is_none());
        }
    });
    seen
}

fn seen_by_reference(model: &HashMap<(TopicFilter, u32), u32>, topic_name: &str) -> Seen {
    let mut seen = Seen::default();
    for ((f, subscriber), options) in model {
        if !reference_matches(f.filter(), topic_name) {
            continue;
        }
        match f.share_group() {
            None => {
                seen.0
                    .insert((*subscriber, f.filter().to_string(), *options));
            }
            Some(group) => {
                let key = (group.to_string(), f.filter().to_string());
                seen.1
                    .entry(key)
                    .or_default()
                    .insert((*subscriber, *options));
            }
        }
    }
    seen
}

#[test]
fn matches_agree_with_the_reference_matcher() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut trie = SubscriptionTrie::new();
    let mut model: HashMap<(TopicFilter, u32), u32> = HashMap::new();
    let mut model_len_max = 0;
    let inner_count = |model: &HashMap<(TopicFilter, u32), u32>, inner: &str| {
        model.keys().filter(|(f, _)| f.filter() == inner).count()
    };
    for round in 0..300 {
        for _ in 0..20 {
            // The model grows in the first half and shrinks in the second.
            let hit_one_in = if round < 150 { 4 } else { 1 };
            let (f, subscriber) = match model.keys().nth(rng.below(model.len() + 1)) {
                Some(key) if rng.below(hit_one_in) == 0 => key.clone(),
                _ => {
                    let Ok(f) = TopicFilter::new(&random_filter(&mut rng)) else {
                        continue;
                    };
                    if rng.below(3) != 0 {
                        let options = rng.below(1000) as u32;
                        let subscriber = rng.below(6) as u32;
                        let before = inner_count(&model, f.filter());
                        let expected = SubscribeOutcome {
                            is_new_subscription: !model.contains_key(&(f.clone(), subscriber)),
                            filter_count_went_0_to_1: before == 0,
                        };
                        assert_eq!(trie.subscribe(&f, subscriber, options), expected, "{f}");
                        model.insert((f, subscriber), options);
                        continue;
                    }
                    (f, rng.below(6) as u32)
                }
            };
            let before = inner_count(&model, f.filter());
            let expected = model
                .remove(&(f.clone(), subscriber))
                .map(|options| Unsubscribed {
                    options,
                    filter_count_went_1_to_0: before == 1,
                });
            assert_eq!(trie.unsubscribe(&f, subscriber), expected, "{f}");
        }
        assert_eq!(trie.subscription_count(), model.len());
        model_len_max = model_len_max.max(model.len());
        for _ in 0..20 {
            let name = random_topic(&mut rng);
            let Ok(t) = TopicName::new(&name) else {
                continue;
            };
            assert_eq!(
                seen_by_trie(&trie, &t),
                seen_by_reference(&model, &name),
                "round {round}, topic {name:?}"
            );
        }
    }
    assert!(model_len_max > 300, "{model_len_max}: too few to test much");
    for (f, subscriber) in model.keys() {
        assert!(trie.unsubscribe(f, *subscriber).is_some());
    }
    assert!(trie.is_empty());
    assert_eq!(trie.node_count(), 0);
}

#[test]
fn routes_agree_with_the_reference_matcher() {
    let mut rng = Rng(0x5eed_5678_0000_0002);
    let mut routes = RouteTable::new();
    let mut model: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for _ in 0..300 {
        for _ in 0..20 {
            let Ok(f) = TopicFilter::new(&random_filter(&mut rng)) else {
                continue;
            };
            let shard = [0, 1, 63, 64, 255][rng.below(5)];
            let shards = model.entry(f.filter().to_string()).or_default();
            if rng.below(3) == 0 {
                assert_eq!(routes.remove(&f, shard), shards.remove(&shard));
            } else {
                assert_eq!(routes.add(&f, shard), shards.insert(shard));
            }
        }
        for _ in 0..20 {
            let name = random_topic(&mut rng);
            let Ok(t) = TopicName::new(&name) else {
                continue;
            };
            let expected: BTreeSet<usize> = model
                .iter()
                .filter(|(inner, _)| reference_matches(inner, &name))
                .flat_map(|(_, shards)| shards.iter().copied())
                .collect();
            let got: BTreeSet<usize> = routes.route(&t).iter().collect();
            assert_eq!(got, expected, "topic {name:?}");
        }
    }
    for (inner, shards) in &model {
        for shard in shards {
            assert!(routes.remove(&filter(inner), *shard));
        }
    }
    assert!(routes.is_empty());
    assert_eq!(routes.node_count(), 0);
}

// EMQX's `$queue/{filter}` is one more group of its inner filter, apart from a `$share`
// group whatever that group's name; `group_members` finds a group by exact filter.
#[test]
fn queue_subscriptions_are_a_group_of_their_own() {
    let mut trie = SubscriptionTrie::new();
    trie.subscribe(&filter("$queue/a/+"), 1, 'q');
    trie.subscribe(&filter("$queue/a/+"), 2, 'r');
    trie.subscribe(&filter("$share/$queue/a/+"), 3, 's');
    let members = |trie: &SubscriptionTrie<i32, char>, group: &str| {
        let mut members: Vec<i32> = trie
            .group_members("a/+", group)
            .map(|m| m.iter().map(|(s, _)| s).collect())
            .unwrap_or_default();
        members.sort();
        members
    };
    assert_eq!(members(&trie, crate::protocol::QUEUE_SHARE_NAME), [1, 2]);
    assert_eq!(members(&trie, "$queue"), [3]);
    assert!(trie.group_members("a/b", "$queue").is_none());
    let mut groups = 0;
    trie.matches(&topic("a/x"), |m| {
        assert!(matches!(m, Match::SharedGroup { .. }));
        groups += 1;
    });
    assert_eq!(groups, 2);
    assert!(trie.unsubscribe(&filter("$queue/a/+"), 1).is_some());
    assert!(trie.unsubscribe(&filter("$queue/a/+"), 3).is_none());
    assert_eq!(members(&trie, crate::protocol::QUEUE_SHARE_NAME), [2]);
}
