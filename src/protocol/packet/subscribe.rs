//! SUBSCRIBE (§3.8): Packet Identifier, properties, then Topic Filter and
//! Subscription Options pairs, at least one. Pure, no I/O.

use bytes::{BufMut, BytesMut};

use super::read_packet_id;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::properties::SubscribeProperties;
use crate::protocol::reader::Reader;
use crate::protocol::topic::TopicFilter;
use crate::protocol::types::{PacketId, ProtocolVersion, QoS};
use crate::protocol::writer::{put_string, string_len};

const NO_LOCAL: u8 = 0b0000_0100;
const RETAIN_AS_PUBLISHED: u8 = 0b0000_1000;
const RETAIN_HANDLING_SHIFT: u8 = 4;
const RESERVED_V5: u8 = 0b1100_0000;
const RESERVED_V3: u8 = 0b1111_1100;

/// Retain Handling subscription option (§3.8.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription does not already exist.
    SendAtSubscribeIfNew = 1,
    /// 2: do not send retained messages.
    DoNotSend = 2,
}

/// Subscription Options (§3.8.3.1). Only `qos` exists in 3.x; the rest are not
/// written there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local; never on a Shared Subscription ([MQTT-3.8.3-4]).
    pub no_local: bool,
    /// Retain As Published.
    pub retain_as_published: bool,
    /// Retain Handling.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    fn decode(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let qos = QoS::from_u8(byte & 0b11).ok_or(DecodeError::Malformed("subscription QoS 3"))?;
        if !version.is_v5() {
            // MQTT 3.1.1 [MQTT-3.8.3-4]: the upper six bits are reserved.
            if byte & RESERVED_V3 != 0 {
                return Err(DecodeError::Malformed(
                    "reserved subscription option bits set",
                ));
            }
            return Ok(Self {
                qos,
                ..Self::default()
            });
        }
        // [MQTT-3.8.3-5].
        if byte & RESERVED_V5 != 0 {
            return Err(DecodeError::Malformed(
                "reserved subscription option bits set",
            ));
        }
        let retain_handling = match (byte >> RETAIN_HANDLING_SHIFT) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::ProtocolError("Retain Handling 3")),
        };
        Ok(Self {
            qos,
            no_local: byte & NO_LOCAL != 0,
            retain_as_published: byte & RETAIN_AS_PUBLISHED != 0,
            retain_handling,
        })
    }

    fn encode(&self, version: ProtocolVersion) -> u8 {
        let mut byte = self.qos as u8;
        if version.is_v5() {
            if self.no_local {
                byte |= NO_LOCAL;
            }
            if self.retain_as_published {
                byte |= RETAIN_AS_PUBLISHED;
            }
            byte |= (self.retain_handling as u8) << RETAIN_HANDLING_SHIFT;
        }
        byte
    }
}

/// A SUBSCRIBE packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// MQTT 5.0 properties; not written in 3.x.
    pub properties: SubscribeProperties,
    /// Topic Filters with their options, in order; never empty.
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
}

