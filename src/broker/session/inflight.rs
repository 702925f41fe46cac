//! Outbound QoS 1/2 messages sent and not yet acknowledged, in the order they were first
//! sent (MQTT 5.0 §4.4 resends them in that order). Pure, no I/O.

use std::collections::VecDeque;

use crate::protocol::PacketId;

use super::delivery::Outgoing;

/// Where one outbound flow stands (MQTT 5.0 §4.3.2, §4.3.3).
#[derive(Clone, Debug)]
pub(super) enum FlowState {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    Qos1Sent(Outgoing),
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    Qos2Sent(Outgoing),
    /// PUBREL sent, waiting for PUBCOMP. The message itself is no longer needed
    /// (MQTT 5.0 §4.3.3: once PUBREL is sent, the PUBLISH is not sent again).
    Released,
}

/// One unacknowledged outbound flow.
#[derive(Clone, Debug)]
pub(super) struct InflightEntry {
    pub(super) packet_id: PacketId,
    pub(super) state: FlowState,
}

/// The inflight window of one session. Lookups scan from the front: acks mostly come in
/// order, so the match is usually the first entry, and the window is small (bounded by
/// `SessionLimits::inflight_max`); a scan of a few dozen ids beats a map's memory per
/// session when a shard holds a million of them.
#[derive(Clone, Debug, Default)]
pub(super) struct Inflight {
    entries: VecDeque<InflightEntry>,
}

impl Inflight {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn contains(&self, packet_id: PacketId) -> bool {
        self.entries.iter().any(|e| e.packet_id == packet_id)
    }

    pub(super) fn push(&mut self, packet_id: PacketId, state: FlowState) {
        debug_assert!(!self.contains(packet_id), "packet id {packet_id:?} in use");
        self.entries.push_back(InflightEntry { packet_id, state });
    }

    pub(super) fn get_mut(&mut self, packet_id: PacketId) -> Option<&mut InflightEntry> {
        self.entries.iter_mut().find(|e| e.packet_id == packet_id)
    }

    pub(super) fn remove(&mut self, packet_id: PacketId) -> Option<InflightEntry> {
        let index = self.entries.iter().position(|e| e.packet_id == packet_id)?;
        self.entries.remove(index)
    }

    /// Removes the flows whose PUBLISH is not acknowledged yet (QoS 1 before PUBACK, QoS 2
    /// before PUBREC) and that `take` accepts, and returns their messages in send order.
    /// Flows past PUBREC stay: their message counts as delivered.
    pub(super) fn take_unacknowledged(
        &mut self,
        mut take: impl FnMut(&Outgoing) -> bool,
    ) -> Vec<Outgoing> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.entries.len());
        for entry in self.entries.drain(..) {
            match entry.state {
                FlowState::Qos1Sent(o) | FlowState::Qos2Sent(o) if take(&o) => taken.push(o),
                _ => kept.push_back(entry),
            }
        }
        self.entries = kept;
        taken
    }

    /// Entries in the order their PUBLISH was first sent.
    pub(super) fn iter(&self) -> impl Iterator<Item = &InflightEntry> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn removal_from_the_middle_keeps_send_order() {
        let mut inflight = Inflight::default();
        for n in [5, 6, 7] {
            inflight.push(id(n), FlowState::Released);
        }
        assert!(inflight.remove(id(6)).is_some());
        assert!(inflight.remove(id(6)).is_none());
        let order: Vec<u16> = inflight.iter().map(|e| e.packet_id.get()).collect();
        assert_eq!(order, [5, 7]);
        assert!(inflight.contains(id(7)) && !inflight.contains(id(6)));
        assert_eq!(inflight.len(), 2);
    }

    #[test]
    fn take_unacknowledged_leaves_released_flows_and_refused_ones() {
        use crate::broker::session::delivery::{DeliveryKind, Grant};
        use crate::broker::session::message::Message;
        use crate::protocol::{Publish, QoS, TopicName};
        let outgoing = |payload: &'static [u8], qos| {
            let mut publish = Publish::new(
                TopicName::new("t").unwrap(),
                bytes::Bytes::from_static(payload),
            );
            publish.qos = qos;
            publish.packet_id = Some(id(1));
            let grant = Grant {
                max_qos: QoS::ExactlyOnce,
                ..Grant::default()
            };
            Outgoing::new(
                Message::from_publish(publish, 0),
                grant,
                DeliveryKind::Matched,
            )
        };
        let mut inflight = Inflight::default();
        inflight.push(id(1), FlowState::Qos1Sent(outgoing(b"a", QoS::AtLeastOnce)));
        inflight.push(id(2), FlowState::Released);
        inflight.push(id(3), FlowState::Qos2Sent(outgoing(b"b", QoS::ExactlyOnce)));
        inflight.push(
            id(4),
            FlowState::Qos1Sent(outgoing(b"keep", QoS::AtLeastOnce)),
        );
        let taken = inflight.take_unacknowledged(|o| &o.message.payload[..] != b"keep");
        let payloads: Vec<&[u8]> = taken.iter().map(|o| &o.message.payload[..]).collect();
        assert_eq!(payloads, [&b"a"[..], b"b"]);
        let left: Vec<u16> = inflight.iter().map(|e| e.packet_id.get()).collect();
        assert_eq!(left, [2, 4]);
    }
}
