//! Helpers for the byte-vector tests in each packet file.

use bytes::BytesMut;

use crate::protocol::{decode, DecodeError, Packet, ProtocolVersion};

const MAX_PACKET_SIZE: u32 = 1 << 20;

/// Decodes exactly one packet from `bytes`; panics if incomplete or bytes remain.
pub(crate) fn decode_one(
    bytes: &[u8],
    version: Option<ProtocolVersion>,
) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let packet = decode(&mut buf, version, MAX_PACKET_SIZE)?.expect("a whole packet");
    assert!(buf.is_empty(), "decode left bytes behind");
    Ok(packet)
}

/// Encodes `packet` in `version`.
pub(crate) fn encode_one(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    crate::protocol::encode(packet, version, &mut out).expect("encodable");
    assert_eq!(packet.encoded_len(version), Ok(out.len()));
    out.to_vec()
}

/// `bytes` decodes to `packet` and `packet` encodes to `bytes`.
pub(crate) fn assert_vector(bytes: &[u8], version: ProtocolVersion, packet: &Packet) {
    assert_eq!(&decode_one(bytes, Some(version)).expect("decodes"), packet);
    assert_eq!(encode_one(packet, version), bytes);
}

/// `bytes` fails to decode in `version` with an error of the given reason code.
pub(crate) fn assert_rejected(
    bytes: &[u8],
    version: ProtocolVersion,
    reason_code: crate::protocol::ReasonCode,
) {
    let err = decode_one(bytes, Some(version)).expect_err("must be rejected");
    assert_eq!(err.reason_code(), reason_code, "{err}");
}
