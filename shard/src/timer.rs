//! A hierarchical timing wheel for very many deadlines (keep-alive, session expiry).
//!
//! Pure: time is a parameter (milliseconds since any epoch the caller picks), there is no
//! clock inside, so it is unit-tested without an executor. The runtime drives one per shard
//! with [`ShardTimers`](crate::ShardTimers).
//!
//! Layout (the scheme of tokio's and Linux's wheels): 6 levels of 64 slots; level `l` slot
//! `s` holds timers whose deadline tick has bits `6l..6l+6` equal to `s` and agrees with the
//! current tick above them. A slot is a doubly linked list threaded through a slab, so insert,
//! cancel and reschedule are O(1); advancing finds the next occupied slot with one
//! `trailing_zeros` per level and moves (cascades) a higher slot's timers down when its time
//! comes, each timer at most once per level.
//!
//! Memory: one slab entry per live timer, [`TimerWheel::entry_bytes`] bytes (32 for a
//! 4-byte key, 40 for an 8-byte one), plus 1.5 KiB of slot heads. Freed entries are reused.

use crate::limits::{TIMER_WHEEL_ENTRIES_MAX, TIMER_WHEEL_LEVELS, TIMER_WHEEL_SLOTS};

const LEVEL_BITS: u32 = TIMER_WHEEL_SLOTS.trailing_zeros();
const SLOT_MASK: u64 = TIMER_WHEEL_SLOTS as u64 - 1;
/// Ticks one full rotation of the top level covers.
const MAX_TICKS: u64 = (1 << (LEVEL_BITS as usize * TIMER_WHEEL_LEVELS)) - 1;
/// The list of timers already due when inserted (returned by the next `advance`).
const DUE_LIST: usize = TIMER_WHEEL_LEVELS * TIMER_WHEEL_SLOTS;
const LISTS: usize = DUE_LIST + 1;
const NIL: u32 = u32::MAX;
/// `Entry::list` of a free slab entry.
const FREE: u32 = u32::MAX;

const _: () = assert!(TIMER_WHEEL_SLOTS.is_power_of_two());
const _: () = assert!(LISTS < FREE as usize);

/// Identifies one timer of one wheel. A stale id (its timer fired or was cancelled) is
/// recognised by its generation and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

impl TimerId {
    fn new(index: u32, generation: u32) -> Self {
        TimerId((u64::from(generation) << 32) | u64::from(index))
    }
    fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

#[derive(Debug)]
struct Entry<K> {
    key: Option<K>,
    /// Deadline in ticks.
    deadline: u64,
    prev: u32,
    next: u32,
    /// Which list the entry is on, or FREE.
    list: u32,
    generation: u32,
}

/// A hierarchical timing wheel. One per shard (owned by [`ShardTimers`](crate::ShardTimers)),
/// or anywhere a pure one is wanted.
#[derive(Debug)]
pub struct TimerWheel<K> {
    tick_ms: u64,
    /// Every timer with a deadline tick <= `elapsed` has been returned by `advance`.
    elapsed: u64,
    entries: Vec<Entry<K>>,
    free_head: u32,
    heads: Box<[u32; LISTS]>,
    occupied: [u64; TIMER_WHEEL_LEVELS],
    len: usize,
    /// Scratch for ordering the due list (kept to avoid an allocation per advance).
    due_scratch: Vec<u32>,
}

impl<K> TimerWheel<K> {
    /// A wheel with a resolution of `tick_ms`: deadlines are rounded up to a tick, so a
    /// timer fires at the first `advance` with `now_ms >= deadline_ms`, never earlier.
    ///
    /// # Panics
    /// If `tick_ms` is 0.
    pub fn new(tick_ms: u64) -> Self {
        assert!(tick_ms > 0, "timer wheel tick must be positive");
        TimerWheel {
            tick_ms,
            elapsed: 0,
            entries: Vec::new(),
            free_head: NIL,
            heads: Box::new([NIL; LISTS]),
            occupied: [0; TIMER_WHEEL_LEVELS],
            len: 0,
            due_scratch: Vec::new(),
        }
    }

    /// Bytes of slab memory per timer for this key type.
    pub const fn entry_bytes() -> usize {
        std::mem::size_of::<Entry<K>>()
    }

