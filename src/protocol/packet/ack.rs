//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4 to §3.7): one layout, a Packet Identifier
//! then, in MQTT 5.0, an optional Reason Code and properties. Pure, no I/O.

use bytes::{BufMut, BytesMut};

use super::read_packet_id;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::AckProperties;
use crate::protocol::reader::Reader;
use crate::protocol::reason_code::ReasonCode;
use crate::protocol::types::{PacketId, ProtocolVersion};

/// A PUBACK, PUBREC, PUBREL or PUBCOMP packet; [`super::Packet`] says which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishAck {
    /// The Packet Identifier of the PUBLISH (or PUBREC/PUBREL) answered.
    pub packet_id: PacketId,
    /// MQTT 5.0 Reason Code; always Success in 3.x.
    pub reason_code: ReasonCode,
    /// MQTT 5.0 properties; empty in 3.x.
    pub properties: AckProperties,
}

/// PUBACK (§3.4).
pub type PubAck = PublishAck;
/// PUBREC (§3.5).
pub type PubRec = PublishAck;
/// PUBREL (§3.6).
pub type PubRel = PublishAck;
/// PUBCOMP (§3.7).
pub type PubComp = PublishAck;

impl PublishAck {
    /// A successful acknowledgement without properties.
    pub fn new(packet_id: PacketId) -> Self {
        Self {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: AckProperties::default(),
        }
    }

    pub(crate) fn decode(
        r: &mut Reader,
        version: ProtocolVersion,
        allowed: &[ReasonCode],
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let mut ack = Self::new(packet_id);
        // §3.4.2.1: Remaining Length 2 means Success and no properties.
        if !version.is_v5() || r.is_empty() {
            return Ok(ack);
        }
        ack.reason_code = ReasonCode::from_u8(r.u8()?)
            .filter(|code| allowed.contains(code))
            .ok_or(DecodeError::Malformed(
                "reason code not allowed in this packet",
            ))?;
        // §3.4.2.2.1: Remaining Length 3 means no properties.
        if !r.is_empty() {
            ack.properties = AckProperties::decode(r)?;
        }
        Ok(ack)
    }

