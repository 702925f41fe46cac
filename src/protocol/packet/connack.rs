//! CONNACK (§3.2): acknowledge flags, reason code (3.x: return code), properties.
//! Pure, no I/O.

use bytes::{BufMut, BytesMut};

use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::ConnAckProperties;
use crate::protocol::reader::Reader;
use crate::protocol::reason_code::{allowed, ConnectReturnCode, ReasonCode};
use crate::protocol::types::ProtocolVersion;

const SESSION_PRESENT: u8 = 0x01;

/// A CONNACK packet. In 3.x the return code is carried as the equivalent
/// [`ReasonCode`] (see [`ConnectReturnCode`]) and encoded back to the 3.x byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present; only with Success ([MQTT-3.2.2-6]).
    pub session_present: bool,
    /// Connect Reason Code (5.0) or the return code's equivalent (3.x).
    pub reason_code: ReasonCode,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// A CONNACK with `reason_code`, no session present and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            session_present: false,
            reason_code,
            properties: ConnAckProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        // [MQTT-3.2.2-1] bits 7-1 are reserved.
        if flags & !SESSION_PRESENT != 0 {
            return Err(DecodeError::Malformed("CONNACK reserved flags set"));
        }
        let code = r.u8()?;
        let reason_code = if version.is_v5() {
            ReasonCode::from_u8(code)
                .filter(|code| allowed::CONNACK.contains(code))
                .ok_or(DecodeError::Malformed("reason code not allowed in CONNACK"))?
        } else {
            ConnectReturnCode::from_u8(code)
                .ok_or(DecodeError::Malformed("reserved CONNACK return code"))?
                .to_reason_code()
        };
        let session_present = flags & SESSION_PRESENT != 0;
        // MQTT 5.0 [MQTT-3.2.2-6], MQTT 3.1.1 [MQTT-3.2.2-4].
        if session_present && reason_code != ReasonCode::Success {
            return Err(DecodeError::ProtocolError("Session Present with a failure"));
        }
        let properties = if version.is_v5() {
            ConnAckProperties::decode(r)?
        } else {
            ConnAckProperties::default()
        };
        Ok(Self {
            session_present,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !allowed::CONNACK.contains(&self.reason_code) {
            return Err(EncodeError::Invalid("reason code not allowed in CONNACK"));
        }
        if self.session_present && self.reason_code != ReasonCode::Success {
            return Err(EncodeError::Invalid("Session Present with a failure"));
        }
        if version.is_v5() {
            Ok(2 + self.properties.encoded_len()?)
        } else {
            Ok(2)
        }
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        out.put_u8(if self.session_present {
            SESSION_PRESENT
        } else {
            0
        });
        if version.is_v5() {
            out.put_u8(self.reason_code.as_u8());
            self.properties.encode(out)
        } else {
            out.put_u8(ConnectReturnCode::from_reason_code(self.reason_code) as u8);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector, encode_one};
    use super::*;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::types::QoS;
    use crate::protocol::{MqttString, Packet};

    // MQTT 3.1.1 §3.2.2.3 Connect Return code, table 3.1.
    #[test]
    fn v3_return_codes() {
        for version in [V3_1, V3_1_1] {
            assert_vector(
                &[0x20, 0x02, 0x00, 0x00],
                version,
                &Packet::ConnAck(Box::new(ConnAck::new(ReasonCode::Success))),
            );
            let present = ConnAck {
                session_present: true,
                ..ConnAck::new(ReasonCode::Success)
            };
            assert_vector(
                &[0x20, 0x02, 0x01, 0x00],
                version,
                &Packet::ConnAck(Box::new(present)),
            );
            for (byte, code) in [
                (1, ReasonCode::UnsupportedProtocolVersion),
                (2, ReasonCode::ClientIdentifierNotValid),
                (3, ReasonCode::ServerUnavailable),
                (4, ReasonCode::BadUserNameOrPassword),
                (5, ReasonCode::NotAuthorized),
            ] {
                assert_vector(
                    &[0x20, 0x02, 0x00, byte],
                    version,
                    &Packet::ConnAck(Box::new(ConnAck::new(code))),
                );
            }
        }
        // A 5.0-only failure is sent to a 3.x client as the nearest return code.
        let banned = Packet::ConnAck(Box::new(ConnAck::new(ReasonCode::Banned)));
        assert_eq!(encode_one(&banned, V3_1_1), [0x20, 0x02, 0x00, 0x05]);
    }

    // MQTT 5.0 §3.2.2.3 CONNACK Properties.
    #[test]
    fn v5_properties() {
        let connack = ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: ConnAckProperties {
                maximum_qos: Some(QoS::AtLeastOnce),
                retain_available: Some(false),
                assigned_client_identifier: Some(MqttString::new("id").unwrap()),
                topic_alias_maximum: Some(10),
                server_keep_alive_secs: Some(30),
                ..Default::default()
            },
        };
        let bytes = [
            0x20, 0x12, 0x01, 0x00, 0x0F, // flags, reason, property length 15
            0x24, 0x01, // Maximum QoS 1
            0x25, 0x00, // Retain Available 0
            0x12, 0x00, 0x02, b'i', b'd', // Assigned Client Identifier
            0x22, 0x00, 0x0A, // Topic Alias Maximum 10
            0x13, 0x00, 0x1E, // Server Keep Alive 30
        ];
        assert_vector(&bytes, V5, &Packet::ConnAck(Box::new(connack)));
        assert_vector(
            &[0x20, 0x03, 0x00, 0x84, 0x00],
            V5,
            &Packet::ConnAck(Box::new(ConnAck::new(
                ReasonCode::UnsupportedProtocolVersion,
            ))),
        );
    }

    // Rejections: reserved flags [MQTT-3.2.2-1], session present with a failure,
    // return code 6, a v5 reason code not in the CONNACK table, missing properties,
    // Maximum QoS 2 (§3.2.2.3.4), a PUBLISH-only property.
    #[test]
    fn rejections() {
        assert_rejected(
            &[0x20, 0x02, 0x02, 0x00],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(&[0x20, 0x02, 0x01, 0x05], V3_1_1, ReasonCode::ProtocolError);
        assert_rejected(
            &[0x20, 0x02, 0x00, 0x06],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x20, 0x03, 0x00, 0x00, 0x00],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x20, 0x03, 0x00, 0x10, 0x00],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(&[0x20, 0x02, 0x00, 0x00], V5, ReasonCode::MalformedPacket);
        assert_rejected(
            &[0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x20, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01],
            V5,
            ReasonCode::MalformedPacket,
        );
    }
}
