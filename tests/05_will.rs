//! Will Messages over real sockets (MQTT 3.1.1 §3.1.2.5, 5.0 §3.1.2.5 and §3.1.3.2):
//! published on an abnormal close and on a keep-alive timeout, not after DISCONNECT,
//! with the Will QoS and Retain, on MQTT 5.0 DISCONNECT 0x04, and after the Will Delay
//! Interval unless the session reconnects first. The will owner and the watcher have
//! different client ids (coremq: 2 shards).

mod support;

use std::time::{Duration, Instant};

use coremq::protocol::{ReasonCode, WillProperties};
use support::client::{text, will, Client, ConnectOptions, QOS0, QOS1, QOS2, QUIET, V3_1_1, V5};
use support::Broker;

fn broker() -> Broker {
    Broker::start_under_test(&["--shards", "2"])
}

fn watcher(broker: &Broker, id: &str, filter: &str) -> Client {
    let mut watcher = Client::connect(broker, V3_1_1, id);
    watcher.subscribe(&[(filter, QOS2)]);
    watcher
}

fn with_will(
    topic: &str,
    payload: &[u8],
    qos: coremq::protocol::QoS,
    retain: bool,
) -> ConnectOptions {
    ConnectOptions {
        will: Some(will(topic, payload, qos, retain)),
        ..Default::default()
    }
}

#[test]
fn will_is_published_when_the_connection_drops() {
    // MQTT 3.1.1 §3.1.2.5 [MQTT-3.1.2-8]: network connection closed without
    // DISCONNECT -> the Will Message is published.
    let broker = broker();
    let mut watcher = watcher(&broker, "drop-watch", "will/#");
    let (owner, _) = Client::connect_with(
        &broker,
        V3_1_1,
        "drop-owner",
        with_will("will/drop", b"gone", QOS1, false),
    );
    owner.drop_connection();
    let will = watcher.expect_publish_acked();
    assert_eq!(
        (will.topic.as_str(), text(&will).as_str()),
        ("will/drop", "gone")
    );
    assert_eq!(will.qos, QOS1);
    assert!(!will.retain);
}

#[test]
fn keep_alive_timeout_closes_after_one_and_a_half_periods_and_publishes_the_will() {
    // MQTT 3.1.1 §3.1.2.10 [MQTT-3.1.2-24]: nothing received for 1.5 x Keep Alive ->
    // the server disconnects; that is not a DISCONNECT, so the will goes out.
    let broker = broker();
    let mut watcher = watcher(&broker, "ka-watch", "will/#");
    let options = ConnectOptions {
        keep_alive_secs: 1,
        ..with_will("will/ka", b"timeout", QOS1, false)
    };
    let started = Instant::now();
    let (mut owner, _) = Client::connect_with(&broker, V3_1_1, "ka-owner", options);
    let sent = owner.expect_closed(Duration::from_secs(9));
    let elapsed = started.elapsed();
    assert!(sent.is_empty(), "3.1.1 has no server DISCONNECT: {sent:?}");
    // The spec bounds it below (1.5 s) but names no upper bound. coremq's deadline is a
    // timer-wheel entry: it must close within 3 s. mosquitto 2.0.11 (the reference)
    // checks keep alives on a coarse timer and closes after about 6 s.
    let latest = if broker.is_coremq() {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(8)
    };
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed <= latest,
        "closed after {elapsed:?}, expected 1.5 s (at most {latest:?})"
    );
    let will = watcher.expect_publish_acked();
    assert_eq!(text(&will), "timeout");
}

#[test]
fn will_is_not_published_after_disconnect() {
    // [MQTT-3.1.2-10]: DISCONNECT deletes the Will Message.
    let broker = broker();
    let mut watcher = watcher(&broker, "clean-watch", "will/#");
    let (owner, _) = Client::connect_with(
        &broker,
        V3_1_1,
        "clean-owner",
        with_will("will/clean", b"never", QOS1, false),
    );
    owner.disconnect();
    let mut marker = Client::connect(&broker, V3_1_1, "clean-marker");
    marker.publish("will/marker", b"m", QOS1, false);
    assert_eq!(watcher.expect_publish_acked().topic.as_str(), "will/marker");
    watcher.expect_nothing(QUIET);
}

