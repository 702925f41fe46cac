//! The fixed header (§2.1): packet type, flags, Remaining Length. `check` tells an
//! incomplete frame from a bad one and rejects an oversize frame before its body is
//! buffered (mini-redis's `Frame::check`, httparse's `Status`). Pure, no I/O.

use super::error::DecodeError;
use super::reader::parse_varint;

/// Whether a buffer holds enough bytes (httparse's `Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// Done: the value.
    Complete(T),
    /// More bytes are needed; not an error.
    Partial,
}

/// MQTT Control Packet type (§2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// 1: client to server.
    Connect = 1,
    /// 2: server to client.
    ConnAck = 2,
    /// 3: both directions.
    Publish = 3,
    /// 4: both directions.
    PubAck = 4,
    /// 5: both directions.
    PubRec = 5,
    /// 6: both directions.
    PubRel = 6,
    /// 7: both directions.
    PubComp = 7,
    /// 8: client to server.
    Subscribe = 8,
    /// 9: server to client.
    SubAck = 9,
    /// 10: client to server.
    Unsubscribe = 10,
    /// 11: server to client.
    UnsubAck = 11,
    /// 12: client to server.
    PingReq = 12,
    /// 13: server to client.
    PingResp = 13,
    /// 14: both directions.
    Disconnect = 14,
    /// 15: both directions, MQTT 5.0 only.
    Auth = 15,
}

impl PacketType {
    /// The type for the high nibble of the first byte; 0 is reserved.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 => Self::Auth,
            _ => return None,
        })
    }
}

/// A parsed fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Packet type.
    pub packet_type: PacketType,
    /// The low nibble of the first byte, already checked against §2.1.3.
    pub flags: u8,
    /// Bytes of the fixed header: 2 to 5.
    pub header_len: usize,
    /// The Remaining Length: bytes after the fixed header.
    pub remaining_len: usize,
}

impl FrameHeader {
    /// Bytes of the whole packet.
    pub const fn frame_len(&self) -> usize {
        self.header_len + self.remaining_len
    }

    /// Parses the fixed header only: `Complete` as soon as it is in `buf`, even if the
    /// body is not. Checks the flags (§2.1.3) and that the whole packet fits in
    /// `max_packet_size` bytes.
    pub fn parse(buf: &[u8], max_packet_size: u32) -> Result<Status<Self>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(Status::Partial);
        };
        let packet_type = PacketType::from_u8(first >> 4)
            .ok_or(DecodeError::Malformed("reserved packet type 0"))?;
        let flags = first & 0x0F;
        check_flags(packet_type, flags)?;
        let Some((remaining_len, len_bytes)) = parse_varint(&buf[1..])? else {
            return Ok(Status::Partial);
        };
        let header_len = 1 + len_bytes;
        let packet_size = header_len as u64 + u64::from(remaining_len);
        if packet_size > u64::from(max_packet_size) {
            return Err(DecodeError::PacketTooLarge {
                packet_size,
                maximum_packet_size: max_packet_size,
            });
        }
        Ok(Status::Complete(Self {
            packet_type,
            flags,
            header_len,
            remaining_len: remaining_len as usize,
        }))
    }
}

/// Fixed header flags, MQTT 5.0 §2.1.3 table 2-2 (the same in 3.1.1 §2.2.2).
fn check_flags(packet_type: PacketType, flags: u8) -> Result<(), DecodeError> {
    match packet_type {
        PacketType::Publish => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(DecodeError::Malformed("PUBLISH QoS 3"));
            }
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(DecodeError::Malformed("PUBLISH QoS 0 with DUP 1"));
            }
            Ok(())
        }
        PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => {
            if flags != 0b0010 {
                return Err(DecodeError::Malformed("fixed header flags must be 0010"));
            }
            Ok(())
        }
        _ => {
            if flags != 0 {
                return Err(DecodeError::Malformed("fixed header flags must be 0000"));
            }
            Ok(())
        }
    }
}

/// Checks whether `buf` starts with a whole packet. `Partial` if more bytes are
/// needed; an error as soon as the fixed header shows the frame is bad or larger than
/// `max_packet_size`. Pure, no I/O.
pub fn check(buf: &[u8], max_packet_size: u32) -> Result<Status<FrameHeader>, DecodeError> {
    match FrameHeader::parse(buf, max_packet_size)? {
        Status::Complete(header) if buf.len() >= header.frame_len() => Ok(Status::Complete(header)),
        _ => Ok(Status::Partial),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 1 << 20;

    // MQTT 5.0 §2.1: an incomplete frame is Partial, not an error.
    #[test]
    fn partial_frames() {
        assert_eq!(check(&[], MAX), Ok(Status::Partial));
        assert_eq!(check(&[0x30], MAX), Ok(Status::Partial));
        assert_eq!(check(&[0x30, 0x80], MAX), Ok(Status::Partial));
        assert_eq!(check(&[0x30, 0x03, 0x00], MAX), Ok(Status::Partial));
        assert_eq!(
            check(&[0xC0, 0x00], MAX),
            Ok(Status::Complete(FrameHeader {
                packet_type: PacketType::PingReq,
                flags: 0,
                header_len: 2,
                remaining_len: 0,
            }))
        );
        // The header alone is enough for `parse`.
        assert!(matches!(
            FrameHeader::parse(&[0x30, 0x80, 0x01], MAX),
            Ok(Status::Complete(FrameHeader {
                remaining_len: 128,
                header_len: 3,
                ..
            }))
        ));
    }

    // MQTT 5.0 §1.5.5: a fifth Remaining Length byte is Malformed.
    #[test]
    fn five_byte_remaining_length() {
        assert!(matches!(
            check(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], u32::MAX),
            Err(DecodeError::Malformed(_))
        ));
    }

    // MQTT 5.0 §3.1.2.11.4 Maximum Packet Size: refuse before buffering the body.
    #[test]
    fn oversize_before_body() {
        let err = check(&[0x30, 0x80, 0x01], 100).unwrap_err();
        assert_eq!(
            err,
            DecodeError::PacketTooLarge {
                packet_size: 131,
                maximum_packet_size: 100
            }
        );
        assert_eq!(
            err.reason_code(),
            crate::protocol::ReasonCode::PacketTooLarge
        );
        // Exactly the maximum is fine.
        assert_eq!(
            check(&[0xC0, 0x00], 2),
            Ok(Status::Complete(FrameHeader {
                packet_type: PacketType::PingReq,
                flags: 0,
                header_len: 2,
                remaining_len: 0,
            }))
        );
    }

    // MQTT 5.0 §2.1.2 reserved type 0 and §2.1.3 flags table.
    #[test]
    fn bad_first_byte() {
        for first in [
            0x00, // reserved type 0
            0x36, // PUBLISH QoS 3
            0x38, // PUBLISH QoS 0 DUP 1 [MQTT-3.3.1-2]
            0x60, // PUBREL flags 0000
            0x80, // SUBSCRIBE flags 0000
            0xA0, // UNSUBSCRIBE flags 0000
            0x41, // PUBACK flags 0001
            0xC2, // PINGREQ flags 0010
            0x11, // CONNECT flags 0001
        ] {
            assert!(
                matches!(check(&[first, 0x00], MAX), Err(DecodeError::Malformed(_))),
                "{first:#04x}"
            );
        }
        for first in [0x30, 0x31, 0x32, 0x3B, 0x3D, 0x62, 0x82, 0xA2, 0xF0] {
            assert!(FrameHeader::parse(&[first], MAX).is_ok(), "{first:#04x}");
        }
    }
}
