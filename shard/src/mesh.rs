//! The mesh: typed, bounded, batched messages between shards.
//!
//! ```text
//!  shard s (sender)                                  shard t (receiver)
//!  send(t, m) ─► outbox[t]: Vec<M> ──flush──► lane(s,t): Spsc<Vec<M>> ──recv──► Batch
//!                (no synchronization)   one batch per    (bounded ring)     waker: AtomicWaker
//!                                       target per turn                          │
//!                 next outbox ◄── lane(s,t).returns: Spsc<Vec<M>> ◄── drop(batch.msgs)
//! ```
//!
//! * `send` never waits: it appends to a plain `Vec` owned by the sending shard, or hands the
//!   message back as [`Full`] when the outbox is at capacity.
//! * A flusher task per shard moves each non-empty outbox, whole, onto its lane as one batch,
//!   once per wake-up (it yields first so that everything the current loop turn sends goes
//!   in the same batch). When a lane ring is full the outbox keeps growing (and batches get
//!   bigger) until the receiver frees a slot and wakes the flusher.
//! * Order is preserved per (source, target): one producer (the source's flusher, or an
//!   explicit `flush` on the same thread) and one consumer per FIFO lane.
//! * Batch buffers are recycled: when the receiver drops a batch's [`Msgs`], the emptied
//!   `Vec` goes back to the sender on the lane's return ring and becomes a later outbox, so
//!   in steady state the mesh allocates nothing and frees nothing across threads.
//! * A parked receiver is woken through its `AtomicWaker`, which glommio routes to the
//!   right executor (its eventfd when that executor sleeps). See MESH.md for the numbers
//!   behind this choice of transport.

use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use atomic_waker::AtomicWaker;

mod lane;

use crate::config::MeshConfig;
use crate::error::Full;
use crate::shutdown::ShutdownSignal;
use crate::stats::ShardStats;
use lane::Spsc;

/// Keeps per-shard atomics on their own cache lines (two lines: adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Largest batch buffer (capacity times message size) that goes back to its sender for
/// reuse; bigger ones are freed. Bounds what an idle lane keeps: `ring_batches` buffers of
/// at most this size.
const RECYCLE_MAX_BYTES: usize = 64 << 10;

/// The ring from one shard to another. One per (source, target) pair, shared by the two.
#[derive(Debug)]
struct Lane<M> {
    /// Batches, source to target. Producer: the source shard's thread; consumer: the
    /// target shard's thread (each shard has exactly one `MeshLocal`, which is not `Send`).
    ring: Spsc<Vec<M>>,
    /// Emptied batch buffers, target back to source. Producer: the target's thread (a
    /// `Msgs` holds an `Rc` of the target's `MeshLocal`, so it is dropped there); consumer:
    /// the source's thread.
    returns: Spsc<Vec<M>>,
    /// Set by the source when it found the ring full; the target clears it and wakes the
    /// source's flusher after it pops.
    sender_blocked: AtomicBool,
}

/// What all shards share: lanes and wake-up slots. One per runtime.
#[derive(Debug)]
pub(crate) struct MeshShared<M> {
    shard_count: usize,
    config: MeshConfig,
    /// `lanes[source * shard_count + target]`.
    lanes: Vec<Padded<Lane<M>>>,
    /// Per target shard: its receiving task parks here.
    inbox_wakers: Vec<Padded<AtomicWaker>>,
    /// Per target shard: its receiving task is (about to be) parked. Senders read this
    /// before touching the waker, so a busy receiver costs them a shared load, not a
    /// read-modify-write on a line the receiver also writes.
    inbox_parked: Vec<Padded<AtomicBool>>,
    /// Per source shard: its flusher parks here.
    flusher_wakers: Vec<Padded<AtomicWaker>>,
    /// Per source shard: a target freed room in one of the source's full lanes.
    lane_room: Vec<Padded<AtomicBool>>,
}

