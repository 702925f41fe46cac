//! Session takeover over real sockets (MQTT 3.1.1 §3.1.4 [MQTT-3.1.4-2], 5.0 §3.1.4
//! and §3.14.2.1 0x8E Session taken over): a second CONNECT with the same client id
//! closes the first connection and the session continues without loss; a storm of
//! reconnects of one id leaves the broker up and the last connection working. Several
//! ids, so with coremq's 2 shards takeovers happen on both.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use coremq::protocol::{Packet, ProtocolVersion, ReasonCode};
use support::client::{ids, text, Client, ConnectOptions, QOS1, V3_1_1, V5};
use support::{Broker, IO_TIMEOUT};

fn broker() -> Broker {
    Broker::start_under_test(&["--shards", "2"])
}

/// `id` subscribes, a publisher sends numbered QoS 1 messages, and halfway through a
/// second connection takes the session over. Every message reaches the application at
/// least once over the two connections (MQTT §4.3.2).
fn takeover_keeps_the_session(broker: &Broker, version: ProtocolVersion, id: &str) {
    const MESSAGES: usize = 200;
    let options = ConnectOptions {
        clean: false,
        session_expiry_secs: (version == V5).then_some(60),
        ..Default::default()
    };
    let topic = format!("take/{id}");
    let (mut first, _) = Client::connect_with(broker, version, id, options.clone());
    first.subscribe(&[(&topic, QOS1)]);
    let mut publisher = Client::connect(broker, version, &format!("{id}-pub"));
    let mut seen = BTreeSet::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for n in 0..MESSAGES {
                publisher.publish(&topic, n.to_string().as_bytes(), QOS1, false);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        while seen.len() < MESSAGES / 4 {
            seen.insert(text(&first.expect_publish_acked()));
        }
        let (mut second, connack) = Client::connect_with(broker, version, id, options.clone());
        assert!(connack.session_present, "{id}: the session continues");
        // The first connection is closed, after whatever was already on its way.
        let before_close = first.expect_closed(IO_TIMEOUT);
        let mut disconnects = Vec::new();
        for packet in before_close {
            match packet {
                Packet::Publish(publish) => {
                    seen.insert(text(&publish));
                }
                Packet::Disconnect(disconnect) => disconnects.push(disconnect.reason_code),
                other => panic!("{id}: unexpected {other:?} on the old connection"),
            }
        }
        if version == V5 {
            // MQTT 5.0 §3.14.2.1: the server may send DISCONNECT 0x8E first; coremq does.
            assert!(
                disconnects
                    .iter()
                    .all(|&r| r == ReasonCode::SessionTakenOver),
                "{id}: {disconnects:?}"
            );
            if broker.is_coremq() {
                assert_eq!(disconnects, [ReasonCode::SessionTakenOver], "{id}");
            }
        } else {
            assert!(disconnects.is_empty(), "3.x has no server DISCONNECT");
        }
        while seen.len() < MESSAGES {
            seen.insert(text(&second.expect_publish_acked()));
        }
        second.disconnect();
    });
    let want: BTreeSet<String> = (0..MESSAGES).map(|n| n.to_string()).collect();
    assert_eq!(seen, want, "{id}");
}

#[test]
fn v311_takeover_closes_the_first_connection_and_loses_nothing() {
    let broker = broker();
    for id in ids("take311", 2) {
        takeover_keeps_the_session(&broker, V3_1_1, &id);
    }
}

#[test]
fn v5_takeover_sends_0x8e_to_the_first_connection_and_loses_nothing() {
    let broker = broker();
    for id in ids("take5", 2) {
        takeover_keeps_the_session(&broker, V5, &id);
    }
}

#[test]
fn reconnect_storm_of_one_client_id_leaves_the_last_connection_working() {
    // 50 rapid CONNECTs of one id, alternating clean / persistent, some connections
    // dropped at once, the rest left open to be taken over ([MQTT-3.1.4-2]).
    let broker = broker();
    let mut open = Vec::new();
    let mut last = None;
    for i in 0..50 {
        let options = ConnectOptions {
            clean: i % 2 == 0,
            ..Default::default()
        };
        let (client, _) = Client::connect_with(&broker, V3_1_1, "storm", options);
        if i == 49 {
            last = Some(client);
        } else if i % 3 == 0 {
            client.drop_connection();
        } else {
            open.push(client);
        }
    }
    // Every connection that was taken over is closed by the broker.
    for mut old in open {
        let sent = old.expect_closed(IO_TIMEOUT);
        assert!(sent.is_empty(), "{sent:?}");
    }
    let mut last = last.expect("the last connection");
    last.subscribe(&[("storm/t", QOS1)]);
    let mut publisher = Client::connect(&broker, V3_1_1, "storm-pub");
    publisher.publish("storm/t", b"alive", QOS1, false);
    assert_eq!(text(&last.expect_publish_acked()), "alive");
    last.ping();
    assert!(!last.is_closed());
}
