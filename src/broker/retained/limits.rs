//! The bounds of the retained store, with their units. Defaults live here until the lead
//! merges them into `src/limits.rs`; relations between them are checked at compile time.

/// Retained messages held at most, expired ones not yet purged included. Each costs a
/// trie node per new topic level plus the message; a million covers a large IoT fleet.
pub const RETAINED_MESSAGES_MAX_DEFAULT: usize = 1_000_000;

/// Topic and payload bytes held at most (see `Message::size_bytes`), on every shard, since
/// the store is replicated; the payloads themselves are shared between replicas.
pub const RETAINED_BYTES_MAX_DEFAULT: usize = 1 << 30;

const _: () = assert!(RETAINED_MESSAGES_MAX_DEFAULT > 0);
// A message of the largest accepted packet size must fit in an empty store.
const _: () =
    assert!(RETAINED_BYTES_MAX_DEFAULT >= crate::limits::MAX_PACKET_SIZE_BYTES_DEFAULT as usize);

/// The bounds of one [`super::RetainedStore`]. The same on every shard, so that every
/// replica refuses the same messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetainedLimits {
    /// Retained messages at most.
    pub messages_max: usize,
    /// Topic and payload bytes at most.
    pub bytes_max: usize,
}

impl Default for RetainedLimits {
    fn default() -> Self {
        Self {
            messages_max: RETAINED_MESSAGES_MAX_DEFAULT,
            bytes_max: RETAINED_BYTES_MAX_DEFAULT,
        }
    }
}
