//! Helpers shared by the integration tests.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use shard::{ListenerConfig, RuntimeConfig};

/// A small runtime that fits an 8 MiB memlock limit and a 2-core box: shards are not
/// pinned so that tests may start more shards than cores and run in parallel.
pub fn config(shard_count: usize) -> RuntimeConfig {
    RuntimeConfig {
        shard_count,
        pin_cores: false,
        io_memory_bytes: 64 << 10,
        ring_depth: 2048,
        drain_timeout: Duration::from_secs(2),
        ..RuntimeConfig::default()
    }
}

/// `config` plus one listener on an ephemeral port of 127.0.0.1.
pub fn config_with_listener(shard_count: usize) -> RuntimeConfig {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    RuntimeConfig {
        listeners: vec![ListenerConfig::new(addr)],
        ..config(shard_count)
    }
}

/// Threads of this process right now.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Waits (up to 5 s) for the thread count to come back to `expected` and returns the last
/// count seen. glommio detaches each executor's blocking-pool thread; it exits on its own
/// right after its executor is dropped, so it may outlive `join` by a moment.
pub fn settle_thread_count(expected: usize) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = thread_count();
        if n == expected || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
