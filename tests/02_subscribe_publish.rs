//! Publish/subscribe over real sockets: topic matching (§4.7), delivery QoS (§3.8.4),
//! SUBACK (§3.9), UNSUBSCRIBE (§3.10), message order (§4.6), overlapping subscriptions
//! (3.1.1 §3.3.5, 5.0 §3.3.4) and MQTT 3.1 clients. coremq runs with 2 shards, and every
//! test uses several client ids, so publishers and subscribers sit on different shards.
//! `COREMQ_TEST_BROKER=mosquitto` runs the same tests against the reference broker.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use coremq::protocol::{Packet, Publish, QoS, ReasonCode, SubscriptionOptions};
use support::client::{granted, ids, text, Client, QOS0, QOS1, QOS2, QUIET, V3_1, V3_1_1, V5};
use support::Broker;

fn broker() -> Broker {
    Broker::start_under_test(&["--shards", "2"])
}

/// Each subscriber receives `expected` (topics, any order), then nothing more.
fn assert_received(subscribers: &mut [(Client, Vec<&str>)]) {
    for (client, expected) in subscribers.iter_mut() {
        let mut got: Vec<String> = client
            .collect(expected.len())
            .iter()
            .map(|p| p.topic.as_str().to_owned())
            .collect();
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|t| t.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{}", client.client_id);
    }
    std::thread::sleep(QUIET);
    for (client, _) in subscribers.iter_mut() {
        client.expect_nothing(Duration::from_millis(10));
    }
}

#[test]
fn plus_and_hash_wildcards_match_per_spec() {
    // MQTT 3.1.1 §4.7.1 / 5.0 §4.7.1: `+` one level, `#` any number of levels including
    // the parent ("sport/#" matches "sport", [MQTT-4.7.1-2]).
    let broker = broker();
    let filters = ["a/#", "a/+", "+/b", "+", "#", "a/+/c", "+/+", "a"];
    let expected: [&[&str]; 8] = [
        &["a", "a/b", "a/b/c"],
        &["a/b"],
        &["a/b", "x/b"],
        &["a"],
        &["a", "a/b", "a/b/c", "x/b"],
        &["a/b/c"],
        &["a/b", "x/b"],
        &["a"],
    ];
    let mut subscribers: Vec<(Client, Vec<&str>)> = ids("wild-sub", 8)
        .iter()
        .zip(filters.iter().zip(expected))
        .map(|(id, (filter, expected))| {
            let mut sub = Client::connect(&broker, V3_1_1, id);
            assert_eq!(sub.subscribe(&[(filter, QOS1)]), [ReasonCode::GrantedQoS1]);
            (sub, expected.to_vec())
        })
        .collect();
    let topics = ["a", "a/b", "a/b/c", "x/b"];
    for (id, topic) in ids("wild-pub", 4).iter().zip(topics) {
        let mut publisher = Client::connect(&broker, V3_1_1, id);
        publisher.publish(topic, topic.as_bytes(), QOS1, false);
    }
    assert_received(&mut subscribers);
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    // MQTT 3.1.1 §4.7.2 [MQTT-4.7.2-1]: a filter starting with a wildcard does not match
    // a topic starting with `$`; "$sys2/#" does.
    let broker = broker();
    let mut hash = Client::connect(&broker, V3_1_1, "dollar-hash");
    let mut plus = Client::connect(&broker, V3_1_1, "dollar-plus");
    let mut dollar = Client::connect(&broker, V3_1_1, "dollar-explicit");
    hash.subscribe(&[("#", QOS1)]);
    plus.subscribe(&[("+/x", QOS1)]);
    dollar.subscribe(&[("$sys2/#", QOS1)]);
    let mut publisher = Client::connect(&broker, V3_1_1, "dollar-pub");
    publisher.publish("$sys2/x", b"d", QOS1, false);
    publisher.publish("m/x", b"m", QOS1, false);
    assert_eq!(dollar.expect_publish_acked().topic.as_str(), "$sys2/x");
    assert_eq!(hash.expect_publish_acked().topic.as_str(), "m/x");
    assert_eq!(plus.expect_publish_acked().topic.as_str(), "m/x");
    std::thread::sleep(QUIET);
    for client in [&mut hash, &mut plus, &mut dollar] {
        client.expect_nothing(Duration::from_millis(10));
    }
}

