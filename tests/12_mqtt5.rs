//! MQTT 5.0 features over real sockets: Topic Alias from the client (§3.3.2.3.4) and the
//! client's Maximum Packet Size on deliveries (§3.1.2.11.4).

mod support;

use std::num::NonZeroU16;

use coremq::protocol::{Packet, ReasonCode, TopicName};
use support::client::{publish_packet, text, Client, ConnectOptions, QOS0, QOS1, QUIET, V5};
use support::{Broker, IO_TIMEOUT};

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
