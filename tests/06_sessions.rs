//! Sessions over real sockets: MQTT 3.1.1 Clean Session (§3.1.2.4), Session Present
//! (§3.2.2.2), MQTT 5.0 Session Expiry Interval (§3.1.2.11.2), and redelivery of
//! unacknowledged messages on reconnect (§4.4). Many client ids, so with coremq's 2
//! shards sessions are homed on both.

mod support;

use std::time::Duration;

use coremq::protocol::{Packet, PubAck};
use support::client::{ids, text, Client, ConnectOptions, QOS1, QOS2, QUIET, V3_1_1, V5};
use support::Broker;

fn broker() -> Broker {
    Broker::start_under_test(&["--shards", "2"])
}

fn persistent() -> ConnectOptions {
    ConnectOptions {
        clean: false,
        ..Default::default()
    }
}

#[test]
fn clean_session_0_keeps_subscriptions_and_queues_qos1_messages_while_offline() {
    // MQTT 3.1.1 [MQTT-3.1.2-4], [MQTT-3.1.2-5]: the session (subscriptions, QoS 1 and
    // 2 messages that arrive while disconnected) outlives the connection;
    // [MQTT-3.2.2-2]/[MQTT-3.2.2-3]: Session Present 1 on resumption, 0 for a new one.
    let broker = broker();
    let sub_ids = ids("persist", 4);
    for id in &sub_ids {
        let (mut sub, connack) = Client::connect_with(&broker, V3_1_1, id, persistent());
        assert!(!connack.session_present, "{id}: a new session");
        sub.subscribe(&[("s/t", QOS1)]);
        sub.disconnect();
    }
    let mut publisher = Client::connect(&broker, V3_1_1, "persist-pub");
    for n in 0..5 {
        publisher.publish("s/t", format!("m{n}").as_bytes(), QOS1, false);
    }
    let mut resumed = Vec::new();
    for id in &sub_ids {
        let (mut sub, connack) = Client::connect_with(&broker, V3_1_1, id, persistent());
        assert!(connack.session_present, "{id}: the session was kept");
        let got: Vec<String> = sub.collect(5).iter().map(text).collect();
        assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"], "{id}");
        resumed.push(sub);
    }
    // The subscriptions are still there: live delivery continues.
    publisher.publish("s/t", b"live", QOS1, false);
    for sub in resumed.iter_mut() {
        assert_eq!(
            text(&sub.expect_publish_acked()),
            "live",
            "{}",
            sub.client_id
        );
        sub.expect_nothing(Duration::from_millis(20));
    }
}

#[test]
fn clean_session_1_discards_the_session() {
    // MQTT 3.1.1 [MQTT-3.1.2-6]: Clean Session 1 discards any previous session and the
    // new one ends with the connection; Session Present 0 ([MQTT-3.2.2-1]).
    let broker = broker();
    let mut publisher = Client::connect(&broker, V3_1_1, "discard-pub");
    for id in ids("discard", 4) {
        let (mut sub, _) = Client::connect_with(&broker, V3_1_1, &id, persistent());
        sub.subscribe(&[("c/t", QOS1)]);
        sub.disconnect();
        let (mut sub, connack) = Client::connect_with(&broker, V3_1_1, &id, Default::default());
        assert!(!connack.session_present, "{id}");
        publisher.publish("c/t", b"x", QOS1, false);
        sub.expect_nothing(QUIET);
        sub.disconnect();
        // Nothing is left after a clean session either.
        let (mut sub, connack) = Client::connect_with(&broker, V3_1_1, &id, persistent());
        assert!(!connack.session_present, "{id}");
        sub.expect_nothing(Duration::from_millis(50));
        sub.disconnect();
    }
}

#[test]
fn v5_session_expiry_interval_ends_the_session() {
    // MQTT 5.0 §3.1.2.11.2 [MQTT-3.1.2-23]: the session is kept for the Session Expiry
    // Interval after the connection closes, then deleted: Session Present 0.
    let broker = broker();
    let expiring = |secs| ConnectOptions {
        clean: false,
        session_expiry_secs: Some(secs),
        ..Default::default()
    };
    let (mut short, _) = Client::connect_with(&broker, V5, "expiry-short", expiring(1));
    short.subscribe(&[("e/t", QOS1)]);
    short.disconnect();
    let (mut long, _) = Client::connect_with(&broker, V5, "expiry-long", expiring(60));
    long.subscribe(&[("e/t", QOS1)]);
    long.disconnect();
    std::thread::sleep(Duration::from_secs(3));
    let (mut short, connack) = Client::connect_with(&broker, V5, "expiry-short", expiring(1));
    assert!(!connack.session_present, "expired after 1 s");
    let (mut long, connack) = Client::connect_with(&broker, V5, "expiry-long", expiring(60));
    assert!(connack.session_present, "kept for 60 s");
    let mut publisher = Client::connect(&broker, V5, "expiry-pub");
    publisher.publish("e/t", b"x", QOS1, false);
    assert_eq!(text(&long.expect_publish_acked()), "x");
    short.expect_nothing(QUIET);
}