    /// The resolution in milliseconds.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    /// Live timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a timer for `key` at `deadline_ms`. A deadline already past fires at the next
    /// `advance`. O(1).
    ///
    /// # Panics
    /// If the wheel already holds `TIMER_WHEEL_ENTRIES_MAX` timers.
    pub fn insert(&mut self, deadline_ms: u64, key: K) -> TimerId {
        let deadline = self.ticks_for(deadline_ms);
        let index = match self.free_head {
            NIL => {
                assert!(
                    self.entries.len() < TIMER_WHEEL_ENTRIES_MAX,
                    "timer wheel full"
                );
                self.entries.push(Entry {
                    key: Some(key),
                    deadline,
                    prev: NIL,
                    next: NIL,
                    list: FREE,
                    generation: 0,
                });
                self.entries.len() - 1
            }
            free => {
                let e = &mut self.entries[free as usize];
                self.free_head = e.next;
                e.key = Some(key);
                e.deadline = deadline;
                free as usize
            }
        };
        self.len += 1;
        self.link(index);
        TimerId::new(index as u32, self.entries[index].generation)
    }

    /// Removes a live timer and returns its key; `None` for a stale id. O(1).
    pub fn cancel(&mut self, id: TimerId) -> Option<K> {
        let index = self.live_index(id)?;
        self.unlink(index);
        Some(self.release(index))
    }

    /// Moves a live timer to `deadline_ms`, keeping its id. Returns false for a stale id. O(1).
    pub fn reschedule(&mut self, id: TimerId, deadline_ms: u64) -> bool {
        let Some(index) = self.live_index(id) else {
            return false;
        };
        self.unlink(index);
        self.entries[index].deadline = self.ticks_for(deadline_ms);
        self.link(index);
        true
    }

    /// The deadline (ms) of a live timer, rounded up to the tick; `None` for a stale id.
    pub fn deadline_ms(&self, id: TimerId) -> Option<u64> {
        let index = self.live_index(id)?;
        Some(self.entries[index].deadline.saturating_mul(self.tick_ms))
    }