    pub(crate) fn body_len(
        &self,
        version: ProtocolVersion,
        allowed: &[ReasonCode],
    ) -> Result<usize, EncodeError> {
        if !allowed.contains(&self.reason_code) {
            return Err(EncodeError::Invalid(
                "reason code not allowed in this packet",
            ));
        }
        if !version.is_v5() {
            if self.reason_code != ReasonCode::Success {
                return Err(EncodeError::Unsupported("failure reason code in MQTT 3.x"));
            }
            return Ok(2);
        }
        if self.properties.is_empty() {
            return Ok(if self.reason_code == ReasonCode::Success {
                2
            } else {
                3
            });
        }
        Ok(3 + self.properties.encoded_len()?)
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        out.put_u16(self.packet_id.get());
        if !version.is_v5()
            || (self.reason_code == ReasonCode::Success && self.properties.is_empty())
        {
            return Ok(());
        }
        out.put_u8(self.reason_code.as_u8());
        if self.properties.is_empty() {
            return Ok(());
        }
        self.properties.encode(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector, decode_one};
    use super::*;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{MqttString, Packet};

    fn id(value: u16) -> PacketId {
        PacketId::new(value).unwrap()
    }

    // MQTT 3.1.1 §3.4 PUBACK, §3.5 PUBREC, §3.6 PUBREL, §3.7 PUBCOMP: packet id only.
    #[test]
    fn v3_acks() {
        for version in [V3_1, V3_1_1] {
            assert_vector(
                &[0x40, 0x02, 0x00, 0x01],
                version,
                &Packet::PubAck(PubAck::new(id(1))),
            );
            assert_vector(
                &[0x50, 0x02, 0x12, 0x34],
                version,
                &Packet::PubRec(PubRec::new(id(0x1234))),
            );
            assert_vector(
                &[0x62, 0x02, 0xFF, 0xFF],
                version,
                &Packet::PubRel(PubRel::new(id(0xFFFF))),
            );
            assert_vector(
                &[0x70, 0x02, 0x00, 0x07],
                version,
                &Packet::PubComp(PubComp::new(id(7))),
            );
        }
    }

    // MQTT 5.0 §3.4.2.1: Success without properties is sent as packet id only.
    #[test]
    fn v5_short_forms() {
        assert_vector(
            &[0x40, 0x02, 0x00, 0x01],
            V5,
            &Packet::PubAck(PubAck::new(id(1))),
        );
        // Remaining Length 3 with Success decodes to the same packet.
        assert_eq!(
            decode_one(&[0x40, 0x03, 0x00, 0x01, 0x00], Some(V5)).unwrap(),
            Packet::PubAck(PubAck::new(id(1)))
        );
        // Remaining Length 4 with Property Length 0, too.
        assert_eq!(
            decode_one(&[0x40, 0x04, 0x00, 0x01, 0x00, 0x00], Some(V5)).unwrap(),
            Packet::PubAck(PubAck::new(id(1)))
        );
        let no_subscribers = PubAck {
            reason_code: ReasonCode::NoMatchingSubscribers,
            ..PubAck::new(id(2))
        };
        assert_vector(
            &[0x40, 0x03, 0x00, 0x02, 0x10],
            V5,
            &Packet::PubAck(no_subscribers),
        );
    }

    // MQTT 5.0 §3.4.2.2 PUBACK properties: Reason String.
    #[test]
    fn v5_puback_reason_string() {
        let ack = PubAck {
            packet_id: id(5),
            reason_code: ReasonCode::QuotaExceeded,
            properties: AckProperties {
                reason_string: Some(MqttString::new("q").unwrap()),
                user_properties: vec![],
            },
        };
        assert_vector(
            &[0x40, 0x08, 0x00, 0x05, 0x97, 0x04, 0x1F, 0x00, 0x01, b'q'],
            V5,
            &Packet::PubAck(ack),
        );
    }

    // MQTT 5.0 §3.6.2.1 PUBREL reason codes: Packet Identifier not found.
    #[test]
    fn v5_pubrel_not_found() {
        let rel = PubRel {
            reason_code: ReasonCode::PacketIdentifierNotFound,
            ..PubRel::new(id(9))
        };
        assert_vector(&[0x62, 0x03, 0x00, 0x09, 0x92], V5, &Packet::PubRel(rel));
    }

    // Rejections: zero packet id (§2.2.1), reason code outside the packet's table,
    // trailing bytes, a property PUBACK may not carry, 3.x with a reason code.
    #[test]
    fn rejections() {
        assert_rejected(&[0x40, 0x02, 0x00, 0x00], V3_1_1, ReasonCode::ProtocolError);
        assert_rejected(&[0x40, 0x02, 0x00, 0x00], V5, ReasonCode::ProtocolError);
        // 0x92 is a PUBREL code, not a PUBACK one.
        assert_rejected(
            &[0x40, 0x03, 0x00, 0x01, 0x92],
            V5,
            ReasonCode::MalformedPacket,
        );
        // PUBCOMP with 0x10.
        assert_rejected(
            &[0x70, 0x03, 0x00, 0x01, 0x10],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x40, 0x03, 0x00, 0x01, 0x00],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        // Topic Alias (0x23) in PUBACK.
        assert_rejected(
            &[0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01],
            V5,
            ReasonCode::MalformedPacket,
        );
        // Property Length 1 with a byte trailing after the property.
        assert_rejected(
            &[0x40, 0x06, 0x00, 0x01, 0x00, 0x00, 0x1F, 0x00],
            V5,
            ReasonCode::MalformedPacket,
        );
        // Truncated packet id.
        assert_rejected(&[0x40, 0x01, 0x00], V5, ReasonCode::MalformedPacket);
    }

    // Encoding refuses what 3.x cannot say.
    #[test]
    fn encode_rejections() {
        let failed = Packet::PubAck(PubAck {
            reason_code: ReasonCode::NotAuthorized,
            ..PubAck::new(id(1))
        });
        assert!(failed.encoded_len(V3_1_1).is_err());
        let wrong = Packet::PubRel(PubRel {
            reason_code: ReasonCode::NotAuthorized,
            ..PubRel::new(id(1))
        });
        assert!(wrong.encoded_len(V5).is_err());
    }
}
