//! MQTT 5.0 features over real sockets: Topic Alias from the client (§3.3.2.3.4), the
//! client's Maximum Packet Size on deliveries (§3.1.2.11.4), Server Keep Alive and
//! Response Information (§3.2.2.3), Payload Format Indicator (§3.3.2.3.2).

mod support;

use std::num::NonZeroU16;

use coremq::protocol::{
    ConnAck, MqttString, Packet, PayloadFormatIndicator, ReasonCode, TopicName, UserProperty,
};
use support::client::{publish_packet, text, Client, ConnectOptions, QOS0, QOS1, QUIET, V5};
use support::{Broker, ConfigFile, IO_TIMEOUT};

fn broker() -> Broker {
    Broker::start(&["--shards", "2"])
}

#[test]
fn topic_alias_set_then_used_reaches_the_subscriber_with_the_full_topic() {
    let broker = broker();
    let mut sub = Client::connect(&broker, V5, "alias-sub");
    sub.subscribe(&[("alias/#", QOS1)]);
    let mut publisher = Client::connect(&broker, V5, "alias-pub");
    // First PUBLISH sets alias 3 to "alias/t"; the second sends only the alias.
    let mut first = publish_packet("alias/t", b"one", QOS0, false, 0);
    first.properties.topic_alias = NonZeroU16::new(3);
    publisher.send(&Packet::Publish(first));
    let mut second = publish_packet("alias/t", b"two", QOS0, false, 0);
    second.topic = TopicName::empty();
    second.properties.topic_alias = NonZeroU16::new(3);
    publisher.send(&Packet::Publish(second));
    for expected in ["one", "two"] {
        let got = sub.expect_publish_acked();
        assert_eq!(
            (got.topic.as_str(), text(&got).as_str()),
            ("alias/t", expected)
        );
        assert_eq!(got.properties.topic_alias, None);
    }
}

#[test]
fn unknown_or_oversize_topic_alias_ends_the_connection_with_0x94() {
    let broker = broker();
    for (alias, topic) in [(5u16, ""), (17, "a")] {
        let mut publisher = Client::connect(&broker, V5, &format!("alias-bad-{alias}"));
        let mut publish = publish_packet("a", b"x", QOS0, false, 0);
        if topic.is_empty() {
            publish.topic = TopicName::empty();
        }
        publish.properties.topic_alias = NonZeroU16::new(alias);
        publisher.send(&Packet::Publish(publish));
        let got = publisher.expect_closed(IO_TIMEOUT);
        assert!(
            got.iter().any(|p| matches!(
                p,
                Packet::Disconnect(d) if d.reason_code == ReasonCode::TopicAliasInvalid
            )),
            "alias {alias}: {got:?}"
        );
    }
}

#[test]
fn deliveries_over_the_clients_maximum_packet_size_are_discarded() {
    let broker = broker();
    let options = ConnectOptions {
        maximum_packet_size: Some(64),
        ..ConnectOptions::default()
    };
    let (mut sub, _) = Client::connect_with(&broker, V5, "small-sub", options);
    sub.subscribe(&[("size/#", QOS1)]);
    let mut publisher = Client::connect(&broker, V5, "size-pub");
    publisher.publish("size/t", &[b'x'; 200], QOS1, false);
    publisher.publish("size/t", b"small", QOS1, false);
    // The large one is discarded as if delivered; the next one arrives and the window is
    // not held by the discarded message.
    let got = sub.expect_publish_acked();
    assert_eq!(text(&got), "small");
    sub.expect_nothing(QUIET);
}

