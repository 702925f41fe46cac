//! The MQTT session of one client, pure (sans-IO): events in (connect, disconnect,
//! deliveries, the client's PUBLISH and acknowledgements), [`SessionAction`]s out. No
//! socket, executor or clock: time is a `now_ms` parameter, so the whole state machine is
//! unit-tested and simulated without either.
//!
//! It holds what MQTT says a session holds (MQTT 5.0 §4.1, 3.1.1 §4.1): subscriptions,
//! outbound QoS 1/2 messages sent and not acknowledged, messages queued behind the
//! inflight window or while the client is offline, inbound QoS 2 packet ids not yet
//! released, and outbound packet id allocation. It does not route, match topics, expire
//! itself or hold the connection: the shard feeds it events and carries out its actions.
//!
//! Policies, each counted in [`SessionCounters`] and reported as an outcome:
//! - Queue full: the *new* message is refused ([`DeliverOutcome::DroppedQueueFull`]);
//!   queued ones are never evicted, so what the client gets is a prefix of what was
//!   accepted, in order.
//! - QoS 0 to an offline client is dropped ([`DeliverOutcome::DroppedOffline`]) unless
//!   `SessionLimits::queue_qos0_offline`.
//! - Delivery is FIFO for every QoS: while anything is queued, new messages queue behind
//!   it, QoS 0 included, so the client sees messages in `deliver` order.
//! - An expired message (MQTT 5.0 §3.3.2.3.3) is not sent from the queue; once sent
//!   (inflight) it is still resent on reconnect, as §4.4 requires.
//! - An acknowledgement for a packet id not in the matching state is not an error: it is
//!   counted and answered as MQTT 5.0 says (PUBREL/PUBCOMP with 0x92 in 5.0).
//! - A QoS 1/2 message that came through a shared subscription remembers its group. When
//!   the session ends, [`Session::take_shared_undelivered`] hands back those not yet
//!   delivered (queued, or sent and not acknowledged: QoS 1 before PUBACK, QoS 2 before
//!   PUBREC) so that the shard gives them to another member. While the session lives,
//!   connected or not, they stay with it.

mod delivery;
mod inbound_qos2;
mod inflight;
mod limits;
mod message;
mod packet_ids;
mod queue;
mod subscriptions;

#[cfg(test)]
mod simulation;
#[cfg(test)]
mod tests;

use std::num::NonZeroU16;

use crate::protocol::{
    MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode,
    SubscriptionId, SubscriptionOptions, TopicFilter,
};

pub use delivery::{DeliveryKind, Grant, SharedDelivery, SharedGroupRef};
pub use limits::{
    SessionLimits, INBOUND_RECEIVE_MAXIMUM_DEFAULT, INFLIGHT_MAX_DEFAULT, QUEUED_BYTES_MAX_DEFAULT,
    QUEUED_MESSAGES_MAX_DEFAULT, SUBSCRIPTIONS_MAX_DEFAULT,
};
pub use message::Message;
pub use subscriptions::{Subscription, SubscriptionsFull};

use super::problem::reason_string;
use delivery::Outgoing;
use inbound_qos2::{InboundQos2, Received};
use inflight::{FlowState, Inflight};
use packet_ids::PacketIds;
use queue::Queue;
use subscriptions::Subscriptions;

/// What the caller must do, in order.
// Actions live briefly in one reused Vec per connection; boxing `Send` would cost an
// allocation per packet sent to save stack space nobody holds.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum SessionAction {
    /// Encode and write this packet to the client, in the session's protocol version.
    Send(Packet),
    /// Route this message, published by the client, to its subscribers.
    Route(Message),
    /// The client broke the protocol: send DISCONNECT with this reason code (5.0 only;
    /// 3.x just closes, MQTT 3.1.1 §4.8) and close the connection.
    Disconnect(ReasonCode),
}

