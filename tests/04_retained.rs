//! Retained messages over real sockets (MQTT 3.1.1 §3.3.1.3, 5.0 §3.3.1.3): set,
//! replace, delete with an empty payload, sent to new subscriptions with RETAIN=1 and
//! forwarded to existing ones with RETAIN=0. coremq runs with 2 shards; the retained
//! store must be visible from subscribers with many different client ids (so on both
//! shards).

mod support;

use std::collections::BTreeSet;

use coremq::protocol::Publish;
use support::client::{ids, text, Client, QOS0, QOS1, QOS2, QUIET, V3_1_1, V5};
use support::Broker;

fn broker() -> Broker {
    Broker::start_under_test(&["--shards", "2"])
}

/// A new subscriber `id` to `filter` at `qos`: what it is sent at once (within QUIET).
fn retained_for(broker: &Broker, id: &str, filter: &str) -> Vec<Publish> {
    let mut sub = Client::connect(broker, V3_1_1, id);
    sub.subscribe(&[(filter, QOS2)]);
    let mut got = Vec::new();
    while let Some(packet) = sub.recv(QUIET) {
        match packet {
            coremq::protocol::Packet::Publish(publish) => {
                sub.ack(&publish);
                got.push(publish);
            }
            other => panic!("{id}: unexpected {other:?}"),
        }
    }
    got
}

#[test]
fn retained_message_is_sent_to_every_new_subscription_with_retain_1() {
    // [MQTT-3.3.1-5]: the server stores a RETAIN=1 message; [MQTT-3.3.1-6]/[MQTT-3.3.1-8]:
    // a new subscription gets it with RETAIN=1, whichever shard the subscriber is on.
    let broker = broker();
    let mut publisher = Client::connect(&broker, V3_1_1, "ret-pub");
    publisher.publish("r/t", b"v1", QOS1, true);
    for id in ids("ret-sub", 8) {
        let got = retained_for(&broker, &id, "r/t");
        assert_eq!(got.len(), 1, "{id}: {got:?}");
        assert!(got[0].retain, "{id}: RETAIN=1 on a retained delivery");
        assert_eq!(got[0].topic.as_str(), "r/t");
        assert_eq!(text(&got[0]), "v1");
        assert_eq!(got[0].qos, QOS1, "min(QoS 1 stored, QoS 2 granted)");
    }
}

#[test]
fn retained_message_is_replaced_then_deleted_by_an_empty_payload() {
    // [MQTT-3.3.1-5]: a new retained message replaces the old one; [MQTT-3.3.1-10],
    // [MQTT-3.3.1-11]: an empty retained payload removes it and is not stored.
    let broker = broker();
    let mut publisher = Client::connect(&broker, V3_1_1, "repl-pub");
    publisher.publish("r/x", b"old", QOS1, true);
    publisher.publish("r/x", b"new", QOS1, true);
    for id in ids("repl-sub", 4) {
        let got: Vec<String> = retained_for(&broker, &id, "r/x").iter().map(text).collect();
        assert_eq!(got, ["new"], "{id}");
    }
    publisher.publish("r/x", b"", QOS1, true);
    for id in ids("del-sub", 4) {
        let got = retained_for(&broker, &id, "r/x");
        assert!(got.is_empty(), "{id}: deleted, got {got:?}");
    }
}

#[test]
fn wildcard_subscription_gets_every_matching_retained_message() {
    // MQTT 3.1.1 §3.3.1.3: on subscribe, all retained messages matching the filter,
    // at min(stored QoS, granted QoS).
    let broker = broker();
    let mut publisher = Client::connect(&broker, V3_1_1, "rw-pub");
    publisher.publish("rw/a", b"a", QOS0, true);
    publisher.publish("rw/b/c", b"bc", QOS2, true);
    publisher.publish("other/d", b"d", QOS1, true);
    for id in ids("rw-sub", 4) {
        let got: BTreeSet<(String, String, u8, bool)> = retained_for(&broker, &id, "rw/#")
            .iter()
            .map(|p| (p.topic.as_str().to_owned(), text(p), p.qos as u8, p.retain))
            .collect();
        let want = BTreeSet::from([
            ("rw/a".to_owned(), "a".to_owned(), 0, true),
            ("rw/b/c".to_owned(), "bc".to_owned(), 2, true),
        ]);
        assert_eq!(got, want, "{id}");
    }
}

#[test]
fn established_subscriptions_get_retained_publishes_with_retain_0() {
    // MQTT 3.1.1 [MQTT-3.3.1-9]: a message forwarded to an existing subscription has
    // RETAIN=0, retained or not; MQTT 5.0 the same without Retain As Published
    // ([MQTT-3.3.1-12]). The empty retained payload that deletes is forwarded too.
    let broker = broker();
    let mut subscribers: Vec<Client> = ids("fwd-sub", 4)
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let version = if i % 2 == 0 { V3_1_1 } else { V5 };
            let mut sub = Client::connect(&broker, version, id);
            sub.subscribe(&[("f/t", QOS1)]);
            sub
        })
        .collect();
    let mut publisher = Client::connect(&broker, V3_1_1, "fwd-pub");
    publisher.publish("f/t", b"kept", QOS1, true);
    publisher.publish("f/t", b"", QOS1, true);
    for sub in subscribers.iter_mut() {
        let got = sub.collect(2);
        assert_eq!(text(&got[0]), "kept", "{}", sub.client_id);
        assert_eq!(text(&got[1]), "", "{}", sub.client_id);
        assert!(got.iter().all(|p| !p.retain), "{}: {got:?}", sub.client_id);
    }
    // And nothing stays retained.
    assert!(retained_for(&broker, "fwd-late", "f/t").is_empty());
}
