//! DISCONNECT (§3.14): empty in 3.x; in MQTT 5.0 an optional reason code and
//! properties. Pure, no I/O.

use bytes::{BufMut, BytesMut};

use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::DisconnectProperties;
use crate::protocol::reader::Reader;
use crate::protocol::reason_code::{allowed, ReasonCode};
use crate::protocol::types::ProtocolVersion;

/// A DISCONNECT packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// MQTT 5.0 Disconnect Reason Code; Normal disconnection in 3.x.
    pub reason_code: ReasonCode,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: DisconnectProperties,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: DisconnectProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut disconnect = Self::default();
        // §3.14.2.1: Remaining Length 0 means Normal disconnection; 3.x has no body.
        if !version.is_v5() || r.is_empty() {
            return Ok(disconnect);
        }
        disconnect.reason_code = ReasonCode::from_u8(r.u8()?)
            .filter(|code| allowed::DISCONNECT.contains(code))
            .ok_or(DecodeError::Malformed(
                "reason code not allowed in DISCONNECT",
            ))?;
        // §3.14.2.2.1: Remaining Length 1 means no properties.
        if !r.is_empty() {
            disconnect.properties = DisconnectProperties::decode(r)?;
        }
        Ok(disconnect)
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !allowed::DISCONNECT.contains(&self.reason_code) {
            return Err(EncodeError::Invalid(
                "reason code not allowed in DISCONNECT",
            ));
        }
        if !version.is_v5() {
            if self.reason_code != ReasonCode::NORMAL_DISCONNECTION {
                return Err(EncodeError::Unsupported(
                    "DISCONNECT reason code in MQTT 3.x",
                ));
            }
            return Ok(0);
        }
        if self.properties.is_empty() {
            return Ok(usize::from(
                self.reason_code != ReasonCode::NORMAL_DISCONNECTION,
            ));
        }
        Ok(1 + self.properties.encoded_len()?)
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if !version.is_v5()
            || (self.reason_code == ReasonCode::NORMAL_DISCONNECTION && self.properties.is_empty())
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

    // MQTT 3.1.1 §3.14 DISCONNECT: no variable header, no payload.
    #[test]
    fn v3_disconnect() {
        for version in [V3_1, V3_1_1] {
            assert_vector(
                &[0xE0, 0x00],
                version,
                &Packet::Disconnect(Disconnect::default()),
            );
            assert_rejected(&[0xE0, 0x01, 0x00], version, ReasonCode::MalformedPacket);
        }
        let with_will = Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage));
        assert!(with_will.encoded_len(V3_1_1).is_err());
    }

    // MQTT 5.0 §3.14.2.1 short forms and §3.14.2.2 properties.
    #[test]
    fn v5_disconnect() {
        assert_vector(
            &[0xE0, 0x00],
            V5,
            &Packet::Disconnect(Disconnect::default()),
        );
        assert_eq!(
            decode_one(&[0xE0, 0x01, 0x00], Some(V5)).unwrap(),
            Packet::Disconnect(Disconnect::default())
        );
        assert_vector(
            &[0xE0, 0x01, 0x8E],
            V5,
            &Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver)),
        );
        let moved = Disconnect {
            reason_code: ReasonCode::ServerMoved,
            properties: DisconnectProperties {
                session_expiry_interval_secs: Some(0),
                server_reference: Some(MqttString::new("b").unwrap()),
                ..Default::default()
            },
        };
        assert_vector(
            &[
                0xE0, 0x0B, 0x9D, 0x09, 0x11, 0x00, 0x00, 0x00, 0x00, 0x1C, 0x00, 0x01, b'b',
            ],
            V5,
            &Packet::Disconnect(moved),
        );
    }

    // Rejections: a CONNACK-only reason code (0x84), a property not allowed (Topic
    // Alias), a duplicate Reason String, trailing bytes after the properties.
    #[test]
    fn rejections() {
        assert_rejected(&[0xE0, 0x01, 0x84], V5, ReasonCode::MalformedPacket);
        assert_rejected(
            &[0xE0, 0x05, 0x00, 0x03, 0x23, 0x00, 0x01],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0xE0, 0x08, 0x00, 0x06, 0x1F, 0x00, 0x00, 0x1F, 0x00, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0xE0, 0x03, 0x00, 0x00, 0x00],
            V5,
            ReasonCode::MalformedPacket,
        );
    }
}
