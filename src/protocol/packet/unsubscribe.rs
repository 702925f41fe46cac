//! UNSUBSCRIBE (§3.10): Packet Identifier, properties, at least one Topic Filter.
//! Pure, no I/O.

use bytes::{BufMut, BytesMut};

use super::read_packet_id;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::UnsubscribeProperties;
use crate::protocol::reader::Reader;
use crate::protocol::topic::TopicFilter;
use crate::protocol::types::{PacketId, ProtocolVersion};
use crate::protocol::writer::{put_string, string_len};

/// An UNSUBSCRIBE packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: UnsubscribeProperties,
    /// Topic Filters, in order; never empty.
    pub filters: Vec<TopicFilter>,
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() {
            UnsubscribeProperties::decode(r)?
        } else {
            UnsubscribeProperties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(TopicFilter::from_string(r.string()?)?);
        }
        // MQTT 5.0 [MQTT-3.10.3-2], MQTT 3.1.1 [MQTT-3.10.3-2].
        if filters.is_empty() {
            return Err(DecodeError::ProtocolError(
                "UNSUBSCRIBE without a Topic Filter",
            ));
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Invalid("UNSUBSCRIBE without a Topic Filter"));
        }
        let mut len = 2;
        if version.is_v5() {
            len += self.properties.encoded_len()?;
        }
        for filter in &self.filters {
            len += string_len(filter.as_mqtt_string());
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
        for filter in &self.filters {
            put_string(out, filter.as_mqtt_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector};
    use super::*;
    use crate::protocol::properties::UserProperty;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{MqttString, Packet, ReasonCode};

    // MQTT 3.1.1 §3.10 UNSUBSCRIBE with two filters.
    #[test]
    fn v3_unsubscribe() {
        let unsubscribe = Unsubscribe {
            packet_id: PacketId::new(3).unwrap(),
            properties: UnsubscribeProperties::default(),
            filters: vec![
                TopicFilter::new("a").unwrap(),
                TopicFilter::new("b/#").unwrap(),
            ],
        };
        for version in [V3_1, V3_1_1] {
            assert_vector(
                &[
                    0xA2, 0x0A, 0x00, 0x03, 0x00, 0x01, b'a', 0x00, 0x03, b'b', b'/', b'#',
                ],
                version,
                &Packet::Unsubscribe(unsubscribe.clone()),
            );
        }
    }

    // MQTT 5.0 §3.10.2.1 UNSUBSCRIBE properties: User Property only.
    #[test]
    fn v5_unsubscribe() {
        let unsubscribe = Unsubscribe {
            packet_id: PacketId::new(4).unwrap(),
            properties: UnsubscribeProperties {
                user_properties: vec![UserProperty {
                    name: MqttString::new("k").unwrap(),
                    value: MqttString::new("v").unwrap(),
                }],
            },
            filters: vec![TopicFilter::new("$share/g/x").unwrap()],
        };
        let bytes = [
            0xA2, 0x16, 0x00, 0x04, 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // props
            0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'x',
        ];
        assert_vector(&bytes, V5, &Packet::Unsubscribe(unsubscribe));
    }

    // Rejections: §3.10.3 no filter, §4.7.1 '+' inside a level, a Subscription
    // Identifier (SUBSCRIBE-only property), wrong flags, zero packet id.
    #[test]
    fn rejections() {
        assert_rejected(&[0xA2, 0x02, 0x00, 0x01], V3_1_1, ReasonCode::ProtocolError);
        assert_rejected(
            &[0xA2, 0x03, 0x00, 0x01, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0xA2, 0x06, 0x00, 0x01, 0x00, 0x02, b'a', b'+'],
            V3_1_1,
            ReasonCode::TopicFilterInvalid,
        );
        assert_rejected(
            &[0xA2, 0x08, 0x00, 0x01, 0x02, 0x0B, 0x01, 0x00, 0x01, b'a'],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, b'a'],
            V3_1_1,
            ReasonCode::ProtocolError,
        );
    }
}
