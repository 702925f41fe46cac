//! Shutdown: a process-wide request, relayed to each shard as a local event.
//!
//! [`RuntimeHandle::shutdown`](crate::RuntimeHandle::shutdown) (any thread) sets the request
//! and wakes one watcher task per shard; the watcher stops the shard's listeners and sets the
//! shard's [`ShutdownSignal`], which every task of that shard can poll or await.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use atomic_waker::AtomicWaker;

use crate::local_event::LocalEvent;

/// The process-wide shutdown request. One per runtime, shared by all shards and the handle.
#[derive(Debug)]
pub(crate) struct ShutdownShared {
    requested: AtomicBool,
    /// One per shard: the shard's watcher task parks here.
    watchers: Vec<AtomicWaker>,
}

impl ShutdownShared {
    pub(crate) fn new(shard_count: usize) -> Self {
        ShutdownShared {
            requested: AtomicBool::new(false),
            watchers: (0..shard_count).map(|_| AtomicWaker::new()).collect(),
        }
    }

    /// Requests shutdown of every shard. Idempotent; callable from any thread.
    pub(crate) fn request(&self) {
        self.requested.store(true, Ordering::Release);
        for w in &self.watchers {
            w.wake();
        }
    }

    pub(crate) fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// Completes when shutdown was requested. Awaited by shard `shard`'s watcher task only.
    pub(crate) async fn requested(&self, shard: usize) {
        std::future::poll_fn(|cx| {
            if self.is_requested() {
                return Poll::Ready(());
            }
            self.watchers[shard].register(cx.waker());
            if self.is_requested() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// The shutdown signal of one shard. One per shard (cheap to clone; not `Send`).
///
/// Set once the runtime begins to shut down: listeners have stopped accepting,
/// [`ShardContext::accept`](crate::ShardContext::accept) returns `None`, and the shard has
/// [`RuntimeConfig::drain_timeout`](crate::RuntimeConfig::drain_timeout) to finish its main
/// task before its remaining tasks are dropped.
#[derive(Debug, Clone, Default)]
pub struct ShutdownSignal {
    event: Rc<LocalEvent>,
}

impl ShutdownSignal {
    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.event.is_set()
    }

    /// Completes once shutdown has begun.
    pub async fn wait(&self) {
        self.event.wait().await
    }

    pub(crate) fn trigger(&self) {
        self.event.set();
    }
}
