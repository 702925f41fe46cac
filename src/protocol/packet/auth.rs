//! AUTH (§3.15), MQTT 5.0 only: an optional reason code and properties for extended
//! authentication. Pure, no I/O.

use bytes::{BufMut, BytesMut};

use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::AuthProperties;
use crate::protocol::reader::Reader;
use crate::protocol::reason_code::{allowed, ReasonCode};
use crate::protocol::types::ProtocolVersion;

/// An AUTH packet. The codec does not require an Authentication Method: which
/// exchange is under way is the session's to check (§4.12).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// Authenticate Reason Code.
    pub reason_code: ReasonCode,
    /// Properties.
    pub properties: AuthProperties,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        // MQTT 3.1.1 §2.2.1: packet type 15 is reserved.
        if !version.is_v5() {
            return Err(DecodeError::Malformed("AUTH before MQTT 5.0"));
        }
        let mut auth = Self::default();
        // §3.15.2.1: Remaining Length 0 means Success and no properties.
        if r.is_empty() {
            return Ok(auth);
        }
        auth.reason_code = ReasonCode::from_u8(r.u8()?)
            .filter(|code| allowed::AUTH.contains(code))
            .ok_or(DecodeError::Malformed("reason code not allowed in AUTH"))?;
        if !r.is_empty() {
            auth.properties = AuthProperties::decode(r)?;
        }
        Ok(auth)
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::Unsupported("AUTH before MQTT 5.0"));
        }
        if !allowed::AUTH.contains(&self.reason_code) {
            return Err(EncodeError::Invalid("reason code not allowed in AUTH"));
        }
        if self.reason_code == ReasonCode::Success && self.properties.is_empty() {
            return Ok(0);
        }
        Ok(1 + self.properties.encoded_len()?)
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::Unsupported("AUTH before MQTT 5.0"));
        }
        if self.reason_code == ReasonCode::Success && self.properties.is_empty() {
            return Ok(());
        }
        out.put_u8(self.reason_code.as_u8());
        self.properties.encode(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector, decode_one};
    use super::*;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{MqttString, Packet};
    use bytes::Bytes;

    // MQTT 5.0 §3.15.2.1: Remaining Length 0 is Success without properties.
    #[test]
    fn v5_empty() {
        assert_vector(&[0xF0, 0x00], V5, &Packet::Auth(Auth::default()));
    }

    // MQTT 5.0 §3.15.2.2 AUTH properties: method and data.
    #[test]
    fn v5_continue() {
        let auth = Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: AuthProperties {
                authentication_method: Some(MqttString::new("SCRAM").unwrap()),
                authentication_data: Some(Bytes::from_static(&[0x01, 0x02])),
                ..Default::default()
            },
        };
        let bytes = [
            0xF0, 0x0F, 0x18, 0x0D, // reason, property length
            0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', // method
            0x16, 0x00, 0x02, 0x01, 0x02, // data
        ];
        assert_vector(&bytes, V5, &Packet::Auth(auth));
        // Remaining Length 1: the reason code alone.
        let reauth = Auth {
            reason_code: ReasonCode::ReAuthenticate,
            ..Default::default()
        };
        assert_eq!(
            decode_one(&[0xF0, 0x01, 0x19], Some(V5)).unwrap(),
            Packet::Auth(reauth.clone())
        );
        assert_vector(&[0xF0, 0x02, 0x19, 0x00], V5, &Packet::Auth(reauth));
    }

    // Rejections: AUTH in 3.x (reserved type 15), a reason code outside the AUTH
    // table, a PUBLISH-only property, a duplicate method.
    #[test]
    fn rejections() {
        assert_rejected(&[0xF0, 0x00], V3_1_1, ReasonCode::MalformedPacket);
        assert_rejected(&[0xF0, 0x00], V3_1, ReasonCode::MalformedPacket);
        assert_rejected(&[0xF0, 0x02, 0x87, 0x00], V5, ReasonCode::MalformedPacket);
        assert_rejected(
            &[0xF0, 0x04, 0x18, 0x02, 0x01, 0x00],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0xF0, 0x08, 0x18, 0x06, 0x15, 0x00, 0x00, 0x15, 0x00, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
        assert!(Packet::Auth(Auth::default()).encoded_len(V3_1_1).is_err());
    }
}
