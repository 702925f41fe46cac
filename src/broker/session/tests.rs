//! Exact-flow scenarios of one session, each naming the spec section it holds the code
//! to. Events in, the exact actions out.

use std::num::NonZeroU16;

use bytes::Bytes;

use super::*;
use crate::protocol::{Publish, QoS, RetainHandling, TopicName};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn message(payload: &'static str, qos: QoS) -> Message {
    let mut publish = Publish::new(TopicName::new("t/1").unwrap(), Bytes::from(payload));
    publish.qos = qos;
    if qos != QoS::AtMostOnce {
        publish.packet_id = Some(id(1000));
    }
    Message::from_publish(publish, 0)
}

fn grant(max_qos: QoS) -> Grant {
    Grant {
        max_qos,
        ..Grant::default()
    }
}

fn limits(inflight_max: u16) -> SessionLimits {
    SessionLimits {
        inflight_max,
        ..SessionLimits::default()
    }
}

/// A connected session and its (empty) action buffer.
fn online(version: ProtocolVersion, limits: SessionLimits) -> (Session, Vec<SessionAction>) {
    let mut session = Session::new(MqttString::new("c").unwrap(), version, limits);
    let mut out = Vec::new();
    session.connected(version, None, 0, &mut out);
    assert!(out.is_empty());
    (session, out)
}

fn deliver(session: &mut Session, out: &mut Vec<SessionAction>, payload: &'static str, qos: QoS) {
    session.deliver(
        message(payload, qos),
        grant(QoS::ExactlyOnce),
        DeliveryKind::Matched,
        0,
        out,
    );
}

/// One sent packet, in a compact form to compare against.
#[derive(Debug, PartialEq)]
enum Wire {
    /// PUBLISH: payload, QoS, packet id, DUP.
    Publish(String, QoS, Option<u16>, bool),
    PubAck(u16, ReasonCode),
    PubRec(u16, ReasonCode),
    PubRel(u16, ReasonCode),
    PubComp(u16, ReasonCode),
    Route(String),
    Disconnect(ReasonCode),
}

fn wire(out: &mut Vec<SessionAction>) -> Vec<Wire> {
    out.drain(..)
        .map(|action| match action {
            SessionAction::Send(Packet::Publish(p)) => Wire::Publish(
                String::from_utf8(p.payload.to_vec()).unwrap(),
                p.qos,
                p.packet_id.map(PacketId::get),
                p.dup,
            ),
            SessionAction::Send(Packet::PubAck(a)) => {
                Wire::PubAck(a.packet_id.get(), a.reason_code)
            }
            SessionAction::Send(Packet::PubRec(a)) => {
                Wire::PubRec(a.packet_id.get(), a.reason_code)
            }
            SessionAction::Send(Packet::PubRel(a)) => {
                Wire::PubRel(a.packet_id.get(), a.reason_code)
            }
            SessionAction::Send(Packet::PubComp(a)) => {
                Wire::PubComp(a.packet_id.get(), a.reason_code)
            }
            SessionAction::Send(other) => panic!("unexpected {other:?}"),
            SessionAction::Route(m) => Wire::Route(String::from_utf8(m.payload.to_vec()).unwrap()),
            SessionAction::Disconnect(code) => Wire::Disconnect(code),
        })
        .collect()
}

fn publish_wire(payload: &str, qos: QoS, packet_id: Option<u16>, dup: bool) -> Wire {
    Wire::Publish(payload.to_string(), qos, packet_id, dup)
}

const OK: ReasonCode = ReasonCode::Success;
const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

#[test]
fn qos1_out_puback_frees_the_window() {
    // MQTT 5.0 §4.3.2: PUBLISH QoS 1 with a new packet id, complete on PUBACK.
    let (mut s, mut out) = online(V5, limits(1));
    deliver(&mut s, &mut out, "a", Q1);
    deliver(&mut s, &mut out, "b", Q1);
    assert_eq!(wire(&mut out), [publish_wire("a", Q1, Some(1), false)]);
    assert_eq!((s.inflight_len(), s.queued_len()), (1, 1));
    assert_eq!(
        s.on_puback(&PublishAck::new(id(1)), 0, &mut out),
        AckOutcome::Completed
    );
    assert_eq!(wire(&mut out), [publish_wire("b", Q1, Some(2), false)]);
    assert_eq!(
        s.on_puback(&PublishAck::new(id(2)), 0, &mut out),
        AckOutcome::Completed
    );
    assert_eq!((s.inflight_len(), s.queued_len()), (0, 0));
}

