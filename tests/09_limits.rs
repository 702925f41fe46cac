//! Limits an operator sets, enforced over real sockets: connections per broker, topic
//! levels. (Packet size, queues and the inflight window are tested with their areas:
//! 01_connect, 06_sessions, 03_qos_flows.)

mod support;

use std::io::{Read, Write};

use coremq::protocol::{Connect, MqttString, Packet, ReasonCode};
use support::client::{bytes_of, granted, publish_packet, Client, QOS1, V3_1_1, V5};
use support::{Broker, ConfigFile, IO_TIMEOUT};

#[test]
fn connections_past_the_limit_are_closed_at_once() {
    let config = ConfigFile::new("09-conn", "[limits]\nmax_connections = 2\n");
    let broker = Broker::start(&["--shards", "1", "--config", config.arg()]);
    let first = Client::connect(&broker, V3_1_1, "limit-a");
    let _second = Client::connect(&broker, V3_1_1, "limit-b");
    // The third is closed before it can send CONNECT: it reads end of stream.
    let mut third = broker.connect();
    let mut got = Vec::new();
    third.read_to_end(&mut got).expect("closed by the broker");
    assert_eq!(got, []);
    assert!(
        broker.log_contains("connection limit reached"),
        "log:\n{}",
        broker.log()
    );
    // A slot freed is a slot usable again (the broker notices the close a moment later).
    first.disconnect();
    let client_id = MqttString::new("limit-c").unwrap();
    let connect = Packet::Connect(Box::new(Connect::new(V3_1_1, client_id, 60)));
    let connect = bytes_of(&connect, V3_1_1);
    let accepted = (0..100).any(|_| {
        let mut probe = broker.connect();
        let _ = probe.write_all(&connect);
        let mut connack = [0u8; 4];
        let ok = probe.read_exact(&mut connack).is_ok() && connack == [0x20, 0x02, 0x00, 0x00];
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        ok
    });
    assert!(accepted, "no connection accepted after one closed");
}

#[test]
fn topic_levels_past_the_limit_are_refused() {
    let config = ConfigFile::new("09-levels", "[limits]\ntopic_levels_max = 3\n");
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    // MQTT 5.0 §3.9.3: 0x8F Topic Filter invalid for the deep filter, the other granted;
    // the inner filter of a shared subscription is what counts.
    let mut sub = Client::connect(&broker, V5, "levels-sub");
    let codes = sub.subscribe(&[("a/b/c/d", QOS1), ("a/b/c", QOS1), ("$share/g/a/+/c", QOS1)]);
    assert_eq!(
        codes,
        [ReasonCode::TopicFilterInvalid, granted(QOS1), granted(QOS1)]
    );
    // MQTT 3.1.1 §3.9.3: 0x80 Failure.
    let mut sub311 = Client::connect(&broker, V3_1_1, "levels-sub-311");
    let codes = sub311.subscribe(&[("a/b/c/d", QOS1)]);
    assert_eq!(codes, [ReasonCode::UnspecifiedError]);
    // MQTT 5.0 §4.13: a PUBLISH to a deeper topic ends the connection with 0x90.
    let mut publisher = Client::connect(&broker, V5, "levels-pub");
    publisher.send(&Packet::Publish(publish_packet(
        "a/b/c/d", b"deep", QOS1, false, 1,
    )));
    let got = publisher.expect_closed(IO_TIMEOUT);
    assert!(
        got.iter().any(|p| matches!(
            p,
            Packet::Disconnect(d) if d.reason_code == ReasonCode::TopicNameInvalid
        )),
        "{got:?}"
    );
}
