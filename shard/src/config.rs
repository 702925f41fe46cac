//! Runtime configuration: what an operator may tune, each field bounded by [`crate::limits`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::StartError;
use crate::limits::*;

/// How to start a runtime. Read once by [`Runtime::start`](crate::Runtime::start).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Number of shards (executor threads). Default: the available parallelism.
    pub shard_count: usize,
    /// Pin shard `i` to CPU `i` (glommio `Placement::Fixed(i)`). Needs `shard_count` <= CPUs.
    pub pin_cores: bool,
    /// Locked memory glommio registers with io_uring, per shard.
    pub io_memory_bytes: usize,
    /// io_uring queue depth, per ring.
    pub ring_depth: usize,
    /// Addresses to listen on; every shard gets its own SO_REUSEPORT socket for each.
    pub listeners: Vec<ListenerConfig>,
    /// Bounds of the inter-shard mesh.
    pub mesh: MeshConfig,
    /// Granularity of the per-shard timer driver ([`ShardTimers`](crate::ShardTimers)).
    pub timer_tick: Duration,
    /// How long shards may keep running after shutdown begins.
    pub drain_timeout: Duration,
    /// Report tasks that hold a core too long (default: on in debug builds).
    pub stall_detection: bool,
    /// How far past its preemption budget a task queue may run before it is a stall.
    pub stall_threshold: Duration,
    /// glommio's preemption budget (how long one task queue runs before I/O is polled).
    pub preempt_budget: Duration,
    /// Spin this long before parking an idle shard: trades idle CPU for wake-up latency.
    pub spin_before_park: Option<Duration>,
}

/// One listening address. Bound once per shard with SO_REUSEPORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Address to bind; port 0 picks a free port (the same one for every shard).
    /// An IPv6 address is bound IPv6-only so that `0.0.0.0` and `[::]` can both be bound.
    pub addr: SocketAddr,
    /// `listen(2)` backlog per shard socket.
    pub backlog: u32,
}

/// Bounds of the mesh, the same for every (source, target) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshConfig {
    /// Batches in flight per lane (the SPSC ring between two shards).
    pub ring_batches: usize,
    /// Outbox length (messages per target) at which the target counts as congested.
    pub outbox_high_water_msgs: usize,
    /// Outbox length (messages per target) at which `send` returns `Full`.
    pub outbox_capacity_msgs: usize,
}

impl ListenerConfig {
    /// A listener on `addr` with the default backlog.
    pub fn new(addr: SocketAddr) -> Self {
        ListenerConfig {
            addr,
            backlog: LISTEN_BACKLOG_DEFAULT,
        }
    }
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            ring_batches: MESH_RING_BATCHES_DEFAULT,
            outbox_high_water_msgs: MESH_OUTBOX_HIGH_WATER_MSGS_DEFAULT,
            outbox_capacity_msgs: MESH_OUTBOX_CAPACITY_MSGS_DEFAULT,
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            shard_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pin_cores: true,
            io_memory_bytes: IO_MEMORY_BYTES_DEFAULT,
            ring_depth: RING_DEPTH_DEFAULT,
            listeners: Vec::new(),
            mesh: MeshConfig::default(),
            timer_tick: Duration::from_millis(TIMER_TICK_MS_DEFAULT),
            drain_timeout: Duration::from_millis(DRAIN_TIMEOUT_MS_DEFAULT),
            stall_detection: cfg!(debug_assertions),
            stall_threshold: Duration::from_millis(STALL_THRESHOLD_MS_DEFAULT),
            preempt_budget: Duration::from_millis(PREEMPT_BUDGET_MS_DEFAULT),
            spin_before_park: None,
        }
    }
}

impl RuntimeConfig {
    /// Checks every field against [`crate::limits`].
    pub fn validate(&self) -> Result<(), StartError> {
        let bad = |what: String| Err(StartError::Config(what));
        if self.shard_count == 0 || self.shard_count > SHARD_COUNT_MAX {
            return bad(format!(
                "shard_count {} not in 1..={SHARD_COUNT_MAX}",
                self.shard_count
            ));
        }
        if !(IO_MEMORY_BYTES_MIN..=IO_MEMORY_BYTES_MAX).contains(&self.io_memory_bytes) {
            return bad(format!(
                "io_memory_bytes {} not in {IO_MEMORY_BYTES_MIN}..={IO_MEMORY_BYTES_MAX}",
                self.io_memory_bytes
            ));
        }
        if !(RING_DEPTH_MIN..=RING_DEPTH_MAX).contains(&self.ring_depth) {
            return bad(format!(
                "ring_depth {} not in {RING_DEPTH_MIN}..={RING_DEPTH_MAX}",
                self.ring_depth
            ));
        }
        if self.listeners.len() > LISTENERS_MAX {
            return bad(format!("more than {LISTENERS_MAX} listeners"));
        }
        for l in &self.listeners {
            if l.backlog == 0 || l.backlog > LISTEN_BACKLOG_MAX {
                return bad(format!(
                    "listener {} backlog {} not in 1..={LISTEN_BACKLOG_MAX}",
                    l.addr, l.backlog
                ));
            }
        }
        let m = &self.mesh;
        if !(MESH_RING_BATCHES_MIN..=MESH_RING_BATCHES_MAX).contains(&m.ring_batches) {
            return bad(format!(
                "mesh.ring_batches {} not in {MESH_RING_BATCHES_MIN}..={MESH_RING_BATCHES_MAX}",
                m.ring_batches
            ));
        }
        if m.outbox_capacity_msgs == 0 || m.outbox_capacity_msgs > MESH_OUTBOX_CAPACITY_MSGS_MAX {
            return bad(format!(
                "mesh.outbox_capacity_msgs {} not in 1..={MESH_OUTBOX_CAPACITY_MSGS_MAX}",
                m.outbox_capacity_msgs
            ));
        }
        if m.outbox_high_water_msgs == 0 || m.outbox_high_water_msgs > m.outbox_capacity_msgs {
            return bad(format!(
                "mesh.outbox_high_water_msgs {} not in 1..=outbox_capacity_msgs",
                m.outbox_high_water_msgs
            ));
        }
        let tick_ms = self.timer_tick.as_millis();
        if tick_ms < u128::from(TIMER_TICK_MS_MIN) || tick_ms > u128::from(TIMER_TICK_MS_MAX) {
            return bad(format!(
                "timer_tick {:?} not in {TIMER_TICK_MS_MIN}..={TIMER_TICK_MS_MAX} ms",
                self.timer_tick
            ));
        }
        if self.drain_timeout > Duration::from_millis(DRAIN_TIMEOUT_MS_MAX) {
            return bad(format!(
                "drain_timeout {:?} over {DRAIN_TIMEOUT_MS_MAX} ms",
                self.drain_timeout
            ));
        }
        Ok(())
    }
}