#[test]
fn qos2_out_publish_pubrec_pubrel_pubcomp() {
    // MQTT 5.0 §4.3.3: PUBLISH -> PUBREC -> PUBREL -> PUBCOMP; a repeated PUBREC gets
    // PUBREL again; the window is held until PUBCOMP.
    let (mut s, mut out) = online(V5, limits(1));
    deliver(&mut s, &mut out, "a", Q2);
    deliver(&mut s, &mut out, "b", Q2);
    assert_eq!(wire(&mut out), [publish_wire("a", Q2, Some(1), false)]);
    let ack = PublishAck::new(id(1));
    assert_eq!(s.on_pubrec(&ack, 0, &mut out), AckOutcome::Released);
    assert_eq!(wire(&mut out), [Wire::PubRel(1, OK)]);
    assert_eq!(s.on_pubrec(&ack, 0, &mut out), AckOutcome::Released);
    assert_eq!(wire(&mut out), [Wire::PubRel(1, OK)]);
    assert_eq!(s.queued_len(), 1, "PUBREC does not free the window");
    assert_eq!(s.on_pubcomp(&ack, 0, &mut out), AckOutcome::Completed);
    assert_eq!(wire(&mut out), [publish_wire("b", Q2, Some(2), false)]);
    // A second PUBCOMP is unknown: ignored and counted.
    assert_eq!(s.on_pubcomp(&ack, 0, &mut out), AckOutcome::Unknown);
    assert!(out.is_empty());
    assert_eq!(s.counters().unknown_acks, 1);
}

#[test]
fn qos2_out_failure_pubrec_ends_the_flow() {
    // MQTT 5.0 §4.3.3: a PUBREC with a code of 0x80 or above ends the flow, no PUBREL.
    let (mut s, mut out) = online(V5, limits(1));
    deliver(&mut s, &mut out, "a", Q2);
    deliver(&mut s, &mut out, "b", Q1);
    wire(&mut out);
    let mut pubrec = PublishAck::new(id(1));
    pubrec.reason_code = ReasonCode::QuotaExceeded;
    assert_eq!(
        s.on_pubrec(&pubrec, 0, &mut out),
        AckOutcome::Refused(ReasonCode::QuotaExceeded)
    );
    assert_eq!(wire(&mut out), [publish_wire("b", Q1, Some(2), false)]);
    assert_eq!(s.counters().refused_by_client, 1);
}

#[test]
fn unknown_pubrec_gets_pubrel_0x92_in_v5_and_plain_in_311() {
    // MQTT 5.0 §3.6.2.1: PUBREL Packet Identifier not found (0x92).
    let (mut s, mut out) = online(V5, limits(4));
    assert_eq!(
        s.on_pubrec(&PublishAck::new(id(7)), 0, &mut out),
        AckOutcome::Unknown
    );
    assert_eq!(
        wire(&mut out),
        [Wire::PubRel(7, ReasonCode::PacketIdentifierNotFound)]
    );
    // A PUBREC for a QoS 1 flow is not its flow either; the QoS 1 flow is untouched.
    deliver(&mut s, &mut out, "a", Q1);
    wire(&mut out);
    assert_eq!(
        s.on_pubrec(&PublishAck::new(id(1)), 0, &mut out),
        AckOutcome::Unknown
    );
    wire(&mut out);
    assert_eq!(s.inflight_len(), 1);
    // MQTT 3.1.1 has no reason codes: a plain PUBREL.
    let (mut s, mut out) = online(V311, limits(4));
    assert_eq!(
        s.on_pubrec(&PublishAck::new(id(7)), 0, &mut out),
        AckOutcome::Unknown
    );
    assert_eq!(wire(&mut out), [Wire::PubRel(7, OK)]);
}

#[test]
fn unknown_puback_is_ignored_and_counted() {
    // MQTT 5.0 §4.3.2 leaves an unexpected PUBACK to the receiver: no answer exists.
    let (mut s, mut out) = online(V5, limits(4));
    assert_eq!(
        s.on_puback(&PublishAck::new(id(3)), 0, &mut out),
        AckOutcome::Unknown
    );
    // A PUBACK for a QoS 2 flow is not its flow either.
    deliver(&mut s, &mut out, "a", Q2);
    wire(&mut out);
    assert_eq!(
        s.on_puback(&PublishAck::new(id(1)), 0, &mut out),
        AckOutcome::Unknown
    );
    assert!(out.is_empty());
    assert_eq!((s.inflight_len(), s.counters().unknown_acks), (1, 2));
}

