//! Mesh throughput and one-hop latency between two shards, against glommio's
//! `shared_channel` carrying the same batches. Reported, not asserted.
//!
//! Run: `cargo run --release -p shard --example mesh_bench`
//! (about 30 s on 2 cores). Results are in shard/MESH.md.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use futures_lite::future::yield_now;
use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use shard::{MeshConfig, Runtime, RuntimeConfig, ShardContext};

const BATCH_SIZES: [usize; 3] = [1, 16, 256];
/// Messages per throughput run, by batch size.
const THROUGHPUT_MSGS: [u64; 3] = [400_000, 2_000_000, 4_000_000];
/// Ping-pong rounds per latency run.
const LATENCY_ROUNDS: usize = 10_000;
/// Lane capacity in batches, the same for both transports.
const RING_BATCHES: usize = 64;
const SPIN: Duration = Duration::from_millis(20);

#[derive(Debug)]
enum Msg {
    Data(u64),
    Ack,
}

struct Report {
    msgs_per_sec: f64,
}

fn main() {
    now_ns();
    println!("transport       receiver  batch   msgs/s        p50 us   p99 us");
    for (i, &batch) in BATCH_SIZES.iter().enumerate() {
        for spin in [None, Some(SPIN)] {
            let parked = if spin.is_some() { "spin" } else { "parked" };
            let t = mesh_throughput(batch, THROUGHPUT_MSGS[i], spin);
            let (p50, p99) = mesh_latency(batch, spin);
            println!(
                "shard mesh      {parked:8}  {batch:5}  {:>10.0}  {p50:8.1} {p99:8.1}",
                t.msgs_per_sec
            );
            let t = channel_throughput(batch, THROUGHPUT_MSGS[i], spin);
            let (p50, p99) = channel_latency(batch, spin);
            println!(
                "shared_channel  {parked:8}  {batch:5}  {:>10.0}  {p50:8.1} {p99:8.1}",
                t.msgs_per_sec
            );
        }
    }
}

fn config(spin: Option<Duration>) -> RuntimeConfig {
    RuntimeConfig {
        shard_count: 2,
        pin_cores: true,
        stall_detection: false,
        spin_before_park: spin,
        mesh: MeshConfig {
            ring_batches: RING_BATCHES,
            outbox_high_water_msgs: 1024,
            outbox_capacity_msgs: 4096,
        },
        ..RuntimeConfig::default()
    }
}

fn percentiles(mut samples: Vec<u64>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    (at(0.50), at(0.99))
}

/// Shard 0 sends `total` messages to shard 1 in batches of `batch`.
fn mesh_throughput(batch: usize, total: u64, spin: Option<Duration>) -> Report {
    let (tx, rx) = mpsc::channel();
    let runtime = Runtime::start(config(spin), move |ctx: ShardContext<Msg>| {
        let tx = tx.clone();
        async move {
            let mesh = ctx.mesh();
            if ctx.shard_id() == 0 {
                let mut sent = 0;
                while sent < total {
                    for _ in 0..batch {
                        let mut msg = Msg::Data(sent);
                        while let Err(full) = mesh.send(1, msg) {
                            msg = full.into_inner();
                            yield_now().await;
                        }
                        sent += 1;
                    }
                    while !mesh.flush() {
                        yield_now().await;
                    }
                }
            } else {
                let mut got = 0;
                let mut start = None;
                while got < total {
                    let b = mesh.recv().await.expect("running");
                    start.get_or_insert_with(Instant::now);
                    got += b.msgs.len() as u64;
                }
                let secs = start.unwrap().elapsed().as_secs_f64();
                tx.send(got as f64 / secs).unwrap();
            }
        }
    })
    .expect("start");
    runtime.join().expect("join");
    Report {
        msgs_per_sec: rx.recv().unwrap(),
    }
}

