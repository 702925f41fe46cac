//! Starting the shards and stopping them.
//!
//! `Runtime::start` binds every listener on the calling thread (errors come back to the
//! caller), spawns one thread per shard, builds each glommio executor inside its thread and
//! waits until all of them are built: if any fails (io_uring, memlock, placement) none runs
//! and the error is returned. Then each shard runs the user's main task next to three
//! runtime tasks: the mesh flusher, the shutdown watcher and (optionally) the lag probe.

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use futures_lite::future;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};
use socket2::Socket;

use crate::config::RuntimeConfig;
use crate::context::{ContextInner, ShardContext};
use crate::error::{classify_executor_error, JoinError, StartError};
use crate::listener::{bind_group, stop_listening};
use crate::mesh::{MeshHandle, MeshShared};
use crate::shutdown::{ShutdownShared, ShutdownSignal};
use crate::stall::{run_lag_probe, StallThreshold};
use crate::stats::{ShardStats, StatsSnapshot};

/// Entry point: starts the shards. See [`Runtime::start`].
#[derive(Debug)]
pub struct Runtime;

/// Controls a started runtime from any thread. One per runtime (held by whoever started it).
#[derive(Debug)]
pub struct RuntimeHandle {
    threads: Vec<JoinHandle<()>>,
    shutdown: Arc<ShutdownShared>,
    stats: Vec<Arc<ShardStats>>,
    listen_addrs: Vec<SocketAddr>,
    pub(crate) exit: Arc<ExitState>,
    mesh_state: MeshStateFn,
}

/// Reads the mesh's shared state (its message type erased), for stall diagnostics.
struct MeshStateFn(Arc<dyn Fn() -> String + Send + Sync>);

impl std::fmt::Debug for MeshStateFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeshStateFn")
    }
}

/// Which shards have stopped; lets a signal waiter return when they all stopped on their own.
#[derive(Debug, Default)]
pub(crate) struct ExitState {
    exited: AtomicUsize,
    shard_count: usize,
    pub(crate) signals: OnceLock<signal_hook::iterator::Handle>,
}

impl ExitState {
    pub(crate) fn all_exited(&self) -> bool {
        self.exited.load(Ordering::Acquire) == self.shard_count
    }

    fn shard_exited(&self) {
        if self.exited.fetch_add(1, Ordering::AcqRel) + 1 == self.shard_count {
            if let Some(signals) = self.signals.get() {
                signals.close();
            }
        }
    }
}

/// Marks its shard as exited when the thread ends, and shuts the runtime down if the shard
/// panicked: a broken invariant on one shard stops them all.
struct ExitGuard {
    exit: Arc<ExitState>,
    shutdown: Arc<ShutdownShared>,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shutdown.request();
        }
        self.exit.shard_exited();
    }
}

/// What one shard thread is given at spawn.
struct ShardSetup<M> {
    shard_id: usize,
    /// The CPU to pin to; `None`: unpinned.
    cpu: Option<usize>,
    config: Arc<RuntimeConfig>,
    sockets: Vec<Socket>,
    mesh: Arc<MeshShared<M>>,
    shutdown: Arc<ShutdownShared>,
    stats: Arc<ShardStats>,
    exit: Arc<ExitState>,
    epoch: Instant,
}

impl Runtime {
    /// Starts `config.shard_count` shards; each runs `shard_main(ctx)` as its main task.
    ///
    /// A shard lives as long as its main task: a typical main task spawns its accept loops
    /// and mesh receiver, awaits [`ShardContext::shutdown`], drains, and returns. After
    /// shutdown begins, the main task has `drain_timeout` before it and every task of the
    /// shard is dropped.
    ///
    /// Errors: bad configuration, a listener that cannot bind, io_uring or locked memory
    /// unavailable ([`StartError::IoUring`] says how to fix it). On error no shard runs.
    pub fn start<M, F, Fut>(
        config: RuntimeConfig,
        shard_main: F,
    ) -> Result<RuntimeHandle, StartError>
    where
        M: Send + 'static,
        F: Fn(ShardContext<M>) -> Fut + Send + Clone + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        config.validate()?;
        let shard_count = config.shard_count;
        // Shard i is pinned to the i-th CPU this process may run on, so a CPU mask from
        // taskset or systemd's CPUAffinity= is honoured rather than fought.
        let cpus = if config.pin_cores {
            let cpus = allowed_cpus();
            if shard_count > cpus.len() {
                return Err(StartError::Config(format!(
                    "pin_cores needs shard_count ({shard_count}) <= available CPUs ({}: {cpus:?})",
                    cpus.len()
                )));
            }
            cpus
        } else {
            Vec::new()
        };