/// CONNECT with `request_response_information`, answered by the CONNACK returned.
fn connack_with_request(broker: &Broker, client_id: &str, request: bool) -> (Client, ConnAck) {
    let mut client = Client::open(broker, V5, client_id);
    let Packet::Connect(mut connect) = client.connect_packet(ConnectOptions::default()) else {
        unreachable!("connect_packet builds a CONNECT")
    };
    connect.properties.request_response_information = Some(request);
    client.send(&Packet::Connect(connect));
    match client.expect_packet() {
        Packet::ConnAck(connack) => (client, *connack),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[test]
fn server_keep_alive_and_response_information_come_from_the_configuration() {
    let config = ConfigFile::new(
        "12-ka",
        "response_information = \"replies/\"\n[limits]\nserver_keep_alive_secs = 1\n",
    );
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    // MQTT 5.0 §3.2.2.3.15: Response Information only to a client that asked for it.
    let (mut asked, connack) = connack_with_request(&broker, "ka-asked", true);
    assert_eq!(
        connack.properties.response_information.as_deref(),
        Some("replies/")
    );
    // §3.2.2.3.14: Server Keep Alive replaces the client's 60 s: idle for 1.5 s ends it.
    assert_eq!(connack.properties.server_keep_alive_secs, Some(1));
    let got = asked.expect_closed(IO_TIMEOUT);
    assert!(
        got.iter().any(|p| matches!(
            p,
            Packet::Disconnect(d) if d.reason_code == ReasonCode::KeepAliveTimeout
        )),
        "{got:?}"
    );
    let (_quiet, connack) = connack_with_request(&broker, "ka-not-asked", false);
    assert_eq!(connack.properties.response_information, None);
}

#[test]
fn a_payload_that_is_not_the_utf8_it_claims_ends_the_connection_with_0x99() {
    let broker = broker();
    let mut publisher = Client::connect(&broker, V5, "pfi-pub");
    let mut publish = publish_packet("pfi/t", &[0xC3, 0x28], QOS0, false, 0);
    publish.properties.payload_format_indicator = Some(PayloadFormatIndicator::Utf8);
    publisher.send(&Packet::Publish(publish));
    let got = publisher.expect_closed(IO_TIMEOUT);
    assert!(
        got.iter().any(|p| matches!(
            p,
            Packet::Disconnect(d) if d.reason_code == ReasonCode::PayloadFormatInvalid
        )),
        "{got:?}"
    );
}

#[test]
fn request_response_and_user_properties_pass_through_in_order() {
    // MQTT 5.0 §3.3.2.3: Response Topic, Correlation Data, Content Type, Payload Format
    // Indicator and User Properties (in order, §3.3.2.3.7) reach the subscriber unchanged.
    let broker = broker();
    let mut responder = Client::connect(&broker, V5, "rr-responder");
    responder.subscribe(&[("rr/request", QOS1)]);
    let mut requester = Client::connect(&broker, V5, "rr-requester");
    let mut publish = publish_packet("rr/request", b"ping", QOS1, false, 1);
    let props = &mut publish.properties;
    props.response_topic = TopicName::new("rr/reply/1").ok();
    props.correlation_data = Some(bytes::Bytes::from_static(b"\x00\x01corr"));
    props.content_type = MqttString::new("text/plain").ok();
    props.payload_format_indicator = Some(PayloadFormatIndicator::Utf8);
    for (k, v) in [("b", "2"), ("a", "1"), ("b", "3")] {
        props.user_properties.push(UserProperty {
            name: MqttString::new(k).unwrap(),
            value: MqttString::new(v).unwrap(),
        });
    }
    let sent = publish.properties.clone();
    requester.send(&Packet::Publish(publish));
    let got = responder.expect_publish_acked();
    assert_eq!(got.properties.response_topic, sent.response_topic);
    assert_eq!(got.properties.correlation_data, sent.correlation_data);
    assert_eq!(got.properties.content_type, sent.content_type);
    assert_eq!(
        got.properties.payload_format_indicator,
        sent.payload_format_indicator
    );
    assert_eq!(got.properties.user_properties, sent.user_properties);
}

/// Topic of each PUBLISH as the client resolves it, with the alias it carried.
fn resolve_aliases(got: &[coremq::protocol::Publish]) -> Vec<(String, Option<u16>, bool)> {
    let mut aliases = std::collections::HashMap::new();
    got.iter()
        .map(|p| {
            let alias = p.properties.topic_alias.map(NonZeroU16::get);
            let sent_in_full = !p.topic.is_empty();
            let topic = match alias {
                Some(a) if sent_in_full => {
                    aliases.insert(a, p.topic.as_str().to_string());
                    p.topic.as_str().to_string()
                }
                Some(a) => aliases.get(&a).cloned().expect("alias set before use"),
                None => p.topic.as_str().to_string(),
            };
            (topic, alias, sent_in_full)
        })
        .collect()
}

#[test]
fn the_server_gives_topic_aliases_when_the_client_allows_them() {
    let broker = broker();
    let options = ConnectOptions {
        topic_alias_maximum: Some(2),
        ..ConnectOptions::default()
    };
    let (mut sub, _) = Client::connect_with(&broker, V5, "alias-out-sub", options);
    sub.subscribe(&[("out/#", QOS0)]);
    let mut publisher = Client::connect(&broker, V5, "alias-out-pub");
    let topics = ["out/a", "out/a", "out/b", "out/c", "out/a"];
    for topic in topics {
        publisher.publish(topic, b"x", QOS0, false);
    }
    let got = resolve_aliases(&sub.collect(topics.len()));
    // MQTT 5.0 §3.3.2.3.4: never an alias above the client's Topic Alias Maximum (2);
    // a known topic goes by alias alone; when both aliases are taken the least recently
    // sent topic gives up its alias (lru, the default policy).
    let expected = [
        ("out/a", Some(1), true),
        ("out/a", Some(1), false),
        ("out/b", Some(2), true),
        ("out/c", Some(1), true),
        ("out/a", Some(2), true),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(t, a, full)| (t.to_string(), *a, *full))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn no_server_topic_aliases_when_the_policy_is_off() {
    let config = ConfigFile::new("12-alias-off", "topic_alias_outbound = \"off\"\n");
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    let options = ConnectOptions {
        topic_alias_maximum: Some(10),
        ..ConnectOptions::default()
    };
    let (mut sub, _) = Client::connect_with(&broker, V5, "alias-off-sub", options);
    sub.subscribe(&[("off/#", QOS0)]);
    let mut publisher = Client::connect(&broker, V5, "alias-off-pub");
    for _ in 0..2 {
        publisher.publish("off/t", b"x", QOS0, false);
    }
    for got in sub.collect(2) {
        assert_eq!(
            (got.topic.as_str(), got.properties.topic_alias),
            ("off/t", None)
        );
    }
}

/// PUBREL for a packet id nobody published: PUBCOMP 0x92, with whatever Reason String.
fn pubcomp_for_unknown_pubrel(client: &mut Client) -> coremq::protocol::PublishAck {
    let pubrel = coremq::protocol::PubRel::new(support::client::pid(7));
    client.send(&Packet::PubRel(pubrel));
    match client.expect_kind("PUBCOMP", |p| matches!(p, Packet::PubComp(_))) {
        Packet::PubComp(ack) => ack,
        _ => unreachable!("expect_kind returned a PUBCOMP"),
    }
}

#[test]
fn reason_strings_explain_failures_unless_the_client_declines_them() {
    let broker = broker();
    let mut curious = Client::connect(&broker, V5, "rpi-default");
    let ack = pubcomp_for_unknown_pubrel(&mut curious);
    assert_eq!(ack.reason_code, ReasonCode::PacketIdentifierNotFound);
    let reason = ack.properties.reason_string.expect("a Reason String");
    assert!(reason.contains("packet identifier"), "{reason}");

    // MQTT 5.0 [MQTT-3.1.2-29]: Request Problem Information 0 -> no Reason String on
    // anything but PUBLISH, CONNACK and DISCONNECT.
    let options = ConnectOptions {
        request_problem_information: Some(false),
        ..ConnectOptions::default()
    };
    let (mut quiet, _) = Client::connect_with(&broker, V5, "rpi-off", options);
    let ack = pubcomp_for_unknown_pubrel(&mut quiet);
    assert_eq!(ack.reason_code, ReasonCode::PacketIdentifierNotFound);
    assert_eq!(ack.properties.reason_string, None);
    // ...but a DISCONNECT still says why.
    let mut publish = publish_packet("rpi/t", &[0xff, 0xfe], QOS0, false, 0);
    publish.properties.payload_format_indicator = Some(PayloadFormatIndicator::Utf8);
    quiet.send(&Packet::Publish(publish));
    let got = quiet.expect_closed(IO_TIMEOUT);
    let reason = got
        .iter()
        .find_map(|p| match p {
            Packet::Disconnect(d) if d.reason_code == ReasonCode::PayloadFormatInvalid => {
                d.properties.reason_string.clone()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("DISCONNECT 0x99 with a Reason String: {got:?}"));
    assert!(reason.contains("UTF-8"), "{reason}");
}

#[test]
fn a_redirect_refuses_connect_with_the_server_reference() {
    let config = ConfigFile::new(
        "12-moved",
        "[redirect]\nserver_reference = \"broker2.example:1883\"\nconnect = \"server-moved\"\n",
    );
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    // MQTT 5.0 §4.11: CONNACK 0x9D Server moved, with the Server Reference.
    let mut v5 = Client::open(&broker, V5, "moved-v5");
    let connack = v5.handshake(ConnectOptions::default());
    assert_eq!(connack.reason_code, ReasonCode::ServerMoved);
    assert_eq!(
        connack.properties.server_reference.as_deref(),
        Some("broker2.example:1883")
    );
    v5.expect_closed(IO_TIMEOUT);
    // MQTT 3.1.1 has no redirect: 0x03 Server unavailable.
    let mut v3 = Client::open(&broker, support::client::V3_1_1, "moved-v3");
    let connack = v3.handshake(ConnectOptions::default());
    assert_eq!(connack.reason_code, ReasonCode::ServerUnavailable);
}

#[test]
fn shutdown_with_a_redirect_sends_0x9c_and_the_server_reference() {
    let config = ConfigFile::new(
        "12-shutdown-redirect",
        "[redirect]\nserver_reference = \"standby:1883\"\non_shutdown = true\n",
    );
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    let mut clients: Vec<Client> = support::client::ids("redirect-", 4)
        .iter()
        .map(|id| Client::connect(&broker, V5, id))
        .collect();
    assert_eq!(broker.stop_with(libc::SIGTERM).code(), Some(0));
    for client in &mut clients {
        let got = client.expect_closed(IO_TIMEOUT);
        assert!(
            got.iter().any(|p| matches!(
                p,
                Packet::Disconnect(d) if d.reason_code == ReasonCode::UseAnotherServer
                    && d.properties.server_reference.as_deref() == Some("standby:1883")
            )),
            "{got:?}"
        );
    }
}

#[test]
fn a_suback_refusal_says_why_in_its_reason_string() {
    let config = ConfigFile::new("12-suback-why", "[limits]\nsubscriptions_max = 1\n");
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    let mut client = Client::connect(&broker, V5, "suback-why");
    let options = coremq::protocol::SubscriptionOptions {
        qos: QOS1,
        ..Default::default()
    };
    let suback = client.subscribe_with(&[("a/1", options), ("a/2", options)], None);
    // MQTT 5.0 §3.9.3: one code per filter; 0x97 Quota exceeded for the second.
    assert_eq!(
        suback.reason_codes,
        [ReasonCode::GrantedQoS1, ReasonCode::QuotaExceeded]
    );
    let why = suback.properties.reason_string.expect("a Reason String");
    assert!(
        why.contains("filter 2") && why.contains("maximum of 1"),
        "{why}"
    );
}