fn client_publish(qos: QoS, packet_id: Option<u16>, dup: bool, payload: &'static str) -> Publish {
    let mut p = Publish::new(TopicName::new("in").unwrap(), Bytes::from(payload));
    p.qos = qos;
    p.packet_id = packet_id.map(id);
    p.dup = dup;
    p
}

#[test]
fn qos0_and_qos1_in_are_routed_then_acknowledged() {
    // MQTT 5.0 §4.3.1, §4.3.2: QoS 0 routed, QoS 1 routed then PUBACK.
    let (mut s, mut out) = online(V5, limits(4));
    let o = s.on_client_publish(client_publish(Q0, None, false, "x"), 0, &mut out);
    assert_eq!(o, InboundOutcome::Routed);
    let o = s.on_client_publish(client_publish(Q1, Some(4), false, "y"), 0, &mut out);
    assert_eq!(o, InboundOutcome::Routed);
    assert_eq!(
        wire(&mut out),
        [
            Wire::Route("x".into()),
            Wire::Route("y".into()),
            Wire::PubAck(4, OK)
        ]
    );
}

#[test]
fn qos2_in_duplicate_before_pubrel_is_routed_once() {
    // MQTT 5.0 §4.3.3 method B: until PUBREL the same packet id is the
    // same message: acknowledged again, not delivered onward again.
    let (mut s, mut out) = online(V5, limits(4));
    let first = s.on_client_publish(client_publish(Q2, Some(5), false, "m"), 0, &mut out);
    let again = s.on_client_publish(client_publish(Q2, Some(5), true, "m"), 0, &mut out);
    assert_eq!(
        (first, again),
        (InboundOutcome::Routed, InboundOutcome::Duplicate)
    );
    assert_eq!(
        wire(&mut out),
        [
            Wire::Route("m".into()),
            Wire::PubRec(5, OK),
            Wire::PubRec(5, OK)
        ]
    );
    assert_eq!(s.inbound_qos2_pending_len(), 1);
    assert_eq!(
        s.on_pubrel(&PublishAck::new(id(5)), &mut out),
        AckOutcome::Completed
    );
    assert_eq!(wire(&mut out), [Wire::PubComp(5, OK)]);
    // After PUBREL the id may carry a new message (MQTT 5.0 §4.3.3).
    let next = s.on_client_publish(client_publish(Q2, Some(5), false, "n"), 0, &mut out);
    assert_eq!(next, InboundOutcome::Routed);
    assert_eq!(
        wire(&mut out),
        [Wire::Route("n".into()), Wire::PubRec(5, OK)]
    );
    assert_eq!(s.counters().duplicates_suppressed, 1);
}

#[test]
fn qos2_in_pending_survives_a_reconnect() {
    // MQTT 5.0 §4.1: the session holds QoS 2 messages received and not completed.
    let (mut s, mut out) = online(V5, limits(4));
    s.on_client_publish(client_publish(Q2, Some(9), false, "m"), 0, &mut out);
    s.disconnected();
    s.connected(V5, None, 0, &mut out);
    wire(&mut out);
    let again = s.on_client_publish(client_publish(Q2, Some(9), true, "m"), 0, &mut out);
    assert_eq!(again, InboundOutcome::Duplicate);
}

#[test]
fn unknown_pubrel_gets_pubcomp_0x92_in_v5_and_plain_in_311() {
    // MQTT 5.0 §3.7.2.1: PUBCOMP Packet Identifier not found (0x92).
    let (mut s, mut out) = online(V5, limits(4));
    assert_eq!(
        s.on_pubrel(&PublishAck::new(id(3)), &mut out),
        AckOutcome::Unknown
    );
    assert_eq!(
        wire(&mut out),
        [Wire::PubComp(3, ReasonCode::PacketIdentifierNotFound)]
    );
    // MQTT 3.1.1 §4.3.3: always PUBCOMP.
    let (mut s, mut out) = online(V311, limits(4));
    assert_eq!(
        s.on_pubrel(&PublishAck::new(id(3)), &mut out),
        AckOutcome::Unknown
    );
    assert_eq!(wire(&mut out), [Wire::PubComp(3, OK)]);
}

