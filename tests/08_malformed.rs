//! Malformed input after CONNECT closes only that connection (MQTT 3.1.1 §4.8, 5.0
//! §4.13): garbage, wrong fixed-header flags, a 5-byte Remaining Length, a QoS 3
//! PUBLISH, a second CONNECT. A healthy subscriber on another client id (so, with
//! coremq's 2 shards, sometimes on the other shard) keeps receiving after each one.

mod support;

use coremq::protocol::{Packet, ReasonCode};
use support::client::{Client, ConnectOptions, QOS1, V3_1_1, V5};
use support::{Broker, IO_TIMEOUT};

const CONNECT_V311: &[u8] = &[
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c',
];

/// What, and the bytes sent after a successful CONNECT (spec reference beside each).
/// Cases named in `STRICT_ONLY` are checked against coremq only: mosquitto 2.0.11, the
/// reference broker, accepts them (it does not check PUBACK flags or length).
const CASES: &[(&str, &[u8])] = &[
    // A whole frame of reserved packet type 15 in 3.1.1 / AUTH with reserved flags 0xF
    // in 5.0 (whole: a broker may wait for the rest of a frame before judging it).
    ("garbage 0xFF", &[0xFF, 0x02, 0xDE, 0xAD]),
    // 'G' = 0x47: PUBACK with flags 0x7 [MQTT-2.2.2-2], 'E' = 69 bytes follow.
    (
        "an HTTP request",
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\
          Connection: close\r\n\r\n",
    ),
    // SUBSCRIBE with flags 0000 instead of 0010 [MQTT-3.8.1-1].
    (
        "SUBSCRIBE flags 0",
        &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
    ),
    // PUBREL with flags 0000 instead of 0010 [MQTT-3.6.1-1].
    ("PUBREL flags 0", &[0x60, 0x02, 0x00, 0x01]),
    // Remaining Length is at most 4 bytes (§2.2.3).
    (
        "a 5-byte Remaining Length",
        &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
    ),
    // [MQTT-3.3.1-4]: QoS 3.
    (
        "a QoS 3 PUBLISH",
        &[0x36, 0x07, 0x00, 0x01, b'a', 0x00, 0x01, b'h', b'i'],
    ),
    // [MQTT-3.1.0-2]: a second CONNECT is a protocol violation.
    ("a second CONNECT", CONNECT_V311),
];

const STRICT_ONLY: &[&str] = &["an HTTP request"];

#[test]
fn malformed_input_closes_only_its_own_connection() {
    let broker = Broker::start_under_test(&["--shards", "2"]);
    let mut healthy = Client::connect(&broker, V3_1_1, "healthy-sub");
    healthy.subscribe(&[("h/t", QOS1)]);
    let mut publisher = Client::connect(&broker, V5, "healthy-pub");
    for (i, (what, bytes)) in CASES.iter().enumerate() {
        if !broker.is_coremq() && STRICT_ONLY.contains(what) {
            eprintln!("{what}: not checked against {:?}", broker.kind);
            continue;
        }
        for version in [V3_1_1, V5] {
            let id = format!("victim-{i}-{}", version.level());
            let (mut victim, _) =
                Client::connect_with(&broker, version, &id, ConnectOptions::default());
            let mut bytes = bytes.to_vec();
            if version == V5 && *what == "a second CONNECT" {
                bytes[8] = 0x05; // level 5
                bytes.insert(12, 0x00); // no properties
                bytes[1] += 1;
            }
            victim.send_bytes(&bytes);
            let sent = victim.expect_closed(IO_TIMEOUT);
            if version == V5 {
                // MQTT 5.0 §4.13: a DISCONNECT with a reason code >= 0x80 may come first.
                assert!(
                    sent.iter().all(|p| matches!(
                        p,
                        Packet::Disconnect(d) if !d.reason_code.is_success()
                    )),
                    "{what} (v5): {sent:?}"
                );
                if broker.is_coremq() {
                    // coremq always says why (MalformedPacket or ProtocolError).
                    assert!(
                        matches!(
                            sent.as_slice(),
                            [Packet::Disconnect(d)] if matches!(
                                d.reason_code,
                                ReasonCode::MalformedPacket | ReasonCode::ProtocolError
                            )
                        ),
                        "{what} (v5): {sent:?}"
                    );
                }
            } else {
                assert!(sent.is_empty(), "{what}: 3.1.1 closes without an answer");
            }
            // The other connections carry on.
            let payload = format!("after {what} v{}", version.level());
            publisher.publish("h/t", payload.as_bytes(), QOS1, false);
            let got = healthy.expect_publish_acked();
            assert_eq!(got.payload, payload.as_bytes(), "after {what}");
        }
    }
    healthy.ping();
    // And the broker still accepts new clients.
    Client::connect(&broker, V3_1_1, "after-all").disconnect();
}