#[test]
fn delivery_qos_is_min_of_published_and_granted() {
    // MQTT 3.1.1 §3.8.4 / 5.0 §3.8.4: delivered QoS = min(published QoS, granted QoS).
    let broker = broker();
    let mut subscribers: Vec<(Client, QoS)> = [QOS0, QOS1, QOS2]
        .into_iter()
        .zip(ids("minqos-sub", 3))
        .map(|(qos, id)| {
            let mut sub = Client::connect(&broker, V3_1_1, &id);
            assert_eq!(sub.subscribe(&[("q/t", qos)]), [granted(qos)]);
            (sub, qos)
        })
        .collect();
    for (qos, id) in [QOS0, QOS1, QOS2].into_iter().zip(ids("minqos-pub", 3)) {
        let mut publisher = Client::connect(&broker, V3_1_1, &id);
        publisher.publish("q/t", &[qos as u8], qos, false);
    }
    for (sub, granted) in subscribers.iter_mut() {
        let mut by_published: BTreeMap<u8, QoS> = BTreeMap::new();
        for publish in sub.collect(3) {
            by_published.insert(publish.payload[0], publish.qos);
        }
        for published in [QOS0, QOS1, QOS2] {
            assert_eq!(
                by_published.get(&(published as u8)),
                Some(&published.min(*granted)),
                "{}: published {published:?}, granted {granted:?}",
                sub.client_id
            );
        }
    }
}

#[test]
fn suback_return_codes_are_exact_v311() {
    // MQTT 3.1.1 §3.9.3: one return code per filter, in order, the granted QoS.
    let broker = broker();
    let mut client = Client::connect(&broker, V3_1_1, "suback-311");
    client.send_bytes(&[
        0x82, 0x0E, 0x00, 0x01, 0x00, 0x01, b'a', 0x00, 0x00, 0x01, b'b', 0x01, 0x00, 0x01, b'c',
        0x02,
    ]);
    assert_eq!(
        client.expect_bytes(),
        [0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x02]
    );
}

#[test]
fn suback_reason_codes_are_exact_v5() {
    // MQTT 5.0 §3.9: Packet Identifier, Property Length 0, one reason code per filter.
    let broker = broker();
    let mut client = Client::connect(&broker, V5, "suback-5");
    client.send_bytes(&[
        0x82, 0x0F, 0x00, 0x07, 0x00, 0x00, 0x01, b'a', 0x00, 0x00, 0x01, b'b', 0x01, 0x00, 0x01,
        b'c', 0x02,
    ]);
    assert_eq!(
        client.expect_bytes(),
        [0x90, 0x06, 0x00, 0x07, 0x00, 0x00, 0x01, 0x02]
    );
}

#[test]
fn unsubscribe_stops_delivery() {
    // MQTT 3.1.1 §3.10.4 [MQTT-3.10.4-2]: after UNSUBACK no new messages for the filter;
    // §3.11: UNSUBACK is 0xB0 0x02 and the Packet Identifier.
    let broker = broker();
    let mut sub = Client::connect(&broker, V3_1_1, "unsub-sub");
    sub.subscribe(&[("u/t", QOS1), ("u/keep", QOS1)]);
    let mut publisher = Client::connect(&broker, V3_1_1, "unsub-pub");
    publisher.publish("u/t", b"before", QOS1, false);
    assert_eq!(text(&sub.expect_publish_acked()), "before");
    sub.send_bytes(&[0xA2, 0x07, 0x00, 0x33, 0x00, 0x03, b'u', b'/', b't']);
    assert_eq!(sub.expect_bytes(), [0xB0, 0x02, 0x00, 0x33]);
    publisher.publish("u/t", b"after", QOS1, false);
    publisher.publish("u/keep", b"kept", QOS1, false);
    assert_eq!(text(&sub.expect_publish_acked()), "kept");
    sub.expect_nothing(QUIET);
}