#[test]
fn inbound_qos2_past_receive_maximum_is_0x93() {
    // MQTT 5.0 §3.3.4, §3.2.2.3.3: more unacknowledged QoS 2 PUBLISH than the
    // Receive Maximum we advertised is Receive Maximum exceeded.
    let limits = SessionLimits {
        inbound_receive_maximum: 2,
        ..SessionLimits::default()
    };
    let (mut s, mut out) = online(V5, limits);
    s.on_client_publish(client_publish(Q2, Some(1), false, "a"), 0, &mut out);
    s.on_client_publish(client_publish(Q2, Some(2), false, "b"), 0, &mut out);
    wire(&mut out);
    let third = s.on_client_publish(client_publish(Q2, Some(3), false, "c"), 0, &mut out);
    assert_eq!(
        third,
        InboundOutcome::Refused(ReasonCode::ReceiveMaximumExceeded)
    );
    assert_eq!(
        wire(&mut out),
        [Wire::Disconnect(ReasonCode::ReceiveMaximumExceeded)]
    );
}

#[test]
fn client_publish_with_subscription_identifier_is_a_protocol_error() {
    // MQTT 5.0 [MQTT-3.3.4-6].
    let (mut s, mut out) = online(V5, limits(4));
    let mut p = client_publish(Q0, None, false, "x");
    p.properties
        .subscription_identifiers
        .push(SubscriptionId::new(1).unwrap());
    let o = s.on_client_publish(p, 0, &mut out);
    assert_eq!(o, InboundOutcome::Refused(ReasonCode::ProtocolError));
    assert_eq!(
        wire(&mut out),
        [Wire::Disconnect(ReasonCode::ProtocolError)]
    );
}

#[test]
fn receive_maximum_2_third_message_waits_for_an_ack() {
    // MQTT 5.0 §4.9: no more than Receive Maximum QoS 1/2 PUBLISH unacknowledged.
    let mut s = Session::new(MqttString::new("c").unwrap(), V5, limits(10));
    let mut out = Vec::new();
    s.connected(V5, NonZeroU16::new(2), 0, &mut out);
    assert_eq!(s.window(), 2);
    for payload in ["a", "b", "c"] {
        deliver(&mut s, &mut out, payload, Q1);
    }
    assert_eq!(
        wire(&mut out),
        [
            publish_wire("a", Q1, Some(1), false),
            publish_wire("b", Q1, Some(2), false)
        ]
    );
    assert_eq!(s.queued_len(), 1);
    s.on_puback(&PublishAck::new(id(2)), 0, &mut out);
    assert_eq!(wire(&mut out), [publish_wire("c", Q1, Some(3), false)]);
}

#[test]
fn server_inflight_max_caps_a_larger_receive_maximum_and_311_has_none() {
    let mut s = Session::new(MqttString::new("c").unwrap(), V5, limits(3));
    let mut out = Vec::new();
    s.connected(V5, NonZeroU16::new(100), 0, &mut out);
    assert_eq!(s.window(), 3);
    // 3.1.1 has no Receive Maximum: only the server's bound applies.
    s.disconnected();
    s.connected(V311, NonZeroU16::new(1), 0, &mut out);
    assert_eq!(s.window(), 3);
}

#[test]
fn queue_bound_in_messages_refuses_the_new_message() {
    // DESIGN.md "Limits": QoS 1/2 are never dropped silently: an outcome and a counter.
    let limits = SessionLimits {
        inflight_max: 1,
        queued_messages_max: 2,
        ..SessionLimits::default()
    };
    let (mut s, mut out) = online(V5, limits);
    let mut outcomes = Vec::new();
    for payload in ["a", "b", "c", "d"] {
        outcomes.push(s.deliver(
            message(payload, Q1),
            grant(Q1),
            DeliveryKind::Matched,
            0,
            &mut out,
        ));
    }
    use DeliverOutcome::*;
    assert_eq!(outcomes, [Sent, Queued, Queued, DroppedQueueFull]);
    assert_eq!(s.counters().dropped_queue_full, 1);
    // The oldest are kept: after acks the client gets a, b, c in order.
    s.on_puback(&PublishAck::new(id(1)), 0, &mut out);
    s.on_puback(&PublishAck::new(id(2)), 0, &mut out);
    let got: Vec<Wire> = wire(&mut out);
    assert_eq!(
        got,
        [
            publish_wire("a", Q1, Some(1), false),
            publish_wire("b", Q1, Some(2), false),
            publish_wire("c", Q1, Some(3), false)
        ]
    );
}

