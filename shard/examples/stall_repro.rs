//! Reproduces the parked ping-pong stall (MESH.md, "Stalls"): runs the latency phase of
//! `mesh_bench` (receiver parked, batch 1) over and over for a bounded time, with a watchdog
//! that reports a stall after 2 s without progress, says which side waits, dumps what the
//! kernel shows of each thread, eventfd and io_uring, then gives up on that run.
//!
//! Run: `cargo run --release -p shard --example stall_repro -- [seconds] [mesh|channel]`
//! (default: 60 s, mesh). Exit status 1 when a stall was seen.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use shard::{MeshConfig, Runtime, RuntimeConfig, ShardContext};

const ROUNDS: u64 = 5_000;
const STALL_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum Msg {
    Ping,
    Pong,
}

/// Progress of the current run, read by the watchdog.
#[derive(Default)]
struct Progress {
    /// Pings shard 0 flushed.
    pings_sent: AtomicU64,
    /// Pings shard 1 received.
    pings_got: AtomicU64,
    /// Pongs shard 0 received.
    pongs_got: AtomicU64,
    /// The run is over (finished or abandoned).
    done: AtomicBool,
    /// The watchdog asks the thread holding the runtime to print the mesh state.
    dump_mesh: AtomicBool,
}

impl Progress {
    fn total(&self) -> u64 {
        self.pings_sent.load(Relaxed) + self.pings_got.load(Relaxed) + self.pongs_got.load(Relaxed)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().map_or(60, |s| s.parse().expect("seconds"));
    let mode = args.next().unwrap_or_else(|| "mesh".into());
    // `spin`: spin_before_park = 20 ms, as mesh_bench's "spin" rows.
    let spin = args
        .next()
        .filter(|a| a == "spin")
        .map(|_| Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut rounds, mut stalls) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    while Instant::now() < deadline {
        let progress = Arc::new(Progress::default());
        let watchdog = spawn_watchdog(Arc::clone(&progress));
        match mode.as_str() {
            "mesh" => mesh_run(&progress, spin),
            "channel" => channel_run(&progress, spin),
            other => panic!("unknown mode {other}"),
        }
        progress.done.store(true, Relaxed);
        let stalled = watchdog.join().unwrap();
        runs += 1;
        rounds += progress.pongs_got.load(Relaxed);
        if stalled {
            stalls += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{mode} spin {spin:?}: {runs} runs, {rounds} rounds in {elapsed:.1} s ({:.1} us/round), {stalls} stalls",
        elapsed * 1e6 / rounds.max(1) as f64
    );
    std::process::exit(i32::from(stalls > 0));
}

/// Returns whether a stall was seen. On a stall it dumps the state once and keeps watching
/// (the run may resume on its own, or after the dump's probes).
fn spawn_watchdog(progress: Arc<Progress>) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut last = progress.total();
        let mut since = Instant::now();
        let mut stalled = false;
        while !progress.done.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            let now = progress.total();
            if now != last {
                if stalled {
                    eprintln!("  ... resumed after {:?}", since.elapsed());
                }
                last = now;
                since = Instant::now();
                continue;
            }
            if !stalled && since.elapsed() > STALL_AFTER {
                stalled = true;
                let sent = progress.pings_sent.load(Relaxed);
                let got = progress.pings_got.load(Relaxed);
                let pongs = progress.pongs_got.load(Relaxed);
                let waiting = if got < sent {
                    "shard 1 (ping sent, not received)"
                } else {
                    "shard 0 (pong sent, not received)"
                };
                eprintln!(
                    "STALL: no progress for {STALL_AFTER:?}: pings sent {sent} got {got}, \
                     pongs got {pongs}; waiting: {waiting}"
                );
                dump_proc();
                progress.dump_mesh.store(true, Relaxed);
                std::thread::sleep(Duration::from_millis(100));
                probe_eventfds(&progress);
            }
        }
        stalled
    })
}

/// Threads (name, state, syscall) and the eventfd / io_uring file descriptors of this process.
fn dump_proc() {
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let p = task.path();
        let read = |f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
        let stat = read("stat");
        let state = stat
            .rsplit_once(") ")
            .map_or("?", |(_, rest)| &rest[..1])
            .to_string();
        let syscall = read("syscall");
        let nr = syscall.split_whitespace().next().unwrap_or("?");
        eprintln!(
            "  tid {:>7} {:<16} state {state} wchan {:<24} syscall {nr} ({})",
            task.file_name().to_string_lossy(),
            read("comm").trim(),
            read("wchan"),
            syscall_name(nr),
        );
    }
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        if target.contains("eventfd") || target.contains("io_uring") {
            let info = std::fs::read_to_string(format!(
                "/proc/self/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            let interesting: Vec<&str> = info
                .lines()
                .filter(|l| {
                    l.starts_with("eventfd-count")
                        || l.starts_with("Sq")
                        || l.starts_with("Cq")
                        || l.starts_with("CachedSq")
                        || l.starts_with("CachedCq")
                        || l.starts_with("SqThread")
                        || l.starts_with("PollList")
                        || l.starts_with("  op=")
                        || l.starts_with("CqOverflow")
                })
                .collect();
            eprintln!(
                "  fd {} -> {target}: {}",
                fd.file_name().to_string_lossy(),
                interesting.join(" | ")
            );
        }
    }
}

