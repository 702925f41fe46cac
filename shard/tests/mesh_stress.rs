//! Stress tests for the mesh's wake-up handshakes (a lost wake-up hangs, so a watchdog
//! aborts the process) and for batch buffer recycling (every message dropped exactly once).

mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shard::{Full, MeshConfig, Runtime, RuntimeConfig, ShardContext};

/// Aborts the process if the returned guard is not dropped within `secs`.
fn watchdog(name: &'static str, secs: u64) -> impl Drop {
    struct Guard(Arc<AtomicBool>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        for _ in 0..secs * 10 {
            if flag.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{name}: no progress after {secs} s (lost wake-up?)");
        std::process::abort();
    });
    Guard(done)
}

/// Waits until every outbox has left for its lane: a shard stops (and drops its outboxes)
/// as soon as its main task returns.
async fn drain<M: Send + 'static>(mesh: &shard::MeshHandle<M>) {
    while (0..mesh.shard_count()).any(|t| mesh.outbox_len(t) > 0) {
        futures_lite::future::yield_now().await;
    }
}

fn two_shards(mesh: MeshConfig) -> RuntimeConfig {
    RuntimeConfig {
        mesh,
        ..common::config(2)
    }
}

/// Ping-pong with one message in flight: every hop finds the receiver parked (or about to
/// park), so every hop depends on the parked-flag handshake.
#[test]
fn ping_pong_never_loses_a_wake_up() {
    const ROUNDS: u64 = 5_000;
    let _guard = watchdog("ping_pong", 120);
    let runtime = Runtime::start(
        two_shards(MeshConfig::default()),
        |ctx: ShardContext<u64>| async move {
            let mesh = ctx.mesh();
            let me = ctx.shard_id();
            if me == 0 {
                for round in 0..ROUNDS {
                    mesh.send(1, round).expect("room");
                    let batch = mesh.recv().await.expect("running");
                    assert_eq!(batch.source, 1);
                    assert_eq!(&batch.msgs[..], &[round]);
                }
            } else {
                for round in 0..ROUNDS {
                    let batch = mesh.recv().await.expect("running");
                    assert_eq!(&batch.msgs[..], &[round]);
                    mesh.send(0, round).expect("room");
                }
                drain(mesh).await;
            }
        },
    )
    .expect("start");
    runtime.join().expect("join");
}

/// A two-batch ring and a tiny outbox: the sender is blocked on a full ring most of the
/// time and never flushes itself, so every message depends on the receiver waking the
/// sender's flusher (the lane-room handshake).
#[test]
fn blocked_sender_is_always_woken() {
    const MSGS: u64 = 40_000;
    let _guard = watchdog("blocked_sender", 120);
    let config = two_shards(MeshConfig {
        ring_batches: 2,
        outbox_high_water_msgs: 2,
        outbox_capacity_msgs: 4,
    });
    let received = Arc::new(AtomicU64::new(0));
    let runtime = Runtime::start(config, {
        let received = received.clone();
        move |ctx: ShardContext<u64>| {
            let received = received.clone();
            async move {
                let mesh = ctx.mesh();
                if ctx.shard_id() == 0 {
                    for seq in 0..MSGS {
                        let mut msg = seq;
                        while let Err(Full(back)) = mesh.send(1, msg) {
                            msg = back;
                            // Sleep rather than spin, so that this executor parks and the
                            // flusher's wake-up must go through the eventfd.
                            glommio::timer::sleep(Duration::from_micros(50)).await;
                        }
                    }
                    drain(mesh).await;
                } else {
                    let mut next = 0;
                    while next < MSGS {
                        let batch = mesh.recv().await.expect("running");
                        for seq in batch.msgs {
                            assert_eq!(seq, next);
                            next += 1;
                        }
                    }
                    received.store(next, Ordering::Relaxed);
                }
            }
        }
    })
    .expect("start");
    runtime.join().expect("join");
    assert_eq!(received.load(Ordering::Relaxed), MSGS);
}

/// Recycled buffers: batches dropped whole, consumed in part, consumed fully, or kept as a
/// `Vec`; every message is dropped exactly once and none is seen twice or out of order.
#[test]
fn recycled_buffers_drop_every_message_once() {
    const MSGS: u64 = 50_000;
    let _guard = watchdog("recycle", 120);
    let token = Arc::new(());
    let config = two_shards(MeshConfig {
        ring_batches: 4,
        outbox_high_water_msgs: 32,
        outbox_capacity_msgs: 64,
    });
    let runtime = Runtime::start(config, {
        let token = token.clone();
        move |ctx: ShardContext<(u64, Arc<()>)>| {
            let token = token.clone();
            async move {
                let ctx = Rc::new(ctx);
                let mesh = ctx.mesh();
                if ctx.shard_id() == 0 {
                    for seq in 0..MSGS {
                        let mut msg = (seq, token.clone());
                        while let Err(Full(back)) = mesh.send(1, msg) {
                            msg = back;
                            futures_lite::future::yield_now().await;
                        }
                        if seq % 7 == 0 {
                            futures_lite::future::yield_now().await;
                        }
                    }
                    drain(mesh).await;
                } else {
                    let mut next = 0;
                    let mut kept = Vec::new();
                    let mut turn = 0u64;
                    while next < MSGS {
                        let batch = mesh.recv().await.expect("running");
                        turn += 1;
                        let first = batch.msgs[0].0;
                        assert_eq!(first, next, "order");
                        let len = batch.msgs.len() as u64;
                        match turn % 4 {
                            // Dropped whole.
                            0 => drop(batch),
                            // Consumed in part.
                            1 => {
                                let mut it = batch.msgs.into_iter();
                                assert_eq!(it.next().map(|m| m.0), Some(first));
                            }
                            // Consumed fully.
                            2 => {
                                for (i, (seq, _)) in batch.msgs.into_iter().enumerate() {
                                    assert_eq!(seq, first + i as u64);
                                }
                            }
                            // Kept as a plain Vec for a while.
                            _ => kept.push(batch.msgs.into_vec()),
                        }
                        if kept.len() > 8 {
                            kept.clear();
                        }
                        next += len;
                    }
                    assert_eq!(next, MSGS);
                }
            }
        }
    })
    .expect("start");
    runtime.join().expect("join");
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "a message leaked or was never dropped"
    );
}