/// What became of one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliverOutcome {
    /// Sent now (a `Send` action was pushed).
    Sent,
    /// Queued behind the window, earlier messages or an offline client.
    Queued,
    /// Refused: the queue is at its message or byte bound. The new message is dropped,
    /// nothing queued is evicted. Counted in `dropped_queue_full`.
    DroppedQueueFull,
    /// Refused: QoS 0 to an offline client. Counted in `dropped_qos0_offline`.
    DroppedOffline,
    /// Refused: its Message Expiry Interval had already passed. Counted in `expired`.
    Expired,
    /// Not sent: the PUBLISH would exceed the client's Maximum Packet Size (MQTT 5.0
    /// §3.1.2.11.4: discarded as if delivered). Counted in `dropped_too_large`.
    DroppedTooLarge,
}

/// What became of a PUBLISH from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundOutcome {
    /// Routed (a `Route` action was pushed), and acknowledged for QoS 1/2.
    Routed,
    /// A QoS 2 re-delivery before PUBREL: acknowledged again, not routed again.
    /// Counted in `duplicates_suppressed`.
    Duplicate,
    /// Refused with this reason code; a `Disconnect` action was pushed.
    Refused(ReasonCode),
}

/// What became of an acknowledgement from the client (PUBACK, PUBREC, PUBREL, PUBCOMP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The flow is complete: PUBACK, PUBCOMP, or the client's PUBREL (PUBCOMP sent).
    Completed,
    /// PUBREC accepted: PUBREL sent, waiting for PUBCOMP.
    Released,
    /// PUBREC with a failure reason code (0x80 or above): the flow ends there
    /// (MQTT 5.0 §4.3.3), the message is not delivered. Counted in `refused_by_client`.
    Refused(ReasonCode),
    /// No flow in the matching state has this packet id; answered where MQTT says to,
    /// otherwise ignored. Counted in `unknown_acks`.
    Unknown,
}

/// Counters of one session, for the shard's stats and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCounters {
    /// Deliveries refused because the queue was at a bound.
    pub dropped_queue_full: u64,
    /// QoS 0 deliveries dropped because the client was offline.
    pub dropped_qos0_offline: u64,
    /// Messages not sent because their expiry passed (at delivery or in the queue).
    pub expired: u64,
    /// Inbound QoS 2 re-deliveries not routed again.
    pub duplicates_suppressed: u64,
    /// Acknowledgements for packet ids not in the matching state.
    pub unknown_acks: u64,
    /// Outbound QoS 2 flows ended by a failure PUBREC.
    pub refused_by_client: u64,
    /// Deliveries discarded because they exceed the client's Maximum Packet Size.
    pub dropped_too_large: u64,
}

/// The session of one client id. Lives on the owner shard of its client id
/// (`hash(client_id) % shard_count`, DESIGN.md "Sessions") and survives its connections:
/// a clean start is a new `Session` (after the shard has removed the old one's
/// subscriptions from its index), a resumed one is [`Session::connected`] again.
#[derive(Debug)]
pub struct Session {
    client_id: MqttString,
    version: ProtocolVersion,
    limits: SessionLimits,
    connected: bool,
    /// Outbound QoS 1/2 flows allowed at once: min(inflight_max, client's Receive
    /// Maximum), at least 1.
    window: u16,
    subscriptions: Subscriptions,
    inflight: Inflight,
    queue: Queue,
    inbound_qos2: InboundQos2,
    packet_ids: PacketIds,
    counters: SessionCounters,
    client_maximum_packet_size: Option<std::num::NonZeroU32>,
}

impl Session {
    /// A new, empty, offline session. Call [`Session::connected`] when its connection is
    /// ready.
    pub fn new(client_id: MqttString, version: ProtocolVersion, limits: SessionLimits) -> Self {
        Self {
            client_id,
            version,
            window: limits.inflight_max.max(1),
            limits,
            connected: false,
            subscriptions: Subscriptions::default(),
            inflight: Inflight::default(),
            queue: Queue::default(),
            inbound_qos2: InboundQos2::default(),
            packet_ids: PacketIds::default(),
            counters: SessionCounters::default(),
            client_maximum_packet_size: None,
        }
    }

    /// The Maximum Packet Size the client's CONNECT allows (MQTT 5.0 §3.1.2.11.4); set
    /// before [`Session::connected`]. A delivery that would exceed it is discarded.
    pub fn set_client_maximum_packet_size(&mut self, max: Option<std::num::NonZeroU32>) {
        self.client_maximum_packet_size = max;
    }