        // sockets_by_shard[shard][listener]
        let mut sockets_by_shard: Vec<Vec<Socket>> = (0..shard_count).map(|_| Vec::new()).collect();
        let mut listen_addrs = Vec::with_capacity(config.listeners.len());
        for listener in &config.listeners {
            let (sockets, bound) = bind_group(listener, shard_count)?;
            listen_addrs.push(bound);
            for (shard, socket) in sockets.into_iter().enumerate() {
                sockets_by_shard[shard].push(socket);
            }
        }

        let config = Arc::new(config);
        let mesh = Arc::new(MeshShared::<M>::new(shard_count, config.mesh));
        let shutdown = Arc::new(ShutdownShared::new(shard_count));
        let exit = Arc::new(ExitState {
            shard_count,
            ..ExitState::default()
        });
        let stats: Vec<Arc<ShardStats>> = (0..shard_count).map(|_| Arc::default()).collect();
        let epoch = Instant::now();

        let (ready_tx, ready_rx) = mpsc::channel();
        let mut go_txs = Vec::with_capacity(shard_count);
        let mut threads = Vec::with_capacity(shard_count);
        let mut spawn_error = None;
        for (shard_id, sockets) in sockets_by_shard.into_iter().enumerate() {
            let setup = ShardSetup {
                shard_id,
                cpu: cpus.get(shard_id).copied(),
                config: Arc::clone(&config),
                sockets,
                mesh: Arc::clone(&mesh),
                shutdown: Arc::clone(&shutdown),
                stats: Arc::clone(&stats[shard_id]),
                exit: Arc::clone(&exit),
                epoch,
            };
            let (go_tx, go_rx) = mpsc::channel::<bool>();
            let ready_tx = ready_tx.clone();
            let shard_main = shard_main.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("shard-{shard_id}"))
                .spawn(move || shard_thread(setup, shard_main, ready_tx, go_rx));
            match spawned {
                Ok(t) => {
                    threads.push(t);
                    go_txs.push(go_tx);
                }
                Err(e) => {
                    spawn_error = Some(StartError::Thread(e));
                    break;
                }
            }
        }
        drop(ready_tx);

        let mut first_error = spawn_error;
        for _ in 0..threads.len() {
            match ready_rx.recv() {
                Ok((_, Ok(()))) => {}
                Ok((_, Err(e))) => {
                    first_error.get_or_insert(e);
                }
                // A thread died before reporting (it panicked): join says why below.
                Err(_) => break,
            }
        }
        let go = first_error.is_none();
        for tx in &go_txs {
            let _ = tx.send(go);
        }
        if let Some(e) = first_error {
            for t in threads {
                let _ = t.join();
            }
            return Err(e);
        }
        let mesh_state = MeshStateFn(Arc::new(move || mesh.debug_state()));
        Ok(RuntimeHandle {
            threads,
            shutdown,
            stats,
            listen_addrs,
            exit,
            mesh_state,
        })
    }
}

fn shard_thread<M, F, Fut>(
    setup: ShardSetup<M>,
    shard_main: F,
    ready: mpsc::Sender<(usize, Result<(), StartError>)>,
    go: mpsc::Receiver<bool>,
) where
    M: Send + 'static,
    F: Fn(ShardContext<M>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let _exit = ExitGuard {
        exit: Arc::clone(&setup.exit),
        shutdown: Arc::clone(&setup.shutdown),
    };
    let shard_id = setup.shard_id;
    let config = Arc::clone(&setup.config);
    let placement = match setup.cpu {
        Some(cpu) => Placement::Fixed(cpu),
        None => Placement::Unbound,
    };
    let mut builder = LocalExecutorBuilder::new(placement)
        .name(&format!("shard-{shard_id}"))
        .io_memory(config.io_memory_bytes)
        .ring_depth(config.ring_depth)
        .preempt_timer(config.preempt_budget);
    if let Some(spin) = config.spin_before_park {
        builder = builder.spin_before_park(spin);
    }
    if config.stall_detection {
        builder = builder.detect_stalls(Some(Box::new(StallThreshold(config.stall_threshold))));
    }
    let executor = match builder.make() {
        Ok(ex) => ex,
        Err(e) => {
            let _ = ready.send((shard_id, Err(classify_executor_error(shard_id, e))));
            return;
        }
    };
    let _ = ready.send((shard_id, Ok(())));
    drop(ready);
    if !go.recv().unwrap_or(false) {
        return;
    }
    executor.run(run_shard(setup, shard_main));
    tracing::debug!(shard_id, "shard stopped");
}