#[test]
fn unacknowledged_qos1_is_resent_with_dup_after_reconnect() {
    // MQTT 3.1.1 §4.4 [MQTT-4.4.0-1] (5.0 the same): on reconnect with Clean Session 0
    // the server re-sends unacknowledged PUBLISH packets with their original Packet
    // Identifiers, DUP=1 ([MQTT-3.3.1-1]).
    let broker = broker();
    let mut publisher = Client::connect(&broker, V3_1_1, "resend-pub");
    for (i, id) in ids("resend", 4).iter().enumerate() {
        let version = if i % 2 == 0 { V3_1_1 } else { V5 };
        let options = ConnectOptions {
            clean: false,
            session_expiry_secs: (version == V5).then_some(60),
            ..Default::default()
        };
        let (mut sub, _) = Client::connect_with(&broker, version, id, options.clone());
        sub.subscribe(&[("d/t", QOS1)]);
        publisher.publish("d/t", id.as_bytes(), QOS1, false);
        let first = sub.expect_publish(); // not acknowledged
        assert!(!first.dup);
        sub.drop_connection();
        let (mut sub, connack) = Client::connect_with(&broker, version, id, options);
        assert!(connack.session_present, "{id}");
        let again = sub.expect_publish();
        assert!(again.dup, "{id}: DUP=1 on a re-delivery");
        assert_eq!(
            again.packet_id, first.packet_id,
            "{id}: original Packet Identifier"
        );
        assert_eq!(again.payload, first.payload);
        sub.ack(&again);
        sub.expect_nothing(Duration::from_millis(100));
        sub.disconnect();
    }
}

#[test]
fn unacknowledged_pubrel_is_resent_after_reconnect() {
    // MQTT 3.1.1 §4.4 [MQTT-4.4.0-1]: a QoS 2 delivery that reached PUBREL resumes with
    // PUBREL (not the PUBLISH) after a reconnect.
    let broker = broker();
    let (mut sub, _) = Client::connect_with(&broker, V3_1_1, "pubrel-sub", persistent());
    sub.subscribe(&[("p/t", QOS2)]);
    let mut publisher = Client::connect(&broker, V3_1_1, "pubrel-pub");
    publisher.publish("p/t", b"two", QOS2, false);
    let publish = sub.expect_publish();
    let id = publish.packet_id.expect("QoS 2 id");
    sub.send(&Packet::PubRec(PubAck::new(id)));
    match sub.expect_packet() {
        Packet::PubRel(rel) => assert_eq!(rel.packet_id, id),
        other => panic!("expected PUBREL, got {other:?}"),
    }
    sub.drop_connection();
    let (mut sub, connack) = Client::connect_with(&broker, V3_1_1, "pubrel-sub", persistent());
    assert!(connack.session_present);
    match sub.expect_packet() {
        Packet::PubRel(rel) => assert_eq!(rel.packet_id, id),
        other => panic!("expected the PUBREL again, got {other:?}"),
    }
    sub.send(&Packet::PubComp(PubAck::new(id)));
    sub.expect_nothing(QUIET);
}

#[test]
fn offline_queue_bound_keeps_the_oldest_and_logs_the_drop() {
    // coremq's documented policy at the queue bound (docs/configuration.md): the new
    // message is dropped, counted and logged; what is queued is kept and delivered.
    let config = support::ConfigFile::new("06", "[limits]\nqueued_messages_max = 3\n");
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    let (mut sub, _) = Client::connect_with(&broker, V3_1_1, "bounded-sub", persistent());
    sub.subscribe(&[("q/t", QOS1)]);
    sub.disconnect();
    // Publish only once the broker holds the session offline; before that, deliveries
    // would go to the closing connection's inflight window instead of the queue.
    assert!(
        broker.log_contains("connection ended client_id=\"bounded-sub\""),
        "log:\n{}",
        broker.log()
    );
    let mut publisher = Client::connect(&broker, V3_1_1, "bounded-pub");
    for n in 0..5 {
        publisher.publish("q/t", format!("m{n}").as_bytes(), QOS1, false);
    }
    assert!(
        broker.log_contains("session queue full: message dropped"),
        "log:\n{}",
        broker.log()
    );
    let (mut sub, connack) = Client::connect_with(&broker, V3_1_1, "bounded-sub", persistent());
    assert!(connack.session_present);
    let got: Vec<String> = sub.collect(3).iter().map(text).collect();
    assert_eq!(got, ["m0", "m1", "m2"]);
    sub.expect_nothing(QUIET);
}