impl<M: Send> MeshShared<M> {
    pub(crate) fn new(shard_count: usize, config: MeshConfig) -> Self {
        let lanes = (0..shard_count * shard_count)
            .map(|_| {
                Padded(Lane {
                    ring: Spsc::new(config.ring_batches),
                    returns: Spsc::new(config.ring_batches),
                    sender_blocked: AtomicBool::new(false),
                })
            })
            .collect();
        let per_shard = || (0..shard_count).map(|_| Padded::default()).collect();
        MeshShared {
            shard_count,
            config,
            lanes,
            inbox_wakers: per_shard(),
            inbox_parked: (0..shard_count)
                .map(|_| Padded(AtomicBool::new(false)))
                .collect(),
            flusher_wakers: per_shard(),
            lane_room: (0..shard_count)
                .map(|_| Padded(AtomicBool::new(false)))
                .collect(),
        }
    }
}

impl<M> MeshShared<M> {
    fn lane(&self, source: usize, target: usize) -> &Lane<M> {
        &self.lanes[source * self.shard_count + target]
    }

    /// A one-line picture of the shared state, for stall diagnostics: per target, whether its
    /// receiver is parked, and per lane the ring positions and the blocked-sender flag.
    pub(crate) fn debug_state(&self) -> String {
        let mut out = String::new();
        for t in 0..self.shard_count {
            out += &format!(
                "shard {t}: inbox_parked {} lane_room {};",
                self.inbox_parked[t].load(Ordering::Relaxed),
                self.lane_room[t].load(Ordering::Relaxed)
            );
            for s in 0..self.shard_count {
                let lane = self.lane(s, t);
                out += &format!(
                    " from {s} {:?} blocked {};",
                    lane.ring,
                    lane.sender_blocked.load(Ordering::Relaxed)
                );
            }
            out += " ";
        }
        out
    }
}

/// Messages from one source shard, in the order it sent them.
///
/// Not `Send`: it belongs to the receiving shard (dropping its [`Msgs`] hands the buffer back
/// to the sender through that shard's end of the lane).
#[derive(Debug)]
pub struct Batch<M> {
    /// The sending shard.
    pub source: usize,
    /// The messages, oldest first.
    pub msgs: Msgs<M>,
}

/// The messages of a [`Batch`]: a `Vec<M>` (through `Deref`/`DerefMut`) whose buffer goes
/// back to the sending shard for reuse when this is dropped (or, when consumed with
/// `into_iter`, once the iterator is dropped). [`into_vec`](Self::into_vec) keeps the buffer.
pub struct Msgs<M> {
    vec: Vec<M>,
    source: usize,
    /// The receiving shard's end of the mesh. `Rc`: keeps the drop on that shard's thread.
    home: Rc<MeshLocal<M>>,
}

impl<M> Msgs<M> {
    /// The messages as a plain `Vec` (its buffer is then not recycled).
    pub fn into_vec(mut self) -> Vec<M> {
        std::mem::take(&mut self.vec)
    }
}

impl<M> Deref for Msgs<M> {
    type Target = Vec<M>;
    fn deref(&self) -> &Vec<M> {
        &self.vec
    }
}

impl<M> DerefMut for Msgs<M> {
    fn deref_mut(&mut self) -> &mut Vec<M> {
        &mut self.vec
    }
}

impl<M: std::fmt::Debug> std::fmt::Debug for Msgs<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.vec.fmt(f)
    }
}

impl<M> Drop for Msgs<M> {
    fn drop(&mut self) {
        if self.vec.capacity() == 0
            || self.vec.capacity().saturating_mul(std::mem::size_of::<M>()) > RECYCLE_MAX_BYTES
        {
            return;
        }
        // Drop the messages first: their drops may drop other batches (and push to the
        // return ring) before we push below.
        self.vec.clear();
        let me = &*self.home;
        let lane = me.shared.lane(self.source, me.shard_id);
        let vec = std::mem::take(&mut self.vec);
        // SAFETY: the producer of `lane.returns` is the target shard's thread: `self.home` is
        // that shard's only `MeshLocal`, and the `Rc` keeps this drop on its thread. Pushes do
        // not nest (the messages were dropped above). A full return ring frees the buffer.
        drop(unsafe { lane.returns.push(vec) });
    }
}

