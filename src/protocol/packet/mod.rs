//! The `Packet` enum and the one place that dispatches on packet type, for decoding
//! and encoding. Each packet's layout lives in its own file. Pure, no I/O.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod ping;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

use bytes::{BufMut, Bytes, BytesMut};

pub use ack::{PubAck, PubComp, PubRec, PubRel, PublishAck};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{peek_connect_version, Connect, Will};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use super::error::{DecodeError, EncodeError};
use super::fixed_header::{FrameHeader, PacketType};
use super::reader::Reader;
use super::reason_code::allowed;
use super::types::ProtocolVersion;
use super::writer::{check_varint, put_varint, varint_len};

/// One MQTT Control Packet, any version, either direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT (§3.1).
    Connect(Box<Connect>),
    /// CONNACK (§3.2).
    ConnAck(Box<ConnAck>),
    /// PUBLISH (§3.3).
    Publish(Publish),
    /// PUBACK (§3.4).
    PubAck(PubAck),
    /// PUBREC (§3.5).
    PubRec(PubRec),
    /// PUBREL (§3.6).
    PubRel(PubRel),
    /// PUBCOMP (§3.7).
    PubComp(PubComp),
    /// SUBSCRIBE (§3.8).
    Subscribe(Subscribe),
    /// SUBACK (§3.9).
    SubAck(SubAck),
    /// UNSUBSCRIBE (§3.10).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (§3.11).
    UnsubAck(UnsubAck),
    /// PINGREQ (§3.12).
    PingReq,
    /// PINGRESP (§3.13).
    PingResp,
    /// DISCONNECT (§3.14); reason and properties are MQTT 5.0 only.
    Disconnect(Disconnect),
    /// AUTH (§3.15), MQTT 5.0 only.
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes one whole frame (fixed header included) whose header `check` parsed.
    /// Strings and payloads are slices of `frame`. `version: None` means no CONNECT
    /// has been seen: only CONNECT is accepted ([MQTT-3.1.0-1]); CONNECT always takes
    /// its version from its own protocol name and level. Pure, no I/O.
    pub fn decode(
        frame: Bytes,
        header: FrameHeader,
        version: Option<ProtocolVersion>,
    ) -> Result<Self, DecodeError> {
        if frame.len() != header.frame_len() {
            return Err(DecodeError::Malformed(
                "frame length differs from its header",
            ));
        }
        let mut r = Reader::new(frame.slice(header.header_len..));
        let packet = match (header.packet_type, version) {
            (PacketType::Connect, _) => Self::Connect(Box::new(Connect::decode(&mut r)?)),
            (_, None) => {
                return Err(DecodeError::ProtocolError("first packet is not CONNECT"));
            }
            (packet_type, Some(version)) => {
                Self::decode_body(packet_type, header.flags, &mut r, version)?
            }
        };
        r.finish()?;
        Ok(packet)
    }

    fn decode_body(
        packet_type: PacketType,
        flags: u8,
        r: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        Ok(match packet_type {
            PacketType::Connect => Self::Connect(Box::new(Connect::decode(r)?)),
            PacketType::ConnAck => Self::ConnAck(Box::new(ConnAck::decode(r, version)?)),
            PacketType::Publish => Self::Publish(Publish::decode(flags, r, version)?),
            PacketType::PubAck => Self::PubAck(PublishAck::decode(r, version, allowed::PUBACK)?),
            PacketType::PubRec => Self::PubRec(PublishAck::decode(r, version, allowed::PUBACK)?),
            PacketType::PubRel => Self::PubRel(PublishAck::decode(r, version, allowed::PUBREL)?),
            PacketType::PubComp => Self::PubComp(PublishAck::decode(r, version, allowed::PUBREL)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::decode(r, version)?),
            PacketType::SubAck => Self::SubAck(SubAck::decode(r, version)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::decode(r, version)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::decode(r, version)?),
            // No variable header or payload: `Reader::finish` rejects any byte.
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(Disconnect::decode(r, version)?),
            PacketType::Auth => Self::Auth(Auth::decode(r, version)?),
        })
    }

    /// The fixed header's low nibble.
    fn flags(&self) -> u8 {
        match self {
            Self::Publish(publish) => publish.flags(),
            Self::PubRel(_) | Self::Subscribe(_) | Self::Unsubscribe(_) => 0b0010,
            _ => 0,
        }
    }

    /// Remaining Length in `version`, after checking the packet can be written in it.
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let len = match self {
            Self::Connect(p) => p.body_len(version)?,
            Self::ConnAck(p) => p.body_len(version)?,
            Self::Publish(p) => p.body_len(version)?,
            Self::PubAck(p) | Self::PubRec(p) => p.body_len(version, allowed::PUBACK)?,
            Self::PubRel(p) | Self::PubComp(p) => p.body_len(version, allowed::PUBREL)?,
            Self::Subscribe(p) => p.body_len(version)?,
            Self::SubAck(p) => p.body_len(version)?,
            Self::Unsubscribe(p) => p.body_len(version)?,
            Self::UnsubAck(p) => p.body_len(version)?,
            Self::PingReq | Self::PingResp => 0,
            Self::Disconnect(p) => p.body_len(version)?,
            Self::Auth(p) => p.body_len(version)?,
        };
        check_varint(len)
    }

    fn encode_body(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Connect(p) => p.encode_body(version, out),
            Self::ConnAck(p) => p.encode_body(version, out),
            Self::Publish(p) => p.encode_body(version, out),
            Self::PubAck(p) | Self::PubRec(p) | Self::PubRel(p) | Self::PubComp(p) => {
                p.encode_body(version, out)
            }
            Self::Subscribe(p) => p.encode_body(version, out),
            Self::SubAck(p) => p.encode_body(version, out),
            Self::Unsubscribe(p) => p.encode_body(version, out),
            Self::UnsubAck(p) => p.encode_body(version, out),
            Self::PingReq | Self::PingResp => Ok(()),
            Self::Disconnect(p) => p.encode_body(version, out),
            Self::Auth(p) => p.encode_body(version, out),
        }
    }

    /// Bytes the packet takes when encoded in `version`, fixed header included; an
    /// error if it cannot be encoded in `version`. Pure, no I/O.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let remaining_len = self.body_len(version)?;
        Ok(1 + varint_len(remaining_len) + remaining_len)
    }

    /// Appends the packet encoded in `version` to `out`. On error `out` is left as
    /// it was. Encoding is canonical: minimal lengths, properties in a fixed order,
    /// optional trailing fields omitted when they hold their default. Pure, no I/O.
    pub fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        let remaining_len = self.body_len(version)?;
        let start = out.len();
        out.reserve(1 + varint_len(remaining_len) + remaining_len);
        out.put_u8(((self.packet_type() as u8) << 4) | self.flags());
        put_varint(out, remaining_len);
        let body_start = out.len();
        if let Err(err) = self.encode_body(version, out) {
            out.truncate(start);
            return Err(err);
        }
        debug_assert_eq!(out.len() - body_start, remaining_len, "{self:?}");
        Ok(())
    }
}

