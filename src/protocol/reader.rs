//! A strict reader over one packet's bytes (like rustls's `Reader`): every field must
//! fit, and the caller checks that nothing trails. Slices are `Bytes` sharing the
//! frame, so strings and payloads are zero-copy. Pure, no I/O.

use bytes::{Buf, Bytes};

use super::error::DecodeError;
use super::string::MqttString;

/// Parses a Variable Byte Integer (§1.5.5) at the start of `buf`. `Ok(None)` when
/// `buf` ends first. More than 4 bytes or a non-minimal encoding ([MQTT-1.5.5-1]) is
/// Malformed. Returns the value and the number of bytes it took.
pub(crate) fn parse_varint(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().enumerate() {
        if i == 4 {
            return Err(DecodeError::Malformed("variable byte integer over 4 bytes"));
        }
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(DecodeError::Malformed(
                    "variable byte integer not minimally encoded",
                ));
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        return Err(DecodeError::Malformed("variable byte integer over 4 bytes"));
    }
    Ok(None)
}

const TRUNCATED: DecodeError = DecodeError::Malformed("packet ends inside a field");

/// Reads fields from the front of a packet body.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Malformed if any byte is left: a length said less than what was sent.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Malformed(
                "trailing bytes after the last field",
            ))
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        if self.buf.is_empty() {
            return Err(TRUNCATED);
        }
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        if self.buf.len() < 2 {
            return Err(TRUNCATED);
        }
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        if self.buf.len() < 4 {
            return Err(TRUNCATED);
        }
        Ok(self.buf.get_u32())
    }

    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        match parse_varint(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value)
            }
            None => Err(TRUNCATED),
        }
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        if self.buf.len() < len {
            return Err(TRUNCATED);
        }
        Ok(self.buf.split_to(len))
    }

    /// A reader over the next `len` bytes, which the caller must consume exactly.
    pub(crate) fn sub(&mut self, len: usize) -> Result<Reader, DecodeError> {
        self.take(len).map(Reader::new)
    }

    /// Everything left (an application message payload).
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Binary Data (§1.5.6): two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// UTF-8 Encoded String (§1.5.4).
    pub(crate) fn string(&mut self) -> Result<MqttString, DecodeError> {
        MqttString::from_bytes(self.binary()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // MQTT 5.0 §1.5.5 Variable Byte Integer, table 1-1 boundaries.
    #[test]
    fn varint_boundaries() {
        assert_eq!(parse_varint(&[0x00]).unwrap(), Some((0, 1)));
        assert_eq!(parse_varint(&[0x7F]).unwrap(), Some((127, 1)));
        assert_eq!(parse_varint(&[0x80, 0x01]).unwrap(), Some((128, 2)));
        assert_eq!(
            parse_varint(&[0xFF, 0xFF, 0xFF, 0x7F]).unwrap(),
            Some((268_435_455, 4))
        );
        assert_eq!(parse_varint(&[0xFF, 0xFF]).unwrap(), None);
        assert!(parse_varint(&[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(parse_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
        // [MQTT-1.5.5-1] minimal encoding.
        assert!(parse_varint(&[0x80, 0x00]).is_err());
    }

    // rustls-style strictness: a length prefix longer than the data is Malformed.
    #[test]
    fn truncated_fields() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x03, b'a', b'b']));
        assert!(r.string().is_err());
        let r = Reader::new(Bytes::from_static(&[0x01]));
        assert!(r.finish().is_err());
    }
}