/// Ping-pong: shard 0 sends a batch stamped with its send time, shard 1 records the
/// one-hop latency and acks; the next batch leaves after the ack (the receiver is idle
/// between batches: parked, or spinning with `spin_before_park`).
fn mesh_latency(batch: usize, spin: Option<Duration>) -> (f64, f64) {
    let (tx, rx) = mpsc::channel();
    let runtime = Runtime::start(config(spin), move |ctx: ShardContext<Msg>| {
        let tx = tx.clone();
        async move {
            let mesh = ctx.mesh();
            if ctx.shard_id() == 0 {
                for _ in 0..LATENCY_ROUNDS {
                    let stamp = now_ns();
                    for _ in 0..batch {
                        mesh.send(1, Msg::Data(stamp)).expect("room");
                    }
                    mesh.flush();
                    let ack = mesh.recv().await.expect("running");
                    assert!(matches!(ack.msgs[0], Msg::Ack));
                }
            } else {
                let mut samples = Vec::with_capacity(LATENCY_ROUNDS);
                let mut got = 0;
                while samples.len() < LATENCY_ROUNDS {
                    let b = mesh.recv().await.expect("running");
                    let Msg::Data(stamp) = b.msgs[0] else {
                        unreachable!()
                    };
                    got += b.msgs.len();
                    if got % batch == 0 {
                        samples.push(now_ns().saturating_sub(stamp));
                        mesh.send(0, Msg::Ack).expect("room");
                        mesh.flush();
                    }
                }
                tx.send(samples).unwrap();
            }
        }
    })
    .expect("start");
    runtime.join().expect("join");
    percentiles(rx.recv().unwrap())
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since a process-wide epoch, so that stamps compare across threads.
fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn executor(core: usize, spin: Option<Duration>) -> LocalExecutorBuilder {
    let b = LocalExecutorBuilder::new(Placement::Fixed(core))
        .io_memory(64 << 10)
        .ring_depth(2048);
    match spin {
        Some(s) => b.spin_before_park(s),
        None => b,
    }
}

fn channel_throughput(batch: usize, total: u64, spin: Option<Duration>) -> Report {
    let (tx, rx) = shared_channel::new_bounded::<Vec<u64>>(RING_BATCHES);
    let producer = executor(0, spin)
        .spawn(move || async move {
            let tx = tx.connect().await;
            let mut sent = 0;
            while sent < total {
                let v: Vec<u64> = (sent..sent + batch as u64).collect();
                sent += batch as u64;
                tx.send(v).await.expect("receiver alive");
            }
        })
        .unwrap();
    let consumer = executor(1, spin)
        .spawn(move || async move {
            let rx = rx.connect().await;
            let mut got = 0;
            let mut start = None;
            while got < total {
                let v = rx.recv().await.expect("sender alive");
                start.get_or_insert_with(Instant::now);
                got += v.len() as u64;
            }
            got as f64 / start.unwrap().elapsed().as_secs_f64()
        })
        .unwrap();
    producer.join().unwrap();
    Report {
        msgs_per_sec: consumer.join().unwrap(),
    }
}

fn channel_latency(batch: usize, spin: Option<Duration>) -> (f64, f64) {
    let (data_tx, data_rx) = shared_channel::new_bounded::<Vec<u64>>(RING_BATCHES);
    let (ack_tx, ack_rx) = shared_channel::new_bounded::<()>(RING_BATCHES);
    let pinger = executor(0, spin)
        .spawn(move || async move {
            let tx = data_tx.connect().await;
            let acks = ack_rx.connect().await;
            for _ in 0..LATENCY_ROUNDS {
                let stamp = now_ns();
                tx.send(vec![stamp; batch]).await.expect("alive");
                acks.recv().await.expect("alive");
            }
        })
        .unwrap();
    let ponger = executor(1, spin)
        .spawn(move || async move {
            let rx = data_rx.connect().await;
            let acks = ack_tx.connect().await;
            let samples = Rc::new(RefCell::new(Vec::with_capacity(LATENCY_ROUNDS)));
            for _ in 0..LATENCY_ROUNDS {
                let v = rx.recv().await.expect("alive");
                samples.borrow_mut().push(now_ns().saturating_sub(v[0]));
                acks.send(()).await.expect("alive");
            }
            samples.take()
        })
        .unwrap();
    pinger.join().unwrap();
    percentiles(ponger.join().unwrap())
}
