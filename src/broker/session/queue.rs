//! Messages waiting for the inflight window or for the client to come back, bounded in
//! messages and in bytes. Pure, no I/O.

use std::collections::VecDeque;

use super::delivery::Outgoing;

/// The queue was at a bound; the message offered was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct QueueFull;

/// The FIFO queue of one session. Every message sent to the client goes through it when
/// it cannot go at once, QoS 0 included, so the client receives messages in `deliver`
/// order. `bytes` is the sum of `Message::size_bytes` of the entries.
#[derive(Clone, Debug, Default)]
pub(super) struct Queue {
    entries: VecDeque<Outgoing>,
    bytes: usize,
}

impl Queue {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends `outgoing` unless that would pass either bound; then drops it (the new
    /// message is refused, an older one is never evicted).
    pub(super) fn push(
        &mut self,
        outgoing: Outgoing,
        messages_max: usize,
        bytes_max: usize,
    ) -> Result<(), QueueFull> {
        let size = outgoing.message.size_bytes();
        if self.entries.len() >= messages_max || self.bytes + size > bytes_max {
            return Err(QueueFull);
        }
        self.bytes += size;
        self.entries.push_back(outgoing);
        Ok(())
    }

    pub(super) fn front(&self) -> Option<&Outgoing> {
        self.entries.front()
    }

    pub(super) fn pop_front(&mut self) -> Option<Outgoing> {
        let outgoing = self.entries.pop_front()?;
        self.bytes -= outgoing.message.size_bytes();
        Some(outgoing)
    }

    /// Removes the messages `take` accepts and returns them in queue order.
    pub(super) fn take_where(&mut self, mut take: impl FnMut(&Outgoing) -> bool) -> Vec<Outgoing> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.entries.len());
        for outgoing in self.entries.drain(..) {
            if take(&outgoing) {
                self.bytes -= outgoing.message.size_bytes();
                taken.push(outgoing);
            } else {
                kept.push_back(outgoing);
            }
        }
        self.entries = kept;
        taken
    }

    /// Drops the messages whose expiry has passed at `now_ms`; returns how many.
    pub(super) fn remove_expired(&mut self, now_ms: u64) -> usize {
        let before = self.entries.len();
        let mut freed = 0;
        self.entries.retain(|o| {
            let expired = o.message.is_expired(now_ms);
            if expired {
                freed += o.message.size_bytes();
            }
            !expired
        });
        self.bytes -= freed;
        before - self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::session::delivery::{DeliveryKind, Grant};
    use crate::broker::session::message::Message;
    use crate::protocol::{Publish, TopicName};
    use bytes::Bytes;

    fn outgoing(payload: &'static [u8], expiry_at_ms: Option<u64>) -> Outgoing {
        let publish = Publish::new(TopicName::new("t").unwrap(), Bytes::from_static(payload));
        let mut message = Message::from_publish(publish, 0);
        message.expiry_at_ms = expiry_at_ms;
        Outgoing::new(message, Grant::default(), DeliveryKind::Matched)
    }

    #[test]
    fn bounds_refuse_the_new_message() {
        let mut queue = Queue::default();
        assert!(queue.push(outgoing(b"aaa", None), 2, 100).is_ok());
        assert!(queue.push(outgoing(b"bbb", None), 2, 100).is_ok());
        assert!(queue.push(outgoing(b"c", None), 2, 100).is_err());
        assert_eq!((queue.len(), queue.bytes()), (2, 8));
        // Bytes: 4 + 4 = 8 held, a 5-byte message would make 13 > 12.
        let mut queue = Queue::default();
        assert!(queue.push(outgoing(b"aaa", None), 10, 12).is_ok());
        assert!(queue.push(outgoing(b"bbb", None), 10, 12).is_ok());
        assert!(queue.push(outgoing(b"cccc", None), 10, 12).is_err());
        assert!(queue.push(outgoing(b"ccc", None), 10, 12).is_ok());
    }

    #[test]
    fn pop_and_expiry_keep_bytes_exact() {
        let mut queue = Queue::default();
        queue.push(outgoing(b"aa", Some(10)), 10, 100).unwrap();
        queue.push(outgoing(b"bbb", None), 10, 100).unwrap();
        queue.push(outgoing(b"c", Some(5)), 10, 100).unwrap();
        assert_eq!(queue.remove_expired(10), 2);
        assert_eq!((queue.len(), queue.bytes()), (1, 4));
        assert_eq!(queue.pop_front().unwrap().message.payload, &b"bbb"[..]);
        assert_eq!(queue.bytes(), 0);
        assert!(queue.is_empty() && queue.front().is_none());
    }

    #[test]
    fn take_where_keeps_order_and_bytes() {
        let mut queue = Queue::default();
        for payload in [&b"a1"[..], b"b", b"a22", b"c"] {
            queue.push(outgoing(payload, None), 10, 100).unwrap();
        }
        let taken = queue.take_where(|o| o.message.payload.starts_with(b"a"));
        let payloads: Vec<&[u8]> = taken.iter().map(|o| &o.message.payload[..]).collect();
        assert_eq!(payloads, [&b"a1"[..], b"a22"]);
        assert_eq!((queue.len(), queue.bytes()), (2, 4));
        assert_eq!(queue.pop_front().unwrap().message.payload, &b"b"[..]);
    }
}
