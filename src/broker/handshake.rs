//! What the broker says to a connection before sessions exist: the decision half of the
//! connection driver, pure (packets and errors in, actions out), so it is tested without
//! a socket. Today every CONNECT is refused with *Server unavailable* and a reason that
//! says publish/subscribe is not implemented yet; the session layer replaces that answer.

use crate::protocol::{
    ConnAck, DecodeError, Disconnect, MqttString, Packet, ProtocolVersion, ReasonCode,
};

/// Reason String sent with the refusal (MQTT 5.0 only).
const NOT_IMPLEMENTED_REASON: &str = "coremq: publish/subscribe is not implemented yet";

/// What the driver must do next, in order.
// Actions live briefly in one reused Vec per connection; boxing `Send` would cost an
// allocation per packet sent to save stack space nobody holds.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Encode and write this packet in the connection's protocol version.
    Send(Packet, ProtocolVersion),
    /// Flush what was sent, then close the connection. `why` goes to the log.
    Close { why: String },
}

/// The protocol state of one connection. One per connection, on the shard that serves it.
#[derive(Debug, Default)]
pub struct Handshake {
    version: Option<ProtocolVersion>,
}

impl Handshake {
    /// The protocol version CONNECT fixed; `None` before CONNECT.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// Decides what to do with a decoded packet.
    pub fn on_packet(&mut self, packet: Packet, actions: &mut Vec<Action>) {
        match (self.version, packet) {
            (None, Packet::Connect(connect)) => {
                let version = connect.protocol_version;
                self.version = Some(version);
                let mut connack = ConnAck::new(ReasonCode::ServerUnavailable);
                if version.is_v5() {
                    connack.properties.reason_string = MqttString::new(NOT_IMPLEMENTED_REASON).ok();
                }
                actions.push(Action::Send(Packet::ConnAck(Box::new(connack)), version));
                actions.push(Action::Close {
                    why: format!(
                        "refused CONNECT from client_id {:?}: not implemented yet",
                        connect.client_id.as_str()
                    ),
                });
            }
            // The decoder accepts only CONNECT before CONNECT, so this is a second one.
            (Some(version), Packet::Connect(_)) => self.fail(
                version,
                ReasonCode::ProtocolError,
                "second CONNECT",
                actions,
            ),
            (Some(version), other) => self.fail(
                version,
                ReasonCode::ImplementationSpecificError,
                &format!("{:?} not handled yet", other.packet_type()),
                actions,
            ),
            (None, other) => actions.push(Action::Close {
                why: format!("{:?} before CONNECT", other.packet_type()),
            }),
        }
    }

    /// Decides what to do when the bytes at the front of `buf` do not decode.
    pub fn on_decode_error(&mut self, error: &DecodeError, buf: &[u8], actions: &mut Vec<Action>) {
        let why = format!("{error} (reason code {:#04x})", error.reason_code().as_u8());
        match self.version {
            Some(version) => self.fail(version, error.reason_code(), &why, actions),
            None => {
                // A CONNECT that fails to decode is answered in the client's own version
                // where the spec gives it a code (MQTT 3.1.1 §3.2.2.3, MQTT 5.0 §3.2.2.2).
                // An unknown level gets the 3.x answer (0x01) whatever its number: every
                // client version can read that CONNACK, as Mosquitto does.
                let answer = match (error, crate::protocol::peek_connect_version(buf)) {
                    (DecodeError::UnsupportedProtocolVersion { .. }, _) => Some((
                        ReasonCode::UnsupportedProtocolVersion,
                        ProtocolVersion::V3_1_1,
                    )),
                    (DecodeError::ClientIdentifierNotValid, Some(version)) => {
                        Some((ReasonCode::ClientIdentifierNotValid, version))
                    }
                    (_, Some(ProtocolVersion::V5)) => {
                        Some((error.reason_code(), ProtocolVersion::V5))
                    }
                    _ => None,
                };
                if let Some((reason_code, version)) = answer {
                    let connack = ConnAck::new(reason_code);
                    actions.push(Action::Send(Packet::ConnAck(Box::new(connack)), version));
                }
                actions.push(Action::Close { why });
            }
        }
    }

    fn fail(
        &self,
        version: ProtocolVersion,
        reason_code: ReasonCode,
        why: &str,
        actions: &mut Vec<Action>,
    ) {
        // 3.x has no server DISCONNECT: the connection is just closed (MQTT 3.1.1 §4.8).
        if version.is_v5() {
            actions.push(Action::Send(
                Packet::Disconnect(Disconnect::new(reason_code)),
                version,
            ));
        }
        actions.push(Action::Close {
            why: why.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    const MAX: u32 = 1 << 20;

    fn run(bytes: &[u8]) -> Vec<Action> {
        let mut handshake = Handshake::default();
        let mut actions = Vec::new();
        let mut buf = BytesMut::from(bytes);
        match crate::protocol::decode(&mut buf, handshake.version(), MAX) {
            Ok(Some(packet)) => handshake.on_packet(packet, &mut actions),
            Ok(None) => panic!("incomplete test vector"),
            Err(e) => handshake.on_decode_error(&e, bytes, &mut actions),
        }
        actions
    }

    fn sent(actions: &[Action]) -> Option<(ReasonCode, ProtocolVersion)> {
        actions.iter().find_map(|a| match a {
            Action::Send(Packet::ConnAck(c), v) => Some((c.reason_code, *v)),
            _ => None,
        })
    }

    // MQTT 3.1.1 §3.1: CONNECT, clean session, keep alive 60, client id "c".
    const CONNECT_311: &[u8] = &[
        0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c',
    ];

    #[test]
    fn connect_is_refused_as_server_unavailable_then_closed() {
        let actions = run(CONNECT_311);
        assert_eq!(
            sent(&actions),
            Some((ReasonCode::ServerUnavailable, ProtocolVersion::V3_1_1))
        );
        assert!(matches!(actions.last(), Some(Action::Close { .. })));
    }

    #[test]
    fn unsupported_level_gets_return_code_1_in_3x_format() {
        // MQTT 3.1.1 §3.1.2.2: level 6 is unknown -> CONNACK 0x01, close.
        let mut bytes = CONNECT_311.to_vec();
        bytes[8] = 6;
        let actions = run(&bytes);
        assert_eq!(
            sent(&actions),
            Some((
                ReasonCode::UnsupportedProtocolVersion,
                ProtocolVersion::V3_1_1
            ))
        );
        bytes[8] = 2;
        let actions = run(&bytes);
        assert_eq!(
            sent(&actions),
            Some((
                ReasonCode::UnsupportedProtocolVersion,
                ProtocolVersion::V3_1_1
            ))
        );
    }

    #[test]
    fn publish_before_connect_closes_without_answer() {
        // MQTT 3.1.1 [MQTT-3.1.0-1]: the first packet must be CONNECT.
        let actions = run(&[0x30, 0x05, 0x00, 0x01, b'a', b'h', b'i']);
        assert_eq!(sent(&actions), None);
        assert!(matches!(actions.as_slice(), [Action::Close { .. }]));
    }

    #[test]
    fn malformed_v5_connect_gets_its_reason_code() {
        // MQTT 5.0 §3.1.2.3: reserved flag bit set -> Malformed Packet (0x81).
        let bytes = [
            0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x03, 0x00, 0x3C, 0x00, 0x00,
            0x01, b'c',
        ];
        let actions = run(&bytes);
        assert_eq!(
            sent(&actions),
            Some((ReasonCode::MalformedPacket, ProtocolVersion::V5))
        );
    }
}