impl<M> IntoIterator for Msgs<M> {
    type Item = M;
    type IntoIter = IntoIter<M>;
    fn into_iter(mut self) -> IntoIter<M> {
        let end = self.vec.len();
        // SAFETY: the iterator owns elements `next..end` from here on (it reads each once and
        // drops the rest); the `Vec` sees length 0 so that it never drops them itself.
        unsafe { self.vec.set_len(0) };
        IntoIter {
            msgs: self,
            next: 0,
            end,
        }
    }
}

impl<'a, M> IntoIterator for &'a Msgs<M> {
    type Item = &'a M;
    type IntoIter = std::slice::Iter<'a, M>;
    fn into_iter(self) -> Self::IntoIter {
        self.vec.iter()
    }
}

impl<'a, M> IntoIterator for &'a mut Msgs<M> {
    type Item = &'a mut M;
    type IntoIter = std::slice::IterMut<'a, M>;
    fn into_iter(self) -> Self::IntoIter {
        self.vec.iter_mut()
    }
}

/// The messages of a [`Batch`] by value, oldest first; recycles the buffer when dropped.
pub struct IntoIter<M> {
    /// Its `Vec` has length 0; elements `next..end` of its buffer are still owned by us.
    msgs: Msgs<M>,
    next: usize,
    end: usize,
}

impl<M> Iterator for IntoIter<M> {
    type Item = M;
    fn next(&mut self) -> Option<M> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: `next < end <= capacity`, the element at `next` is initialized and still
        // ours (see `into_iter`); it is read once, as `next` moves past it.
        let msg = unsafe { std::ptr::read(self.msgs.vec.as_ptr().add(self.next)) };
        self.next += 1;
        Some(msg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end - self.next;
        (left, Some(left))
    }
}

impl<M> ExactSizeIterator for IntoIter<M> {}

impl<M> Drop for IntoIter<M> {
    fn drop(&mut self) {
        let left = self.end - self.next;
        let start = self.next;
        self.next = self.end;
        // SAFETY: elements `start..end` are initialized and ours, dropped once here (`next`
        // already moved past them in case a drop panics: the rest then leak, no double drop).
        unsafe {
            let ptr = self.msgs.vec.as_mut_ptr().add(start);
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(ptr, left));
        }
        // `self.msgs` (length 0) drops next and recycles the buffer.
    }
}

impl<M> std::fmt::Debug for IntoIter<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntoIter")
            .field("left", &(self.end - self.next))
            .finish()
    }
}

/// This shard's end of the mesh. One per shard (clones share it; not `Send`).
///
/// Any task of the shard may [`send`](Self::send); exactly one task should
/// [`recv`](Self::recv) (the wake-up slot holds one waiter).
pub struct MeshHandle<M> {
    inner: Rc<MeshLocal<M>>,
}

impl<M> Clone for MeshHandle<M> {
    fn clone(&self) -> Self {
        MeshHandle {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<M> std::fmt::Debug for MeshHandle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshHandle")
            .field("shard_id", &self.inner.shard_id)
            .finish_non_exhaustive()
    }
}

struct MeshLocal<M> {
    shard_id: usize,
    shared: Arc<MeshShared<M>>,
    /// Per target: messages not yet flushed. Only this shard touches them.
    outboxes: Vec<RefCell<Vec<M>>>,
    /// Some outbox went from empty to non-empty since the flusher last ran.
    flush_pending: Cell<bool>,
    /// Where the next `try_recv` starts scanning, so no source starves the others.
    next_source: Cell<usize>,
    stats: Arc<ShardStats>,
    shutdown: ShutdownSignal,
}

impl<M: Send + 'static> MeshHandle<M> {
    pub(crate) fn new(
        shard_id: usize,
        shared: Arc<MeshShared<M>>,
        stats: Arc<ShardStats>,
        shutdown: ShutdownSignal,
    ) -> Self {
        let outboxes = (0..shared.shard_count)
            .map(|_| RefCell::new(Vec::new()))
            .collect();
        MeshHandle {
            inner: Rc::new(MeshLocal {
                shard_id,
                shared,
                outboxes,
                flush_pending: Cell::new(false),
                next_source: Cell::new(0),
                stats,
                shutdown,
            }),
        }
    }