    /// A connection for this session is up (CONNACK sent). `receive_maximum` is the
    /// client's CONNECT property (`None`: absent, 65,535; always `None` in 3.x). Resends
    /// every unacknowledged PUBLISH with DUP=1 and every PUBREL awaiting PUBCOMP, in their
    /// original order and with their original packet ids (MQTT 5.0 §4.4, [MQTT-4.4.0-1];
    /// 3.1.1 [MQTT-4.4.0-1]), then fills the window from the queue. All of them are
    /// resent even if the new window is smaller: new messages wait until it has room.
    pub fn connected(
        &mut self,
        version: ProtocolVersion,
        receive_maximum: Option<NonZeroU16>,
        now_ms: u64,
        out: &mut Vec<SessionAction>,
    ) {
        self.version = version;
        self.connected = true;
        let client_max = match receive_maximum {
            Some(max) if version.is_v5() => max.get(),
            _ => u16::MAX,
        };
        self.window = self.limits.inflight_max.min(client_max).max(1);
        for entry in self.inflight.iter() {
            let packet = match &entry.state {
                FlowState::Qos1Sent(o) | FlowState::Qos2Sent(o) => {
                    Packet::Publish(o.to_publish(Some(entry.packet_id), true, now_ms))
                }
                FlowState::Released => Packet::PubRel(PublishAck::new(entry.packet_id)),
            };
            out.push(SessionAction::Send(packet));
        }
        self.fill_window(now_ms, out);
    }

    /// The connection is gone. Inflight flows stay for resending on reconnect; new
    /// deliveries queue (QoS 0 ones are dropped unless `queue_qos0_offline`).
    pub fn disconnected(&mut self) {
        self.connected = false;
    }

    /// Delivers `message` to this client under `grant`. The delivery QoS is
    /// min(published, granted) (MQTT 5.0 §3.8.4); RETAIN follows `kind`. QoS 0 is sent at
    /// once when connected and nothing is queued; QoS 1/2 takes a packet id and goes
    /// inflight when the window also has room; otherwise the message queues, within the
    /// queue's bounds. See the module's policies for what is refused.
    pub fn deliver(
        &mut self,
        message: Message,
        grant: Grant,
        kind: DeliveryKind,
        now_ms: u64,
        out: &mut Vec<SessionAction>,
    ) -> DeliverOutcome {
        if message.is_expired(now_ms) {
            self.counters.expired += 1;
            return DeliverOutcome::Expired;
        }
        let outgoing = Outgoing::new(message, grant, kind);
        if let Some(max) = self.client_maximum_packet_size {
            // The packet id's value does not change the size; its presence does.
            let packet_id = (outgoing.qos != QoS::AtMostOnce).then_some(PacketId::MIN);
            let publish = Packet::Publish(outgoing.to_publish(packet_id, false, now_ms));
            if publish
                .encoded_len(self.version)
                .map_or(true, |len| len > max.get() as usize)
            {
                self.counters.dropped_too_large += 1;
                return DeliverOutcome::DroppedTooLarge;
            }
        }
        let qos0 = outgoing.qos == QoS::AtMostOnce;
        if qos0 && !self.connected && !self.limits.queue_qos0_offline {
            self.counters.dropped_qos0_offline += 1;
            return DeliverOutcome::DroppedOffline;
        }
        if self.connected && self.queue.is_empty() && (qos0 || self.window_has_room()) {
            self.send_new(outgoing, now_ms, out);
            return DeliverOutcome::Sent;
        }
        match self.queue.push(
            outgoing,
            self.limits.queued_messages_max,
            self.limits.queued_bytes_max,
        ) {
            Ok(()) => DeliverOutcome::Queued,
            Err(queue::QueueFull) => {
                self.counters.dropped_queue_full += 1;
                DeliverOutcome::DroppedQueueFull
            }
        }
    }

