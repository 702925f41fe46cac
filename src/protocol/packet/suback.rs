//! SUBACK (§3.9): Packet Identifier, properties, one reason code per filter.
//! Pure, no I/O.

use bytes::{BufMut, BytesMut};

use super::read_packet_id;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::AckProperties;
use crate::protocol::reader::Reader;
use crate::protocol::reason_code::{allowed, ReasonCode};
use crate::protocol::types::{PacketId, ProtocolVersion};

/// MQTT 3.x SUBACK failure return code (3.1.1 §3.9.3).
const V3_FAILURE: u8 = 0x80;

/// A SUBACK packet. In 3.x every failure is sent as 0x80 and decodes as
/// [`ReasonCode::UnspecifiedError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// The SUBSCRIBE's Packet Identifier.
    pub packet_id: PacketId,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: AckProperties,
    /// One per Topic Filter, in order: Granted QoS or a failure.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() {
            AckProperties::decode(r)?
        } else {
            AckProperties::default()
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let byte = r.u8()?;
            let code = if version.is_v5() {
                ReasonCode::from_u8(byte).filter(|code| allowed::SUBACK.contains(code))
            } else {
                match byte {
                    0..=2 => ReasonCode::from_u8(byte),
                    V3_FAILURE => Some(ReasonCode::UnspecifiedError),
                    _ => None,
                }
            };
            reason_codes
                .push(code.ok_or(DecodeError::Malformed("reason code not allowed in SUBACK"))?);
        }
        if reason_codes.is_empty() {
            return Err(DecodeError::ProtocolError("SUBACK without a reason code"));
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Invalid("SUBACK without a reason code"));
        }
        if !self
            .reason_codes
            .iter()
            .all(|code| allowed::SUBACK.contains(code))
        {
            return Err(EncodeError::Invalid("reason code not allowed in SUBACK"));
        }
        let mut len = 2 + self.reason_codes.len();
        if version.is_v5() {
            len += self.properties.encoded_len()?;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        out.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(out)?;
        }
        for code in &self.reason_codes {
            let byte = code.as_u8();
            out.put_u8(if version.is_v5() || byte < V3_FAILURE {
                byte
            } else {
                V3_FAILURE
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector, encode_one};
    use super::*;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{MqttString, Packet};

    fn id(value: u16) -> PacketId {
        PacketId::new(value).unwrap()
    }

    // MQTT 3.1.1 §3.9.3 SUBACK return codes 0x00-0x02 and 0x80.
    #[test]
    fn v3_suback() {
        let suback = SubAck {
            packet_id: id(1),
            properties: AckProperties::default(),
            reason_codes: vec![
                ReasonCode::GRANTED_QOS_0,
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ],
        };
        for version in [V3_1, V3_1_1] {
            assert_vector(
                &[0x90, 0x06, 0x00, 0x01, 0x00, 0x01, 0x02, 0x80],
                version,
                &Packet::SubAck(suback.clone()),
            );
        }
        // A 5.0-only failure goes to a 3.x client as 0x80.
        let denied = SubAck {
            reason_codes: vec![ReasonCode::NotAuthorized],
            ..suback
        };
        assert_eq!(
            encode_one(&Packet::SubAck(denied), V3_1_1),
            [0x90, 0x03, 0x00, 0x01, 0x80]
        );
    }

    // MQTT 5.0 §3.9.3 SUBACK reason codes and §3.9.2.1 Reason String.
    #[test]
    fn v5_suback() {
        let suback = SubAck {
            packet_id: id(2),
            properties: AckProperties {
                reason_string: Some(MqttString::new("n").unwrap()),
                user_properties: vec![],
            },
            reason_codes: vec![
                ReasonCode::GrantedQoS1,
                ReasonCode::SharedSubscriptionsNotSupported,
            ],
        };
        assert_vector(
            &[
                0x90, 0x09, 0x00, 0x02, 0x04, 0x1F, 0x00, 0x01, b'n', 0x01, 0x9E,
            ],
            V5,
            &Packet::SubAck(suback),
        );
    }

    // Rejections: a 3.x code 0x87, a 5.0 code outside the SUBACK table, no codes,
    // zero packet id.
    #[test]
    fn rejections() {
        assert_rejected(
            &[0x90, 0x03, 0x00, 0x01, 0x87],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x90, 0x03, 0x00, 0x01, 0x03],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x90, 0x04, 0x00, 0x01, 0x00, 0x10],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x90, 0x03, 0x00, 0x01, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x90, 0x03, 0x00, 0x00, 0x00],
            V3_1_1,
            ReasonCode::ProtocolError,
        );
    }
}
