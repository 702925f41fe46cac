//! Reason Strings (MQTT 5.0 §3.x "Reason String" properties): how the broker explains a
//! reason code, and the rules for when it may not (Request Problem Information 0, the
//! client's Maximum Packet Size). Pure, no I/O.

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::limits::REASON_STRING_BYTES_MAX;
use crate::protocol::{MqttString, Packet, ProtocolVersion, ReasonCode};

/// A Reason String of `text`, cut to [`REASON_STRING_BYTES_MAX`] on a character boundary.
/// `None` only for text MQTT cannot carry (a NUL).
pub fn reason_string(text: &str) -> Option<MqttString> {
    let mut end = text.len().min(REASON_STRING_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    MqttString::new(&text[..end]).ok()
}

/// Why a session ends its client's connection with `reason` (the session decides on the
/// code alone, so the text is per code).
pub fn explain_session_disconnect(reason: ReasonCode) -> Option<&'static str> {
    match reason {
        ReasonCode::ProtocolError => Some(
            "PUBLISH with an empty Topic Name, a Subscription Identifier, or QoS and packet identifier that disagree",
        ),
        ReasonCode::ReceiveMaximumExceeded => {
            Some("more QoS 2 PUBLISH await PUBREL than the Receive Maximum in CONNACK")
        }
        _ => None,
    }
}

/// What the client asked for in CONNECT that governs the diagnostics it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientDiagnostics {
    /// Request Problem Information (§3.1.2.11.7); absent means true.
    pub request_problem_information: bool,
    /// The client's Maximum Packet Size (§3.1.2.11.4).
    pub maximum_packet_size: Option<NonZeroU32>,
}

impl Default for ClientDiagnostics {
    fn default() -> Self {
        ClientDiagnostics {
            request_problem_information: true,
            maximum_packet_size: None,
        }
    }
}

/// `packet` as it may be sent to this client: without its Reason String and User
/// Properties when Request Problem Information is 0 and the packet is not PUBLISH, CONNACK
/// or DISCONNECT ([MQTT-3.1.2-29]), or when they would make the packet larger than the
/// client's Maximum Packet Size (e.g. [MQTT-3.4.2-3]). Borrowed, at no cost, when nothing
/// needs removing.
pub fn fit_diagnostics(
    packet: &Packet,
    version: ProtocolVersion,
    client: ClientDiagnostics,
) -> Cow<'_, Packet> {
    if !version.is_v5() || !has_diagnostics(packet) {
        return Cow::Borrowed(packet);
    }
    let exempt = matches!(
        packet,
        Packet::Publish(_) | Packet::ConnAck(_) | Packet::Disconnect(_)
    );
    let too_large = |p: &Packet| {
        client.maximum_packet_size.is_some_and(|max| {
            p.encoded_len(version)
                .is_ok_and(|len| len > max.get() as usize)
        })
    };
    if (exempt || client.request_problem_information) && !too_large(packet) {
        return Cow::Borrowed(packet);
    }
    let mut stripped = packet.clone();
    strip_diagnostics(&mut stripped);
    Cow::Owned(stripped)
}

/// Whether `packet` carries a Reason String or User Properties (PUBLISH excluded: its User
/// Properties are the publisher's, not diagnostics).
fn has_diagnostics(packet: &Packet) -> bool {
    match packet {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.properties.reason_string.is_some() || !a.properties.user_properties.is_empty()
        }
        Packet::SubAck(a) => {
            a.properties.reason_string.is_some() || !a.properties.user_properties.is_empty()
        }
        Packet::UnsubAck(a) => {
            a.properties.reason_string.is_some() || !a.properties.user_properties.is_empty()
        }
        Packet::ConnAck(c) => {
            c.properties.reason_string.is_some() || !c.properties.user_properties.is_empty()
        }
        Packet::Disconnect(d) => {
            d.properties.reason_string.is_some() || !d.properties.user_properties.is_empty()
        }
        Packet::Auth(a) => {
            a.properties.reason_string.is_some() || !a.properties.user_properties.is_empty()
        }
        _ => false,
    }
}

fn strip_diagnostics(packet: &mut Packet) {
    macro_rules! strip {
        ($p:expr) => {{
            $p.reason_string = None;
            $p.user_properties.clear();
        }};
    }
    match packet {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            strip!(a.properties)
        }
        Packet::SubAck(a) => strip!(a.properties),
        Packet::UnsubAck(a) => strip!(a.properties),
        Packet::ConnAck(c) => strip!(c.properties),
        Packet::Disconnect(d) => strip!(d.properties),
        Packet::Auth(a) => strip!(a.properties),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Disconnect, PacketId, PubRel};

    fn pubrel_with_reason(text: &str) -> Packet {
        let mut ack = PubRel::new(PacketId::MIN);
        ack.reason_code = ReasonCode::PacketIdentifierNotFound;
        ack.properties.reason_string = reason_string(text);
        Packet::PubRel(ack)
    }

    fn reason_of(packet: &Packet) -> Option<&str> {
        match packet {
            Packet::PubRel(a) => a.properties.reason_string.as_deref(),
            Packet::Disconnect(d) => d.properties.reason_string.as_deref(),
            _ => None,
        }
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(REASON_STRING_BYTES_MAX);
        let cut = reason_string(&text).unwrap();
        assert!(cut.len() <= REASON_STRING_BYTES_MAX);
        assert!(cut.len() >= REASON_STRING_BYTES_MAX - 1);
        assert_eq!(reason_string("a\0b"), None);
    }

    #[test]
    fn request_problem_information_0_strips_acks_but_not_disconnect() {
        // MQTT 5.0 [MQTT-3.1.2-29].
        let quiet = ClientDiagnostics {
            request_problem_information: false,
            maximum_packet_size: None,
        };
        let ack = pubrel_with_reason("why");
        assert_eq!(
            reason_of(&fit_diagnostics(&ack, ProtocolVersion::V5, quiet)),
            None
        );
        let loud = ClientDiagnostics::default();
        assert_eq!(
            reason_of(&fit_diagnostics(&ack, ProtocolVersion::V5, loud)),
            Some("why")
        );
        let mut disconnect = Disconnect::new(ReasonCode::ProtocolError);
        disconnect.properties.reason_string = reason_string("why");
        let disconnect = Packet::Disconnect(disconnect);
        assert_eq!(
            reason_of(&fit_diagnostics(&disconnect, ProtocolVersion::V5, quiet)),
            Some("why")
        );
    }

    #[test]
    fn a_reason_string_that_makes_the_packet_too_large_is_left_out() {
        // MQTT 5.0 [MQTT-3.6.2-2]: PUBREL 0x92 is 5 bytes without a reason.
        let small = ClientDiagnostics {
            request_problem_information: true,
            maximum_packet_size: NonZeroU32::new(8),
        };
        let ack = pubrel_with_reason("a reason longer than the client accepts");
        let fitted = fit_diagnostics(&ack, ProtocolVersion::V5, small);
        assert_eq!(reason_of(&fitted), None);
        assert!(fitted.encoded_len(ProtocolVersion::V5).unwrap() <= 8);
    }
}
