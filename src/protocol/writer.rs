//! Field writers and length arithmetic for encoding. Pure, no I/O.

use bytes::{BufMut, BytesMut};

use super::error::EncodeError;
use super::string::MqttString;

/// The largest Variable Byte Integer (§1.5.5), also the largest remaining length.
pub(crate) const VARINT_MAX: usize = 268_435_455;

/// Bytes a Variable Byte Integer takes; `value` must be at most [`VARINT_MAX`].
pub(crate) const fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Checks that `value` fits a Variable Byte Integer.
pub(crate) fn check_varint(value: usize) -> Result<usize, EncodeError> {
    if value > VARINT_MAX {
        return Err(EncodeError::PacketTooLarge);
    }
    Ok(value)
}

pub(crate) fn put_varint(out: &mut BytesMut, mut value: usize) {
    debug_assert!(value <= VARINT_MAX);
    loop {
        // Truncation intended: the low 7 bits.
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if value == 0 {
            return;
        }
    }
}

/// Encoded length of Binary Data (§1.5.6); over 65,535 bytes cannot be sent.
pub(crate) fn binary_len(data: &[u8]) -> Result<usize, EncodeError> {
    if data.len() > usize::from(u16::MAX) {
        return Err(EncodeError::Invalid("binary data over 65,535 bytes"));
    }
    Ok(2 + data.len())
}

/// Encoded length of a UTF-8 Encoded String, bounded by construction.
pub(crate) fn string_len(s: &MqttString) -> usize {
    2 + s.len()
}

/// Writes Binary Data whose length [`binary_len`] accepted.
pub(crate) fn put_binary(out: &mut BytesMut, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX));
    // Truncation cannot happen: checked by `binary_len` before writing.
    out.put_u16(data.len() as u16);
    out.put_slice(data);
}

pub(crate) fn put_string(out: &mut BytesMut, s: &MqttString) {
    put_binary(out, s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    // MQTT 5.0 §1.5.5 Variable Byte Integer encoding.
    #[test]
    fn varint_encoding() {
        for (value, bytes) in [
            (0usize, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut out = BytesMut::new();
            put_varint(&mut out, value);
            assert_eq!(&out[..], bytes);
            assert_eq!(varint_len(value), bytes.len());
        }
    }
}
