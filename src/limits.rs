//! Every bound of the broker, with its unit last, in one place. Runtime bounds (shards,
//! rings, mesh, timers) live in `shard::limits`.

/// Largest MQTT packet the broker accepts, fixed header included (MQTT 5.0 Maximum Packet
/// Size advertised to clients). 1 MiB, as EMQX; operators raise it per deployment.
pub const MAX_PACKET_SIZE_BYTES_DEFAULT: u32 = 1 << 20;

/// Size of the shard's shared read scratch: one read of one socket lands here.
pub const READ_SCRATCH_BYTES: usize = 64 << 10;

/// A fresh scratch is taken when less than this is free, so one read is never tiny.
pub const READ_SCRATCH_FREE_MIN_BYTES: usize = 4 << 10;

/// Seconds a new connection has to send CONNECT before it is closed.
pub const CONNECT_TIMEOUT_SECS_DEFAULT: u64 = 10;

const _: () = assert!(READ_SCRATCH_FREE_MIN_BYTES < READ_SCRATCH_BYTES);
const _: () = assert!(MAX_PACKET_SIZE_BYTES_DEFAULT as usize <= 268_435_455 + 5);
