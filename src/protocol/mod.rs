//! The MQTT codec: a pure, strict, incremental, sans-IO encoder and decoder for every
//! control packet of MQTT 3.1, 3.1.1 and 5.0. Bytes in, packets out, and back: no
//! sockets, clocks, executors or logging here, only `bytes` and std.
//!
//! Decoding is two steps: [`check`] reads the fixed header and says whether a whole
//! frame is buffered (refusing an oversize one before its body arrives), then
//! [`Packet::decode`] parses the frame; [`decode`] does both on a `BytesMut` read
//! buffer, splitting the frame off so that topics and payloads share it (zero copy).
//! Every value type is only constructible valid ([`TopicName`], [`TopicFilter`],
//! [`PacketId`], [`MqttString`]), and encoding is canonical, so
//! `decode(encode(p)) == p` for every decoded `p`.

mod error;
mod fixed_header;
#[doc(hidden)]
pub mod fuzzing;
mod packet;
mod properties;
mod reader;
mod reason_code;
mod string;
mod topic;
mod types;
mod writer;

use bytes::BytesMut;

pub use error::{DecodeError, EncodeError};
pub use fixed_header::{check, FrameHeader, PacketType, Status};
pub use packet::{
    peek_connect_version, Auth, ConnAck, Connect, Disconnect, Packet, PubAck, PubComp, PubRec,
    PubRel, Publish, PublishAck, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will,
};
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PayloadFormatIndicator, PublishProperties, SubscribeProperties, SubscriptionId,
    UnsubscribeProperties, UserProperty, WillProperties,
};
pub use reason_code::{ConnectReturnCode, ReasonCode};
pub use string::MqttString;
pub use topic::{TopicFilter, TopicName, QUEUE_SHARE_NAME};
pub use types::{PacketId, ProtocolVersion, QoS};

/// Decodes the packet at the front of `buf`, if it is all there: `Ok(None)` means more
/// bytes are needed (nothing is consumed); `Ok(Some(_))` consumed exactly one frame.
/// `version` is the connection's protocol version, `None` before CONNECT (then only
/// CONNECT is accepted). `max_packet_size` bounds the whole packet, in bytes, and is
/// checked from the fixed header alone. An error ends the connection (the bad frame
/// may have been consumed). Pure, no I/O.
pub fn decode(
    buf: &mut BytesMut,
    version: Option<ProtocolVersion>,
    max_packet_size: u32,
) -> Result<Option<Packet>, DecodeError> {
    let header = match check(buf, max_packet_size)? {
        Status::Complete(header) => header,
        Status::Partial => return Ok(None),
    };
    let frame = buf.split_to(header.frame_len()).freeze();
    Packet::decode(frame, header, version).map(Some)
}

/// Appends `packet`, encoded for a connection speaking `version`, to `out`. MQTT 5.0
/// properties and options are not written for 3.x; a value 3.x cannot express (AUTH, a
/// failure reason code in PUBACK) is an error. Check [`Packet::encoded_len`] against the
/// peer's Maximum Packet Size first. Pure, no I/O.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    packet.encode(version, out)
}
