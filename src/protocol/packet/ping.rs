//! PINGREQ (§3.12) and PINGRESP (§3.13): a fixed header and nothing else, so
//! [`super::Packet::PingReq`] and [`super::Packet::PingResp`] carry no data and the
//! dispatcher's trailing-byte check is the whole decoder. This file holds their vectors.

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_rejected, assert_vector, decode_one};
    use crate::protocol::types::ProtocolVersion::{V3_1, V3_1_1, V5};
    use crate::protocol::{Packet, ReasonCode};

    // MQTT 3.1.1 §3.12 / §3.13, MQTT 5.0 §3.12 / §3.13.
    #[test]
    fn ping_vectors() {
        for version in [V3_1, V3_1_1, V5] {
            assert_vector(&[0xC0, 0x00], version, &Packet::PingReq);
            assert_vector(&[0xD0, 0x00], version, &Packet::PingResp);
        }
    }

    // Rejections: a body byte, non-zero flags, PINGREQ before CONNECT ([MQTT-3.1.0-1]).
    #[test]
    fn rejections() {
        assert_rejected(&[0xC0, 0x01, 0x00], V3_1_1, ReasonCode::MalformedPacket);
        assert_rejected(&[0xD1, 0x00], V5, ReasonCode::MalformedPacket);
        assert_eq!(
            decode_one(&[0xC0, 0x00], None).unwrap_err().reason_code(),
            ReasonCode::ProtocolError
        );
    }
}
