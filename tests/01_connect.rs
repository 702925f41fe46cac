//! MQTT CONNECT handling of the real binary over real sockets, exact bytes in and out:
//! the CONNACK of each protocol version, the refusals, and that bad input closes only its
//! own connection.

mod support;

use std::io::{Read, Write};

use support::{exchange, Broker};

/// Sends `request` and reads exactly `n` bytes of answer.
fn answer(stream: &mut std::net::TcpStream, request: &[u8], n: usize) -> Vec<u8> {
    stream.write_all(request).expect("send");
    let mut answer = vec![0; n];
    stream.read_exact(&mut answer).expect("answer");
    answer
}

/// MQTT 3.1.1 §3.1: CONNECT, clean session, keep alive 60, client id "c".
const CONNECT_V311: &[u8] = &[
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c',
];
/// MQTT 3.1 §3.1: protocol name MQIsdp, level 3, client id "c".
const CONNECT_V31: &[u8] = &[
    0x10, 0x0F, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x3C, 0x00, 0x01,
    b'c',
];
/// MQTT 5.0 §3.1: CONNECT, clean start, no properties, client id "c".
const CONNECT_V5: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x01, b'c',
];

#[test]
fn v311_connect_is_accepted() {
    let broker = Broker::start(&["--shards", "2"]);
    // MQTT 3.1.1 §3.2: CONNACK, no session present, 0x00 Connection Accepted.
    assert_eq!(
        answer(&mut broker.connect(), CONNECT_V311, 4),
        [0x20, 0x02, 0x00, 0x00]
    );
}

#[test]
fn v31_connect_is_accepted() {
    let broker = Broker::start(&["--shards", "2"]);
    assert_eq!(
        answer(&mut broker.connect(), CONNECT_V31, 4),
        [0x20, 0x02, 0x00, 0x00]
    );
}

#[test]
fn v5_connack_advertises_receive_maximum_maximum_packet_size_and_topic_aliases() {
    let broker = Broker::start(&["--shards", "2"]);
    // MQTT 5.0 §3.2.2.3: properties 0x21 Receive Maximum 32, 0x27 Maximum Packet Size
    // 1048576, 0x22 Topic Alias Maximum 16 (the defaults).
    let expected = [
        0x20, 0x0E, 0x00, 0x00, 0x0B, 0x21, 0x00, 0x20, 0x27, 0x00, 0x10, 0x00, 0x00, 0x22, 0x00,
        0x10,
    ];
    assert_eq!(
        answer(&mut broker.connect(), CONNECT_V5, expected.len()),
        expected
    );
}

#[test]
fn v5_empty_client_id_is_assigned_one() {
    let broker = Broker::start(&["--shards", "2"]);
    // MQTT 5.0 §3.1.3.1: an empty Client Identifier gets 0x12 Assigned Client Identifier.
    let connect = [
        0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x00,
    ];
    let mut stream = broker.connect();
    let head = answer(&mut stream, &connect, 2);
    assert_eq!(head[0], 0x20);
    let mut rest = vec![0; head[1] as usize];
    stream.read_exact(&mut rest).unwrap();
    let id_at = rest
        .windows(1)
        .position(|w| w[0] == 0x12)
        .expect("property 0x12");
    let len = u16::from_be_bytes([rest[id_at + 1], rest[id_at + 2]]) as usize;
    let id = std::str::from_utf8(&rest[id_at + 3..id_at + 3 + len]).unwrap();
    assert!(id.starts_with("coremq-"), "{id}");
}

#[test]
fn unsupported_protocol_level_gets_0x01_and_close() {
    let broker = Broker::start(&[]);
    let mut connect = CONNECT_V311.to_vec();
    connect[8] = 0x07;
    // MQTT 3.1.1 §3.1.2.2 [MQTT-3.1.2-2]: CONNACK 0x01 unacceptable protocol level.
    assert_eq!(
        exchange(&mut broker.connect(), &connect),
        [0x20, 0x02, 0x00, 0x01]
    );
}

#[test]
fn first_packet_not_connect_closes_without_answer() {
    let broker = Broker::start(&[]);
    // [MQTT-3.1.0-1]: PUBLISH "a" "hi" as the first packet.
    assert_eq!(
        exchange(
            &mut broker.connect(),
            &[0x30, 0x05, 0x00, 0x01, b'a', b'h', b'i']
        ),
        []
    );
    assert!(
        broker.log_contains("first packet is not CONNECT"),
        "log:\n{}",
        broker.log()
    );
}

#[test]
fn oversize_packet_is_refused_from_its_header() {
    let broker = Broker::start(&["--max-packet-size", "1024"]);
    // A v5 CONNECT claiming 2 MiB is refused before its body arrives: MQTT 5.0 §3.2.2.2
    // CONNACK 0x95 Packet too large, no properties.
    let header = [
        0x10, 0x80, 0x80, 0x80, 0x01, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
    ];
    assert_eq!(
        exchange(&mut broker.connect(), &header),
        [0x20, 0x03, 0x00, 0x95, 0x00]
    );
}

#[test]
fn malformed_connect_on_one_connection_leaves_another_untouched() {
    let broker = Broker::start(&["--shards", "2"]);
    let mut healthy = broker.connect();
    // The healthy client sends half of its CONNECT, then another client misbehaves.
    healthy.write_all(&CONNECT_V311[..7]).unwrap();
    let mut bad = CONNECT_V311.to_vec();
    bad[9] |= 0x01; // reserved CONNECT flag [MQTT-3.1.2-3]
    assert_eq!(exchange(&mut broker.connect(), &bad), []);
    // The first client's CONNECT completes and gets its answer.
    assert_eq!(
        answer(&mut healthy, &CONNECT_V311[7..], 4),
        [0x20, 0x02, 0x00, 0x00]
    );
}

#[test]
fn sigterm_stops_the_broker_with_status_0() {
    let broker = Broker::start(&["--shards", "2"]);
    let _idle = broker.connect();
    let status = broker.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn silent_connection_is_closed_after_the_connect_timeout() {
    let config = support::ConfigFile::new("01", "[limits]\nconnect_timeout_secs = 1\n");
    let broker = Broker::start(&["--config", config.arg(), "--shards", "2"]);
    // MQTT 3.1.1 §3.1.4 / 5.0 §4.8: no CONNECT in time -> closed without an answer.
    let mut silent = broker.connect();
    let mut answer = Vec::new();
    std::io::Read::read_to_end(&mut silent, &mut answer).expect("closed by the broker");
    assert_eq!(answer, []);
    assert!(
        broker.log_contains("no CONNECT within 1s"),
        "log:\n{}",
        broker.log()
    );
}
