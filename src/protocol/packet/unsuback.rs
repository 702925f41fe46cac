//! UNSUBACK (§3.11): Packet Identifier; in MQTT 5.0 also properties and one reason
//! code per filter. Pure, no I/O.

use bytes::{BufMut, BytesMut};

use super::read_packet_id;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::AckProperties;
use crate::protocol::reader::Reader;
use crate::protocol::reason_code::{allowed, ReasonCode};
use crate::protocol::types::{PacketId, ProtocolVersion};

/// An UNSUBACK packet. In 3.x it has no payload: `reason_codes` decodes empty and is
/// not written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    /// The UNSUBSCRIBE's Packet Identifier.
    pub packet_id: PacketId,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: AckProperties,
    /// MQTT 5.0: one per Topic Filter, in order.
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        if !version.is_v5() {
            return Ok(Self {
                packet_id,
                properties: AckProperties::default(),
                reason_codes: Vec::new(),
            });
        }
        let properties = AckProperties::decode(r)?;
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = ReasonCode::from_u8(r.u8()?)
                .filter(|code| allowed::UNSUBACK.contains(code))
                .ok_or(DecodeError::Malformed(
                    "reason code not allowed in UNSUBACK",
                ))?;
            reason_codes.push(code);
        }
        if reason_codes.is_empty() {
            return Err(DecodeError::ProtocolError("UNSUBACK without a reason code"));
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Invalid("UNSUBACK without a reason code"));
        }
        if !self
            .reason_codes
            .iter()
            .all(|code| allowed::UNSUBACK.contains(code))
        {
            return Err(EncodeError::Invalid("reason code not allowed in UNSUBACK"));
        }
        Ok(2 + self.properties.encoded_len()? + self.reason_codes.len())
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        out.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(out)?;
            for code in &self.reason_codes {
                out.put_u8(code.as_u8());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector};
    use super::*;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::Packet;

    // MQTT 3.1.1 §3.11 UNSUBACK: packet id only.
    #[test]
    fn v3_unsuback() {
        let unsuback = UnsubAck {
            packet_id: PacketId::new(7).unwrap(),
            properties: AckProperties::default(),
            reason_codes: vec![],
        };
        for version in [V3_1, V3_1_1] {
            assert_vector(
                &[0xB0, 0x02, 0x00, 0x07],
                version,
                &Packet::UnsubAck(unsuback.clone()),
            );
        }
    }

    // MQTT 5.0 §3.11.3 UNSUBACK reason codes.
    #[test]
    fn v5_unsuback() {
        let unsuback = UnsubAck {
            packet_id: PacketId::new(7).unwrap(),
            properties: AckProperties::default(),
            reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        };
        assert_vector(
            &[0xB0, 0x05, 0x00, 0x07, 0x00, 0x00, 0x11],
            V5,
            &Packet::UnsubAck(unsuback),
        );
    }

    // Rejections: 3.x payload bytes, 5.0 without codes, a code outside the table.
    #[test]
    fn rejections() {
        assert_rejected(
            &[0xB0, 0x03, 0x00, 0x07, 0x00],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0xB0, 0x03, 0x00, 0x07, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0xB0, 0x04, 0x00, 0x07, 0x00, 0x01],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(&[0xB0, 0x02, 0x00, 0x00], V3_1, ReasonCode::ProtocolError);
    }
}