    /// Number of shards (valid targets are `0..shard_count()`, this shard included).
    pub fn shard_count(&self) -> usize {
        self.inner.shared.shard_count
    }

    /// Appends `msg` to the outbox for `target`; it leaves with the next flush.
    ///
    /// Never waits. Returns the message as [`Full`] when the outbox holds
    /// `outbox_capacity_msgs`. Sending to this shard itself works like any other target.
    ///
    /// # Panics
    /// If `target >= shard_count()`.
    pub fn send(&self, target: usize, msg: M) -> Result<(), Full<M>> {
        let me = &*self.inner;
        let mut outbox = me.outboxes[target].borrow_mut();
        let len = outbox.len();
        if len >= me.shared.config.outbox_capacity_msgs {
            me.stats.mesh_full.incr();
            return Err(Full(msg));
        }
        outbox.push(msg);
        me.stats.mesh_sent_msgs.incr();
        if len + 1 == me.shared.config.outbox_high_water_msgs {
            me.stats.mesh_congested.incr();
        }
        if len == 0 && !me.flush_pending.replace(true) {
            me.shared.flusher_wakers[me.shard_id].wake();
        }
        Ok(())
    }

    /// Whether the outbox for `target` is at or past its high-water mark: stop producing
    /// messages for it (e.g. stop reading from publishing sockets) until this turns false.
    pub fn is_congested(&self, target: usize) -> bool {
        self.outbox_len(target) >= self.inner.shared.config.outbox_high_water_msgs
    }

    /// Whether any outbox of this shard is congested.
    pub fn any_congested(&self) -> bool {
        (0..self.shard_count()).any(|t| self.is_congested(t))
    }

    /// Messages waiting in the outbox for `target` (not yet on its lane).
    pub fn outbox_len(&self, target: usize) -> usize {
        self.inner.outboxes[target].borrow().len()
    }

    /// Pushes every non-empty outbox onto its lane now, one batch per target.
    ///
    /// The runtime's flusher does this once per loop turn on its own; call it to send a
    /// batch right away. Returns whether every outbox is now empty (false: a lane was full,
    /// its outbox stays and the flusher retries once the receiver makes room).
    pub fn flush(&self) -> bool {
        let mut all_sent = true;
        for target in 0..self.shard_count() {
            all_sent &= self.flush_target(target);
        }
        all_sent
    }

    fn flush_target(&self, target: usize) -> bool {
        let me = &*self.inner;
        let mut outbox = me.outboxes[target].borrow_mut();
        if outbox.is_empty() {
            return true;
        }
        let lane = me.shared.lane(me.shard_id, target);
        let len = outbox.len();
        let batch = std::mem::take(&mut *outbox);
        // SAFETY: this shard's thread is the only producer of `lane.ring` (see `Lane`).
        let batch = match unsafe { lane.ring.push(batch) } {
            Ok(()) => return self.pushed(lane, &mut outbox, len, target),
            Err(batch) => batch,
        };
        // The ring is full. Ask the target to wake us when it pops, then try once more in
        // case it popped between our push and the flag (the fences pair with try_recv's).
        lane.sender_blocked.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // SAFETY: as above.
        match unsafe { lane.ring.push(batch) } {
            Ok(()) => self.pushed(lane, &mut outbox, len, target),
            Err(batch) => {
                *outbox = batch;
                me.stats.mesh_lane_full.incr();
                false
            }
        }
    }