/// Writes 1 to each eventfd of the process in turn (they are glommio's per-executor sleep
/// notifiers) and reports which write, if any, lets the run go on. Exits if none does.
fn probe_eventfds(progress: &Progress) {
    let before = progress.total();
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|fd| {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            target.to_string_lossy().contains("eventfd")
        })
        .filter_map(|fd| fd.file_name().to_string_lossy().parse().ok())
        .collect();
    // Newest first: the current run's executors hold the highest numbers.
    fds.sort_unstable_by(|a, b| b.cmp(a));
    for n in fds {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to an fd of this process.
        let r = unsafe { libc::write(n, one.as_ptr().cast(), 8) };
        std::thread::sleep(Duration::from_millis(200));
        let moved = progress.total() != before;
        eprintln!("  probe: wrote eventfd fd {n} (rc {r}): progress {moved}");
        if moved {
            return;
        }
    }
    eprintln!("  probe: no eventfd write helped; exiting");
    std::process::exit(2);
}

fn syscall_name(nr: &str) -> &'static str {
    match nr {
        "426" => "io_uring_enter",
        "202" => "futex",
        "7" => "poll",
        "0" => "read",
        "running" => "running",
        _ => "",
    }
}

fn mesh_run(progress: &Arc<Progress>, spin: Option<Duration>) {
    let config = RuntimeConfig {
        shard_count: 2,
        pin_cores: true,
        stall_detection: false,
        spin_before_park: spin,
        mesh: MeshConfig {
            ring_batches: 64,
            outbox_high_water_msgs: 1024,
            outbox_capacity_msgs: 4096,
        },
        ..RuntimeConfig::default()
    };
    let p = Arc::clone(progress);
    let runtime = Runtime::start(config, move |ctx: ShardContext<Msg>| {
        let p = Arc::clone(&p);
        async move {
            let mesh = ctx.mesh();
            if ctx.shard_id() == 0 {
                for _ in 0..ROUNDS {
                    mesh.send(1, Msg::Ping).expect("room");
                    mesh.flush();
                    p.pings_sent.fetch_add(1, Relaxed);
                    let Some(b) = mesh.recv().await else { return };
                    assert!(matches!(b.msgs[0], Msg::Pong));
                    p.pongs_got.fetch_add(1, Relaxed);
                }
            } else {
                for _ in 0..ROUNDS {
                    let Some(b) = mesh.recv().await else { return };
                    assert!(matches!(b.msgs[0], Msg::Ping));
                    p.pings_got.fetch_add(1, Relaxed);
                    mesh.send(0, Msg::Pong).expect("room");
                    mesh.flush();
                }
            }
        }
    })
    .expect("start");
    while !runtime.is_finished() {
        std::thread::sleep(Duration::from_millis(5));
        if progress.dump_mesh.swap(false, Relaxed) {
            eprintln!("  mesh: {}", runtime.debug_mesh_state());
        }
    }
    runtime.join().expect("join");
}

fn channel_run(progress: &Arc<Progress>, spin: Option<Duration>) {
    let executor = |core| {
        let b = LocalExecutorBuilder::new(Placement::Fixed(core))
            .io_memory(64 << 10)
            .ring_depth(2048);
        match spin {
            Some(s) => b.spin_before_park(s),
            None => b,
        }
    };
    let (ping_tx, ping_rx) = shared_channel::new_bounded::<()>(64);
    let (pong_tx, pong_rx) = shared_channel::new_bounded::<()>(64);
    let p = Arc::clone(progress);
    let pinger = executor(0)
        .spawn(move || async move {
            let tx = ping_tx.connect().await;
            let rx = pong_rx.connect().await;
            for _ in 0..ROUNDS {
                tx.send(()).await.expect("alive");
                p.pings_sent.fetch_add(1, Relaxed);
                rx.recv().await.expect("alive");
                p.pongs_got.fetch_add(1, Relaxed);
            }
        })
        .unwrap();
    let p = Arc::clone(progress);
    let ponger = executor(1)
        .spawn(move || async move {
            let rx = ping_rx.connect().await;
            let tx = pong_tx.connect().await;
            for _ in 0..ROUNDS {
                rx.recv().await.expect("alive");
                p.pings_got.fetch_add(1, Relaxed);
                tx.send(()).await.expect("alive");
            }
        })
        .unwrap();
    pinger.join().unwrap();
    ponger.join().unwrap();
}
