//! Sequence numbers: which messages of a publisher arrived, which were acknowledged, and
//! what was lost, duplicated or reordered. Pure, no I/O.
//!
//! A [`SeqSet`] holds "every number below `base`" plus a bitmap above it, so the common
//! case (in order, nothing lost) costs a few words however long the run, and a lost
//! message costs one bit per later message of that publisher (the run's count bounds it).
//! Sets from several subscribers (a shared group) or processes merge with [`SeqSet::union`],
//! which also counts the overlap (a message delivered twice).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

const WORD_BITS: u64 = 64;

/// A set of sequence numbers. Serialized as its sorted, disjoint `[start, end)` ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSet {
    /// Every number below `base` is in the set; `base` is a multiple of 64.
    base: u64,
    /// Bit `i` of word `w`: `base + 64 w + i` is in the set. Never starts with a full word.
    words: VecDeque<u64>,
    /// Members above `base`.
    above: u64,
}

impl SeqSet {
    /// The empty set.
    pub fn new() -> SeqSet {
        SeqSet::default()
    }

    /// Number of members.
    pub fn len(&self) -> u64 {
        self.base + self.above
    }

    /// Whether `seq` is a member.
    #[cfg(test)]
    pub fn contains(&self, seq: u64) -> bool {
        if seq < self.base {
            return true;
        }
        let idx = seq - self.base;
        let word = (idx / WORD_BITS) as usize;
        self.words
            .get(word)
            .is_some_and(|w| w & (1 << (idx % WORD_BITS)) != 0)
    }

    /// Adds `seq`; false if it was already a member.
    pub fn insert(&mut self, seq: u64) -> bool {
        if seq < self.base {
            return false;
        }
        let idx = seq - self.base;
        let word = (idx / WORD_BITS) as usize;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let bit = 1 << (idx % WORD_BITS);
        if self.words[word] & bit != 0 {
            return false;
        }
        self.words[word] |= bit;
        self.above += 1;
        self.compact();
        true
    }

    /// Adds every number in `start..end`.
    pub fn insert_range(&mut self, start: u64, end: u64) {
        let mut seq = start.max(self.base);
        while seq < end {
            let idx = seq - self.base;
            if idx.is_multiple_of(WORD_BITS) && seq + WORD_BITS <= end {
                // A whole aligned word inside the range.
                let word = (idx / WORD_BITS) as usize;
                if word >= self.words.len() {
                    self.words.resize(word + 1, 0);
                }
                self.above += u64::from((!self.words[word]).count_ones());
                self.words[word] = u64::MAX;
                seq += WORD_BITS;
            } else {
                self.insert_no_compact(seq);
                seq += 1;
            }
        }
        self.compact();
    }