#[test]
fn will_qos_and_retain_are_honoured() {
    // [MQTT-3.1.2-14]..[MQTT-3.1.2-17]: the will is published at the Will QoS and, with
    // Will Retain, stored as a retained message (existing subscribers get RETAIN=0,
    // [MQTT-3.3.1-9]; new ones RETAIN=1).
    let broker = broker();
    let mut watcher = watcher(&broker, "wq-watch", "will/#");
    let (owner, _) = Client::connect_with(
        &broker,
        V3_1_1,
        "wq-owner-2",
        with_will("will/q2", b"two", QOS2, true),
    );
    owner.drop_connection();
    let will = watcher.expect_publish_acked();
    assert_eq!(
        (text(&will).as_str(), will.qos, will.retain),
        ("two", QOS2, false)
    );
    let (owner, _) = Client::connect_with(
        &broker,
        V3_1_1,
        "wq-owner-0",
        with_will("will/q0", b"zero", QOS0, false),
    );
    owner.drop_connection();
    let will = watcher.expect_publish_acked();
    assert_eq!((text(&will).as_str(), will.qos), ("zero", QOS0));
    // The retained will reaches a later subscriber with RETAIN=1.
    let mut late = Client::connect(&broker, V3_1_1, "wq-late");
    late.subscribe(&[("will/#", QOS2)]);
    let retained = late.expect_publish_acked();
    assert_eq!(
        (
            retained.topic.as_str(),
            text(&retained).as_str(),
            retained.qos,
            retained.retain
        ),
        ("will/q2", "two", QOS2, true)
    );
    late.expect_nothing(QUIET);
}

#[test]
fn v5_disconnect_with_will_message_publishes_the_will() {
    // MQTT 5.0 §3.14.2.1: DISCONNECT 0x04 Disconnect with Will Message.
    let broker = broker();
    let mut watcher = watcher(&broker, "dw-watch", "will/#");
    let (owner, _) = Client::connect_with(
        &broker,
        V5,
        "dw-owner",
        with_will("will/dw", b"asked", QOS1, false),
    );
    owner.disconnect_with(ReasonCode::DisconnectWithWillMessage);
    assert_eq!(text(&watcher.expect_publish_acked()), "asked");
}

fn delayed_will(delay_secs: u32) -> ConnectOptions {
    let mut will = will("will/delay", b"late", QOS1, false);
    will.properties = WillProperties {
        will_delay_interval_secs: Some(delay_secs),
        ..Default::default()
    };
    ConnectOptions {
        clean: false,
        will: Some(will),
        // The session outlives the delay, so only the delay decides (§3.1.3.2.2).
        session_expiry_secs: Some(60),
        ..Default::default()
    }
}

#[test]
fn v5_will_delay_interval_delays_the_will() {
    // MQTT 5.0 §3.1.3.2.2 [MQTT-3.1.3-9]: the will goes out after the Will Delay
    // Interval, not at the disconnection.
    let broker = broker();
    let mut watcher = watcher(&broker, "delay-watch", "will/#");
    let (owner, _) = Client::connect_with(&broker, V5, "delay-owner", delayed_will(2));
    let dropped = Instant::now();
    owner.drop_connection();
    assert!(
        watcher.recv(Duration::from_millis(1500)).is_none(),
        "will before its delay"
    );
    let will = watcher.expect_publish_acked();
    let elapsed = dropped.elapsed();
    assert_eq!(text(&will), "late");
    assert!(
        elapsed >= Duration::from_millis(1800) && elapsed <= Duration::from_secs(5),
        "will after {elapsed:?}, delay 2 s"
    );
}

#[test]
fn v5_reconnect_within_the_will_delay_cancels_the_will() {
    // MQTT 5.0 §3.1.3.2.2: a new Network Connection to the session before the delay
    // has passed -> the Will Message is not sent.
    let broker = broker();
    let mut watcher = watcher(&broker, "cancel-watch", "will/#");
    let (owner, _) = Client::connect_with(&broker, V5, "cancel-owner", delayed_will(2));
    owner.drop_connection();
    std::thread::sleep(Duration::from_millis(500));
    let options = ConnectOptions {
        clean: false,
        session_expiry_secs: Some(60),
        ..Default::default()
    };
    let (back, connack) = Client::connect_with(&broker, V5, "cancel-owner", options);
    assert!(connack.session_present);
    if let Some(packet) = watcher.recv(Duration::from_millis(2500)) {
        panic!("will sent although the session reconnected: {packet:?}");
    }
    back.disconnect();
    watcher.expect_nothing(QUIET);
}