async fn run_shard<M, F, Fut>(setup: ShardSetup<M>, shard_main: F)
where
    M: Send + 'static,
    F: Fn(ShardContext<M>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let ShardSetup {
        shard_id,
        cpu: _,
        config,
        sockets,
        mesh,
        shutdown,
        stats,
        exit: _,
        epoch,
    } = setup;
    // glommio's TcpListener does not expose its fd: remember it to stop listening later.
    let listener_fds: Vec<RawFd> = sockets.iter().map(|s| s.as_raw_fd()).collect();
    let listeners: Vec<Rc<TcpListener>> = sockets
        .into_iter()
        // SAFETY: a bound, listening socket we own; ownership moves to the listener.
        .map(|s| Rc::new(unsafe { TcpListener::from_raw_fd(s.into_raw_fd()) }))
        .collect();
    let signal = ShutdownSignal::default();
    let mesh = MeshHandle::new(shard_id, mesh, Arc::clone(&stats), signal.clone());

    glommio::spawn_local(mesh.clone().run_flusher()).detach();
    glommio::spawn_local({
        // Holding the listeners keeps their fds open until they are stopped.
        let listeners = listeners.clone();
        let signal = signal.clone();
        let mesh = mesh.clone();
        async move {
            shutdown.requested(shard_id).await;
            for fd in listener_fds {
                stop_listening(fd);
            }
            drop(listeners);
            signal.trigger();
            mesh.wake_receiver();
            tracing::debug!(shard_id, "shutdown begun");
        }
    })
    .detach();
    if config.stall_detection {
        glommio::spawn_local(run_lag_probe(
            shard_id,
            config.stall_threshold,
            Arc::clone(&stats),
            signal.clone(),
        ))
        .detach();
    }

    let ctx = ShardContext::new(ContextInner {
        shard_id,
        shard_count: config.shard_count,
        listeners,
        mesh,
        shutdown: signal.clone(),
        stats,
        epoch,
        timer_tick: config.timer_tick,
    });
    let drain_timeout = config.drain_timeout;
    let drain_deadline = async {
        signal.wait().await;
        glommio::timer::sleep(drain_timeout).await;
        tracing::warn!(
            shard_id,
            ?drain_timeout,
            "drain timeout: dropping the shard's remaining tasks"
        );
    };
    future::or(shard_main(ctx), drain_deadline).await;
}

impl RuntimeHandle {
    /// The bound listener addresses, in configuration order (port 0 resolved).
    pub fn listen_addrs(&self) -> &[SocketAddr] {
        &self.listen_addrs
    }

    /// The mesh's shared state in one line (parked flags, lane positions), for diagnosing
    /// a stalled exchange. Not a stable format.
    #[doc(hidden)]
    pub fn debug_mesh_state(&self) -> String {
        (self.mesh_state.0)()
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.stats.len()
    }

    /// A snapshot of every shard's counters, by shard id.
    pub fn stats(&self) -> Vec<StatsSnapshot> {
        self.stats
            .iter()
            .enumerate()
            .map(|(id, s)| s.snapshot(id))
            .collect()
    }

    /// Begins shutdown: every shard stops accepting, its [`ShutdownSignal`] is set and it has
    /// `drain_timeout` to finish. Returns at once; idempotent; callable from any thread.
    pub fn shutdown(&self) {
        self.shutdown.request();
    }

    /// Whether every shard has stopped.
    pub fn is_finished(&self) -> bool {
        self.exit.all_exited()
    }

    /// Waits for every shard thread to end (all executor threads are joined). Returns the
    /// first panic, if a shard panicked (which also shuts the other shards down).
    ///
    /// glommio gives each executor one helper thread for `spawn_blocking` and detaches it:
    /// it exits by itself as soon as its executor is dropped, possibly a moment after this
    /// returns.
    pub fn join(self) -> Result<(), JoinError> {
        let mut first_panic = None;
        for (shard, thread) in self.threads.into_iter().enumerate() {
            if let Err(payload) = thread.join() {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".to_string());
                first_panic.get_or_insert(JoinError { shard, message });
            }
        }
        first_panic.map_or(Ok(()), Err)
    }

    /// [`shutdown`](Self::shutdown), then [`join`](Self::join).
    pub fn shutdown_and_join(self) -> Result<(), JoinError> {
        self.shutdown();
        self.join()
    }
}

/// The CPUs this process may run on (its affinity mask), in increasing order; all of
/// `available_parallelism` when the mask cannot be read.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most
    // size_of::<cpu_set_t>() bytes into it, and CPU_ISSET reads within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .collect();
            if !cpus.is_empty() {
                return cpus;
            }
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}