/// Reads a Packet Identifier; 0 is a Protocol Error ([MQTT-2.2.1-3]).
pub(crate) fn read_packet_id(r: &mut Reader) -> Result<super::types::PacketId, DecodeError> {
    super::types::PacketId::new(r.u16()?).ok_or(DecodeError::ProtocolError("packet identifier 0"))
}

#[cfg(test)]
pub(crate) mod test_util;

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::protocol::fixed_header::{check, Status};

    // A header that does not describe the frame is an error, not a panic.
    #[test]
    fn frame_header_mismatch() {
        let Ok(Status::Complete(header)) = check(&[0xC0, 0x00], 10) else {
            panic!("PINGREQ header");
        };
        let frame = Bytes::from_static(&[0xC0]);
        assert!(Packet::decode(frame, header, Some(ProtocolVersion::V5)).is_err());
    }

    // [MQTT-3.1.0-1]: before CONNECT, any other packet is a Protocol Error.
    #[test]
    fn connect_first() {
        let frame = Bytes::from_static(&[0xE0, 0x00]);
        let Ok(Status::Complete(header)) = check(&frame, 10) else {
            panic!("DISCONNECT header");
        };
        assert_eq!(
            Packet::decode(frame, header, None),
            Err(DecodeError::ProtocolError("first packet is not CONNECT"))
        );
    }
}