    /// Drops queued messages whose expiry has passed, so an offline client's queue does
    /// not hold them until it returns. Returns how many (also counted in `expired`).
    pub fn purge_expired(&mut self, now_ms: u64) -> usize {
        let expired = self.queue.remove_expired(now_ms);
        self.counters.expired += expired as u64;
        expired
    }

    /// The session ends (it is about to be dropped): removes and returns the QoS 1/2
    /// messages it holds that came through a shared subscription and are not delivered,
    /// with their group, oldest first: inflight ones whose PUBLISH is not acknowledged (a
    /// QoS 2 message past PUBREC counts as delivered and stays), then queued ones. Expired
    /// messages are counted in `expired` and left out.
    pub fn take_shared_undelivered(&mut self, now_ms: u64) -> Vec<(Message, SharedDelivery)> {
        let is_shared = |o: &Outgoing| o.shared.is_some() && o.qos != QoS::AtMostOnce;
        let mut taken = self.inflight.take_unacknowledged(is_shared);
        taken.extend(self.queue.take_where(is_shared));
        let before = taken.len();
        let undelivered: Vec<_> = taken
            .into_iter()
            .filter(|o| !o.message.is_expired(now_ms))
            .filter_map(|o| Some((o.message, o.shared?)))
            .collect();
        self.counters.expired += (before - undelivered.len()) as u64;
        undelivered
    }

    /// PUBACK from the client (MQTT 5.0 §4.3.2): ends a QoS 1 flow, whatever its reason
    /// code, and sends what the freed window lets through.
    pub fn on_puback(
        &mut self,
        ack: &PublishAck,
        now_ms: u64,
        out: &mut Vec<SessionAction>,
    ) -> AckOutcome {
        match self.inflight.get_mut(ack.packet_id) {
            Some(entry) if matches!(entry.state, FlowState::Qos1Sent(_)) => {
                self.inflight.remove(ack.packet_id);
                self.fill_window(now_ms, out);
                AckOutcome::Completed
            }
            // MQTT 5.0 allows ignoring an unknown PUBACK; answering is not possible.
            _ => self.unknown_ack(),
        }
    }

    /// PUBREC from the client (MQTT 5.0 §4.3.3): a success code moves the QoS 2 flow to
    /// PUBREL (sent again for a repeated PUBREC); a failure code (0x80 or above) ends it
    /// and frees the window. For an unknown packet id, PUBREL with Packet Identifier not
    /// found (0x92) in 5.0, a plain PUBREL in 3.x, so the client can finish its side.
    pub fn on_pubrec(
        &mut self,
        ack: &PublishAck,
        now_ms: u64,
        out: &mut Vec<SessionAction>,
    ) -> AckOutcome {
        let packet_id = ack.packet_id;
        let Some(entry) = self.inflight.get_mut(packet_id) else {
            return self.unknown_pubrec(packet_id, out);
        };
        match entry.state {
            FlowState::Qos2Sent(_) if !ack.reason_code.is_success() => {
                self.inflight.remove(packet_id);
                self.counters.refused_by_client += 1;
                self.fill_window(now_ms, out);
                AckOutcome::Refused(ack.reason_code)
            }
            FlowState::Qos2Sent(_) | FlowState::Released => {
                entry.state = FlowState::Released;
                out.push(SessionAction::Send(Packet::PubRel(PublishAck::new(
                    packet_id,
                ))));
                AckOutcome::Released
            }
            FlowState::Qos1Sent(_) => self.unknown_pubrec(packet_id, out),
        }
    }

    /// PUBCOMP from the client (MQTT 5.0 §4.3.3): ends a QoS 2 flow and sends what the
    /// freed window lets through.
    pub fn on_pubcomp(
        &mut self,
        ack: &PublishAck,
        now_ms: u64,
        out: &mut Vec<SessionAction>,
    ) -> AckOutcome {
        match self.inflight.get_mut(ack.packet_id) {
            Some(entry) if matches!(entry.state, FlowState::Released) => {
                self.inflight.remove(ack.packet_id);
                self.fill_window(now_ms, out);
                AckOutcome::Completed
            }
            _ => self.unknown_ack(),
        }
    }

