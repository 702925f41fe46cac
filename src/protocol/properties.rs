//! MQTT 5.0 properties (§2.2.2). Each packet has its own property set type listing
//! exactly the properties table 2-4 allows in it, so an unexpected identifier is a
//! Malformed Packet ([MQTT-2.2.2-2]) and a repeated one a Protocol Error. Encoding writes
//! fields in a fixed order, which makes it canonical. Pure, no I/O.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::reader::Reader;
use super::string::MqttString;
use super::topic::TopicName;
use super::types::QoS;
use super::writer::{
    binary_len, check_varint, put_binary, put_string, put_varint, string_len, varint_len,
    VARINT_MAX,
};

/// Property identifiers (§2.2.2.2, table 2-4).
pub(crate) mod id {
    pub(crate) const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub(crate) const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub(crate) const CONTENT_TYPE: u8 = 0x03;
    pub(crate) const RESPONSE_TOPIC: u8 = 0x08;
    pub(crate) const CORRELATION_DATA: u8 = 0x09;
    pub(crate) const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub(crate) const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub(crate) const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub(crate) const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub(crate) const AUTHENTICATION_METHOD: u8 = 0x15;
    pub(crate) const AUTHENTICATION_DATA: u8 = 0x16;
    pub(crate) const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub(crate) const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub(crate) const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub(crate) const RESPONSE_INFORMATION: u8 = 0x1A;
    pub(crate) const SERVER_REFERENCE: u8 = 0x1C;
    pub(crate) const REASON_STRING: u8 = 0x1F;
    pub(crate) const RECEIVE_MAXIMUM: u8 = 0x21;
    pub(crate) const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub(crate) const TOPIC_ALIAS: u8 = 0x23;
    pub(crate) const MAXIMUM_QOS: u8 = 0x24;
    pub(crate) const RETAIN_AVAILABLE: u8 = 0x25;
    pub(crate) const USER_PROPERTY: u8 = 0x26;
    pub(crate) const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub(crate) const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub(crate) const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub(crate) const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// Payload Format Indicator (§3.3.2.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PayloadFormatIndicator {
    /// 0: unspecified bytes.
    Unspecified = 0,
    /// 1: UTF-8 Encoded Character Data.
    Utf8 = 1,
}

/// A Subscription Identifier: 1 to 268,435,455 (§3.8.2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The identifier, or `None` for 0 or a value over 268,435,455.
    pub fn new(value: u32) -> Option<Self> {
        if value as usize > VARINT_MAX {
            return None;
        }
        NonZeroU32::new(value).map(Self)
    }

    /// The identifier's value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// A User Property name/value pair (§3.1.2.11.8); order is significant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserProperty {
    /// The name.
    pub name: MqttString,
    /// The value.
    pub value: MqttString,
}

impl UserProperty {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Self {
            name: r.string()?,
            value: r.string()?,
        })
    }

    fn encoded_len(&self) -> usize {
        string_len(&self.name) + string_len(&self.value)
    }
}

/// How one property value is read and written.
trait PropertyValue: Sized {
    fn read(r: &mut Reader) -> Result<Self, DecodeError>;
    fn encoded_len(&self) -> Result<usize, EncodeError>;
    fn write(&self, out: &mut BytesMut);
}

impl PropertyValue for bool {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::ProtocolError("boolean property not 0 or 1")),
        }
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
}

impl PropertyValue for u16 {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.u16()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(2)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u16(*self);
    }
}

impl PropertyValue for u32 {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.u32()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(4)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u32(*self);
    }
}

impl PropertyValue for NonZeroU16 {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        NonZeroU16::new(r.u16()?).ok_or(DecodeError::ProtocolError("property must not be 0"))
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(2)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u16(self.get());
    }
}

impl PropertyValue for NonZeroU32 {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        NonZeroU32::new(r.u32()?).ok_or(DecodeError::ProtocolError("property must not be 0"))
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(4)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u32(self.get());
    }
}

/// Maximum QoS (§3.2.2.3.4): only 0 or 1 may be sent.
impl PropertyValue for QoS {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            _ => Err(DecodeError::ProtocolError("Maximum QoS not 0 or 1")),
        }
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        match self {
            QoS::ExactlyOnce => Err(EncodeError::Invalid("Maximum QoS 2 must be omitted")),
            _ => Ok(1),
        }
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u8(*self as u8);
    }
}

impl PropertyValue for PayloadFormatIndicator {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Self::Unspecified),
            1 => Ok(Self::Utf8),
            _ => Err(DecodeError::ProtocolError(
                "Payload Format Indicator not 0 or 1",
            )),
        }
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u8(*self as u8);
    }
}