#[test]
fn order_per_publisher_and_topic_is_kept_for_250_qos1_messages() {
    // MQTT 3.1.1 §4.6 / 5.0 §4.6 [MQTT-4.6.0-6]: each topic is an Ordered Topic; QoS 1
    // messages from one publisher arrive in the order published. 4 publishers x 250
    // numbered messages, 4 subscribers, all on different client ids. A broker acknowledges
    // a publisher before delivering, so all 1000 may wait for a slow subscriber at once:
    // 4 x 250 stays within the per-session queue bound (1000 messages, coremq and
    // mosquitto), where nothing may be dropped.
    const MESSAGES: u32 = 250;
    let broker = broker();
    let mut subscribers: Vec<Client> = ids("order-sub", 4)
        .iter()
        .map(|id| {
            let mut sub = Client::connect(&broker, V3_1_1, id);
            sub.subscribe(&[("order/#", QOS1)]);
            sub
        })
        .collect();
    let publishers: Vec<Client> = ids("order-pub", 4)
        .iter()
        .map(|id| Client::connect(&broker, V3_1_1, id))
        .collect();
    std::thread::scope(|scope| {
        for mut publisher in publishers {
            scope.spawn(move || {
                let topic = format!("order/{}", publisher.client_id);
                // Pipelined, at most WINDOW unacknowledged.
                const WINDOW: u32 = 50;
                for n in 0..MESSAGES {
                    let publish = support::client::publish_packet(
                        &topic,
                        n.to_string().as_bytes(),
                        QOS1,
                        false,
                        n as u16 + 1,
                    );
                    publisher.send(&Packet::Publish(publish));
                    if n >= WINDOW {
                        publisher.complete_publish(QOS1, (n - WINDOW) as u16 + 1);
                    }
                }
                for n in MESSAGES.saturating_sub(WINDOW)..MESSAGES {
                    publisher.complete_publish(QOS1, n as u16 + 1);
                }
            });
        }
        for sub in subscribers.iter_mut() {
            scope.spawn(move || {
                let mut next: BTreeMap<String, u32> = BTreeMap::new();
                for received in 0..4 * MESSAGES {
                    let publish = match sub.recv(support::IO_TIMEOUT) {
                        Some(Packet::Publish(publish)) => publish,
                        other => panic!(
                            "{}: after {received} messages ({next:?}) got {other:?}",
                            sub.client_id
                        ),
                    };
                    sub.ack(&publish);
                    let n: u32 = text(&publish).parse().unwrap();
                    let expected = next.entry(publish.topic.as_str().to_owned()).or_insert(0);
                    assert_eq!(
                        n,
                        *expected,
                        "{} on {}: out of order",
                        sub.client_id,
                        publish.topic.as_str()
                    );
                    *expected += 1;
                }
                assert!(next.values().all(|&n| n == MESSAGES), "{next:?}");
            });
        }
    });
}

#[test]
fn overlapping_subscriptions_v311_deliver_at_the_highest_qos() {
    // MQTT 3.1.1 §3.3.5: with overlapping subscriptions the message goes out at the
    // maximum QoS of the matching ones; further copies are allowed. coremq's documented
    // choice: exactly one copy.
    let broker = broker();
    let mut sub = Client::connect(&broker, V3_1_1, "overlap-311-sub");
    sub.subscribe(&[("ov/#", QOS0), ("ov/+", QOS1)]);
    let mut publisher = Client::connect(&broker, V3_1_1, "overlap-311-pub");
    publisher.publish("ov/t", b"x", QOS2, false);
    let first = sub.expect_publish_acked();
    let mut copies = vec![first];
    while let Some(Packet::Publish(p)) = sub.recv(QUIET) {
        sub.ack(&p);
        copies.push(p);
    }
    assert!(
        copies.iter().any(|p| p.qos == QOS1),
        "a copy at QoS 1: {copies:?}"
    );
    assert!(copies.iter().all(|p| text(p) == "x"));
    if broker.is_coremq() {
        assert_eq!(copies.len(), 1, "coremq sends one copy: {copies:?}");
    }
}

#[test]
fn overlapping_subscriptions_v5_carry_every_subscription_identifier() {
    // MQTT 5.0 §3.3.4 [MQTT-3.3.4-2], [MQTT-3.3.4-3]: one copy per subscription, or one
    // copy that carries the Subscription Identifiers of all the matching subscriptions.
    // coremq's documented choice: one copy at the maximum QoS with all the identifiers.
    let broker = broker();
    let mut sub = Client::connect(&broker, V5, "overlap-5-sub");
    let qos = |qos| SubscriptionOptions {
        qos,
        ..Default::default()
    };
    let suback = sub.subscribe_with(&[("ov5/#", qos(QOS0))], Some(1));
    assert_eq!(suback.reason_codes, [ReasonCode::GRANTED_QOS_0]);
    let suback = sub.subscribe_with(&[("ov5/+", qos(QOS1))], Some(2));
    assert_eq!(suback.reason_codes, [ReasonCode::GrantedQoS1]);
    let mut publisher = Client::connect(&broker, V5, "overlap-5-pub");
    publisher.publish("ov5/t", b"x", QOS2, false);
    let mut copies: Vec<Publish> = vec![sub.expect_publish_acked()];
    while let Some(Packet::Publish(p)) = sub.recv(QUIET) {
        sub.ack(&p);
        copies.push(p);
    }
    let ids: BTreeSet<u32> = copies
        .iter()
        .flat_map(|p| {
            p.properties
                .subscription_identifiers
                .iter()
                .map(|id| id.get())
        })
        .collect();
    assert_eq!(ids, BTreeSet::from([1, 2]), "{copies:?}");
    assert_eq!(copies.iter().map(|p| p.qos).max(), Some(QOS1), "{copies:?}");
    if broker.is_coremq() {
        assert_eq!(copies.len(), 1, "coremq sends one copy: {copies:?}");
        let mut ids: Vec<u32> = copies[0]
            .properties
            .subscription_identifiers
            .iter()
            .map(|id| id.get())
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
        assert_eq!(copies[0].qos, QOS1);
    } else {
        // One copy per subscription: each carries its own identifier only.
        for copy in &copies {
            let own = &copy.properties.subscription_identifiers;
            assert!(!own.is_empty(), "{copy:?}");
        }
    }
}