    /// Moves time to `now_ms` and appends the keys of every timer with `deadline_ms <= now_ms`
    /// to `expired`, in deadline order (ties in no particular order). Time never goes back:
    /// an earlier `now_ms` than a previous call does nothing.
    pub fn advance(&mut self, now_ms: u64, expired: &mut Vec<K>) {
        let now = now_ms / self.tick_ms;
        self.fire_due(expired);
        while let Some((list, deadline)) = self.next_expiration() {
            if deadline > now {
                break;
            }
            self.elapsed = self.elapsed.max(deadline);
            self.fire_list(list, expired);
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// A lower bound (ms) for the next deadline: no timer fires before it, and at least one
    /// timer becomes due at or after it (exact for timers within 64 ticks). `None` if empty.
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_expiration()
            .map(|(_, ticks)| ticks.saturating_mul(self.tick_ms))
    }

    fn ticks_for(&self, deadline_ms: u64) -> u64 {
        deadline_ms.div_ceil(self.tick_ms)
    }

    fn live_index(&self, id: TimerId) -> Option<usize> {
        let index = id.index();
        let e = self.entries.get(index)?;
        (e.list != FREE && e.generation == id.generation()).then_some(index)
    }

    fn list_for(&self, deadline: u64) -> usize {
        if deadline <= self.elapsed {
            return DUE_LIST;
        }
        // The level is where the highest bit that differs from `elapsed` lives; deadlines
        // beyond one top-level rotation go to the top level and come around again.
        let masked = ((self.elapsed ^ deadline) | SLOT_MASK).min(MAX_TICKS - 1);
        let significant = 63 - masked.leading_zeros();
        let level = (significant / LEVEL_BITS) as usize;
        let slot = ((deadline >> (level as u32 * LEVEL_BITS)) & SLOT_MASK) as usize;
        level * TIMER_WHEEL_SLOTS + slot
    }

    fn link(&mut self, index: usize) {
        let list = self.list_for(self.entries[index].deadline);
        let head = self.heads[list];
        {
            let e = &mut self.entries[index];
            e.list = list as u32;
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = index as u32;
        }
        self.heads[list] = index as u32;
        if list != DUE_LIST {
            self.occupied[list / TIMER_WHEEL_SLOTS] |= 1 << (list % TIMER_WHEEL_SLOTS);
        }
    }

    fn unlink(&mut self, index: usize) {
        let (list, prev, next) = {
            let e = &self.entries[index];
            (e.list as usize, e.prev, e.next)
        };
        if prev == NIL {
            self.heads[list] = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if self.heads[list] == NIL && list != DUE_LIST {
            self.occupied[list / TIMER_WHEEL_SLOTS] &= !(1 << (list % TIMER_WHEEL_SLOTS));
        }
    }

    /// Frees a slab entry that is on no list and returns its key.
    fn release(&mut self, index: usize) -> K {
        let free_head = self.free_head;
        let e = &mut self.entries[index];
        e.list = FREE;
        e.generation = e.generation.wrapping_add(1);
        e.next = free_head;
        self.free_head = index as u32;
        self.len -= 1;
        e.key.take().expect("live timer entry has a key")
    }

    /// Fires the timers inserted with a past deadline, oldest deadline first.
    fn fire_due(&mut self, expired: &mut Vec<K>) {
        let mut cursor = std::mem::replace(&mut self.heads[DUE_LIST], NIL);
        let mut due = std::mem::take(&mut self.due_scratch);
        while cursor != NIL {
            due.push(cursor);
            cursor = self.entries[cursor as usize].next;
        }
        due.sort_by_key(|&i| self.entries[i as usize].deadline);
        for &index in &due {
            expired.push(self.release(index as usize));
        }
        due.clear();
        self.due_scratch = due;
    }

    /// Takes a whole list: due timers fire, the others cascade to a lower level.
    fn fire_list(&mut self, list: usize, expired: &mut Vec<K>) {
        let mut cursor = std::mem::replace(&mut self.heads[list], NIL);
        if list != DUE_LIST {
            self.occupied[list / TIMER_WHEEL_SLOTS] &= !(1 << (list % TIMER_WHEEL_SLOTS));
        }
        while cursor != NIL {
            let index = cursor as usize;
            cursor = self.entries[index].next;
            if self.entries[index].deadline <= self.elapsed {
                expired.push(self.release(index));
            } else {
                self.link(index);
            }
        }
    }

    /// The earliest list to process and the tick at which its time comes.
    fn next_expiration(&self) -> Option<(usize, u64)> {
        if self.heads[DUE_LIST] != NIL {
            return Some((DUE_LIST, self.elapsed));
        }
        // A lower level's occupied slot always comes before any higher level's.
        (0..TIMER_WHEEL_LEVELS).find_map(|level| {
            let occupied = self.occupied[level];
            if occupied == 0 {
                return None;
            }
            let shift = level as u32 * LEVEL_BITS;
            let slot_ticks = 1u64 << shift;
            let level_ticks = slot_ticks << LEVEL_BITS;
            let now_slot = (self.elapsed >> shift) & SLOT_MASK;
            // Below the top level the current slot is always empty (it was processed when
            // its time came). The top level's current slot can only hold timers a whole
            // rotation or more ahead, so it is looked at last there.
            let first = if level == TIMER_WHEEL_LEVELS - 1 {
                (now_slot + 1) & SLOT_MASK
            } else {
                now_slot
            };
            let slot = (u64::from(occupied.rotate_right(first as u32).trailing_zeros()) + first)
                & SLOT_MASK;
            let level_start = self.elapsed & !(level_ticks - 1);
            let mut deadline = level_start + slot * slot_ticks;
            if deadline <= self.elapsed {
                // Only the top level wraps: its slots act as a ring for far deadlines.
                deadline += level_ticks;
            }
            Some((level * TIMER_WHEEL_SLOTS + slot as usize, deadline))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_order_and_never_early() {
        let mut w = TimerWheel::new(1);
        for (d, k) in [
            (50u64, 'c'),
            (10, 'a'),
            (30, 'b'),
            (5000, 'e'),
            (70_000, 'f'),
        ] {
            w.insert(d, k);
        }
        let mut out = Vec::new();
        w.advance(9, &mut out);
        assert!(out.is_empty());
        w.advance(50, &mut out);
        assert_eq!(out, vec!['a', 'b', 'c']);
        out.clear();
        w.advance(4999, &mut out);
        assert!(out.is_empty());
        w.advance(100_000, &mut out);
        assert_eq!(out, vec!['e', 'f']);
        assert!(w.is_empty());
    }

    #[test]
    fn entry_is_small() {
        assert_eq!(TimerWheel::<u32>::entry_bytes(), 32);
        assert_eq!(TimerWheel::<u64>::entry_bytes(), 40);
    }
}
