//! coremq's thread-per-core runtime. It knows nothing of MQTT: the broker and the load
//! generator both run on it.
//!
//! * [`Runtime::start`] starts one glommio executor per shard (pinned to a core when asked),
//!   binds every listener once per shard with SO_REUSEPORT, and runs the user's main task
//!   on each shard with a [`ShardContext`].
//! * [`MeshHandle`]: typed, bounded, batched messages between shards; `send` never waits.
//! * [`Handoff`]: a live TCP connection moved to another shard inside a mesh message.
//! * [`TimerWheel`] (pure) and [`ShardTimers`] (its per-shard driver) for many deadlines.
//! * [`RuntimeHandle`]: shutdown (programmatic or on SIGINT/SIGTERM), join, stats.
//!
//! glommio stays behind this crate so that it can be patched or replaced.
//!
//! ```no_run
//! use shard::{ListenerConfig, Runtime, RuntimeConfig, ShutdownSignals};
//!
//! // Before start, so that a signal during start-up is not lost.
//! let signals = ShutdownSignals::install().expect("signal handlers");
//! let config = RuntimeConfig {
//!     listeners: vec![ListenerConfig::new("127.0.0.1:1883".parse().unwrap())],
//!     ..RuntimeConfig::default()
//! };
//! let runtime = Runtime::start(config, |ctx: shard::ShardContext<u64>| async move {
//!     let listener = ctx.listeners()[0].clone();
//!     while let Some(Ok(stream)) = ctx.accept(&listener).await {
//!         glommio::spawn_local(async move { drop(stream) }).detach();
//!     }
//! })
//! .expect("runtime start");
//! runtime.wait_for_signal_then_shutdown(signals).expect("clean shutdown");
//! ```

#![warn(missing_docs)]

mod config;
mod context;
mod error;
mod handoff;
pub mod limits;
mod listener;
mod local_event;
mod mesh;
mod runtime;
mod shutdown;
mod signals;
mod stall;
mod stats;
pub mod timer;
mod timers;

pub use config::{ListenerConfig, MeshConfig, RuntimeConfig};
pub use context::ShardContext;
pub use error::{Full, JoinError, StartError};
pub use handoff::Handoff;
pub use mesh::{Batch, IntoIter as MsgsIntoIter, MeshHandle, Msgs};
pub use runtime::{allowed_cpus, Runtime, RuntimeHandle};
pub use shutdown::ShutdownSignal;
pub use signals::ShutdownSignals;
pub use stats::{Counter, ShardStats, StatsSnapshot};
pub use timer::{TimerId, TimerWheel};
pub use timers::ShardTimers;

/// The glommio version this runtime is built on, re-exported so that users name the same
/// `TcpStream`, `spawn_local`, timers and I/O traits.
pub use glommio;