    /// A PUBLISH from the client, its Topic Alias already resolved by the connection.
    /// QoS 0: routed. QoS 1: routed, then PUBACK. QoS 2 (MQTT 5.0 §4.3.3, method B):
    /// routed once and its packet id kept until PUBREL, then PUBREC; a re-delivery of a
    /// pending id gets PUBREC again and is not routed again. A new QoS 2 id past
    /// `inbound_receive_maximum` is Receive Maximum exceeded (0x93, MQTT 5.0 §3.3.4).
    pub fn on_client_publish(
        &mut self,
        publish: Publish,
        now_ms: u64,
        out: &mut Vec<SessionAction>,
    ) -> InboundOutcome {
        // The connection resolves Topic Aliases; an empty topic here was never valid.
        // [MQTT-3.3.4-6]: a client must not send Subscription Identifiers.
        if publish.topic.is_empty() || !publish.properties.subscription_identifiers.is_empty() {
            return self.refuse(ReasonCode::ProtocolError, out);
        }
        let (qos, packet_id) = (publish.qos, publish.packet_id);
        match (qos, packet_id) {
            (QoS::AtMostOnce, None) => {
                out.push(SessionAction::Route(Message::from_publish(publish, now_ms)));
            }
            (QoS::AtLeastOnce, Some(packet_id)) => {
                out.push(SessionAction::Route(Message::from_publish(publish, now_ms)));
                out.push(SessionAction::Send(Packet::PubAck(PublishAck::new(
                    packet_id,
                ))));
            }
            (QoS::ExactlyOnce, Some(packet_id)) => {
                let received = self
                    .inbound_qos2
                    .receive(packet_id, self.limits.inbound_receive_maximum.max(1));
                match received {
                    Received::New => {
                        out.push(SessionAction::Route(Message::from_publish(publish, now_ms)));
                    }
                    Received::Duplicate => self.counters.duplicates_suppressed += 1,
                    Received::OverLimit => {
                        return self.refuse(ReasonCode::ReceiveMaximumExceeded, out)
                    }
                }
                out.push(SessionAction::Send(Packet::PubRec(PublishAck::new(
                    packet_id,
                ))));
                if received == Received::Duplicate {
                    return InboundOutcome::Duplicate;
                }
            }
            // The codec never decodes these ([MQTT-2.2.1-2]); refuse rather than trust it.
            _ => return self.refuse(ReasonCode::ProtocolError, out),
        }
        InboundOutcome::Routed
    }

    /// PUBREL from the client (MQTT 5.0 §4.3.3): releases a pending inbound QoS 2 id and
    /// answers PUBCOMP; an unknown id gets PUBCOMP with Packet Identifier not found (0x92)
    /// in 5.0, a plain PUBCOMP in 3.x (it is normal after a reconnect that lost our
    /// PUBCOMP).
    pub fn on_pubrel(&mut self, ack: &PublishAck, out: &mut Vec<SessionAction>) -> AckOutcome {
        let mut pubcomp = PublishAck::new(ack.packet_id);
        let outcome = if self.inbound_qos2.release(ack.packet_id) {
            AckOutcome::Completed
        } else {
            if self.version.is_v5() {
                pubcomp.reason_code = ReasonCode::PacketIdentifierNotFound;
                pubcomp.properties.reason_string =
                    reason_string("no QoS 2 PUBLISH with this packet identifier awaits PUBREL");
            }
            self.counters.unknown_acks += 1;
            AckOutcome::Unknown
        };
        out.push(SessionAction::Send(Packet::PubComp(pubcomp)));
        outcome
    }

    /// Records a subscription (MQTT 5.0 §3.8.4: one to an existing filter replaces it)
    /// and returns the one it replaced. The shard updates its index from this.
    pub fn subscribe(
        &mut self,
        filter: TopicFilter,
        options: SubscriptionOptions,
        subscription_id: Option<SubscriptionId>,
    ) -> Result<Option<Subscription>, SubscriptionsFull> {
        let subscription = Subscription {
            options,
            subscription_id,
        };
        self.subscriptions
            .insert(filter, subscription, self.limits.subscriptions_max)
    }

