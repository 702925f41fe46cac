//! Inbound QoS 2 packet ids received from the client and not yet released by PUBREL
//! (MQTT 5.0 §4.3.3, method B: the message is routed on receipt and only its id is kept,
//! so a duplicate PUBLISH before PUBREL is recognised and not routed again). Pure, no I/O.

use std::collections::BTreeSet;

use crate::protocol::PacketId;

/// What receiving a QoS 2 PUBLISH with a given packet id means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Received {
    /// A new message: route it once.
    New,
    /// The id is already pending PUBREL: a re-delivery, not routed again.
    Duplicate,
    /// A new id past the bound: the client exceeded the Receive Maximum.
    OverLimit,
}

/// The pending set of one session, bounded by the Receive Maximum advertised.
#[derive(Clone, Debug, Default)]
pub(super) struct InboundQos2 {
    pending: BTreeSet<PacketId>,
}

impl InboundQos2 {
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn receive(&mut self, packet_id: PacketId, pending_max: u16) -> Received {
        if self.pending.contains(&packet_id) {
            Received::Duplicate
        } else if self.pending.len() >= usize::from(pending_max) {
            Received::OverLimit
        } else {
            self.pending.insert(packet_id);
            Received::New
        }
    }

    /// Forgets `packet_id` on PUBREL; false when it was not pending.
    pub(super) fn release(&mut self, packet_id: PacketId) -> bool {
        self.pending.remove(&packet_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_until_released_then_new() {
        let id = PacketId::new(9).unwrap();
        let mut set = InboundQos2::default();
        assert_eq!(set.receive(id, 2), Received::New);
        assert_eq!(set.receive(id, 2), Received::Duplicate);
        assert!(set.release(id));
        assert!(!set.release(id));
        assert_eq!(set.receive(id, 2), Received::New);
    }

    #[test]
    fn bound_refuses_only_new_ids() {
        let mut set = InboundQos2::default();
        let id = |n| PacketId::new(n).unwrap();
        assert_eq!(set.receive(id(1), 1), Received::New);
        assert_eq!(set.receive(id(2), 1), Received::OverLimit);
        assert_eq!(set.receive(id(1), 1), Received::Duplicate);
        assert_eq!(set.len(), 1);
    }
}
