//! A seeded, deterministic simulation of one session and a well-behaved client over a
//! lossy connection (what is in flight is lost on disconnect), in the manner of
//! TigerBeetle's VOPR: random deliveries, acknowledgements, disconnects and reconnects,
//! with the session's invariants checked after every step and delivery guarantees
//! checked once the client has acknowledged everything.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU16;

use bytes::Bytes;

use super::*;
use crate::protocol::{Publish, QoS, TopicName};

/// xorshift64*: small, seeded, good enough to pick events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn qos(&mut self) -> QoS {
        QoS::from_u8(self.below(3) as u8).unwrap()
    }
}

const STEPS: usize = 3_000;
const SEEDS: u64 = 24;
/// Bound on the drain phase: each step moves one packet, so this is far above need.
const DRAIN_STEPS_MAX: usize = 100_000;

fn seq_of(payload: &Bytes) -> u64 {
    u64::from_be_bytes(payload[..].try_into().unwrap())
}

/// The outbound side: broker to client.
struct Outbound {
    rng: Rng,
    session: Session,
    receive_maximum: Option<NonZeroU16>,
    /// Packets on their way to the client, lost on disconnect.
    downlink: VecDeque<Packet>,
    /// Acknowledgements on their way to the broker, lost on disconnect.
    uplink: VecDeque<Packet>,
    /// The client's inbound QoS 2 state: packet id to the message it holds.
    client_qos2_pending: HashMap<u16, u64>,
    /// Message numbers in the order the client first received them.
    client_received: Vec<u64>,
    client_seen: HashSet<u64>,
    /// QoS 2 receipts the client counted as new (must be one per message).
    client_qos2_receipts: HashMap<u64, u32>,
    /// Accepted deliveries (sent or queued): number and delivery QoS.
    accepted: Vec<(u64, QoS)>,
    refused: u64,
    /// Open flows as the broker sent them: packet id to message number.
    open_flows: HashMap<u16, u64>,
    completed: HashMap<u64, u32>,
    next_seq: u64,
    now_ms: u64,
    /// PUBLISH resent with DUP=1, to show the reconnect path ran.
    dup_resends: u64,
}