impl PropertyValue for SubscriptionId {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        SubscriptionId::new(r.varint()?)
            .ok_or(DecodeError::ProtocolError("Subscription Identifier 0"))
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(varint_len(self.get() as usize))
    }
    fn write(&self, out: &mut BytesMut) {
        put_varint(out, self.get() as usize);
    }
}

impl PropertyValue for MqttString {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.string()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(string_len(self))
    }
    fn write(&self, out: &mut BytesMut) {
        put_string(out, self);
    }
}

/// Response Topic (§3.3.2.3.5): a Topic Name, no wildcards.
impl PropertyValue for TopicName {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        TopicName::from_string(r.string()?)
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        if self.is_empty() {
            return Err(EncodeError::Invalid("empty Response Topic"));
        }
        Ok(string_len(self.as_mqtt_string()))
    }
    fn write(&self, out: &mut BytesMut) {
        put_string(out, self.as_mqtt_string());
    }
}

impl PropertyValue for Bytes {
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.binary()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        binary_len(self)
    }
    fn write(&self, out: &mut BytesMut) {
        put_binary(out, self);
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::ProtocolError(
            "property included more than once",
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// Declares a property set: the struct, its decoder (Property Length, then properties,
/// consumed exactly), its length and its encoder.
macro_rules! property_set {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident: $ty:ty = $id:ident, )*
        }
        $( repeated { $( $(#[$rmeta:meta])* $rfield:ident: $rty:ty = $rid:ident, )* } )?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            $( $( $(#[$rmeta])* pub $rfield: Vec<$rty>, )* )?
            /// User Property (0x26): may repeat, order kept.
            pub user_properties: Vec<UserProperty>,
        }

        impl $name {
            /// True when no property is present.
            pub fn is_empty(&self) -> bool {
                $( self.$field.is_none() && )*
                $( $( self.$rfield.is_empty() && )* )?
                self.user_properties.is_empty()
            }

            /// Reads the Property Length and exactly that many bytes of properties.
            pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
                let len = r.varint()?;
                let mut r = r.sub(len as usize)?;
                let mut props = Self::default();
                while !r.is_empty() {
                    match r.u8()? {
                        $( id::$id => set_once(&mut props.$field, PropertyValue::read(&mut r)?)?, )*
                        $( $( id::$rid => props.$rfield.push(PropertyValue::read(&mut r)?), )* )?
                        id::USER_PROPERTY => props.user_properties.push(UserProperty::read(&mut r)?),
                        _ => {
                            return Err(DecodeError::Malformed(concat!(
                                "property not allowed in ",
                                stringify!($name)
                            )))
                        }
                    }
                }
                Ok(props)
            }

            /// Length of the properties, without the Property Length prefix.
            fn properties_len(&self) -> Result<usize, EncodeError> {
                let mut len = 0;
                $( if let Some(value) = &self.$field {
                    len += 1 + value.encoded_len()?;
                } )*
                $( $( for value in &self.$rfield {
                    len += 1 + value.encoded_len()?;
                } )* )?
                for property in &self.user_properties {
                    len += 1 + property.encoded_len();
                }
                check_varint(len)
            }

            /// Encoded length, Property Length prefix included.
            pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
                let len = self.properties_len()?;
                Ok(varint_len(len) + len)
            }

            /// Writes the Property Length and the properties in declaration order.
            pub(crate) fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
                put_varint(out, self.properties_len()?);
                $( if let Some(value) = &self.$field {
                    out.put_u8(id::$id);
                    value.write(out);
                } )*
                $( $( for value in &self.$rfield {
                    out.put_u8(id::$rid);
                    value.write(out);
                } )* )?
                for property in &self.user_properties {
                    out.put_u8(id::USER_PROPERTY);
                    put_string(out, &property.name);
                    put_string(out, &property.value);
                }
                Ok(())
            }
        }
    };
}

property_set! {
    /// CONNECT properties (§3.1.2.11).
    pub struct ConnectProperties {
        /// Session Expiry Interval (0x11), seconds.
        session_expiry_interval_secs: u32 = SESSION_EXPIRY_INTERVAL,
        /// Receive Maximum (0x21).
        receive_maximum: NonZeroU16 = RECEIVE_MAXIMUM,
        /// Maximum Packet Size (0x27), bytes.
        maximum_packet_size: NonZeroU32 = MAXIMUM_PACKET_SIZE,
        /// Topic Alias Maximum (0x22).
        topic_alias_maximum: u16 = TOPIC_ALIAS_MAXIMUM,
        /// Request Response Information (0x19).
        request_response_information: bool = REQUEST_RESPONSE_INFORMATION,
        /// Request Problem Information (0x17).
        request_problem_information: bool = REQUEST_PROBLEM_INFORMATION,
        /// Authentication Method (0x15).
        authentication_method: MqttString = AUTHENTICATION_METHOD,
        /// Authentication Data (0x16); only with an Authentication Method.
        authentication_data: Bytes = AUTHENTICATION_DATA,
    }
}

