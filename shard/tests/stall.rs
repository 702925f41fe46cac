//! A task that holds its core is reported and counted as a stall.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shard::{Runtime, RuntimeConfig, ShardContext};

#[test]
fn blocking_task_is_counted_as_stall() {
    let config = RuntimeConfig {
        stall_detection: true,
        stall_threshold: Duration::from_millis(10),
        ..common::config(1)
    };
    let stalls = Arc::new(AtomicU64::new(0));
    let runtime = Runtime::start(config, {
        let stalls = stalls.clone();
        move |ctx: ShardContext<()>| {
            let stalls = stalls.clone();
            async move {
                // Let the probe start, then hold the core far past the threshold.
                glommio::timer::sleep(Duration::from_millis(30)).await;
                std::thread::sleep(Duration::from_millis(200));
                // Give the probe a turn to notice.
                glommio::timer::sleep(Duration::from_millis(30)).await;
                stalls.store(ctx.stats().stalls.get(), Ordering::Relaxed);
            }
        }
    })
    .expect("start");
    runtime.join().expect("join");
    assert!(stalls.load(Ordering::Relaxed) >= 1);
}
