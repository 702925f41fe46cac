//! Decode arbitrary bytes under every protocol version: never panics, and every
//! packet that decodes re-encodes to bytes that decode to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    coremq::protocol::fuzzing::fuzz_decode_roundtrip(data);
});