    fn insert_no_compact(&mut self, seq: u64) {
        let idx = seq - self.base;
        let word = (idx / WORD_BITS) as usize;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let bit = 1 << (idx % WORD_BITS);
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.above += 1;
        }
    }

    fn compact(&mut self) {
        while self.words.front() == Some(&u64::MAX) {
            self.words.pop_front();
            self.base += WORD_BITS;
            self.above -= WORD_BITS;
        }
        while self.words.back() == Some(&0) {
            self.words.pop_back();
        }
    }

    /// Members in `start..end`.
    pub fn count_in(&self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let mut n = end.min(self.base).saturating_sub(start);
        let lo = start.max(self.base);
        if lo >= end {
            return n;
        }
        let (lo, hi) = (lo - self.base, end - self.base);
        let (first, last) = ((lo / WORD_BITS) as usize, ((hi - 1) / WORD_BITS) as usize);
        for w in first..=last.min(self.words.len().saturating_sub(1)) {
            if w >= self.words.len() {
                break;
            }
            let mut word = self.words[w];
            let word_start = w as u64 * WORD_BITS;
            if lo > word_start {
                word &= u64::MAX << (lo - word_start);
            }
            if hi < word_start + WORD_BITS {
                word &= u64::MAX >> (word_start + WORD_BITS - hi);
            }
            n += u64::from(word.count_ones());
        }
        n
    }

    /// The largest member, if any.
    pub fn max(&self) -> Option<u64> {
        if let Some((w, word)) = self.words.iter().enumerate().rev().find(|(_, w)| **w != 0) {
            return Some(self.base + w as u64 * WORD_BITS + 63 - u64::from(word.leading_zeros()));
        }
        self.base.checked_sub(1)
    }

    /// Sorted, disjoint `[start, end)` ranges of the members.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        if self.base > 0 {
            out.push((0, self.base));
        }
        for (w, &word) in self.words.iter().enumerate() {
            let mut word = word;
            let word_start = self.base + w as u64 * WORD_BITS;
            while word != 0 {
                let start_bit = u64::from(word.trailing_zeros());
                let run = u64::from((!(word >> start_bit)).trailing_zeros()).min(64 - start_bit);
                let (s, e) = (word_start + start_bit, word_start + start_bit + run);
                match out.last_mut() {
                    Some(last) if last.1 == s => last.1 = e,
                    _ => out.push((s, e)),
                }
                if start_bit + run >= 64 {
                    break;
                }
                word &= u64::MAX << (start_bit + run);
            }
        }
        out
    }

    /// The set of the members of `ranges`.
    pub fn from_ranges(ranges: &[(u64, u64)]) -> SeqSet {
        let mut set = SeqSet::new();
        for &(s, e) in ranges {
            set.insert_range(s, e);
        }
        set
    }

    /// Adds every member of `other`; returns how many were already members (the overlap).
    pub fn union(&mut self, other: &SeqSet) -> u64 {
        let mut overlap = 0;
        for (s, e) in other.ranges() {
            let before = self.count_in(s, e);
            overlap += before;
            self.insert_range(s, e);
        }
        overlap
    }
}

impl Serialize for SeqSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ranges().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SeqSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SeqSet, D::Error> {
        let ranges = Vec::<(u64, u64)>::deserialize(d)?;
        Ok(SeqSet::from_ranges(&ranges))
    }
}

/// What one subscriber (or one shared group) received from one publisher.
/// Lives with the subscriber's connection task, then in reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqTracker {
    /// Sequence numbers received at least once.
    pub seen: SeqSet,
    /// Messages received again.
    pub duplicates: u64,
    /// Messages received after one with a higher sequence number (and not before).
    pub reordered: u64,
}

/// How one reception was classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Next in order (possibly after a gap).
    InOrder,
    /// Below the highest seen so far, not seen before.
    Reordered,
    /// Seen before.
    Duplicate,
}