    /// Removes a subscription; `None` when there was none (UNSUBACK 0x11 No subscription
    /// existed, in 5.0).
    pub fn unsubscribe(&mut self, filter: &TopicFilter) -> Option<Subscription> {
        self.subscriptions.remove(filter)
    }

    /// The subscription for exactly this filter.
    pub fn subscription(&self, filter: &TopicFilter) -> Option<&Subscription> {
        self.subscriptions.get(filter)
    }

    /// Every subscription, ordered by filter.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&TopicFilter, &Subscription)> {
        self.subscriptions.iter()
    }

    /// How many subscriptions the session has.
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// The client id whose session this is.
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// The protocol version of the latest connection.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// True between [`Session::connected`] and [`Session::disconnected`].
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Outbound QoS 1/2 flows allowed at once for the current connection.
    pub fn window(&self) -> u16 {
        self.window
    }

    /// Outbound QoS 1/2 flows sent and not complete.
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Messages waiting in the queue.
    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// Topic and payload bytes waiting in the queue.
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }

    /// Inbound QoS 2 packet ids waiting for PUBREL.
    pub fn inbound_qos2_pending_len(&self) -> usize {
        self.inbound_qos2.len()
    }

    /// The session's counters.
    pub fn counters(&self) -> &SessionCounters {
        &self.counters
    }

    fn window_has_room(&self) -> bool {
        self.inflight.len() < usize::from(self.window)
    }

    /// Sends a message not sent before: QoS 0 as is, QoS 1/2 with a new packet id into
    /// the inflight window (the caller checked it has room).
    fn send_new(&mut self, outgoing: Outgoing, now_ms: u64, out: &mut Vec<SessionAction>) {
        if outgoing.qos == QoS::AtMostOnce {
            out.push(SessionAction::Send(Packet::Publish(
                outgoing.to_publish(None, false, now_ms),
            )));
            return;
        }
        debug_assert!(self.window_has_room());
        let inflight = &self.inflight;
        let packet_id = self
            .packet_ids
            .allocate(|id| inflight.contains(id))
            .expect("the window (at most 65535) leaves a packet id free");
        out.push(SessionAction::Send(Packet::Publish(outgoing.to_publish(
            Some(packet_id),
            false,
            now_ms,
        ))));
        let state = match outgoing.qos {
            QoS::AtLeastOnce => FlowState::Qos1Sent(outgoing),
            _ => FlowState::Qos2Sent(outgoing),
        };
        self.inflight.push(packet_id, state);
    }

    /// Sends from the front of the queue while connected and the window has room;
    /// expired messages at the front are dropped and counted.
    fn fill_window(&mut self, now_ms: u64, out: &mut Vec<SessionAction>) {
        while self.connected {
            let Some(front) = self.queue.front() else {
                break;
            };
            let expired = front.message.is_expired(now_ms);
            if !expired && front.qos != QoS::AtMostOnce && !self.window_has_room() {
                break;
            }
            let Some(outgoing) = self.queue.pop_front() else {
                break;
            };
            if expired {
                self.counters.expired += 1;
            } else {
                self.send_new(outgoing, now_ms, out);
            }
        }
    }

    fn unknown_ack(&mut self) -> AckOutcome {
        self.counters.unknown_acks += 1;
        AckOutcome::Unknown
    }

    fn unknown_pubrec(&mut self, packet_id: PacketId, out: &mut Vec<SessionAction>) -> AckOutcome {
        let mut pubrel = PublishAck::new(packet_id);
        if self.version.is_v5() {
            pubrel.reason_code = ReasonCode::PacketIdentifierNotFound;
            pubrel.properties.reason_string =
                reason_string("no QoS 2 PUBLISH with this packet identifier awaits PUBREC");
        }
        out.push(SessionAction::Send(Packet::PubRel(pubrel)));
        self.unknown_ack()
    }

    fn refuse(&mut self, reason_code: ReasonCode, out: &mut Vec<SessionAction>) -> InboundOutcome {
        out.push(SessionAction::Disconnect(reason_code));
        InboundOutcome::Refused(reason_code)
    }
}
