//! SIGINT/SIGTERM handling for binaries: the first signal shuts the runtime down cleanly,
//! a second one during the drain exits the process at once (status 130).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::runtime::RuntimeHandle;

/// Exit status after a second signal interrupts the drain (128 + SIGINT, as shells report).
const FORCED_EXIT_STATUS: i32 = 130;

/// SIGINT and SIGTERM, caught. Install before [`Runtime::start`](crate::Runtime::start) so
/// that a signal arriving while the shards start is kept for
/// [`RuntimeHandle::wait_for_signal_then_shutdown`] instead of killing the process.
/// Process-wide; one per process.
pub struct ShutdownSignals {
    signals: Signals,
    first_seen: Arc<AtomicBool>,
}

impl std::fmt::Debug for ShutdownSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownSignals").finish_non_exhaustive()
    }
}

impl ShutdownSignals {
    /// Installs the handlers. They stay installed: after the first signal, a second
    /// SIGINT/SIGTERM exits the process immediately.
    pub fn install() -> io::Result<Self> {
        let first_seen = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Registered before the iterator so that it acts only from the second signal on.
            signal_hook::flag::register_conditional_shutdown(
                sig,
                FORCED_EXIT_STATUS,
                Arc::clone(&first_seen),
            )?;
        }
        let signals = Signals::new([SIGINT, SIGTERM])?;
        Ok(ShutdownSignals {
            signals,
            first_seen,
        })
    }
}

impl RuntimeHandle {
    /// Blocks the calling thread until SIGINT or SIGTERM arrives (or every shard stopped on
    /// its own), then shuts the runtime down and joins every shard thread.
    ///
    /// Returns the signal that ended the wait (`None` if the shards stopped by themselves).
    /// A shard panic comes back as an error wrapping a [`JoinError`](crate::JoinError).
    pub fn wait_for_signal_then_shutdown(
        self,
        mut signals: ShutdownSignals,
    ) -> io::Result<Option<i32>> {
        let _ = self.exit.signals.set(signals.signals.handle());
        if self.exit.all_exited() {
            signals.signals.handle().close();
        }
        let received = signals.signals.forever().next();
        if let Some(sig) = received {
            signals.first_seen.store(true, Ordering::SeqCst);
            tracing::info!(signal = sig, "signal received: shutting down");
        }
        self.shutdown();
        self.join().map_err(io::Error::other)?;
        Ok(received)
    }
}
