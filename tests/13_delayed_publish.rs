//! Delayed publish (EMQX's `$delayed/{seconds}/{topic}`) over real sockets.

mod support;

use std::time::{Duration, Instant};

use support::client::{text, Client, QOS1, V3_1_1, V5};
use support::Broker;

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
