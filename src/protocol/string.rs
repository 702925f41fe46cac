//! `MqttString`: an MQTT UTF-8 Encoded String (MQTT 5.0 §1.5.4), held as `Bytes` so
//! decoding never copies it. Pure, no I/O.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

use super::error::DecodeError;

/// A UTF-8 Encoded String: well-formed UTF-8, no U+0000, at most 65,535 bytes
/// ([MQTT-1.5.4-1], [MQTT-1.5.4-2]). Only constructible valid; cloning is cheap.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MqttString(Bytes);

impl MqttString {
    /// The longest string a two-byte length prefix can carry, in bytes.
    pub const MAX_LEN_BYTES: usize = u16::MAX as usize;

    /// Validates `bytes` (zero-copy). A NUL, ill-formed UTF-8 (which includes
    /// encoded surrogates) or more than 65,535 bytes is Malformed.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.len() > Self::MAX_LEN_BYTES {
            return Err(DecodeError::Malformed("string longer than 65,535 bytes"));
        }
        if bytes.contains(&0) {
            return Err(DecodeError::Malformed("string contains U+0000"));
        }
        if std::str::from_utf8(&bytes).is_err() {
            return Err(DecodeError::Malformed("string is not well-formed UTF-8"));
        }
        Ok(Self(bytes))
    }

    /// Copies and validates `s`.
    pub fn new(s: &str) -> Result<Self, DecodeError> {
        Self::from_bytes(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// Validates a static string without copying.
    pub fn from_static(s: &'static str) -> Result<Self, DecodeError> {
        Self::from_bytes(Bytes::from_static(s.as_bytes()))
    }

    /// The same string in an allocation of its own, so holding it does not keep the
    /// buffer it was decoded from alive (that buffer may be much larger).
    pub fn detached(&self) -> Self {
        Self(Bytes::copy_from_slice(&self.0))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checked that the bytes are UTF-8, and `Bytes` is
        // immutable, so they still are.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes, sharing the buffer they were decoded from.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // MQTT 5.0 §1.5.4: U+0000 and ill-formed UTF-8 are Malformed.
    #[test]
    fn rejects_nul_and_bad_utf8() {
        assert!(MqttString::from_bytes(Bytes::from_static(b"a\0b")).is_err());
        assert!(MqttString::from_bytes(Bytes::from_static(b"\xC0\xAF")).is_err());
        // An encoded surrogate, U+D800.
        assert!(MqttString::from_bytes(Bytes::from_static(b"\xED\xA0\x80")).is_err());
        assert!(MqttString::new(&"a".repeat(65_536)).is_err());
        assert_eq!(MqttString::new("é/x").unwrap(), "é/x");
    }
}
