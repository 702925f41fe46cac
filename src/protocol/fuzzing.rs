//! The body of the `decode` fuzz target, shared with the stable-Rust smoke test
//! (`tests/codec_fuzz_smoke.rs`). Not API. Pure, no I/O.

use bytes::BytesMut;

use super::{decode, encode, Packet, ProtocolVersion};

/// Bound on one decoded packet, in bytes: large enough for any fuzz input.
const MAX_PACKET_SIZE_BYTES: u32 = 1 << 20;

/// Decodes `data` as a stream of packets under each starting version (none, 3.1,
/// 3.1.1, 5.0), switching to the version a decoded CONNECT names. Never panics on
/// any input; panics (a codec bug) if a decoded packet does not re-encode to bytes
/// that decode to an equal packet.
pub fn fuzz_decode_roundtrip(data: &[u8]) {
    let starts = [
        None,
        Some(ProtocolVersion::V3_1),
        Some(ProtocolVersion::V3_1_1),
        Some(ProtocolVersion::V5),
    ];
    for start in starts {
        let mut buf = BytesMut::from(data);
        let mut version = start;
        while let Ok(Some(packet)) = decode(&mut buf, version, MAX_PACKET_SIZE_BYTES) {
            let packet_version = match (&packet, version) {
                (Packet::Connect(connect), _) => connect.protocol_version,
                (_, Some(version)) => version,
                (_, None) => panic!("decoded {packet:?} before CONNECT"),
            };
            let mut encoded = BytesMut::new();
            if let Err(err) = encode(&packet, packet_version, &mut encoded) {
                panic!("decoded {packet:?} does not re-encode: {err}");
            }
            assert_eq!(packet.encoded_len(packet_version), Ok(encoded.len()));
            let again = decode(&mut encoded, version, u32::MAX);
            assert_eq!(again, Ok(Some(packet.clone())), "re-decoded packet differs");
            assert!(encoded.is_empty(), "re-encoding left bytes behind");
            version = Some(packet_version);
        }
    }
}