impl Subscribe {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() {
            SubscribeProperties::decode(r)?
        } else {
            SubscribeProperties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = TopicFilter::from_string(r.string()?)?;
            let options = SubscriptionOptions::decode(r.u8()?, version)?;
            if version.is_v5() && options.no_local && filter.is_shared() {
                return Err(DecodeError::ProtocolError(
                    "No Local on a Shared Subscription",
                ));
            }
            filters.push((filter, options));
        }
        // MQTT 5.0 [MQTT-3.8.3-2], MQTT 3.1.1 [MQTT-3.8.3-3].
        if filters.is_empty() {
            return Err(DecodeError::ProtocolError(
                "SUBSCRIBE without a Topic Filter",
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
            return Err(EncodeError::Invalid("SUBSCRIBE without a Topic Filter"));
        }
        let mut len = 2;
        if version.is_v5() {
            len += self.properties.encoded_len()?;
        }
        for (filter, options) in &self.filters {
            if version.is_v5() && options.no_local && filter.is_shared() {
                return Err(EncodeError::Invalid("No Local on a Shared Subscription"));
            }
            len += string_len(filter.as_mqtt_string()) + 1;
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
        for (filter, options) in &self.filters {
            put_string(out, filter.as_mqtt_string());
            out.put_u8(options.encode(version));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector};
    use super::*;
    use crate::protocol::properties::SubscriptionId;
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{Packet, ReasonCode};

    fn filter(value: &str) -> TopicFilter {
        TopicFilter::new(value).unwrap()
    }

    fn qos(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions {
            qos,
            ..Default::default()
        }
    }

    // MQTT 3.1.1 §3.8 SUBSCRIBE with two filters.
    #[test]
    fn v3_subscribe() {
        let subscribe = Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            properties: SubscribeProperties::default(),
            filters: vec![
                (filter("a/+"), qos(QoS::AtLeastOnce)),
                (filter("#"), qos(QoS::ExactlyOnce)),
            ],
        };
        let bytes = [
            0x82, 0x0C, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'+', 0x01, 0x00, 0x01, b'#', 0x02,
        ];
        for version in [V3_1, V3_1_1] {
            assert_vector(&bytes, version, &Packet::Subscribe(subscribe.clone()));
        }
    }

    // MQTT 5.0 §3.8.3.1 Subscription Options and §3.8.2.1.2 Subscription Identifier.
    #[test]
    fn v5_subscribe() {
        let subscribe = Subscribe {
            packet_id: PacketId::new(0x0A0B).unwrap(),
            properties: SubscribeProperties {
                subscription_identifier: SubscriptionId::new(1),
                user_properties: vec![],
            },
            filters: vec![
                (
                    filter("$share/g/t"),
                    SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        no_local: false,
                        retain_as_published: true,
                        retain_handling: RetainHandling::DoNotSend,
                    },
                ),
                (
                    filter("x"),
                    SubscriptionOptions {
                        no_local: true,
                        retain_handling: RetainHandling::SendAtSubscribeIfNew,
                        ..Default::default()
                    },
                ),
            ],
        };
        let bytes = [
            0x82, 0x16, 0x0A, 0x0B, 0x02, 0x0B, 0x01, // packet id, sub id 1
            0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b't',
            0x29, // QoS 1, RAP, RH 2
            0x00, 0x01, b'x', 0x14, // No Local, RH 1
        ];
        assert_vector(&bytes, V5, &Packet::Subscribe(subscribe));
    }

    // Rejections: §3.8.3 no filter, §3.8.3.1 reserved option bits, Retain Handling 3,
    // QoS 3, 3.x options above bit 1, §4.7.1 bad wildcard, §4.8.2 No Local on a shared
    // subscription, §2.2.1 zero packet id, wrong fixed header flags.
    #[test]
    fn rejections() {
        assert_rejected(&[0x82, 0x02, 0x00, 0x01], V3_1_1, ReasonCode::ProtocolError);
        assert_rejected(
            &[0x82, 0x03, 0x00, 0x01, 0x00],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x40],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x03],
            V5,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        assert_rejected(
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'a', b'#', 0x00],
            V3_1_1,
            ReasonCode::TopicFilterInvalid,
        );
        assert_rejected(
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'#', b'/', 0x00],
            V3_1_1,
            ReasonCode::TopicFilterInvalid,
        );
        assert_rejected(
            &[
                0x82, 0x0E, 0x00, 0x01, 0x00, 0x00, 0x08, b'$', b's', b'h', b'a', b'r', b'e', b'/',
                b'g', 0x00,
            ],
            V5,
            ReasonCode::TopicFilterInvalid,
        );
        assert_rejected(
            &[
                0x82, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/',
                b'g', b'/', b't', 0x04,
            ],
            V5,
            ReasonCode::ProtocolError,
        );
        // The same two for EMQX's `$queue/{filter}`, a Shared Subscription too.
        assert_rejected(
            &[
                0x82, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x07, b'$', b'q', b'u', b'e', b'u', b'e', b'/',
                0x00,
            ],
            V5,
            ReasonCode::TopicFilterInvalid,
        );
        assert_rejected(
            &[
                0x82, 0x0E, 0x00, 0x01, 0x00, 0x00, 0x08, b'$', b'q', b'u', b'e', b'u', b'e', b'/',
                b't', 0x04,
            ],
            V5,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00],
            V3_1_1,
            ReasonCode::ProtocolError,
        );
        assert_rejected(
            &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        // Truncated: option byte missing.
        assert_rejected(
            &[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
            V3_1_1,
            ReasonCode::MalformedPacket,
        );
        // Subscription Identifier 0 (§3.8.2.1.2).
        assert_rejected(
            &[
                0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, b'a', 0x00,
            ],
            V5,
            ReasonCode::ProtocolError,
        );
    }
}
