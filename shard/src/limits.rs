//! Every bound of the runtime, in one place, with its unit in its name.
//!
//! The `*_DEFAULT` values are what [`RuntimeConfig::default`](crate::RuntimeConfig) uses;
//! the `*_MIN`/`*_MAX` values are what [`RuntimeConfig::validate`](crate::RuntimeConfig::validate)
//! accepts. Relations between them are checked at compile time.

/// Most shards one runtime may start (a shard mask of 256 bits covers them all).
pub const SHARD_COUNT_MAX: usize = 256;

/// Locked memory glommio registers with io_uring per shard. glommio rounds anything
/// smaller up to 64 KiB; its own default (10 MiB) does not fit an 8 MiB `ulimit -l`.
pub const IO_MEMORY_BYTES_DEFAULT: usize = 64 << 10;
/// Smallest io_memory glommio accepts (it rounds up to this).
pub const IO_MEMORY_BYTES_MIN: usize = 64 << 10;
/// Largest io_memory we allow per shard: 16 shards of it still fit in 1 GiB of memlock.
pub const IO_MEMORY_BYTES_MAX: usize = 64 << 20;

/// io_uring submission queue depth per ring (glommio makes three rings per shard).
pub const RING_DEPTH_DEFAULT: usize = 2048;
/// Smallest ring depth we accept.
pub const RING_DEPTH_MIN: usize = 64;
/// Largest ring depth we accept (the kernel caps entries at 32768).
pub const RING_DEPTH_MAX: usize = 32768;

/// Listen backlog per shard listener (the kernel further caps it at `net.core.somaxconn`).
pub const LISTEN_BACKLOG_DEFAULT: u32 = 4096;
/// Largest backlog we pass to `listen(2)`.
pub const LISTEN_BACKLOG_MAX: u32 = 65535;
/// Most listeners (addresses) one runtime binds; each is bound once per shard.
pub const LISTENERS_MAX: usize = 16;

/// Batches in flight per mesh lane (one lane per (source, target) shard pair).
pub const MESH_RING_BATCHES_DEFAULT: usize = 64;
/// Smallest lane ring.
pub const MESH_RING_BATCHES_MIN: usize = 2;
/// Largest lane ring.
pub const MESH_RING_BATCHES_MAX: usize = 1 << 16;
/// Outbox length (messages, per target) at which `MeshHandle::is_congested` turns true.
pub const MESH_OUTBOX_HIGH_WATER_MSGS_DEFAULT: usize = 4096;
/// Outbox length (messages, per target) at which `MeshHandle::send` returns `Full`.
pub const MESH_OUTBOX_CAPACITY_MSGS_DEFAULT: usize = 16384;
/// Largest outbox capacity we accept.
pub const MESH_OUTBOX_CAPACITY_MSGS_MAX: usize = 1 << 22;

/// Granularity of the per-shard timer driver: deadlines fire at most this late.
pub const TIMER_TICK_MS_DEFAULT: u64 = 10;
/// Finest timer granularity we accept.
pub const TIMER_TICK_MS_MIN: u64 = 1;
/// Coarsest timer granularity we accept.
pub const TIMER_TICK_MS_MAX: u64 = 1000;
/// Slots per timer-wheel level (a power of two: 6 bits of the tick count per level).
pub const TIMER_WHEEL_SLOTS: usize = 64;
/// Levels of the timer wheel: 64^6 ticks (about 795 days at 1 ms a tick) before clamping.
pub const TIMER_WHEEL_LEVELS: usize = 6;
/// Most live timers in one wheel (ids are 32-bit slab indices; one index is the nil link).
pub const TIMER_WHEEL_ENTRIES_MAX: usize = (u32::MAX - 1) as usize;

/// How long shards get to finish after shutdown begins before their tasks are dropped.
pub const DRAIN_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// Longest drain we accept.
pub const DRAIN_TIMEOUT_MS_MAX: u64 = 600_000;

/// A task queue that runs this long past its preemption budget is reported as a stall.
pub const STALL_THRESHOLD_MS_DEFAULT: u64 = 10;
/// glommio's preemption budget: how long one task queue runs before the executor
/// looks at I/O and other queues again.
pub const PREEMPT_BUDGET_MS_DEFAULT: u64 = 10;

const _: () = assert!(SHARD_COUNT_MAX >= 1);
const _: () = assert!(IO_MEMORY_BYTES_MIN <= IO_MEMORY_BYTES_DEFAULT);
const _: () = assert!(IO_MEMORY_BYTES_DEFAULT <= IO_MEMORY_BYTES_MAX);
// glommio creates three rings of `ring_depth` entries plus io_memory: the default must fit
// an 8 MiB memlock limit with room for a second process.
const _: () = assert!(IO_MEMORY_BYTES_DEFAULT * 2 <= 8 << 20);
const _: () = assert!(RING_DEPTH_MIN <= RING_DEPTH_DEFAULT && RING_DEPTH_DEFAULT <= RING_DEPTH_MAX);
const _: () = assert!(LISTEN_BACKLOG_DEFAULT <= LISTEN_BACKLOG_MAX);
const _: () = assert!(LISTEN_BACKLOG_MAX <= i32::MAX as u32);
const _: () = assert!(
    MESH_RING_BATCHES_MIN <= MESH_RING_BATCHES_DEFAULT
        && MESH_RING_BATCHES_DEFAULT <= MESH_RING_BATCHES_MAX
);
const _: () = assert!(MESH_OUTBOX_HIGH_WATER_MSGS_DEFAULT <= MESH_OUTBOX_CAPACITY_MSGS_DEFAULT);
const _: () = assert!(MESH_OUTBOX_CAPACITY_MSGS_DEFAULT <= MESH_OUTBOX_CAPACITY_MSGS_MAX);
const _: () = assert!(
    TIMER_TICK_MS_MIN <= TIMER_TICK_MS_DEFAULT && TIMER_TICK_MS_DEFAULT <= TIMER_TICK_MS_MAX
);
const _: () = assert!(TIMER_WHEEL_SLOTS == 64); // the wheel keeps one u64 occupancy mask per level
const _: () = assert!(TIMER_WHEEL_LEVELS * 6 < 64);
const _: () = assert!(DRAIN_TIMEOUT_MS_DEFAULT <= DRAIN_TIMEOUT_MS_MAX);
