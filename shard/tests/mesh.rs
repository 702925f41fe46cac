//! The mesh delivers every message exactly once and in order per (source, target), also
//! when outboxes fill up and senders must retry.

mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use shard::{Full, MeshConfig, Runtime, RuntimeConfig, ShardContext};

const SHARDS: usize = 3;
const MSGS_PER_PAIR: u64 = 5_000;

/// (source shard, sequence number within (source, target)).
type Msg = (usize, u64);

#[test]
fn mesh_keeps_order_and_completeness_under_congestion() {
    let config = RuntimeConfig {
        mesh: MeshConfig {
            ring_batches: 2,
            outbox_high_water_msgs: 8,
            outbox_capacity_msgs: 16,
        },
        ..common::config(SHARDS)
    };
    let received_total = Arc::new(AtomicU64::new(0));
    let full_seen = Arc::new(AtomicU64::new(0));
    let congested_seen = Arc::new(AtomicU64::new(0));
    let runtime = Runtime::start(config, {
        let received_total = received_total.clone();
        let full_seen = full_seen.clone();
        let congested_seen = congested_seen.clone();
        move |ctx: ShardContext<Msg>| {
            let received_total = received_total.clone();
            let full_seen = full_seen.clone();
            let congested_seen = congested_seen.clone();
            async move {
                let ctx = Rc::new(ctx);
                let receiver = glommio::spawn_local({
                    let ctx = ctx.clone();
                    async move {
                        let mut next = [0u64; SHARDS];
                        let expected = MSGS_PER_PAIR * SHARDS as u64;
                        let mut got = 0;
                        while got < expected {
                            let batch = ctx.mesh().recv().await.expect("no shutdown yet");
                            for (source, seq) in batch.msgs {
                                assert_eq!(source, batch.source);
                                assert_eq!(seq, next[source], "from shard {source}");
                                next[source] += 1;
                                got += 1;
                            }
                        }
                        received_total.fetch_add(got, Ordering::Relaxed);
                    }
                });
                let me = ctx.shard_id();
                let mesh = ctx.mesh();
                for seq in 0..MSGS_PER_PAIR {
                    // Every shard, this one included.
                    for target in 0..SHARDS {
                        let mut msg = (me, seq);
                        loop {
                            if mesh.is_congested(target) {
                                congested_seen.fetch_add(1, Ordering::Relaxed);
                            }
                            match mesh.send(target, msg) {
                                Ok(()) => break,
                                Err(Full(back)) => {
                                    full_seen.fetch_add(1, Ordering::Relaxed);
                                    msg = back;
                                    // Let the flusher and our receiver run.
                                    futures_lite::future::yield_now().await;
                                }
                            }
                        }
                    }
                }
                while (0..SHARDS).any(|t| mesh.outbox_len(t) > 0) {
                    futures_lite::future::yield_now().await;
                }
                receiver.await;
            }
        }
    })
    .expect("start");
    runtime.join().expect("join");
    assert_eq!(
        received_total.load(Ordering::Relaxed),
        MSGS_PER_PAIR * (SHARDS * SHARDS) as u64
    );
    assert!(
        full_seen.load(Ordering::Relaxed) > 0,
        "outboxes never filled"
    );
    assert!(
        congested_seen.load(Ordering::Relaxed) > 0,
        "congestion never seen"
    );
}
