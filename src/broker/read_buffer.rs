//! Where socket reads land: one shared scratch per shard, and per connection only the
//! unfinished tail of a packet. Complete frames are split off the scratch and frozen, so a
//! PUBLISH payload is a `Bytes` slice of the bytes the kernel wrote: no copy. An idle
//! connection holds no read buffer. Pure: the caller does the read.

use bytes::BytesMut;

use crate::limits::{READ_SCRATCH_BYTES, READ_SCRATCH_FREE_MIN_BYTES};

/// The buffer every read on a shard lands in. One per shard.
///
/// Invariant: between reads all of `free` is initialized, unused space; the bytes of a read
/// are split off its front right after the read, so nothing of one connection is left for
/// the next.
#[derive(Debug)]
pub struct ReadScratch {
    free: BytesMut,
}

impl Default for ReadScratch {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadScratch {
    /// An empty scratch of [`READ_SCRATCH_BYTES`].
    pub fn new() -> Self {
        ReadScratch {
            free: BytesMut::zeroed(READ_SCRATCH_BYTES),
        }
    }

    /// The space the next read writes into.
    pub fn space(&mut self) -> &mut [u8] {
        if self.free.len() < READ_SCRATCH_FREE_MIN_BYTES {
            // Frames still hold the old allocation; it is freed when they drop.
            self.free = BytesMut::zeroed(READ_SCRATCH_BYTES);
        }
        &mut self.free[..]
    }

    /// Takes the `n` bytes the last read wrote into [`space`](Self::space).
    pub fn take(&mut self, n: usize) -> BytesMut {
        assert!(
            n <= self.free.len(),
            "read reported more bytes than its buffer"
        );
        self.free.split_to(n)
    }
}

/// The bytes of one connection not yet decoded: empty (no allocation) unless a packet was
/// cut by a read. One per connection.
#[derive(Debug, Default)]
pub struct ReadTail {
    tail: BytesMut,
}

impl ReadTail {
    /// Joins freshly read bytes to what was left over, and returns the buffer to decode
    /// from. Without a leftover this is `fresh` itself (still in the scratch).
    pub fn join(&mut self, fresh: BytesMut) -> BytesMut {
        if self.tail.is_empty() {
            fresh
        } else {
            let mut joined = std::mem::take(&mut self.tail);
            joined.extend_from_slice(&fresh);
            joined
        }
    }

    /// Keeps what decoding left over: copied out of the shared scratch so an idle
    /// connection does not pin a whole scratch allocation.
    pub fn keep(&mut self, rest: BytesMut) {
        self.tail = if rest.is_empty() {
            BytesMut::new()
        } else {
            BytesMut::from(&rest[..])
        };
    }

    /// Takes what is held, leaving nothing.
    pub fn take(&mut self) -> BytesMut {
        std::mem::take(&mut self.tail)
    }

    /// Bytes held for this connection.
    pub fn len(&self) -> usize {
        self.tail.len()
    }

    /// True when the connection holds no read bytes.
    pub fn is_empty(&self) -> bool {
        self.tail.is_empty()
    }

    /// Bytes allocated for this connection's tail.
    pub fn capacity(&self) -> usize {
        self.tail.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode, Packet, ProtocolVersion};

    const MAX: u32 = 1 << 20;
    // PINGREQ, then a QoS 0 PUBLISH "a/b" payload "hi" (MQTT 3.1.1 §3.12, §3.3).
    const STREAM: &[u8] = &[
        0xC0, 0x00, 0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i',
    ];

    fn read(scratch: &mut ReadScratch, bytes: &[u8]) -> BytesMut {
        scratch.space()[..bytes.len()].copy_from_slice(bytes);
        scratch.take(bytes.len())
    }

    fn decode_all(buf: &mut BytesMut) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(p) = decode(buf, Some(ProtocolVersion::V3_1_1), MAX).unwrap() {
            out.push(p);
        }
        out
    }

    #[test]
    fn whole_frames_are_slices_of_the_scratch() {
        let mut scratch = ReadScratch::new();
        let mut tail = ReadTail::default();
        let mut buf = tail.join(read(&mut scratch, STREAM));
        let base = buf.as_ptr() as usize;
        let packets = decode_all(&mut buf);
        tail.keep(buf);
        assert_eq!(packets.len(), 2);
        let Packet::Publish(publish) = &packets[1] else {
            panic!("not a PUBLISH")
        };
        assert_eq!(&publish.payload[..], b"hi");
        assert_eq!(publish.payload.as_ptr() as usize, base + STREAM.len() - 2);
        assert_eq!(tail.capacity(), 0, "nothing left over, nothing held");
    }

    #[test]
    fn a_packet_cut_at_every_byte_survives_in_the_tail() {
        for cut in 1..STREAM.len() {
            let mut scratch = ReadScratch::new();
            let mut tail = ReadTail::default();
            let mut packets = Vec::new();
            for part in [&STREAM[..cut], &STREAM[cut..]] {
                let mut buf = tail.join(read(&mut scratch, part));
                packets.extend(decode_all(&mut buf));
                tail.keep(buf);
            }
            assert_eq!(packets.len(), 2, "cut at {cut}");
            assert!(tail.is_empty());
        }
    }

    #[test]
    fn the_tail_does_not_pin_the_scratch() {
        let mut scratch = ReadScratch::new();
        let mut tail = ReadTail::default();
        let mut buf = tail.join(read(&mut scratch, &STREAM[..5]));
        assert!(decode_all(&mut buf).len() == 1);
        tail.keep(buf);
        assert_eq!(tail.len(), 3);
        assert!(tail.capacity() < READ_SCRATCH_BYTES);
    }

    #[test]
    fn a_nearly_full_scratch_is_replaced() {
        let mut scratch = ReadScratch::new();
        let _held = scratch.take(READ_SCRATCH_BYTES - READ_SCRATCH_FREE_MIN_BYTES + 1);
        assert_eq!(scratch.space().len(), READ_SCRATCH_BYTES);
    }
}
