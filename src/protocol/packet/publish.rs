//! PUBLISH (§3.3): flags in the fixed header, Topic Name, Packet Identifier (QoS > 0),
//! properties, payload. Decoding allocates nothing beyond what `Bytes` shares: the topic
//! and payload are slices of the read buffer. Pure, no I/O.

use bytes::{BufMut, Bytes, BytesMut};

use super::read_packet_id;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::PublishProperties;
use crate::protocol::reader::Reader;
use crate::protocol::topic::TopicName;
use crate::protocol::types::{PacketId, ProtocolVersion, QoS};
use crate::protocol::writer::string_len;

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

/// A PUBLISH packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// DUP: a re-delivery; never with QoS 0 ([MQTT-3.3.1-2]).
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic Name; empty only in 5.0 with a Topic Alias (§3.3.2.3.4).
    pub topic: TopicName,
    /// Packet Identifier: present exactly when QoS > 0 ([MQTT-2.2.1-2]).
    pub packet_id: Option<PacketId>,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: PublishProperties,
    /// Application Message, a slice of the read buffer when decoded.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0, non-retained PUBLISH without properties.
    pub fn new(topic: TopicName, payload: Bytes) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            packet_id: None,
            properties: PublishProperties::default(),
            payload,
        }
    }

    pub(crate) fn decode(
        flags: u8,
        r: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        // `FrameHeader::parse` already refused QoS 3 and DUP with QoS 0.
        let qos =
            QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::Malformed("PUBLISH QoS 3"))?;
        let topic = r.string()?;
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => Some(read_packet_id(r)?),
        };
        let properties = if version.is_v5() {
            PublishProperties::decode(r)?
        } else {
            PublishProperties::default()
        };
        let topic = if topic.is_empty() {
            // §3.3.2.3.4: a zero-length Topic Name needs a Topic Alias.
            if properties.topic_alias.is_none() {
                return Err(DecodeError::ProtocolError(
                    "empty Topic Name without Topic Alias",
                ));
            }
            TopicName::empty()
        } else {
            TopicName::from_string(topic)?
        };
        Ok(Self {
            dup: flags & DUP != 0,
            qos,
            retain: flags & RETAIN != 0,
            topic,
            packet_id,
            properties,
            payload: r.rest(),
        })
    }

    pub(crate) fn flags(&self) -> u8 {
        let mut flags = (self.qos as u8) << 1;
        if self.dup {
            flags |= DUP;
        }
        if self.retain {
            flags |= RETAIN;
        }
        flags
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if (self.qos == QoS::AtMostOnce) != self.packet_id.is_none() {
            return Err(EncodeError::Invalid(
                "packet id must be present exactly when QoS > 0",
            ));
        }
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(EncodeError::Invalid("DUP with QoS 0"));
        }
        if self.topic.is_empty() && (!version.is_v5() || self.properties.topic_alias.is_none()) {
            return Err(EncodeError::Invalid("empty Topic Name without Topic Alias"));
        }
        let mut len = string_len(self.topic.as_mqtt_string()) + self.payload.len();
        if self.packet_id.is_some() {
            len += 2;
        }
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
        crate::protocol::writer::put_string(out, self.topic.as_mqtt_string());
        if let Some(packet_id) = self.packet_id {
            out.put_u16(packet_id.get());
        }
        if version.is_v5() {
            self.properties.encode(out)?;
        }
        out.put_slice(&self.payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector, decode_one};
    use super::*;
    use crate::protocol::properties::SubscriptionId;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{Packet, ReasonCode};
    use std::num::NonZeroU16;

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).unwrap()
    }

    // MQTT 3.1.1 §3.3 PUBLISH QoS 0 and QoS 1 with DUP and RETAIN.
    #[test]
    fn v3_publish() {
        for version in [V3_1, V3_1_1] {
            let qos0 = Publish::new(topic("a/b"), Bytes::from_static(b"hi"));
            assert_vector(
                &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i'],
                version,
                &Packet::Publish(qos0),
            );
            let qos1 = Publish {
                dup: true,
                qos: QoS::AtLeastOnce,
                retain: true,
                packet_id: PacketId::new(10),
                ..Publish::new(topic("t"), Bytes::new())
            };
            assert_vector(
                &[0x3B, 0x05, 0x00, 0x01, b't', 0x00, 0x0A],
                version,
                &Packet::Publish(qos1),
            );
        }
    }

    // The payload is a slice of the read buffer, not a copy.
    #[test]
    fn payload_is_zero_copy() {
        let mut buf = BytesMut::from(&[0x30, 0x05, 0x00, 0x01, b't', b'x', b'y'][..]);
        let base = buf.as_ptr() as usize;
        let Some(Packet::Publish(publish)) =
            crate::protocol::decode(&mut buf, Some(V3_1_1), 100).unwrap()
        else {
            panic!("not a PUBLISH");
        };
        assert_eq!(publish.payload.as_ptr() as usize, base + 5);
        assert_eq!(
            publish.topic.as_mqtt_string().as_bytes().as_ptr() as usize,
            base + 4
        );
    }

    // MQTT 5.0 §3.3.2.3 PUBLISH properties, QoS 2.
    #[test]
    fn v5_properties() {
        let publish = Publish {
            qos: QoS::ExactlyOnce,
            packet_id: PacketId::new(0x0102),
            properties: PublishProperties {
                message_expiry_interval_secs: Some(60),
                subscription_identifiers: vec![SubscriptionId::new(200).unwrap()],
                ..Default::default()
            },
            ..Publish::new(topic("t"), Bytes::from_static(b"p"))
        };
        let bytes = [
            0x34, 0x0F, 0x00, 0x01, b't', 0x01, 0x02, // topic, packet id
            0x08, 0x02, 0x00, 0x00, 0x00, 0x3C, 0x0B, 0xC8, 0x01, // expiry 60, sub id 200
            b'p',
        ];
        assert_vector(&bytes, V5, &Packet::Publish(publish));
    }

    // MQTT 5.0 §3.3.2.3.4 Topic Alias: an empty Topic Name with an alias.
    #[test]
    fn v5_topic_alias() {
        let publish = Publish {
            properties: PublishProperties {
                topic_alias: NonZeroU16::new(1),
                ..Default::default()
            },
            ..Publish::new(TopicName::empty(), Bytes::new())
        };
        assert_vector(
            &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01],
            V5,
            &Packet::Publish(publish),
        );
        // Without an alias it is a Protocol Error; in 3.x too.
        assert_rejected(
            &[0x30, 0x03, 0x00, 0x00, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(&[0x30, 0x02, 0x00, 0x00], V3_1_1, ReasonCode::ProtocolError);
        // Topic Alias 0 is a Protocol Error.
        assert_rejected(
            &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
    }

    // Rejections: §3.3.2.1 wildcard in Topic Name, §2.2.1 zero packet id, §2.2.2
    // a CONNACK-only property, a duplicate property, a property length overrun, no
    // properties at all in 5.0, a 5-byte remaining length, QoS 3 in the flags.
    #[test]
    fn rejections() {
        assert_rejected(
            &[0x30, 0x03, 0x00, 0x01, b'+'],
            V3_1_1,
            ReasonCode::TopicNameInvalid,
        );
        assert_rejected(
            &[0x30, 0x04, 0x00, 0x01, b'#', 0x00],
            V5,
            ReasonCode::TopicNameInvalid,
        );
        assert_rejected(
            &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00],
            V3_1_1,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x24, 0x01],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x30, 0x08, 0x00, 0x01, b't', 0x04, 0x01, 0x00, 0x01, 0x01],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x30, 0x06, 0x00, 0x01, b't', 0x05, 0x01, 0x00],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x30, 0x03, 0x00, 0x01, b't'],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x36, 0x03, 0x00, 0x01, b't'],
            V5,
            ReasonCode::MalformedPacket,
        );
        // §3.3.2.3.2 Payload Format Indicator 2.
        assert_rejected(
            &[0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x01, 0x02],
            V5,
            ReasonCode::ProtocolError,
        );
        // Non-UTF-8 topic.
        assert_rejected(
            &[0x30, 0x03, 0x00, 0x01, 0xFF],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
    }

    // §3.3: a PUBLISH over the maximum packet size is refused from its header.
    #[test]
    fn oversize() {
        let mut buf = BytesMut::from(&[0x30, 0x80, 0x08][..]);
        let err = crate::protocol::decode(&mut buf, Some(V5), 1024).unwrap_err();
        assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
        assert!(decode_one(&[0x30, 0x03, 0x00, 0x01, b't'], Some(V3_1_1)).is_ok());
    }

    // Encoding refuses a packet id with QoS 0 and an empty topic in 3.x.
    #[test]
    fn encode_rejections() {
        let mut publish = Publish::new(topic("t"), Bytes::new());
        publish.packet_id = PacketId::new(1);
        assert!(Packet::Publish(publish).encoded_len(V5).is_err());
        let empty = Publish::new(TopicName::empty(), Bytes::new());
        assert!(Packet::Publish(empty).encoded_len(V3_1_1).is_err());
    }
}
