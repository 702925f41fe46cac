//! The run's clock: CLOCK_MONOTONIC by default (shared by every process on one host), or
//! CLOCK_REALTIME when publishers and subscribers run on different, synchronised hosts.
//! Payload timestamps, schedules and start times are all ns on this clock.

use std::sync::atomic::{AtomicI32, Ordering};

static CLOCK_ID: AtomicI32 = AtomicI32::new(libc::CLOCK_MONOTONIC);

/// Which clock the run reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockKind {
    /// CLOCK_MONOTONIC: one host (every process on it agrees).
    Monotonic,
    /// CLOCK_REALTIME: several hosts whose clocks are synchronised (PTP, NTP).
    Realtime,
}

/// Selects the clock for this process; call once at start, before any reading.
pub fn select(kind: ClockKind) {
    let id = match kind {
        ClockKind::Monotonic => libc::CLOCK_MONOTONIC,
        ClockKind::Realtime => libc::CLOCK_REALTIME,
    };
    CLOCK_ID.store(id, Ordering::Relaxed);
}

/// Now, ns on the run's clock.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer; clock_gettime cannot fail then.
    let rc = unsafe { libc::clock_gettime(CLOCK_ID.load(Ordering::Relaxed), &mut ts) };
    debug_assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Time from now until `target_ns` (zero if it passed).
pub fn until(target_ns: u64) -> std::time::Duration {
    std::time::Duration::from_nanos(target_ns.saturating_sub(now_ns()))
}