impl Outbound {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let limits = SessionLimits {
            inflight_max: 1 + rng.below(8) as u16,
            queued_messages_max: 1 + rng.below(30) as usize,
            queued_bytes_max: 64 + rng.below(400) as usize,
            queue_qos0_offline: rng.below(2) == 0,
            ..SessionLimits::default()
        };
        let receive_maximum = NonZeroU16::new(rng.below(6) as u16);
        let session = Session::new(MqttString::new("sim").unwrap(), ProtocolVersion::V5, limits);
        Self {
            rng,
            session,
            receive_maximum,
            downlink: VecDeque::new(),
            uplink: VecDeque::new(),
            client_qos2_pending: HashMap::new(),
            client_received: Vec::new(),
            client_seen: HashSet::new(),
            client_qos2_receipts: HashMap::new(),
            accepted: Vec::new(),
            refused: 0,
            open_flows: HashMap::new(),
            completed: HashMap::new(),
            next_seq: 0,
            now_ms: 0,
            dup_resends: 0,
        }
    }

    /// Moves the session's actions onto the downlink, noting new flows.
    fn take(&mut self, out: &mut Vec<SessionAction>) {
        for action in out.drain(..) {
            let SessionAction::Send(packet) = action else {
                panic!("outbound side produced {action:?}");
            };
            assert!(
                self.session.is_connected(),
                "sent while offline: {packet:?}"
            );
            if let Packet::Publish(p) = &packet {
                if let Some(id) = p.packet_id {
                    let seq = seq_of(&p.payload);
                    let previous = self.open_flows.insert(id.get(), seq);
                    // A resend carries the same id for the same message ([MQTT-4.4.0-1]).
                    assert!(p.dup == previous.is_some(), "dup flag wrong: {p:?}");
                    self.dup_resends += u64::from(p.dup);
                    if let Some(previous) = previous {
                        assert_eq!(previous, seq, "packet id {id:?} reused while open");
                    }
                }
            }
            self.downlink.push_back(packet);
        }
    }

    fn deliver(&mut self) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut publish = Publish::new(
            TopicName::new("sim/t").unwrap(),
            Bytes::copy_from_slice(&seq.to_be_bytes()),
        );
        publish.qos = self.rng.qos();
        if publish.qos != QoS::AtMostOnce {
            publish.packet_id = PacketId::new(1);
        }
        let published = publish.qos;
        let grant = Grant {
            max_qos: self.rng.qos(),
            ..Grant::default()
        };
        let qos = published.min(grant.max_qos);
        let message = Message::from_publish(publish, self.now_ms);
        let mut out = Vec::new();
        let outcome =
            self.session
                .deliver(message, grant, DeliveryKind::Matched, self.now_ms, &mut out);
        match outcome {
            DeliverOutcome::Sent | DeliverOutcome::Queued => self.accepted.push((seq, qos)),
            DeliverOutcome::DroppedQueueFull | DeliverOutcome::DroppedOffline => self.refused += 1,
            DeliverOutcome::Expired => panic!("no expiry in this simulation"),
            DeliverOutcome::DroppedTooLarge => panic!("no packet size limit in this simulation"),
        }
        self.take(&mut out);
    }

    /// The client handles the next packet, as a conforming client does.
    fn client_step(&mut self) {
        let Some(packet) = self.downlink.pop_front() else {
            return;
        };
        match packet {
            Packet::Publish(p) => {
                let seq = seq_of(&p.payload);
                let mut first_receipt = true;
                match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, None) => {}
                    (QoS::AtLeastOnce, Some(id)) => {
                        self.uplink.push_back(Packet::PubAck(PublishAck::new(id)));
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        match self.client_qos2_pending.entry(id.get()) {
                            Entry::Occupied(_) => first_receipt = false,
                            Entry::Vacant(slot) => {
                                slot.insert(seq);
                                *self.client_qos2_receipts.entry(seq).or_default() += 1;
                            }
                        }
                        self.uplink.push_back(Packet::PubRec(PublishAck::new(id)));
                    }
                    _ => panic!("malformed PUBLISH sent: {p:?}"),
                }
                if first_receipt && self.client_seen.insert(seq) {
                    self.client_received.push(seq);
                }
            }
            Packet::PubRel(rel) => {
                // Known or not, the client answers PUBCOMP (MQTT 5.0 §4.3.3).
                self.client_qos2_pending.remove(&rel.packet_id.get());
                self.uplink
                    .push_back(Packet::PubComp(PublishAck::new(rel.packet_id)));
            }
            other => panic!("unexpected packet to the client: {other:?}"),
        }
    }

    /// The broker handles the next acknowledgement.
    fn broker_step(&mut self) {
        let Some(packet) = self.uplink.pop_front() else {
            return;
        };
        let mut out = Vec::new();
        let (outcome, id) = match &packet {
            Packet::PubAck(a) => (
                self.session.on_puback(a, self.now_ms, &mut out),
                a.packet_id,
            ),
            Packet::PubRec(a) => (
                self.session.on_pubrec(a, self.now_ms, &mut out),
                a.packet_id,
            ),
            Packet::PubComp(a) => (
                self.session.on_pubcomp(a, self.now_ms, &mut out),
                a.packet_id,
            ),
            other => panic!("unexpected packet to the broker: {other:?}"),
        };
        if outcome == AckOutcome::Completed {
            let seq = self
                .open_flows
                .remove(&id.get())
                .expect("completed an open flow");
            *self.completed.entry(seq).or_default() += 1;
        }
        self.take(&mut out);
    }

    fn disconnect(&mut self) {
        self.session.disconnected();
        self.downlink.clear();
        self.uplink.clear();
    }

    fn connect(&mut self) {
        let mut out = Vec::new();
        self.session.connected(
            ProtocolVersion::V5,
            self.receive_maximum,
            self.now_ms,
            &mut out,
        );
        self.take(&mut out);
    }

    fn check_invariants(&self) {
        let s = &self.session;
        let limits = s.limits;
        let window = limits
            .inflight_max
            .min(self.receive_maximum.map_or(u16::MAX, NonZeroU16::get));
        assert!(s.inflight_len() <= usize::from(window), "window exceeded");
        assert!(s.queued_len() <= limits.queued_messages_max);
        assert!(s.queued_bytes() <= limits.queued_bytes_max);
        assert_eq!(s.inflight_len(), self.open_flows.len());
    }

    fn step(&mut self) {
        self.now_ms += self.rng.below(50);
        match self.rng.below(100) {
            0..=29 => self.deliver(),
            30..=62 => {
                for _ in 0..=self.rng.below(3) {
                    self.client_step();
                }
            }
            63..=95 => {
                for _ in 0..=self.rng.below(3) {
                    self.broker_step();
                }
            }
            96..=97 if self.session.is_connected() => self.disconnect(),
            _ if !self.session.is_connected() => self.connect(),
            _ => {}
        }
        self.check_invariants();
    }

    /// Reconnects and lets the client acknowledge everything.
    fn drain(&mut self) {
        if !self.session.is_connected() {
            self.connect();
        }
        for _ in 0..DRAIN_STEPS_MAX {
            if self.downlink.is_empty() && self.uplink.is_empty() {
                break;
            }
            self.client_step();
            self.broker_step();
            self.check_invariants();
        }
        assert_eq!(self.session.inflight_len(), 0, "flows left open");
        assert_eq!(self.session.queued_len(), 0, "messages left queued");
        assert_eq!(self.session.queued_bytes(), 0);
    }

    fn check_guarantees(&self) {
        let counters = self.session.counters();
        // Every refusal is counted; nothing vanished between deliver and the outcome.
        assert_eq!(
            counters.dropped_queue_full + counters.dropped_qos0_offline,
            self.refused
        );
        assert_eq!(self.accepted.len() as u64 + self.refused, self.next_seq);
        // Order: the client first sees messages in deliver order (QoS 0 may be lost).
        assert!(
            self.client_received.windows(2).all(|w| w[0] < w[1]),
            "order broken: {:?}",
            self.client_received
        );
        for &(seq, qos) in &self.accepted {
            if qos == QoS::AtMostOnce {
                continue;
            }
            // No accepted QoS 1/2 message is lost, and each flow completes exactly once.
            assert!(self.client_seen.contains(&seq), "message {seq} lost");
            assert_eq!(
                self.completed.get(&seq),
                Some(&1),
                "message {seq} completions"
            );
            if qos == QoS::ExactlyOnce {
                assert_eq!(self.client_qos2_receipts.get(&seq), Some(&1), "QoS 2 {seq}");
            }
        }
    }
}

