//! The first packet of a connection, decided purely: a CONNECT to accept, or the answer
//! (if the spec gives one) to send before closing. Bytes and errors in, a step out, so
//! every refusal is tested without a socket.

use crate::protocol::{ConnAck, Connect, DecodeError, Packet, ProtocolVersion, ReasonCode};

/// What to do with the first packet of a connection.
// Made once per connection and consumed at once; boxing the answer saves nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum FirstPacket {
    /// A well-formed CONNECT: go on with it.
    Connect(Box<Connect>),
    /// Refuse: send `answer` (in its protocol version) if there is one, then close.
    /// `why` goes to the log.
    Refuse {
        /// CONNACK to send before closing, in the version it must be encoded in.
        answer: Option<(Packet, ProtocolVersion)>,
        /// For the log.
        why: String,
    },
}

/// Decides on the first packet: `decoded` is the codec's answer for `frame` (the bytes
/// of the packet, used to read a failed CONNECT's version).
pub fn first_packet(decoded: Result<Packet, DecodeError>, frame: &[u8]) -> FirstPacket {
    let error = match decoded {
        Ok(Packet::Connect(connect)) => return FirstPacket::Connect(connect),
        // The codec refuses anything but CONNECT before CONNECT; this is a safety net.
        Ok(other) => {
            return FirstPacket::Refuse {
                answer: None,
                why: format!("{:?} before CONNECT", other.packet_type()),
            }
        }
        Err(error) => error,
    };
    let why = format!("{error} (reason code {:#04x})", error.reason_code().as_u8());
    // A CONNECT that fails to decode is answered in the client's own version where the
    // spec gives it a code (MQTT 3.1.1 §3.2.2.3, MQTT 5.0 §3.2.2.2). An unknown level
    // gets the 3.x answer (0x01) whatever its number: every client version can read
    // that CONNACK, as Mosquitto does.
    let answer = match (&error, crate::protocol::peek_connect_version(frame)) {
        (DecodeError::UnsupportedProtocolVersion { .. }, _) => Some((
            ReasonCode::UnsupportedProtocolVersion,
            ProtocolVersion::V3_1_1,
        )),
        (DecodeError::ClientIdentifierNotValid, Some(version)) => {
            Some((ReasonCode::ClientIdentifierNotValid, version))
        }
        (_, Some(ProtocolVersion::V5)) => Some((error.reason_code(), ProtocolVersion::V5)),
        _ => None,
    };
    FirstPacket::Refuse {
        answer: answer
            .map(|(code, version)| (Packet::ConnAck(Box::new(ConnAck::new(code))), version)),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    const MAX: u32 = 1 << 20;

    fn run(bytes: &[u8]) -> FirstPacket {
        let mut buf = BytesMut::from(bytes);
        let decoded =
            crate::protocol::decode(&mut buf, None, MAX).map(|p| p.expect("complete test vector"));
        first_packet(decoded, bytes)
    }

    fn answer(step: &FirstPacket) -> Option<(ReasonCode, ProtocolVersion)> {
        match step {
            FirstPacket::Refuse {
                answer: Some((Packet::ConnAck(c), v)),
                ..
            } => Some((c.reason_code, *v)),
            _ => None,
        }
    }

    // MQTT 3.1.1 §3.1: CONNECT, clean session, keep alive 60, client id "c".
    const CONNECT_311: &[u8] = &[
        0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c',
    ];

    #[test]
    fn connect_is_accepted() {
        assert!(matches!(run(CONNECT_311), FirstPacket::Connect(c) if c.client_id.as_str() == "c"));
    }

    #[test]
    fn unsupported_level_gets_return_code_1_in_3x_format() {
        // MQTT 3.1.1 §3.1.2.2: an unknown level -> CONNACK 0x01, close.
        for level in [2, 6] {
            let mut bytes = CONNECT_311.to_vec();
            bytes[8] = level;
            assert_eq!(
                answer(&run(&bytes)),
                Some((
                    ReasonCode::UnsupportedProtocolVersion,
                    ProtocolVersion::V3_1_1
                ))
            );
        }
    }

    #[test]
    fn publish_before_connect_closes_without_answer() {
        // MQTT 3.1.1 [MQTT-3.1.0-1]: the first packet must be CONNECT.
        let step = run(&[0x30, 0x05, 0x00, 0x01, b'a', b'h', b'i']);
        assert!(matches!(step, FirstPacket::Refuse { answer: None, .. }));
    }

    #[test]
    fn malformed_v5_connect_gets_its_reason_code() {
        // MQTT 5.0 §3.1.2.3: reserved flag bit set -> Malformed Packet (0x81).
        let bytes = [
            0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x03, 0x00, 0x3C, 0x00, 0x00,
            0x01, b'c',
        ];
        assert_eq!(
            answer(&run(&bytes)),
            Some((ReasonCode::MalformedPacket, ProtocolVersion::V5))
        );
    }
}
