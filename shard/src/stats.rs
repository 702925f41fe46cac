//! Per-shard counters: written only by their shard, readable from any thread.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with one writer (its shard) and any number of readers.
///
/// `incr` is a plain load and store, not a locked read-modify-write: only the owning shard
/// writes, so no increment is lost, and readers see a value at most a few updates old.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Call only from the owning shard.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one. Call only from the owning shard.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counters of one shard. One per shard; see [`ShardContext::stats`](crate::ShardContext::stats)
/// and [`RuntimeHandle::stats`](crate::RuntimeHandle::stats).
///
/// Aligned to two cache lines so that two shards' counters never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct ShardStats {
    /// Connections returned by [`ShardContext::accept`](crate::ShardContext::accept).
    pub connections_accepted: Counter,
    /// Connections adopted from another shard with [`Handoff::into_stream`](crate::Handoff::into_stream).
    pub handoffs_adopted: Counter,
    /// Messages appended to outboxes.
    pub mesh_sent_msgs: Counter,
    /// Batches pushed onto lanes (one per target per flush).
    pub mesh_sent_batches: Counter,
    /// Messages received from lanes.
    pub mesh_received_msgs: Counter,
    /// Batches received from lanes.
    pub mesh_received_batches: Counter,
    /// `send` calls refused with `Full`.
    pub mesh_full: Counter,
    /// Times an outbox crossed its high-water mark (congestion began).
    pub mesh_congested: Counter,
    /// Flushes that found a lane ring full and kept the batch in the outbox.
    pub mesh_lane_full: Counter,
    /// Timers that fired through [`ShardTimers`](crate::ShardTimers).
    pub timers_fired: Counter,
    /// Times the shard's loop was found blocked past the stall threshold.
    pub stalls: Counter,
}

/// A copy of one shard's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // each field mirrors the ShardStats field of the same name
pub struct StatsSnapshot {
    pub shard_id: usize,
    pub connections_accepted: u64,
    pub handoffs_adopted: u64,
    pub mesh_sent_msgs: u64,
    pub mesh_sent_batches: u64,
    pub mesh_received_msgs: u64,
    pub mesh_received_batches: u64,
    pub mesh_full: u64,
    pub mesh_congested: u64,
    pub mesh_lane_full: u64,
    pub timers_fired: u64,
    pub stalls: u64,
}

impl ShardStats {
    /// Reads every counter.
    pub fn snapshot(&self, shard_id: usize) -> StatsSnapshot {
        StatsSnapshot {
            shard_id,
            connections_accepted: self.connections_accepted.get(),
            handoffs_adopted: self.handoffs_adopted.get(),
            mesh_sent_msgs: self.mesh_sent_msgs.get(),
            mesh_sent_batches: self.mesh_sent_batches.get(),
            mesh_received_msgs: self.mesh_received_msgs.get(),
            mesh_received_batches: self.mesh_received_batches.get(),
            mesh_full: self.mesh_full.get(),
            mesh_congested: self.mesh_congested.get(),
            mesh_lane_full: self.mesh_lane_full.get(),
            timers_fired: self.timers_fired.get(),
            stalls: self.stalls.get(),
        }
    }
}
