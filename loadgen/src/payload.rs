//! The header at the front of every payload: who sent it, which one it is, and when it
//! was meant to leave. Pure, no I/O.
//!
//! Layout, little-endian, [`PAYLOAD_HEADER_BYTES`] bytes; the rest of the payload is
//! filler:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | run id (messages of another run are counted as foreign, not received) |
//! | 4..8 | publisher id, unique in the run (across worker processes) |
//! | 8..16 | sequence number, 0, 1, 2... per publisher |
//! | 16..24 | intended send time, ns on the run's clock |

use crate::limits::PAYLOAD_HEADER_BYTES;

/// The decoded payload header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The run that sent the message.
    pub run_id: u32,
    /// The publisher, `0..publishers`.
    pub publisher_id: u32,
    /// The publisher's sequence number.
    pub seq: u64,
    /// When the message was meant to leave, ns on the run's clock (see `clock.rs`).
    pub intended_ns: u64,
}

impl Header {
    /// Writes the header over the first [`PAYLOAD_HEADER_BYTES`] of `out`.
    ///
    /// Panics if `out` is shorter: payload sizes are checked at start-up.
    pub fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.run_id.to_le_bytes());
        out[4..8].copy_from_slice(&self.publisher_id.to_le_bytes());
        out[8..16].copy_from_slice(&self.seq.to_le_bytes());
        out[16..24].copy_from_slice(&self.intended_ns.to_le_bytes());
    }

    /// Reads the header of a payload; `None` if it is too short to hold one.
    pub fn read(payload: &[u8]) -> Option<Header> {
        let h = payload.get(..PAYLOAD_HEADER_BYTES)?;
        let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().expect("8 bytes"));
        Some(Header {
            run_id: u32_at(0),
            publisher_id: u32_at(4),
            seq: u64_at(8),
            intended_ns: u64_at(16),
        })
    }
}

const _: () = assert!(PAYLOAD_HEADER_BYTES == 24);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_leaves_the_filler_alone() {
        let h = Header {
            run_id: 0xdead_beef,
            publisher_id: 7,
            seq: u64::MAX - 1,
            intended_ns: 123_456_789_012,
        };
        let mut buf = vec![0xaa; 64];
        h.write(&mut buf);
        assert_eq!(Header::read(&buf), Some(h));
        assert!(buf[24..].iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn exact_bytes_are_little_endian() {
        let h = Header {
            run_id: 1,
            publisher_id: 2,
            seq: 3,
            intended_ns: 0x0102,
        };
        let mut buf = [0u8; 24];
        h.write(&mut buf);
        assert_eq!(
            buf,
            [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn short_payload_has_no_header() {
        assert_eq!(Header::read(&[0u8; 23]), None);
        assert!(Header::read(&[0u8; 24]).is_some());
    }
}
