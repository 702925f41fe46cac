//! Decode and encode errors. A decode error ends one connection; it carries the reason
//! code the MQTT 5.0 specification asks the receiver to report. Pure, no I/O.

use std::fmt;

use super::reason_code::ReasonCode;

/// Why bytes from the network are not a valid MQTT packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet cannot be parsed (§4.13: Malformed Packet, 0x81).
    Malformed(&'static str),
    /// The packet parses but breaks a protocol rule (§4.13: Protocol Error, 0x82).
    ProtocolError(&'static str),
    /// The whole packet would be larger than the maximum packet size (0x95); found
    /// from the fixed header, before the body is buffered.
    PacketTooLarge {
        /// Fixed header plus remaining length, in bytes.
        packet_size: u64,
        /// The limit it exceeds, in bytes.
        maximum_packet_size: u32,
    },
    /// A Topic Name is well formed UTF-8 but not a valid topic name (0x90).
    TopicNameInvalid(&'static str),
    /// A Topic Filter is well formed UTF-8 but not a valid topic filter (0x8F).
    TopicFilterInvalid(&'static str),
    /// CONNECT names MQTT or MQIsdp with a level this codec does not speak. The broker
    /// answers CONNACK 0x01 in the 3.x format for a level below 5 and 0x84 in the 5.0
    /// format otherwise, then closes (MQTT 3.1.1 §3.1.2.2, MQTT 5.0 §3.1.2.2).
    UnsupportedProtocolVersion {
        /// The Protocol Level byte received.
        level: u8,
    },
    /// An MQTT 3.x CONNECT with a zero-length client id and Clean Session 0; the broker
    /// answers CONNACK 0x02 (identifier rejected) and closes ([MQTT-3.1.3-8]).
    ClientIdentifierNotValid,
}

impl DecodeError {
    /// The reason code to send in CONNACK or DISCONNECT for this error (MQTT 5.0 §4.13).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Malformed(_) => ReasonCode::MalformedPacket,
            Self::ProtocolError(_) => ReasonCode::ProtocolError,
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::TopicNameInvalid(_) => ReasonCode::TopicNameInvalid,
            Self::TopicFilterInvalid(_) => ReasonCode::TopicFilterInvalid,
            Self::UnsupportedProtocolVersion { .. } => ReasonCode::UnsupportedProtocolVersion,
            Self::ClientIdentifierNotValid => ReasonCode::ClientIdentifierNotValid,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed packet: {why}"),
            Self::ProtocolError(why) => write!(f, "protocol error: {why}"),
            Self::PacketTooLarge {
                packet_size,
                maximum_packet_size,
            } => write!(
                f,
                "packet too large: {packet_size} bytes, maximum is {maximum_packet_size}"
            ),
            Self::TopicNameInvalid(why) => write!(f, "topic name invalid: {why}"),
            Self::TopicFilterInvalid(why) => write!(f, "topic filter invalid: {why}"),
            Self::UnsupportedProtocolVersion { level } => {
                write!(f, "unsupported protocol version: level {level}")
            }
            Self::ClientIdentifierNotValid => {
                write!(f, "client identifier not valid: empty with clean session 0")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a packet value cannot be written in the requested protocol version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The packet type or a field value does not exist in this protocol version
    /// (AUTH in 3.x, a failure reason code in a 3.x PUBACK, ...).
    Unsupported(&'static str),
    /// A field breaks a rule of the specification (QoS 0 with a packet id, an empty
    /// SUBSCRIBE, a binary field over 65,535 bytes, ...).
    Invalid(&'static str),
    /// The remaining length would exceed 268,435,455 bytes (§1.5.5).
    PacketTooLarge,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported(why) => write!(f, "not representable in this version: {why}"),
            Self::Invalid(why) => write!(f, "invalid packet: {why}"),
            Self::PacketTooLarge => write!(f, "remaining length over 268,435,455 bytes"),
        }
    }
}

impl std::error::Error for EncodeError {}