property_set! {
    /// Will Properties in the CONNECT payload (§3.1.3.2).
    pub struct WillProperties {
        /// Will Delay Interval (0x18), seconds.
        will_delay_interval_secs: u32 = WILL_DELAY_INTERVAL,
        /// Payload Format Indicator (0x01).
        payload_format_indicator: PayloadFormatIndicator = PAYLOAD_FORMAT_INDICATOR,
        /// Message Expiry Interval (0x02), seconds.
        message_expiry_interval_secs: u32 = MESSAGE_EXPIRY_INTERVAL,
        /// Content Type (0x03).
        content_type: MqttString = CONTENT_TYPE,
        /// Response Topic (0x08).
        response_topic: TopicName = RESPONSE_TOPIC,
        /// Correlation Data (0x09).
        correlation_data: Bytes = CORRELATION_DATA,
    }
}

property_set! {
    /// CONNACK properties (§3.2.2.3).
    pub struct ConnAckProperties {
        /// Session Expiry Interval (0x11), seconds.
        session_expiry_interval_secs: u32 = SESSION_EXPIRY_INTERVAL,
        /// Receive Maximum (0x21).
        receive_maximum: NonZeroU16 = RECEIVE_MAXIMUM,
        /// Maximum QoS (0x24): 0 or 1; absent means 2.
        maximum_qos: QoS = MAXIMUM_QOS,
        /// Retain Available (0x25).
        retain_available: bool = RETAIN_AVAILABLE,
        /// Maximum Packet Size (0x27), bytes.
        maximum_packet_size: NonZeroU32 = MAXIMUM_PACKET_SIZE,
        /// Assigned Client Identifier (0x12).
        assigned_client_identifier: MqttString = ASSIGNED_CLIENT_IDENTIFIER,
        /// Topic Alias Maximum (0x22).
        topic_alias_maximum: u16 = TOPIC_ALIAS_MAXIMUM,
        /// Reason String (0x1F).
        reason_string: MqttString = REASON_STRING,
        /// Wildcard Subscription Available (0x28).
        wildcard_subscription_available: bool = WILDCARD_SUBSCRIPTION_AVAILABLE,
        /// Subscription Identifiers Available (0x29).
        subscription_identifiers_available: bool = SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        /// Shared Subscription Available (0x2A).
        shared_subscription_available: bool = SHARED_SUBSCRIPTION_AVAILABLE,
        /// Server Keep Alive (0x13), seconds.
        server_keep_alive_secs: u16 = SERVER_KEEP_ALIVE,
        /// Response Information (0x1A).
        response_information: MqttString = RESPONSE_INFORMATION,
        /// Server Reference (0x1C).
        server_reference: MqttString = SERVER_REFERENCE,
        /// Authentication Method (0x15).
        authentication_method: MqttString = AUTHENTICATION_METHOD,
        /// Authentication Data (0x16).
        authentication_data: Bytes = AUTHENTICATION_DATA,
    }
}

property_set! {
    /// PUBLISH properties (§3.3.2.3). Empty and unallocated in the common case.
    pub struct PublishProperties {
        /// Payload Format Indicator (0x01).
        payload_format_indicator: PayloadFormatIndicator = PAYLOAD_FORMAT_INDICATOR,
        /// Message Expiry Interval (0x02), seconds.
        message_expiry_interval_secs: u32 = MESSAGE_EXPIRY_INTERVAL,
        /// Topic Alias (0x23), never 0.
        topic_alias: NonZeroU16 = TOPIC_ALIAS,
        /// Response Topic (0x08).
        response_topic: TopicName = RESPONSE_TOPIC,
        /// Correlation Data (0x09).
        correlation_data: Bytes = CORRELATION_DATA,
        /// Content Type (0x03).
        content_type: MqttString = CONTENT_TYPE,
    }
    repeated {
        /// Subscription Identifier (0x0B), one per matching subscription; only from
        /// server to client ([MQTT-3.3.4-6] is the broker's to enforce).
        subscription_identifiers: SubscriptionId = SUBSCRIPTION_IDENTIFIER,
    }
}

property_set! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK
    /// (§3.4.2.2, §3.5.2.2, §3.6.2.2, §3.7.2.2, §3.9.2.1, §3.11.2.1).
    pub struct AckProperties {
        /// Reason String (0x1F).
        reason_string: MqttString = REASON_STRING,
    }
}

property_set! {
    /// SUBSCRIBE properties (§3.8.2.1).
    pub struct SubscribeProperties {
        /// Subscription Identifier (0x0B), at most one.
        subscription_identifier: SubscriptionId = SUBSCRIPTION_IDENTIFIER,
    }
}

