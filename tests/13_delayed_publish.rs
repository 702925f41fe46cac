//! Delayed publish (EMQX's `$delayed/{seconds}/{topic}`) over real sockets.

mod support;

use std::time::{Duration, Instant};

use coremq::protocol::{Packet, ReasonCode};
use support::client::{text, Client, QOS1, QOS2, V3_1_1, V5};
use support::{Broker, ConfigFile};

#[test]
fn a_delayed_publish_arrives_after_its_delay_on_its_topic() {
    let broker = Broker::start(&["--shards", "2"]);
    let mut subs: Vec<Client> = ["delay-sub-a", "delay-sub-b", "delay-sub-c"]
        .iter()
        .map(|id| {
            let mut sub = Client::connect(&broker, V5, id);
            sub.subscribe(&[("later/#", QOS1)]);
            sub
        })
        .collect();
    let mut publisher = Client::connect(&broker, V3_1_1, "delay-pub");
    let sent = Instant::now();
    publisher.publish("$delayed/2/later/t", b"hello", QOS1, false);
    for sub in subs.iter_mut() {
        let got = sub.expect_publish_acked();
        assert_eq!(
            (got.topic.as_str(), text(&got).as_str()),
            ("later/t", "hello")
        );
        // Held for the delay (the timer wheel ticks in 10 ms steps).
        assert!(
            sent.elapsed() >= Duration::from_millis(1900),
            "{:?}",
            sent.elapsed()
        );
    }
}

#[test]
fn an_invalid_delayed_topic_is_dropped_and_the_connection_stays() {
    let broker = Broker::start(&["--shards", "2"]);
    let mut sub = Client::connect(&broker, V5, "delay-bad-sub");
    sub.subscribe(&[("#", QOS1)]);
    let mut publisher = Client::connect(&broker, V3_1_1, "delay-bad-pub");
    publisher.publish("$delayed/soon/t", b"x", QOS1, false);
    publisher.publish("now/t", b"y", QOS1, false);
    let got = sub.expect_publish_acked();
    assert_eq!(text(&got), "y");
    assert!(
        broker.log_contains("delayed publish dropped"),
        "log:\n{}",
        broker.log()
    );
}

/// Publishes QoS 1 or 2 to `topic` from a 5.0 client and returns the acknowledgement.
fn ack_of(client: &mut Client, topic: &str, qos: coremq::protocol::QoS) -> Packet {
    let id = client.next_id();
    let publish = support::client::publish_packet(topic, b"x", qos, false, id);
    client.send(&Packet::Publish(publish));
    client.expect_kind("PUBACK or PUBREC", |p| {
        matches!(p, Packet::PubAck(_) | Packet::PubRec(_))
    })
}

fn refusal(ack: &Packet) -> (ReasonCode, String) {
    match ack {
        Packet::PubAck(a) | Packet::PubRec(a) => (
            a.reason_code,
            a.properties
                .reason_string
                .as_deref()
                .unwrap_or_default()
                .to_string(),
        ),
        other => panic!("not an acknowledgement: {other:?}"),
    }
}

#[test]
fn a_v5_publisher_is_told_why_a_delayed_publish_is_refused() {
    let config = ConfigFile::new(
        "13-delayed-bounds",
        "[delayed]\nmax_delay_secs = 60\nmax_messages_per_shard = 1\n",
    );
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    let mut sub = Client::connect(&broker, V5, "delay-why-sub");
    sub.subscribe(&[("#", QOS1)]);
    let mut publisher = Client::connect(&broker, V5, "delay-why-pub");
    // MQTT 5.0 §3.4.2.1 / §3.5.2.1: 0x90 Topic Name invalid for a malformed form or a
    // delay past the maximum, 0x97 Quota exceeded when the shard holds its maximum.
    let (code, why) = refusal(&ack_of(&mut publisher, "$delayed/soon/t", QOS1));
    assert_eq!(code, ReasonCode::TopicNameInvalid);
    assert!(why.contains("seconds"), "{why}");
    let (code, why) = refusal(&ack_of(&mut publisher, "$delayed/61/t", QOS2));
    assert_eq!(code, ReasonCode::TopicNameInvalid);
    assert!(why.contains("max_delay_secs"), "{why}");
    let (code, _) = refusal(&ack_of(&mut publisher, "$delayed/60/held/t", QOS1));
    assert_eq!(code, ReasonCode::Success, "the first one is held");
    let (code, why) = refusal(&ack_of(&mut publisher, "$delayed/60/held/u", QOS1));
    assert_eq!(code, ReasonCode::QuotaExceeded);
    assert!(why.contains("max_messages"), "{why}");
    // Nothing refused was routed, and the connection is still fine.
    publisher.publish("now/t", b"y", QOS1, false);
    let got = sub.expect_publish_acked();
    assert_eq!((got.topic.as_str(), text(&got).as_str()), ("now/t", "y"));
    sub.expect_nothing(support::client::QUIET);
}