    fn pushed(&self, lane: &Lane<M>, outbox: &mut Vec<M>, len: usize, target: usize) -> bool {
        let me = &*self.inner;
        // The next outbox: a buffer the target gave back, else a new one the size of this
        // batch. SAFETY: this shard's thread is the only consumer of `lane.returns`.
        *outbox = match unsafe { lane.returns.pop() } {
            Some((vec, _)) => vec,
            None => Vec::with_capacity(len),
        };
        me.stats.mesh_sent_batches.incr();
        // Pairs with the fence in `recv`: either we see the receiver parked, or it sees
        // our batch when it checks the lanes again.
        fence(Ordering::SeqCst);
        if me.shared.inbox_parked[target].load(Ordering::Relaxed) {
            me.shared.inbox_wakers[target].wake();
        }
        true
    }

    /// Takes the next batch from any source without waiting.
    pub fn try_recv(&self) -> Option<Batch<M>> {
        let me = &*self.inner;
        let n = me.shared.shard_count;
        let start = me.next_source.get();
        for k in 0..n {
            let source = (start + k) % n;
            let lane = me.shared.lane(source, me.shard_id);
            // SAFETY: this shard's thread is the only consumer of `lane.ring` (see `Lane`).
            let Some((msgs, left)) = (unsafe { lane.ring.pop() }) else {
                continue;
            };
            me.next_source.set((source + 1) % n);
            // Wake a blocked sender only once the ring is half empty: one wake-up per
            // half ring instead of one per batch while the sender outruns us. We keep
            // popping until every lane is empty, so this point is always reached. `left`
            // may undercount (pushes not seen yet): then we look early, which is harmless.
            if left <= lane.ring.capacity() / 2 {
                // Pairs with the fence in `flush_target`: either the sender sees our pop when
                // it retries, or we see its flag here.
                fence(Ordering::SeqCst);
                if lane.sender_blocked.load(Ordering::Relaxed)
                    && lane.sender_blocked.swap(false, Ordering::Relaxed)
                {
                    me.shared.lane_room[source].store(true, Ordering::Release);
                    me.shared.flusher_wakers[source].wake();
                }
            }
            me.stats.mesh_received_batches.incr();
            me.stats.mesh_received_msgs.add(msgs.len() as u64);
            return Some(Batch {
                source,
                msgs: Msgs {
                    vec: msgs,
                    source,
                    home: Rc::clone(&self.inner),
                },
            });
        }
        None
    }

    /// Waits for the next batch from any source. Returns `None` once shutdown has begun and
    /// no batch is waiting. Call from one task per shard.
    pub async fn recv(&self) -> Option<Batch<M>> {
        let me = &*self.inner;
        let parked = &me.shared.inbox_parked[me.shard_id];
        let batch = std::future::poll_fn(|cx| {
            if let Some(batch) = self.try_recv() {
                return Poll::Ready(Some(batch));
            }
            if me.shutdown.is_shutting_down() {
                return Poll::Ready(None);
            }
            me.shared.inbox_wakers[me.shard_id].register(cx.waker());
            parked.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            match self.try_recv() {
                Some(batch) => Poll::Ready(Some(batch)),
                None => Poll::Pending,
            }
        })
        .await;
        if parked.load(Ordering::Relaxed) {
            parked.store(false, Ordering::Relaxed);
        }
        batch
    }

    /// Wakes this shard's receiving task (used when shutdown begins).
    pub(crate) fn wake_receiver(&self) {
        self.inner.shared.inbox_wakers[self.inner.shard_id].wake();
    }

    /// The flusher: one task per shard, spawned by the runtime. Runs until the shard stops.
    pub(crate) async fn run_flusher(self) {
        let me = &*self.inner;
        let waker = &me.shared.flusher_wakers[me.shard_id];
        let room = &me.shared.lane_room[me.shard_id];
        loop {
            std::future::poll_fn(|cx| {
                let ready = |me: &MeshLocal<M>| {
                    me.flush_pending.replace(false) | room.swap(false, Ordering::Acquire)
                };
                if ready(me) {
                    return Poll::Ready(());
                }
                waker.register(cx.waker());
                if ready(me) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            // Let the tasks already runnable in this turn add to the outboxes first, so they
            // leave as one batch per target.
            futures_lite::future::yield_now().await;
            self.flush();
        }
    }
}