#[test]
fn mqtt_v31_clients_publish_and_subscribe_across_versions() {
    // MQTT 3.1 (protocol name MQIsdp, level 3): a 3.1 client subscribes and publishes;
    // 3.1.1 and 5.0 subscribers receive what it publishes, and it receives theirs.
    let broker = broker();
    let mut v31_sub = Client::connect(&broker, V3_1, "v31-sub");
    assert_eq!(
        v31_sub.subscribe(&[("v31/#", QOS2)]),
        [ReasonCode::GrantedQoS2]
    );
    let mut v311_sub = Client::connect(&broker, V3_1_1, "v31-sub-311");
    v311_sub.subscribe(&[("v31/#", QOS2)]);
    let mut v5_sub = Client::connect(&broker, V5, "v31-sub-5");
    v5_sub.subscribe(&[("v31/#", QOS2)]);
    let mut v31_pub = Client::connect(&broker, V3_1, "v31-pub");
    for qos in [QOS0, QOS1, QOS2] {
        v31_pub.publish("v31/from31", &[qos as u8], qos, false);
    }
    let mut v5_pub = Client::connect(&broker, V5, "v31-pub-5");
    v5_pub.publish("v31/from5", b"5", QOS1, false);
    for sub in [&mut v31_sub, &mut v311_sub, &mut v5_sub] {
        let got: BTreeSet<(String, Vec<u8>, u8)> = sub
            .collect(4)
            .iter()
            .map(|p| (p.topic.as_str().to_owned(), p.payload.to_vec(), p.qos as u8))
            .collect();
        let want = BTreeSet::from([
            ("v31/from31".to_owned(), vec![0], 0),
            ("v31/from31".to_owned(), vec![1], 1),
            ("v31/from31".to_owned(), vec![2], 2),
            ("v31/from5".to_owned(), b"5".to_vec(), 1),
        ]);
        assert_eq!(got, want, "{}", sub.client_id);
    }
}

#[test]
fn publisher_and_subscriber_on_different_shards_exchange_every_qos() {
    // coremq homes a session on shard FNV-1a(client_id) % shards; pick ids that land on
    // different shards, check the broker says so, then exchange messages across them.
    let owner = |id: &str| coremq::broker::shard_broker::owner_shard(id, 2);
    let sub_id = "cross-sub";
    let pub_id = (0..)
        .map(|i| format!("cross-pub-{i}"))
        .find(|id| owner(id) != owner(sub_id))
        .expect("an id on the other shard");
    let broker = Broker::start(&["--shards", "2"]);
    let mut sub = Client::connect(&broker, V5, sub_id);
    sub.subscribe(&[("cross/#", QOS2)]);
    let mut publisher = Client::connect(&broker, V3_1_1, &pub_id);
    for (shard, id) in [(owner(sub_id), sub_id), (owner(&pub_id), pub_id.as_str())] {
        let shard = format!("connected shard={shard}");
        let id_field = format!("client_id=\"{id}\"");
        assert!(
            broker.log_line_with(&[&shard, &id_field]),
            "{id}: {shard}; log:\n{}",
            broker.log()
        );
    }
    for qos in [QOS0, QOS1, QOS2] {
        publisher.publish("cross/t", format!("{qos:?}").as_bytes(), qos, false);
        let got = sub.expect_publish_acked();
        assert_eq!((got.qos, text(&got)), (qos, format!("{qos:?}")));
    }
}
