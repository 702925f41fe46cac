//! Stall detection: finding tasks that hold a core too long.
//!
//! Two parts, both on when [`RuntimeConfig::stall_detection`](crate::RuntimeConfig) is set:
//! * glommio's detector, with our threshold: when a task queue runs past its preemption
//!   budget plus the threshold, glommio signals the shard thread, captures a backtrace (the
//!   task's location) and logs it through the `log` crate (a `tracing-subscriber` with its
//!   default `tracing-log` feature shows it). glommio 0.9 does not export the type its
//!   `stall` callback receives, so that callback cannot be overridden to count.
//! * a lag probe per shard, which counts: a task sleeps for the threshold and measures how
//!   late it wakes up; a late wake-up means something held the core. Each one increments
//!   [`ShardStats::stalls`](crate::ShardStats) and logs a `tracing` warning.

use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{StallDetectionHandler, TaskQueueHandle};

use crate::shutdown::ShutdownSignal;
use crate::stats::ShardStats;

/// glommio's stall detector with our threshold. One per shard executor.
#[derive(Debug)]
pub(crate) struct StallThreshold(pub(crate) Duration);

impl StallDetectionHandler for StallThreshold {
    fn threshold(&self, _queue: TaskQueueHandle, _max_expected: Duration) -> Option<Duration> {
        Some(self.0)
    }
}

/// The lag probe: one task per shard, until shutdown.
pub(crate) async fn run_lag_probe(
    shard_id: usize,
    threshold: Duration,
    stats: Arc<ShardStats>,
    shutdown: ShutdownSignal,
) {
    let interval = threshold.max(Duration::from_millis(1));
    while !shutdown.is_shutting_down() {
        let start = Instant::now();
        glommio::timer::sleep(interval).await;
        let lag = start.elapsed().saturating_sub(interval);
        if lag > threshold {
            stats.stalls.incr();
            tracing::warn!(
                shard_id,
                lag_ms = lag.as_millis() as u64,
                "shard stalled: a task held the core past the stall threshold"
            );
        }
    }
}