#[test]
fn outbound_simulation_keeps_window_order_and_delivery() {
    for seed in 1..=SEEDS {
        let mut sim = Outbound::new(seed);
        for _ in 0..STEPS {
            sim.step();
        }
        sim.drain();
        sim.check_guarantees();
        // The run exercised what it claims to (guards against a vacuous simulation).
        assert!(sim.accepted.iter().any(|&(_, q)| q == QoS::ExactlyOnce));
        assert!(sim.dup_resends > 0, "seed {seed}: no resend exercised");
        assert!(
            sim.session.counters().dropped_queue_full > 0,
            "seed {seed}: bound unused"
        );
    }
}

#[test]
fn inbound_qos2_simulation_routes_each_message_exactly_once() {
    // MQTT 5.0 §4.3.3: a client resends PUBLISH (DUP) until PUBREC, then PUBREL until
    // PUBCOMP, across reconnects; the broker routes each message once.
    for seed in 1..=SEEDS {
        let mut rng = Rng(seed | 1);
        let mut session = Session::new(
            MqttString::new("sim").unwrap(),
            ProtocolVersion::V5,
            SessionLimits::default(),
        );
        let mut out = Vec::new();
        session.connected(ProtocolVersion::V5, None, 0, &mut out);
        // The client's open flows: packet id to (message, PUBREC received).
        let mut open: HashMap<u16, (u64, bool)> = HashMap::new();
        let mut routed: HashMap<u64, u32> = HashMap::new();
        let mut next_seq = 0u64;
        for step in 0..STEPS {
            let id = 1 + rng.below(8) as u16;
            let packet_id = PacketId::new(id).unwrap();
            match open.get(&id).copied() {
                // A new message on a free id, within the Receive Maximum.
                None => {
                    let mut p = Publish::new(
                        TopicName::new("in").unwrap(),
                        Bytes::copy_from_slice(&next_seq.to_be_bytes()),
                    );
                    p.qos = QoS::ExactlyOnce;
                    p.packet_id = Some(packet_id);
                    assert_eq!(
                        session.on_client_publish(p, 0, &mut out),
                        InboundOutcome::Routed
                    );
                    open.insert(id, (next_seq, false));
                    next_seq += 1;
                }
                // Resend the PUBLISH (as after a reconnect), or PUBREL once PUBREC came.
                Some((seq, pubrec_seen)) => {
                    if pubrec_seen {
                        session.on_pubrel(&PublishAck::new(packet_id), &mut out);
                    } else {
                        let mut p = Publish::new(
                            TopicName::new("in").unwrap(),
                            Bytes::copy_from_slice(&seq.to_be_bytes()),
                        );
                        p.qos = QoS::ExactlyOnce;
                        p.packet_id = Some(packet_id);
                        p.dup = true;
                        session.on_client_publish(p, 0, &mut out);
                    }
                }
            }
            // The broker's answers arrive unless the connection drops them.
            let lost = rng.below(4) == 0;
            for action in out.drain(..) {
                match action {
                    SessionAction::Route(m) => *routed.entry(seq_of(&m.payload)).or_default() += 1,
                    SessionAction::Send(Packet::PubRec(a)) if !lost => {
                        open.get_mut(&a.packet_id.get()).unwrap().1 = true;
                    }
                    SessionAction::Send(Packet::PubComp(a)) if !lost => {
                        open.remove(&a.packet_id.get());
                    }
                    SessionAction::Send(_) => {}
                    SessionAction::Disconnect(code) => panic!("step {step}: {code:?}"),
                }
            }
        }
        assert!(session.inbound_qos2_pending_len() <= 8);
        assert_eq!(routed.len() as u64, next_seq, "seed {seed}");
        assert!(
            routed.values().all(|&n| n == 1),
            "seed {seed}: routed twice"
        );
    }
}
