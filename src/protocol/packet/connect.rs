//! CONNECT (§3.1): protocol name and level, connect flags, keep alive, properties,
//! then client id, Will, user name and password. Pure, no I/O.

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::fixed_header::{FrameHeader, PacketType, Status};
use crate::protocol::properties::{ConnectProperties, WillProperties};
use crate::protocol::reader::Reader;
use crate::protocol::string::MqttString;
use crate::protocol::topic::TopicName;
use crate::protocol::types::{ProtocolVersion, QoS};
use crate::protocol::writer::{binary_len, put_binary, put_string, string_len};

const RESERVED: u8 = 0x01;
const CLEAN_START: u8 = 0x02;
const WILL_FLAG: u8 = 0x04;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD_FLAG: u8 = 0x40;
const USERNAME_FLAG: u8 = 0x80;

/// A CONNECT packet. The codec applies no client-id length policy: that is the
/// broker's (MQTT 3.1 allowed 23 characters, later versions leave it to the server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// Version named by the protocol name and level; encoding must use it.
    pub protocol_version: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.x).
    pub clean_start: bool,
    /// Keep Alive, seconds; 0 turns it off.
    pub keep_alive_secs: u16,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: ConnectProperties,
    /// Client Identifier; may be empty (3.x only with clean session).
    pub client_id: MqttString,
    /// The Will Message, if the Will Flag is set.
    pub will: Option<Will>,
    /// User Name.
    pub username: Option<MqttString>,
    /// Password; in 3.x only together with a user name.
    pub password: Option<Bytes>,
}

/// The Will Message of a CONNECT (§3.1.2.5, §3.1.3.2 to §3.1.3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// MQTT 5.0 Will Properties; not written in 3.x.
    pub properties: WillProperties,
    /// Will Topic; never empty.
    pub topic: TopicName,
    /// Will Payload.
    pub payload: Bytes,
}