impl SeqTracker {
    /// Records the arrival of `seq`.
    pub fn record(&mut self, seq: u64) -> Arrival {
        let highest = self.seen.max();
        if !self.seen.insert(seq) {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        if highest.is_some_and(|h| seq < h) {
            self.reordered += 1;
            return Arrival::Reordered;
        }
        Arrival::InOrder
    }

    /// Of `sent` messages (sequence numbers `0..sent`), how many never arrived.
    pub fn lost(&self, sent: u64) -> u64 {
        sent - self.seen.count_in(0, sent)
    }

    /// How many members of `acked` never arrived.
    pub fn acked_lost(&self, acked: &SeqSet) -> u64 {
        acked
            .ranges()
            .into_iter()
            .map(|(s, e)| (e - s) - self.seen.count_in(s, e))
            .sum()
    }

    /// Merges what another subscriber of the same scope (a shared group's member) or
    /// another process received: a message both received is a duplicate.
    pub fn merge(&mut self, other: &SeqTracker) {
        self.duplicates += other.duplicates + self.seen.union(&other.seen);
        self.reordered += other.reordered;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(set: &SeqSet, limit: u64) -> Vec<u64> {
        (0..limit).filter(|&s| set.contains(s)).collect()
    }

    #[test]
    fn in_order_stays_compact() {
        let mut set = SeqSet::new();
        for s in 0..100_000 {
            assert!(set.insert(s));
        }
        assert_eq!(set.len(), 100_000);
        assert!(set.words.len() <= 1, "{}", set.words.len());
        assert_eq!(set.ranges(), vec![(0, 100_000)]);
        assert_eq!(set.max(), Some(99_999));
        assert!(!set.insert(5));
    }

    #[test]
    fn gaps_are_remembered_and_counted() {
        let mut set = SeqSet::new();
        for s in (0..1000).filter(|s| s % 100 != 7) {
            set.insert(s);
        }
        assert_eq!(set.len(), 990);
        assert!(!set.contains(107));
        assert!(set.contains(108));
        assert_eq!(set.count_in(100, 200), 99);
        assert_eq!(set.count_in(0, 2000), 990);
        assert_eq!(set.ranges().len(), 11);
        assert_eq!(SeqSet::from_ranges(&set.ranges()), set);
    }

    #[test]
    fn ranges_and_count_in_agree_with_contains() {
        // A pseudo-random pattern over word boundaries.
        let mut set = SeqSet::new();
        let mut x: u64 = 12345;
        for _ in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            set.insert((x >> 33) % 5000);
        }
        let members = naive(&set, 6000);
        assert_eq!(members.len() as u64, set.len());
        let from_ranges: Vec<u64> = set.ranges().iter().flat_map(|&(s, e)| s..e).collect();
        assert_eq!(from_ranges, members);
        for (a, b) in [
            (0, 6000),
            (63, 65),
            (64, 128),
            (1, 4999),
            (4000, 4000),
            (130, 700),
        ] {
            let n = members.iter().filter(|&&s| s >= a && s < b).count() as u64;
            assert_eq!(set.count_in(a, b), n, "{a}..{b}");
        }
        assert_eq!(set.max(), members.last().copied());
        let round = SeqSet::from_ranges(&set.ranges());
        assert_eq!(naive(&round, 6000), members);
    }

    #[test]
    fn union_counts_overlap() {
        let evens = SeqSet::from_ranges(&(0..500).map(|i| (2 * i, 2 * i + 1)).collect::<Vec<_>>());
        let mut odds =
            SeqSet::from_ranges(&(0..500).map(|i| (2 * i + 1, 2 * i + 2)).collect::<Vec<_>>());
        assert_eq!(odds.union(&evens), 0);
        assert_eq!(odds.ranges(), vec![(0, 1000)]);
        assert_eq!(odds.union(&SeqSet::from_ranges(&[(990, 1010)])), 10);
        assert_eq!(odds.len(), 1010);
    }

    #[test]
    fn tracker_counts_loss_duplicates_and_reordering() {
        let mut t = SeqTracker::default();
        for s in [0, 1, 2, 4, 3, 3, 6, 7, 7] {
            t.record(s);
        }
        assert_eq!(t.duplicates, 2);
        assert_eq!(t.reordered, 1); // 3 after 4
        assert_eq!(t.seen.len(), 7);
        assert_eq!(t.lost(10), 3); // 5, 8, 9
        assert_eq!(t.lost(7), 1); // 5
    }

    #[test]
    fn acked_but_never_received() {
        let mut t = SeqTracker::default();
        for s in (0..100).filter(|&s| s != 40 && s != 95) {
            t.record(s);
        }
        // 0..90 acknowledged, 90..100 still in flight: only 40 was acked and lost.
        let acked = SeqSet::from_ranges(&[(0, 90)]);
        assert_eq!(t.acked_lost(&acked), 1);
        assert_eq!(t.lost(100), 2);
    }

    #[test]
    fn merging_a_shared_group() {
        let (mut a, mut b) = (SeqTracker::default(), SeqTracker::default());
        for s in 0..100 {
            if s % 2 == 0 { &mut a } else { &mut b }.record(s);
        }
        a.record(100);
        b.record(100); // delivered to both members
        a.merge(&b);
        assert_eq!(a.lost(100), 0);
        assert_eq!(a.duplicates, 1);
        assert_eq!(a.reordered, 0);
    }

    #[test]
    fn serde_round_trip() {
        let set = SeqSet::from_ranges(&[(0, 70), (72, 80), (200, 201)]);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, "[[0,70],[72,80],[200,201]]");
        let back: SeqSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
    }
}