#[test]
fn queue_bound_in_bytes_refuses_the_new_message() {
    let limits = SessionLimits {
        inflight_max: 1,
        // Topic "t/1" is 3 bytes: "aaaa" and "bbbb" cost 7 each, "c" 4: 18 in all.
        queued_bytes_max: 18,
        ..SessionLimits::default()
    };
    let (mut s, mut out) = online(V5, limits);
    use DeliverOutcome::*;
    let mut d = |payload| {
        s.deliver(
            message(payload, Q2),
            grant(Q2),
            DeliveryKind::Matched,
            0,
            &mut out,
        )
    };
    assert_eq!(
        [d("zzzz"), d("aaaa"), d("bbbb"), d("c")],
        [Sent, Queued, Queued, Queued]
    );
    assert_eq!(d("dddd"), DroppedQueueFull);
    assert_eq!(s.queued_bytes(), 18);
    assert_eq!(s.counters().dropped_queue_full, 1);
}

#[test]
fn qos0_offline_is_dropped_and_counted_unless_configured() {
    // MQTT 5.0 §3.1.2.4: QoS 0 messages for an offline client may be discarded.
    let mut s = Session::new(MqttString::new("c").unwrap(), V5, limits(4));
    let mut out = Vec::new();
    let o = s.deliver(
        message("a", Q0),
        grant(Q2),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    assert_eq!(o, DeliverOutcome::DroppedOffline);
    assert_eq!(s.counters().dropped_qos0_offline, 1);
    // Granted QoS 0 turns a QoS 1 message into a QoS 0 delivery: dropped too.
    let o = s.deliver(
        message("b", Q1),
        grant(Q0),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    assert_eq!(o, DeliverOutcome::DroppedOffline);
    let limits = SessionLimits {
        queue_qos0_offline: true,
        ..SessionLimits::default()
    };
    let mut s = Session::new(MqttString::new("c").unwrap(), V5, limits);
    let o = s.deliver(
        message("a", Q0),
        grant(Q2),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    assert_eq!(o, DeliverOutcome::Queued);
    s.connected(V5, None, 0, &mut out);
    assert_eq!(wire(&mut out), [publish_wire("a", Q0, None, false)]);
}

#[test]
fn qos0_waits_behind_queued_messages_to_keep_order() {
    // MQTT 5.0 §4.6: messages to a subscriber keep their order; QoS 0 does not overtake
    // QoS 1 messages waiting for the window.
    let (mut s, mut out) = online(V5, limits(1));
    deliver(&mut s, &mut out, "a", Q1);
    deliver(&mut s, &mut out, "b", Q1);
    deliver(&mut s, &mut out, "c", Q0);
    assert_eq!(wire(&mut out), [publish_wire("a", Q1, Some(1), false)]);
    s.on_puback(&PublishAck::new(id(1)), 0, &mut out);
    // b takes the window, c (QoS 0) needs none and follows at once.
    assert_eq!(
        wire(&mut out),
        [
            publish_wire("b", Q1, Some(2), false),
            publish_wire("c", Q0, None, false)
        ]
    );
    // With nothing queued, QoS 0 goes even when the window is full.
    deliver(&mut s, &mut out, "d", Q0);
    assert_eq!(wire(&mut out), [publish_wire("d", Q0, None, false)]);
}

#[test]
fn reconnect_resends_publish_dup_and_pubrel_in_order_then_the_queue() {
    // MQTT 5.0 §4.4, [MQTT-4.4.0-1]; 3.1.1 [MQTT-4.4.0-1]: on reconnect resend
    // unacknowledged PUBLISH (DUP=1, [MQTT-3.3.1-1]) and PUBREL, original ids, in order.
    let (mut s, mut out) = online(V5, limits(3));
    deliver(&mut s, &mut out, "a", Q2);
    deliver(&mut s, &mut out, "b", Q1);
    deliver(&mut s, &mut out, "c", Q2);
    deliver(&mut s, &mut out, "d", Q1);
    wire(&mut out);
    s.on_pubrec(&PublishAck::new(id(1)), 0, &mut out);
    wire(&mut out);
    s.disconnected();
    // Offline: QoS 1 queues behind; nothing is sent.
    deliver(&mut s, &mut out, "e", Q1);
    assert!(out.is_empty());
    s.connected(V5, None, 0, &mut out);
    assert_eq!(
        wire(&mut out),
        [
            Wire::PubRel(1, OK),
            publish_wire("b", Q1, Some(2), true),
            publish_wire("c", Q2, Some(3), true),
        ]
    );
    // The flow goes on: completing frees the window for the queue, in order.
    s.on_pubcomp(&PublishAck::new(id(1)), 0, &mut out);
    s.on_puback(&PublishAck::new(id(2)), 0, &mut out);
    assert_eq!(
        wire(&mut out),
        [
            publish_wire("d", Q1, Some(4), false),
            publish_wire("e", Q1, Some(5), false)
        ]
    );
}

#[test]
fn reconnect_with_a_smaller_window_resends_all_and_waits() {
    let (mut s, mut out) = online(V5, limits(3));
    for payload in ["a", "b", "c", "d"] {
        deliver(&mut s, &mut out, payload, Q1);
    }
    wire(&mut out);
    s.disconnected();
    s.connected(V5, NonZeroU16::new(1), 0, &mut out);
    assert_eq!(
        wire(&mut out).len(),
        3,
        "every unacknowledged PUBLISH is resent"
    );
    s.on_puback(&PublishAck::new(id(1)), 0, &mut out);
    s.on_puback(&PublishAck::new(id(2)), 0, &mut out);
    assert!(out.is_empty(), "2 still inflight with window 1");
    s.on_puback(&PublishAck::new(id(3)), 0, &mut out);
    assert_eq!(wire(&mut out), [publish_wire("d", Q1, Some(4), false)]);
}

fn expiring(payload: &'static str, qos: QoS, secs: u32, now_ms: u64) -> Message {
    let mut publish = Publish::new(TopicName::new("t/1").unwrap(), Bytes::from(payload));
    publish.qos = qos;
    publish.packet_id = (qos != Q0).then(|| id(1000));
    publish.properties.message_expiry_interval_secs = Some(secs);
    Message::from_publish(publish, now_ms)
}

#[test]
fn message_expiry_in_the_queue_and_the_remaining_interval() {
    // MQTT 5.0 §3.3.2.3.3: an expired message is not delivered [MQTT-3.3.2-5]; the
    // interval sent is the received one minus the time waited [MQTT-3.3.2-6].
    let (mut s, mut out) = online(V5, limits(1));
    let g = || grant(Q1);
    s.deliver(
        expiring("a", Q1, 100, 0),
        g(),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    s.deliver(
        expiring("b", Q1, 5, 0),
        g(),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    s.deliver(
        expiring("c", Q1, 60, 0),
        g(),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    let first = out.drain(..).next();
    let Some(SessionAction::Send(Packet::Publish(a))) = first else {
        panic!("{first:?}");
    };
    assert_eq!(a.properties.message_expiry_interval_secs, Some(100));
    // 10 s later: b (5 s) has expired in the queue, c has 50 s left.
    s.on_puback(&PublishAck::new(id(1)), 10_000, &mut out);
    let sent = std::mem::take(&mut out);
    let [SessionAction::Send(Packet::Publish(c))] = sent.as_slice() else {
        panic!("{sent:?}");
    };
    assert_eq!(c.payload, "c");
    assert_eq!(c.properties.message_expiry_interval_secs, Some(50));
    assert_eq!(s.counters().expired, 1);
    // Already expired at delivery: refused, counted.
    let o = s.deliver(
        expiring("d", Q1, 1, 0),
        g(),
        DeliveryKind::Matched,
        1_000,
        &mut out,
    );
    assert_eq!(o, DeliverOutcome::Expired);
    assert_eq!(s.counters().expired, 2);
}

#[test]
fn purge_expired_frees_an_offline_queue() {
    let mut s = Session::new(MqttString::new("c").unwrap(), V5, limits(1));
    let mut out = Vec::new();
    for (payload, secs) in [("a", 1), ("b", 100), ("c", 2)] {
        s.deliver(
            expiring(payload, Q1, secs, 0),
            grant(Q1),
            DeliveryKind::Matched,
            0,
            &mut out,
        );
    }
    assert_eq!(s.purge_expired(2_000), 2);
    assert_eq!((s.queued_len(), s.queued_bytes()), (1, 4));
    assert_eq!(s.counters().expired, 2);
}

#[test]
fn expired_inflight_message_is_still_resent_with_interval_0() {
    // MQTT 5.0 §4.4: delivery had started; the resend is a MUST.
    let (mut s, mut out) = online(V5, limits(1));
    s.deliver(
        expiring("a", Q1, 1, 0),
        grant(Q1),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    out.clear();
    s.disconnected();
    s.connected(V5, None, 5_000, &mut out);
    let sent = std::mem::take(&mut out);
    let [SessionAction::Send(Packet::Publish(a))] = sent.as_slice() else {
        panic!("{sent:?}");
    };
    assert!(a.dup);
    assert_eq!(a.properties.message_expiry_interval_secs, Some(0));
}

#[test]
fn delivered_qos_is_min_of_published_and_granted() {
    // MQTT 5.0 §3.8.4 "the QoS of Payload Messages sent in response to a Subscription
    // MUST be the minimum of the QoS of the originally published message and the
    // Maximum QoS granted by the Server".
    let (mut s, mut out) = online(V5, limits(10));
    s.deliver(
        message("a", Q2),
        grant(Q1),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    s.deliver(
        message("b", Q1),
        grant(Q2),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    s.deliver(
        message("c", Q2),
        grant(Q0),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    assert_eq!(
        wire(&mut out),
        [
            publish_wire("a", Q1, Some(1), false),
            publish_wire("b", Q1, Some(2), false),
            publish_wire("c", Q0, None, false)
        ]
    );
}

#[test]
fn retain_flag_is_1_only_for_retained_on_subscribe_or_as_published() {
    // MQTT 5.0 §3.3.1.3, [MQTT-3.3.1-12], [MQTT-3.3.1-13].
    let (mut s, mut out) = online(V5, limits(10));
    let mut retained = message("r", Q0);
    retained.retain = true;
    s.deliver(
        retained.clone(),
        grant(Q0),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    s.deliver(
        retained.clone(),
        grant(Q0),
        DeliveryKind::RetainedOnSubscribe,
        0,
        &mut out,
    );
    let rap = Grant {
        retain_as_published: true,
        ..grant(Q0)
    };
    s.deliver(retained, rap, DeliveryKind::Matched, 0, &mut out);
    let flags: Vec<bool> = out
        .drain(..)
        .map(|a| match a {
            SessionAction::Send(Packet::Publish(p)) => p.retain,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(flags, [false, true, true]);
}

#[test]
fn packet_id_wraps_and_skips_ids_still_in_use() {
    // MQTT 5.0 §2.2.1: non-zero, not reused while its flow is open.
    let (mut s, mut out) = online(V5, limits(2));
    deliver(&mut s, &mut out, "held", Q1); // id 1, never acknowledged here
    out.clear();
    for n in 2..=u16::MAX {
        deliver(&mut s, &mut out, "x", Q1);
        assert_eq!(
            s.on_puback(&PublishAck::new(id(n)), 0, &mut out),
            AckOutcome::Completed
        );
    }
    out.clear();
    // 65535 was the last; 0 is never used and 1 is in use: 2 is next.
    deliver(&mut s, &mut out, "y", Q1);
    assert_eq!(wire(&mut out), [publish_wire("y", Q1, Some(2), false)]);
}

#[test]
fn subscriptions_are_recorded_replaced_bounded_and_removed() {
    // MQTT 5.0 §3.8.4 [MQTT-3.8.4-3]: a SUBSCRIBE to an existing filter replaces it.
    let limits = SessionLimits {
        subscriptions_max: 2,
        ..SessionLimits::default()
    };
    let (mut s, _) = online(V5, limits);
    let filter = TopicFilter::new("a/#").unwrap();
    let options = SubscriptionOptions {
        qos: Q1,
        no_local: false,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let sid = SubscriptionId::new(42);
    assert_eq!(s.subscribe(filter.clone(), options, sid), Ok(None));
    let replaced = s.subscribe(filter.clone(), SubscriptionOptions::default(), None);
    assert_eq!(
        replaced,
        Ok(Some(Subscription {
            options,
            subscription_id: sid
        }))
    );
    assert_eq!(
        s.subscribe(TopicFilter::new("b").unwrap(), options, None),
        Ok(None)
    );
    assert_eq!(
        s.subscribe(TopicFilter::new("c").unwrap(), options, None),
        Err(SubscriptionsFull)
    );
    let filters: Vec<&str> = s.subscriptions().map(|(f, _)| f.as_str()).collect();
    assert_eq!(filters, ["a/#", "b"]);
    assert!(s.unsubscribe(&filter).is_some());
    assert!(s.unsubscribe(&filter).is_none());
    assert_eq!(s.subscription_count(), 1);
    assert!(s.subscription(&TopicFilter::new("b").unwrap()).is_some());
}

#[test]
fn a_delivery_over_the_clients_maximum_packet_size_is_discarded() {
    // MQTT 5.0 §3.1.2.11.4 [MQTT-3.1.2-25]: never send a packet larger than the client's
    // Maximum Packet Size; discard it as if it had been delivered. A QoS 1 PUBLISH on
    // "t/1" with payload "abcd" is 2 + 2+3 + 2 + 1 (no properties) + 4 = 14 bytes.
    let mut session = Session::new(MqttString::new("c").unwrap(), V5, limits(4));
    session.set_client_maximum_packet_size(std::num::NonZeroU32::new(14));
    let mut out = Vec::new();
    session.connected(V5, None, 0, &mut out);
    let fits = session.deliver(
        message("abcd", QoS::AtLeastOnce),
        grant(QoS::AtLeastOnce),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    assert_eq!(fits, DeliverOutcome::Sent);
    let too_big = session.deliver(
        message("abcde", QoS::AtLeastOnce),
        grant(QoS::AtLeastOnce),
        DeliveryKind::Matched,
        0,
        &mut out,
    );
    assert_eq!(too_big, DeliverOutcome::DroppedTooLarge);
    assert_eq!(session.counters().dropped_too_large, 1);
    assert_eq!(
        session.inflight_len(),
        1,
        "the discarded one holds no window slot"
    );
}

fn shared_grant(max_qos: QoS, key: u64) -> Grant {
    Grant {
        max_qos,
        shared: Some(SharedDelivery {
            group: SharedGroupRef::new("g", "t/#"),
            key,
        }),
        ..Grant::default()
    }
}

#[test]
fn a_shared_message_remembers_its_group_until_delivered() {
    // Window 3: s1 (QoS 1) and s2 (QoS 2) shared and p3 plain go inflight; s4 shared
    // QoS 1, s5 shared but granted QoS 0, s6 shared QoS 1 queue behind them.
    let (mut s, mut out) = online(V5, limits(3));
    let matched = DeliveryKind::Matched;
    s.deliver(message("s1", Q1), shared_grant(Q2, 1), matched, 0, &mut out);
    s.deliver(message("s2", Q2), shared_grant(Q2, 2), matched, 0, &mut out);
    s.deliver(message("p3", Q1), grant(Q2), matched, 0, &mut out);
    s.deliver(message("s4", Q1), shared_grant(Q2, 4), matched, 0, &mut out);
    s.deliver(message("s5", Q1), shared_grant(Q0, 5), matched, 0, &mut out);
    let mut expiring = message("s6", Q1);
    expiring.expiry_at_ms = Some(1_000);
    s.deliver(expiring, shared_grant(Q2, 6), matched, 0, &mut out);
    out.clear();
    // s2 is PUBREC'd: the client has it (MQTT 5.0 §4.3.3), it is not handed back.
    assert_eq!(
        s.on_pubrec(&PublishAck::new(id(2)), 0, &mut out),
        AckOutcome::Released
    );
    // The session ends after s6 expired: s1 (unacknowledged) and s4 (queued) go back, with
    // their group and key; p3 was not shared, s5 is QoS 0, s6 expired (counted).
    let expired_before = s.counters().expired;
    let back = s.take_shared_undelivered(2_000);
    let back: Vec<(String, u64, String)> = back
        .iter()
        .map(|(m, shared)| {
            let payload = String::from_utf8(m.payload.to_vec()).unwrap();
            (payload, shared.key, shared.group.group.to_string())
        })
        .collect();
    let group = || "g".to_string();
    assert_eq!(
        back,
        [
            ("s1".to_string(), 1, group()),
            ("s4".to_string(), 4, group())
        ]
    );
    assert_eq!(s.counters().expired, expired_before + 1);
    // What is not handed back stays: p3 inflight, s2 waiting for PUBCOMP, s5 queued.
    assert_eq!(s.inflight_len(), 2);
    assert_eq!(s.queued_len(), 1);
    // A second call finds nothing.
    assert!(s.take_shared_undelivered(2_000).is_empty());
}

#[test]
fn a_persistent_session_keeps_its_shared_messages_across_a_reconnect() {
    // While the session lives its shared messages stay with it: resent on reconnect.
    let (mut s, mut out) = online(V311, limits(1));
    let matched = DeliveryKind::Matched;
    s.deliver(message("s1", Q1), shared_grant(Q1, 1), matched, 0, &mut out);
    s.deliver(message("s2", Q1), shared_grant(Q1, 2), matched, 0, &mut out);
    out.clear();
    s.disconnected();
    s.connected(V311, None, 0, &mut out);
    assert_eq!(wire(&mut out), [publish_wire("s1", Q1, Some(1), true)]);
    s.on_puback(&PublishAck::new(id(1)), 0, &mut out);
    assert_eq!(wire(&mut out), [publish_wire("s2", Q1, Some(2), false)]);
    s.on_puback(&PublishAck::new(id(2)), 0, &mut out);
    assert!(s.take_shared_undelivered(0).is_empty());
}
