//! Every bound of the load generator, with its unit last, in one place.

/// Bytes at the front of every payload: run id, publisher id, sequence number, intended
/// send time (see `payload.rs`).
pub const PAYLOAD_HEADER_BYTES: usize = 24;
/// Largest payload a run may send (MQTT allows 256 MiB; a load test has no use for that).
pub const PAYLOAD_BYTES_MAX: usize = 16 << 20;
/// Largest packet accepted from the broker.
pub const PACKET_BYTES_MAX: u32 = 32 << 20;

/// QoS 1/2 messages one publisher may have unacknowledged, by default: the broker's
/// default Receive Maximum (32), so a 3.1.1 run does not overrun it.
pub const OUTSTANDING_DEFAULT: usize = 32;
/// Most unacknowledged messages per publisher (packet identifiers are 16-bit and reused
/// modulo 65535, so the window must stay below that).
pub const OUTSTANDING_MAX: usize = 65_000;
/// QoS 0: bytes a publisher lets wait (its own buffer plus the socket's send queue,
/// `SIOCOUTQ`) before it stops generating, by default.
pub const OUTSTANDING_BYTES_DEFAULT: usize = 64 << 10;
/// Most messages a publisher appends to its buffer per wake-up before it lets reads and
/// other connections run.
pub const SEND_BATCH_MSGS_MAX: usize = 256;
/// How soon a QoS 0 publisher held back by its socket's send queue looks again, µs.
pub const OUTQ_RECHECK_US: u64 = 200;

/// Bytes one read may take from a socket (one scratch buffer per shard).
pub const READ_SCRATCH_BYTES: usize = 64 << 10;

/// Connections one shard opens at once during setup (TCP handshake to CONNACK/SUBACK).
pub const CONNECTS_IN_FLIGHT_PER_SHARD_DEFAULT: usize = 256;
/// Seconds one connection has from its TCP connect to its CONNACK (and SUBACK).
pub const CONNECT_TIMEOUT_SECS: u64 = 10;
/// Seconds every client of the run has to be connected (and subscribed), by default.
pub const SETUP_TIMEOUT_SECS_DEFAULT: u64 = 60;
/// Milliseconds between "all ready" and the first intended send, so that every shard and
/// worker process sees the start time before it passes.
pub const START_DELAY_MS: u64 = 200;

/// Seconds a run lasts by default (without `--count`).
pub const DURATION_SECS_DEFAULT: f64 = 10.0;
/// Seconds a run with `--count` and without `--duration` may last at most.
pub const COUNT_DURATION_SECS_DEFAULT: f64 = 60.0;
/// Longest run.
pub const DURATION_SECS_MAX: f64 = 86_400.0;
/// Seconds subscribers keep reading after the publishers are done, at most.
pub const DRAIN_SECS_DEFAULT: f64 = 5.0;
/// A draining subscriber stops once nothing arrived for this long, ms.
pub const DRAIN_IDLE_MS: u64 = 300;
/// Seconds the coordinator waits past the end of the run for every process to report.
pub const REPORT_GRACE_SECS: u64 = 30;

/// Interval of the progress line and of the HDR interval log, ms.
pub const INTERVAL_MS: u64 = 1000;
/// Largest latency recorded, µs (one hour); larger values are clamped.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Significant figures of every histogram.
pub const HISTOGRAM_SIGFIGS: u8 = 3;

/// Most worker processes.
pub const PROCS_MAX: usize = 256;
/// Most clients of one kind in a run.
pub const CLIENTS_MAX: usize = 10_000_000;
/// File descriptors a process keeps for itself beyond its sockets.
pub const FDS_RESERVED: u64 = 64;
/// Error messages a report keeps (the rest are only counted).
pub const ERRORS_KEPT_MAX: usize = 20;

const _: () = assert!(OUTSTANDING_DEFAULT <= OUTSTANDING_MAX);
const _: () = assert!(OUTSTANDING_MAX < u16::MAX as usize);
const _: () = assert!(PAYLOAD_HEADER_BYTES <= PAYLOAD_BYTES_MAX);
const _: () = assert!(PAYLOAD_BYTES_MAX < PACKET_BYTES_MAX as usize);
const _: () = assert!(CONNECTS_IN_FLIGHT_PER_SHARD_DEFAULT > 0);
