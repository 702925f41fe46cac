//! Packet Identifier allocation for the PUBLISH packets the server sends to one client
//! (MQTT 5.0 §2.2.1): the next non-zero id after the last one, skipping ids still in use.
//! Pure, no I/O.

use crate::protocol::PacketId;

/// Hands out outbound packet ids in increasing order, wrapping from 65535 to 1. One per
/// session, on the owner shard of its client id.
#[derive(Clone, Debug)]
pub(super) struct PacketIds {
    /// The id `allocate` tries first; never 0.
    next: u16,
}

impl Default for PacketIds {
    fn default() -> Self {
        Self { next: 1 }
    }
}

impl PacketIds {
    /// The next id for which `in_use` is false, or `None` when all 65,535 are in use.
    /// The session never holds more ids than its window (at most 65,535, and it only
    /// allocates below the window), so `None` is a broken invariant of the caller.
    pub(super) fn allocate(&mut self, in_use: impl Fn(PacketId) -> bool) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            let candidate = PacketId::new(self.next);
            self.next = self.next.checked_add(1).unwrap_or(1);
            if let Some(id) = candidate.filter(|&id| !in_use(id)) {
                return Some(id);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_one_and_counts_up() {
        let mut ids = PacketIds::default();
        assert_eq!(ids.allocate(|_| false), PacketId::new(1));
        assert_eq!(ids.allocate(|_| false), PacketId::new(2));
    }

    #[test]
    fn wraps_past_65535_to_1_skipping_zero() {
        // MQTT 5.0 §2.2.1: a Packet Identifier is never 0.
        let mut ids = PacketIds { next: u16::MAX };
        assert_eq!(ids.allocate(|_| false), PacketId::new(u16::MAX));
        assert_eq!(ids.allocate(|_| false), PacketId::new(1));
    }

    #[test]
    fn skips_ids_in_use_across_the_wrap() {
        // MQTT 5.0 §2.2.1: an id is not reused while its flow is unacknowledged.
        let mut ids = PacketIds { next: u16::MAX - 1 };
        let in_use = |id: PacketId| matches!(id.get(), 65534 | 65535 | 1 | 2);
        assert_eq!(ids.allocate(in_use), PacketId::new(3));
    }

    #[test]
    fn all_in_use_is_none_not_a_hang() {
        let mut ids = PacketIds::default();
        assert_eq!(ids.allocate(|_| true), None);
    }
}
