//! Verified (user name, password) pairs, so that a client that reconnects with the same
//! password does not cost its shard PBKDF2 again (milliseconds at 4096 iterations, during
//! which the shard serves no one else). The password itself is not kept: only an
//! HMAC-SHA-256 of it under a key random per shard, compared in constant time. Failed
//! attempts are never remembered, so guessing still pays PBKDF2 every time.

use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::limits::PASSWORD_CACHE_ENTRIES_MAX;

/// Passwords verified on this shard, by user name. One per shard.
pub struct PasswordCache {
    key: [u8; 32],
    entries: HashMap<String, [u8; 32]>,
}

impl std::fmt::Debug for PasswordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordCache")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl PasswordCache {
    /// An empty cache; `key` should be random.
    pub fn new(key: [u8; 32]) -> PasswordCache {
        PasswordCache {
            key,
            entries: HashMap::new(),
        }
    }

    fn tag(&self, password: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(password);
        mac.finalize().into_bytes().into()
    }

    /// Whether `password` was verified for `username` on this shard.
    pub fn contains(&self, username: &str, password: &[u8]) -> bool {
        self.entries
            .get(username)
            .is_some_and(|tag| tag.ct_eq(&self.tag(password)).into())
    }

    /// Remembers that `password` is `username`'s; past [`PASSWORD_CACHE_ENTRIES_MAX`]
    /// users the cache starts over.
    pub fn insert(&mut self, username: &str, password: &[u8]) {
        if self.entries.len() >= PASSWORD_CACHE_ENTRIES_MAX && !self.entries.contains_key(username)
        {
            self.entries.clear();
        }
        let tag = self.tag(password);
        self.entries.insert(username.to_string(), tag);
    }

    /// Users remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exact_pairs_and_stays_bounded() {
        let mut cache = PasswordCache::new([5; 32]);
        cache.insert("alice", b"pw");
        assert!(cache.contains("alice", b"pw"));
        assert!(!cache.contains("alice", b"pw2"));
        assert!(!cache.contains("bob", b"pw"));
        cache.insert("alice", b"pw2");
        assert!(!cache.contains("alice", b"pw"));
        for i in 0..PASSWORD_CACHE_ENTRIES_MAX + 5 {
            cache.insert(&format!("user-{i}"), b"pw");
        }
        assert!(cache.len() <= PASSWORD_CACHE_ENTRIES_MAX);
        assert!(cache.contains(&format!("user-{}", PASSWORD_CACHE_ENTRIES_MAX + 4), b"pw"));
    }
}