impl Connect {
    /// A CONNECT with clean start, no Will, no credentials and no properties.
    pub fn new(
        protocol_version: ProtocolVersion,
        client_id: MqttString,
        keep_alive_secs: u16,
    ) -> Self {
        Self {
            protocol_version,
            clean_start: true,
            keep_alive_secs,
            properties: ConnectProperties::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let name = r.binary()?;
        let level = r.u8()?;
        let protocol_version = match ProtocolVersion::from_name_and_level(&name, level) {
            Some(version) => version,
            None if &name[..] == b"MQTT" || &name[..] == b"MQIsdp" => {
                return Err(DecodeError::UnsupportedProtocolVersion { level });
            }
            None => return Err(DecodeError::ProtocolError("unknown protocol name")),
        };
        let v5 = protocol_version.is_v5();
        let flags = r.u8()?;
        // [MQTT-3.1.2-3] the reserved flag is 0.
        if flags & RESERVED != 0 {
            return Err(DecodeError::Malformed("CONNECT reserved flag set"));
        }
        let will_flag = flags & WILL_FLAG != 0;
        let will_retain = flags & WILL_RETAIN != 0;
        let will_qos = QoS::from_u8((flags >> WILL_QOS_SHIFT) & 0b11)
            .ok_or(DecodeError::Malformed("Will QoS 3"))?;
        // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15].
        if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
            return Err(DecodeError::Malformed(
                "Will QoS or Will Retain without Will Flag",
            ));
        }
        let username_flag = flags & USERNAME_FLAG != 0;
        let password_flag = flags & PASSWORD_FLAG != 0;
        // MQTT 3.1.1 [MQTT-3.1.2-22]; MQTT 5.0 allows a password alone.
        if !v5 && password_flag && !username_flag {
            return Err(DecodeError::Malformed("password without user name"));
        }
        let clean_start = flags & CLEAN_START != 0;
        let keep_alive_secs = r.u16()?;
        let properties = if v5 {
            ConnectProperties::decode(r)?
        } else {
            ConnectProperties::default()
        };
        // §3.1.2.11.10: Authentication Data without Authentication Method.
        if properties.authentication_data.is_some() && properties.authentication_method.is_none() {
            return Err(DecodeError::ProtocolError(
                "Authentication Data without Authentication Method",
            ));
        }
        let client_id = r.string()?;
        // MQTT 3.1.1 [MQTT-3.1.3-7], [MQTT-3.1.3-8].
        if !v5 && client_id.is_empty() && !clean_start {
            return Err(DecodeError::ClientIdentifierNotValid);
        }
        let will = if will_flag {
            let properties = if v5 {
                WillProperties::decode(r)?
            } else {
                WillProperties::default()
            };
            Some(Will {
                qos: will_qos,
                retain: will_retain,
                properties,
                topic: TopicName::from_string(r.string()?)?,
                payload: r.binary()?,
            })
        } else {
            None
        };
        let username = if username_flag {
            Some(r.string()?)
        } else {
            None
        };
        let password = if password_flag {
            Some(r.binary()?)
        } else {
            None
        };
        Ok(Self {
            protocol_version,
            clean_start,
            keep_alive_secs,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if version != self.protocol_version {
            return Err(EncodeError::Invalid(
                "CONNECT protocol_version differs from the encoding version",
            ));
        }
        let v5 = version.is_v5();
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::Unsupported(
                "password without user name in MQTT 3.x",
            ));
        }
        if !v5 && self.client_id.is_empty() && !self.clean_start {
            return Err(EncodeError::Invalid(
                "empty client id without clean session in MQTT 3.x",
            ));
        }
        if self.properties.authentication_data.is_some()
            && self.properties.authentication_method.is_none()
        {
            return Err(EncodeError::Invalid(
                "Authentication Data without Authentication Method",
            ));
        }
        if self.will.as_ref().is_some_and(|will| will.topic.is_empty()) {
            return Err(EncodeError::Invalid("empty Will Topic"));
        }
        Ok(())
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        self.check(version)?;
        let v5 = version.is_v5();
        // Protocol Name, Level, Connect Flags, Keep Alive.
        let mut len = 2 + version.protocol_name().len() + 1 + 1 + 2;
        if v5 {
            len += self.properties.encoded_len()?;
        }
        len += string_len(&self.client_id);
        if let Some(will) = &self.will {
            if v5 {
                len += will.properties.encoded_len()?;
            }
            len += string_len(will.topic.as_mqtt_string()) + binary_len(&will.payload)?;
        }
        if let Some(username) = &self.username {
            len += string_len(username);
        }
        if let Some(password) = &self.password {
            len += binary_len(password)?;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        self.check(version)?;
        put_binary(out, version.protocol_name().as_bytes());
        out.put_u8(version.level());
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL_FLAG | ((will.qos as u8) << WILL_QOS_SHIFT);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME_FLAG;
        }
        if self.password.is_some() {
            flags |= PASSWORD_FLAG;
        }
        out.put_u8(flags);
        out.put_u16(self.keep_alive_secs);
        if version.is_v5() {
            self.properties.encode(out)?;
        }
        put_string(out, &self.client_id);
        if let Some(will) = &self.will {
            if version.is_v5() {
                will.properties.encode(out)?;
            }
            put_string(out, will.topic.as_mqtt_string());
            put_binary(out, &will.payload);
        }
        if let Some(username) = &self.username {
            put_string(out, username);
        }
        if let Some(password) = &self.password {
            put_binary(out, password);
        }
        Ok(())
    }
}