property_set! {
    /// UNSUBSCRIBE properties (§3.10.2.1): User Properties only.
    pub struct UnsubscribeProperties {}
}

property_set! {
    /// DISCONNECT properties (§3.14.2.2).
    pub struct DisconnectProperties {
        /// Session Expiry Interval (0x11), seconds.
        session_expiry_interval_secs: u32 = SESSION_EXPIRY_INTERVAL,
        /// Reason String (0x1F).
        reason_string: MqttString = REASON_STRING,
        /// Server Reference (0x1C).
        server_reference: MqttString = SERVER_REFERENCE,
    }
}

property_set! {
    /// AUTH properties (§3.15.2.2).
    pub struct AuthProperties {
        /// Authentication Method (0x15).
        authentication_method: MqttString = AUTHENTICATION_METHOD,
        /// Authentication Data (0x16).
        authentication_data: Bytes = AUTHENTICATION_DATA,
        /// Reason String (0x1F).
        reason_string: MqttString = REASON_STRING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode<T>(
        bytes: &'static [u8],
        f: fn(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut r = Reader::new(Bytes::from_static(bytes));
        let value = f(&mut r)?;
        r.finish()?;
        Ok(value)
    }

    // MQTT 5.0 §2.2.2.2: identifiers not in a packet's list are Malformed.
    #[test]
    fn rejects_property_not_allowed() {
        // Topic Alias (0x23) in DISCONNECT.
        let err = decode(&[0x03, 0x23, 0x00, 0x01], DisconnectProperties::decode).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(_)));
    }

    // MQTT 5.0 §3.3.2.3.2: a property other than User Property twice is a Protocol Error.
    #[test]
    fn rejects_duplicate() {
        let err = decode(&[0x04, 0x01, 0x00, 0x01, 0x01], PublishProperties::decode).unwrap_err();
        assert!(matches!(err, DecodeError::ProtocolError(_)));
    }

    // MQTT 5.0 §3.3.2.3.8: Subscription Identifier may repeat in PUBLISH, never be 0.
    #[test]
    fn subscription_identifiers() {
        let props = decode(&[0x04, 0x0B, 0x01, 0x0B, 0x7F], PublishProperties::decode).unwrap();
        assert_eq!(
            props.subscription_identifiers,
            vec![
                SubscriptionId::new(1).unwrap(),
                SubscriptionId::new(127).unwrap()
            ]
        );
        assert!(decode(&[0x02, 0x0B, 0x00], PublishProperties::decode).is_err());
        // §3.8.2.1.2: at most one in SUBSCRIBE.
        assert!(decode(&[0x04, 0x0B, 0x01, 0x0B, 0x02], SubscribeProperties::decode).is_err());
    }

    // MQTT 5.0 §3.2.2.3.5: booleans other than 0/1 and Maximum QoS 2 are Protocol Errors.
    #[test]
    fn value_ranges() {
        assert!(matches!(
            decode(&[0x02, 0x25, 0x02], ConnAckProperties::decode),
            Err(DecodeError::ProtocolError(_))
        ));
        assert!(matches!(
            decode(&[0x02, 0x24, 0x02], ConnAckProperties::decode),
            Err(DecodeError::ProtocolError(_))
        ));
        // §3.1.2.11.3 Receive Maximum 0.
        assert!(matches!(
            decode(&[0x03, 0x21, 0x00, 0x00], ConnectProperties::decode),
            Err(DecodeError::ProtocolError(_))
        ));
    }

    // MQTT 5.0 §2.2.2.1: Property Length must match the properties exactly.
    #[test]
    fn property_length_mismatch() {
        // Length 2 but the Reason String inside claims 3 bytes.
        assert!(decode(&[0x02, 0x1F, 0x00, 0x03, b'a'], AckProperties::decode).is_err());
        // Length 5 covers only the first User Property string.
        assert!(decode(
            &[0x05, 0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b'],
            AckProperties::decode
        )
        .is_err());
    }

    // MQTT 5.0 §3.1.2.11.8: User Properties keep their order; encoding is canonical.
    #[test]
    fn user_properties_round_trip() {
        const BYTES: &[u8] = &[
            0x0D, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'2', 0x26, 0x00, 0x01, b'k', 0x00, 0x00,
        ];
        assert!(
            decode(&BYTES[..13], AckProperties::decode).is_err(),
            "one byte short"
        );
        let props = decode(BYTES, AckProperties::decode).unwrap();
        assert_eq!(props.user_properties.len(), 2);
        assert_eq!(props.user_properties[0].value, "2");
        assert_eq!(props.user_properties[1].value, "");
        let mut out = BytesMut::new();
        props.encode(&mut out).unwrap();
        assert_eq!(&out[..], BYTES);
        assert_eq!(props.encoded_len().unwrap(), BYTES.len());
    }
}
