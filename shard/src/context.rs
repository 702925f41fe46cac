//! What a shard's main task is given: its identity, listeners, mesh end, timers, shutdown
//! signal and counters.

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;
use glommio::net::{TcpListener, TcpStream};

use crate::handoff::Handoff;
use crate::mesh::MeshHandle;
use crate::shutdown::ShutdownSignal;
use crate::stats::ShardStats;
use crate::timers::ShardTimers;

/// The runtime as seen from one shard. One per shard (cheap to clone; not `Send`).
pub struct ShardContext<M> {
    inner: Rc<ContextInner<M>>,
}

impl<M> Clone for ShardContext<M> {
    fn clone(&self) -> Self {
        ShardContext {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<M> std::fmt::Debug for ShardContext<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardContext")
            .field("shard_id", &self.inner.shard_id)
            .field("shard_count", &self.inner.shard_count)
            .finish_non_exhaustive()
    }
}

pub(crate) struct ContextInner<M> {
    pub(crate) shard_id: usize,
    pub(crate) shard_count: usize,
    pub(crate) listeners: Vec<Rc<TcpListener>>,
    pub(crate) mesh: MeshHandle<M>,
    pub(crate) shutdown: ShutdownSignal,
    pub(crate) stats: Arc<ShardStats>,
    pub(crate) epoch: Instant,
    pub(crate) timer_tick: Duration,
}

impl<M: Send + 'static> ShardContext<M> {
    pub(crate) fn new(inner: ContextInner<M>) -> Self {
        ShardContext {
            inner: Rc::new(inner),
        }
    }

    /// This shard's index, `0..shard_count()`.
    pub fn shard_id(&self) -> usize {
        self.inner.shard_id
    }

    /// Number of shards in the runtime.
    pub fn shard_count(&self) -> usize {
        self.inner.shard_count
    }

    /// This shard's listeners, one per configured address, in configuration order. Each is
    /// this shard's own SO_REUSEPORT socket; the kernel spreads connections over the shards.
    pub fn listeners(&self) -> &[Rc<TcpListener>] {
        &self.inner.listeners
    }

    /// This shard's end of the mesh.
    pub fn mesh(&self) -> &MeshHandle<M> {
        &self.inner.mesh
    }

    /// This shard's shutdown signal.
    pub fn shutdown(&self) -> &ShutdownSignal {
        &self.inner.shutdown
    }

    /// This shard's counters.
    pub fn stats(&self) -> &ShardStats {
        &self.inner.stats
    }

    /// Milliseconds since the runtime started (the same epoch on every shard).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A new timer wheel for this shard, ticking at
    /// [`RuntimeConfig::timer_tick`](crate::RuntimeConfig). Make one per key type and
    /// drive it from one task with [`ShardTimers::expired`].
    pub fn timers<K: 'static>(&self) -> ShardTimers<K> {
        ShardTimers::new(
            self.inner.timer_tick,
            self.inner.epoch,
            self.inner.shutdown.clone(),
            Arc::clone(&self.inner.stats),
        )
    }

    /// Accepts the next connection on `listener` (one of [`listeners`](Self::listeners)),
    /// or returns `None` once shutdown has begun. Counts accepted connections.
    pub async fn accept(&self, listener: &TcpListener) -> Option<io::Result<TcpStream>> {
        let shutdown = &self.inner.shutdown;
        if shutdown.is_shutting_down() {
            return None;
        }
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            shutdown.wait().await;
            None
        })
        .await?;
        match accepted {
            Ok(stream) => {
                self.inner.stats.connections_accepted.incr();
                Some(Ok(stream))
            }
            // Stopping the listener at shutdown fails the pending accept.
            Err(_) if shutdown.is_shutting_down() => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Adopts a connection handed off by another shard (see [`Handoff::into_stream`]) and
    /// counts it.
    pub fn adopt<S>(&self, handoff: Handoff<S>) -> (TcpStream, Vec<u8>, S) {
        self.inner.stats.handoffs_adopted.incr();
        handoff.into_stream()
    }
}
