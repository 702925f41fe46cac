//! A bounded single-producer single-consumer ring: the building block of a mesh lane.
//!
//! Head and tail sit on their own cache lines, and each side keeps a cached copy of the
//! other side's index next to its own, so a push or a pop touches the other side's line only
//! when the ring looks full (producer) or empty (consumer). One `Release` store publishes a
//! push or a pop; there is no read-modify-write on the fast path.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Keeps a side's indices on their own cache lines (two lines: adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Side {
    /// This side's position (pushes or pops so far, wrapping). Written only by this side.
    pos: AtomicUsize,
    /// This side's last look at the other side's position. Touched only by this side (an
    /// atomic only so that the ring is `Sync` without more unsafe code).
    cached_other: AtomicUsize,
}

/// A ring of at most `capacity` items with one producer thread and one consumer thread.
///
/// Positions run freely (wrapping); the slot of position `p` is `p & mask`, with the buffer
/// rounded up to a power of two so that wrapping keeps slots and lengths consistent. The ring
/// is full when `tail - head == capacity`.
pub(crate) struct Spsc<T> {
    /// Consumer side: `head` = next position to pop.
    head: Side,
    /// Producer side: `tail` = next position to push.
    tail: Side,
    capacity: usize,
    mask: usize,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: items move from the producer thread to the consumer thread (hence `T: Send`);
// each slot is accessed by one side at a time, handed over by the Release/Acquire pairs on
// `tail.pos` (producer to consumer) and `head.pos` (consumer to producer).
unsafe impl<T: Send> Sync for Spsc<T> {}
// SAFETY: as above; the ring owns its items.
unsafe impl<T: Send> Send for Spsc<T> {}

impl<T> Spsc<T> {
    /// A ring holding at most `capacity` (>= 1) items.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity >= 1, "ring capacity must be at least 1");
        let size = capacity.next_power_of_two();
        Spsc {
            head: Side::default(),
            tail: Side::default(),
            capacity,
            mask: size - 1,
            slots: (0..size)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
        }
    }

    /// Most items the ring holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends `item`, or hands it back when the ring is full.
    ///
    /// # Safety
    /// Only one thread may ever push to this ring (at most one `push` runs at a time, and
    /// all pushes come from the same producer).
    pub(crate) unsafe fn push(&self, item: T) -> Result<(), T> {
        let tail = self.tail.pos.load(Ordering::Relaxed);
        let mut head = self.tail.cached_other.load(Ordering::Relaxed);
        if tail.wrapping_sub(head) >= self.capacity {
            // Acquire: the consumer has finished reading every slot before `head`.
            head = self.head.pos.load(Ordering::Acquire);
            self.tail.cached_other.store(head, Ordering::Relaxed);
            if tail.wrapping_sub(head) >= self.capacity {
                return Err(item);
            }
        }
        let slot = &self.slots[tail & self.mask];
        // SAFETY: the slot at `tail` is free (tail - head < capacity, and the consumer is done
        // with positions before `head`), and only this producer writes slots at `tail`.
        unsafe { (*slot.get()).write(item) };
        // Release: the consumer that sees the new tail sees the item.
        self.tail.pos.store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Takes the oldest item, and how many items the consumer knows to be left after it (a
    /// lower bound: pushes it has not looked at yet are not counted).
    ///
    /// # Safety
    /// Only one thread may ever pop from this ring (at most one `pop` runs at a time, and all
    /// pops come from the same consumer).
    pub(crate) unsafe fn pop(&self) -> Option<(T, usize)> {
        let head = self.head.pos.load(Ordering::Relaxed);
        let mut tail = self.head.cached_other.load(Ordering::Relaxed);
        if head == tail {
            // Acquire: the producer has finished writing every slot before `tail`.
            tail = self.tail.pos.load(Ordering::Acquire);
            self.head.cached_other.store(tail, Ordering::Relaxed);
            if head == tail {
                return None;
            }
        }
        let slot = &self.slots[head & self.mask];
        // SAFETY: head < tail, so the producer wrote this slot and published it with the
        // Release store of `tail` we acquired; only this consumer reads slots at `head`, and
        // it reads each once (the head moves past it below).
        let item = unsafe { (*slot.get()).assume_init_read() };
        let head = head.wrapping_add(1);
        // Release: the producer that sees the new head may reuse the slot.
        self.head.pos.store(head, Ordering::Release);
        Some((item, tail.wrapping_sub(head)))
    }
}

impl<T> Drop for Spsc<T> {
    fn drop(&mut self) {
        let head = *self.head.pos.get_mut();
        let tail = *self.tail.pos.get_mut();
        let mut pos = head;
        while pos != tail {
            // SAFETY: `&mut self`: no other access; positions head..tail hold items that were
            // pushed and not popped, each dropped once here.
            unsafe { self.slots[pos & self.mask].get_mut().assume_init_drop() };
            pos = pos.wrapping_add(1);
        }
    }
}

impl<T> std::fmt::Debug for Spsc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spsc")
            .field("capacity", &self.capacity)
            .field("head", &self.head.pos.load(Ordering::Relaxed))
            .field("tail", &self.tail.pos.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Spsc;
    use std::sync::Arc;

    #[test]
    fn fills_and_drains_in_order() {
        let ring = Spsc::new(3);
        // SAFETY: one thread does all pushes and pops.
        unsafe {
            for round in 0..5u32 {
                for i in 0..3 {
                    assert!(ring.push(round * 10 + i).is_ok());
                }
                assert_eq!(ring.push(99), Err(99));
                for i in 0..3 {
                    assert_eq!(ring.pop().map(|(v, _)| v), Some(round * 10 + i));
                }
                assert!(ring.pop().is_none());
            }
        }
    }

    #[test]
    fn drops_what_is_left() {
        let item = Arc::new(());
        let ring = Spsc::new(4);
        // SAFETY: one thread.
        unsafe {
            ring.push(item.clone()).unwrap();
            ring.push(item.clone()).unwrap();
            drop(ring.pop());
        }
        assert_eq!(Arc::strong_count(&item), 2);
        drop(ring);
        assert_eq!(Arc::strong_count(&item), 1);
    }

    #[test]
    fn two_threads_keep_order() {
        const N: u64 = 200_000;
        let ring = Arc::new(Spsc::new(5));
        let producer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                for i in 0..N {
                    let mut item = Box::new(i);
                    // SAFETY: this thread is the only producer.
                    while let Err(back) = unsafe { ring.push(item) } {
                        item = back;
                        std::hint::spin_loop();
                    }
                }
            })
        };
        let mut next = 0;
        while next < N {
            // SAFETY: this thread is the only consumer.
            if let Some((v, _)) = unsafe { ring.pop() } {
                assert_eq!(*v, next);
                next += 1;
            }
        }
        producer.join().unwrap();
        // SAFETY: only consumer.
        assert!(unsafe { ring.pop() }.is_none());
    }
}