/// The protocol version a CONNECT at the start of `buf` names, read leniently (the
/// rest of the packet may be bad). Lets the broker answer a CONNECT that fails to
/// decode with a CONNACK in the client's own version (§3.2.2.2). Pure, no I/O.
pub fn peek_connect_version(buf: &[u8]) -> Option<ProtocolVersion> {
    let Ok(Status::Complete(header)) = FrameHeader::parse(buf, u32::MAX) else {
        return None;
    };
    if header.packet_type != PacketType::Connect {
        return None;
    }
    let body = buf.get(header.header_len..)?;
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let name = body.get(2..2 + name_len)?;
    let level = *body.get(2 + name_len)?;
    ProtocolVersion::from_name_and_level(name, level)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_vector, decode_one};
    use super::*;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{Packet, ReasonCode};

    fn s(value: &str) -> MqttString {
        MqttString::new(value).unwrap()
    }

    // MQTT 3.1.1 §3.1 CONNECT, minimal: "MQTT" level 4, clean session, keep alive 60, id "a".
    #[test]
    fn v311_minimal() {
        let bytes = [
            0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01,
            b'a',
        ];
        assert_vector(
            &bytes,
            V3_1_1,
            &Packet::Connect(Box::new(Connect::new(V3_1_1, s("a"), 60))),
        );
        // Version comes from the packet, whatever the caller believed.
        assert!(decode_one(&bytes, None).is_ok());
        assert!(decode_one(&bytes, Some(V5)).is_ok());
        assert_eq!(peek_connect_version(&bytes), Some(V3_1_1));
    }

    // MQTT 3.1 §3.1 CONNECT: "MQIsdp" level 3, with Will, user name and password.
    #[test]
    fn v31_full() {
        let bytes = [
            0x10, 0x1D, // fixed header
            0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, // name, level
            0xEE, // user, password, will retain, will QoS 1, will, clean
            0x00, 0x0A, // keep alive 10
            0x00, 0x01, b'c', // client id
            0x00, 0x01, b'w', // will topic
            0x00, 0x02, b'h', b'i', // will payload
            0x00, 0x01, b'u', // user name
            0x00, 0x02, 0x00, 0xFF, // password (binary)
        ];
        let connect = Connect {
            will: Some(Will {
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: WillProperties::default(),
                topic: TopicName::new("w").unwrap(),
                payload: Bytes::from_static(b"hi"),
            }),
            username: Some(s("u")),
            password: Some(Bytes::from_static(&[0x00, 0xFF])),
            ..Connect::new(V3_1, s("c"), 10)
        };
        assert_vector(&bytes, V3_1, &Packet::Connect(Box::new(connect)));
    }

    // MQTT 5.0 §3.1.2.11 CONNECT Properties and §3.1.3.2 Will Properties.
    #[test]
    fn v5_properties() {
        let bytes = [
            0x10, 0x25, // fixed header
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, // name, level 5
            0x04, // will flag, clean start 0
            0x00, 0x00, // keep alive 0
            0x08, 0x11, 0x00, 0x00, 0x00, 0x78, 0x21, 0x00,
            0x0A, // session expiry 120, receive max 10
            0x00, 0x00, // empty client id (allowed in 5.0 without clean start)
            0x0A, 0x18, 0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x03, 0x00,
            0x00, // will delay 5, utf8, content type ""
            0x00, 0x01, b't', // will topic
            0x00, 0x00, // will payload
        ];
        let connect = Connect {
            clean_start: false,
            properties: ConnectProperties {
                session_expiry_interval_secs: Some(120),
                receive_maximum: std::num::NonZeroU16::new(10),
                ..Default::default()
            },
            will: Some(Will {
                qos: QoS::AtMostOnce,
                retain: false,
                properties: WillProperties {
                    will_delay_interval_secs: Some(5),
                    payload_format_indicator: Some(crate::protocol::PayloadFormatIndicator::Utf8),
                    content_type: Some(s("")),
                    ..Default::default()
                },
                topic: TopicName::new("t").unwrap(),
                payload: Bytes::new(),
            }),
            ..Connect::new(V5, s(""), 0)
        };
        assert_vector(&bytes, V5, &Packet::Connect(Box::new(connect)));
    }

    // MQTT 5.0 §3.1.2.9: a password without a user name is allowed in 5.0 only.
    #[test]
    fn password_without_username() {
        let v5 = [
            0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x42, 0x00, 0x00, // header
            0x00, // no properties
            0x00, 0x00, // client id ""
            0x00, 0x00, // password ""
        ];
        let expected = Connect {
            password: Some(Bytes::new()),
            ..Connect::new(V5, s(""), 0)
        };
        assert_vector(&v5, V5, &Packet::Connect(Box::new(expected)));
        // MQTT 3.1.1 [MQTT-3.1.2-22].
        let v311 = [
            0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x42, 0x00, 0x00, 0x00, 0x01,
            b'a', 0x00, 0x00,
        ];
        assert_eq!(
            decode_one(&v311, None).unwrap_err().reason_code(),
            ReasonCode::MalformedPacket
        );
    }

    fn connect_311(flags: u8, tail: &[u8]) -> Vec<u8> {
        let mut bytes = vec![
            0x10, 0, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, flags, 0x00, 0x3C,
        ];
        bytes.extend_from_slice(tail);
        bytes[1] = (bytes.len() - 2) as u8;
        bytes
    }

    // MQTT 3.1.1 §3.1.2.3 Connect Flags rules.
    #[test]
    fn flag_rejections() {
        let id = [0x00, 0x01, b'a'];
        for (flags, why) in [
            (0x03, "reserved bit [MQTT-3.1.2-3]"),
            (0x0A, "Will QoS without Will Flag [MQTT-3.1.2-13]"),
            (0x22, "Will Retain without Will Flag [MQTT-3.1.2-15]"),
            (0x1E, "Will QoS 3 [MQTT-3.1.2-14]"),
        ] {
            let err = decode_one(&connect_311(flags, &id), None).unwrap_err();
            assert_eq!(err.reason_code(), ReasonCode::MalformedPacket, "{why}");
        }
        // [MQTT-3.1.3-8] empty client id with clean session 0.
        let err = decode_one(&connect_311(0x00, &[0x00, 0x00]), None).unwrap_err();
        assert_eq!(err, DecodeError::ClientIdentifierNotValid);
        // Will topic with a wildcard.
        let err = decode_one(
            &connect_311(0x06, &[0x00, 0x01, b'a', 0x00, 0x01, b'#', 0x00, 0x00]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.reason_code(), ReasonCode::TopicNameInvalid);
        // Trailing byte after the last field.
        let err = decode_one(&connect_311(0x02, &[0x00, 0x01, b'a', 0x00]), None).unwrap_err();
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
        // User name flag but no user name.
        let err = decode_one(&connect_311(0x82, &id), None).unwrap_err();
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }

    // MQTT 3.1.1 §3.1.2.2 / MQTT 5.0 §3.1.2.2: an unsupported level is answered, not dropped.
    #[test]
    fn unsupported_versions() {
        let mut bytes = connect_311(0x02, &[0x00, 0x01, b'a']);
        bytes[8] = 6;
        let err = decode_one(&bytes, None).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedProtocolVersion { level: 6 });
        assert_eq!(err.reason_code(), ReasonCode::UnsupportedProtocolVersion);
        bytes[8] = 3; // "MQTT" with 3.1's level
        assert_eq!(
            decode_one(&bytes, None).unwrap_err(),
            DecodeError::UnsupportedProtocolVersion { level: 3 }
        );
        bytes[4] = b'X'; // "XQTT"
        assert_eq!(
            decode_one(&bytes, None).unwrap_err().reason_code(),
            ReasonCode::ProtocolError
        );
    }

    // MQTT 5.0 §3.1.2.11: duplicate property, property not allowed, auth data alone.
    #[test]
    fn v5_property_rejections() {
        let with_props = |props: &[u8]| {
            let mut bytes = vec![
                0x10, 0, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x00,
            ];
            bytes.push(props.len() as u8);
            bytes.extend_from_slice(props);
            bytes.extend_from_slice(&[0x00, 0x01, b'a']);
            bytes[1] = (bytes.len() - 2) as u8;
            bytes
        };
        assert!(decode_one(&with_props(&[0x17, 0x01]), None).is_ok());
        let cases: [(&[u8], ReasonCode); 5] = [
            (&[0x17, 0x01, 0x17, 0x01], ReasonCode::ProtocolError), // duplicate
            (&[0x17, 0x02], ReasonCode::ProtocolError),             // boolean 2
            (&[0x23, 0x00, 0x01], ReasonCode::MalformedPacket),     // Topic Alias in CONNECT
            (&[0x16, 0x00, 0x00], ReasonCode::ProtocolError),       // auth data alone
            (&[0x27, 0x00, 0x00, 0x00, 0x00], ReasonCode::ProtocolError), // max packet size 0
        ];
        for (props, code) in cases {
            let err = decode_one(&with_props(props), None).unwrap_err();
            assert_eq!(err.reason_code(), code, "{props:02X?}");
        }
    }

    // Encoding refuses a version that differs from the CONNECT's own.
    #[test]
    fn encode_version_mismatch() {
        let connect = Packet::Connect(Box::new(Connect::new(V5, s("a"), 0)));
        assert!(connect.encoded_len(V3_1_1).is_err());
    }
}
