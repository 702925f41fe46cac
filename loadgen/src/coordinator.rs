//! The coordinator: starts the clients (in this process, or in `--procs` worker
//! processes), waits until all are ready, gives the start, prints progress, writes the HDR
//! log, tells everyone to drain once publishing is done, and prints the result.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Process, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::cli::{Plan, Scenario};
use crate::clock;
use crate::engine;
use crate::hdrlog::HdrLog;
use crate::hist::Hist;
use crate::limits::{REPORT_GRACE_SECS, START_DELAY_MS};
use crate::merger::Merger;
use crate::report::{Command, Counters, Event, FinalReport, Interval};
use crate::summary::{BrokerRss, Summary, Timing};

/// How often the coordinator looks at the clock while waiting for events.
const TICK: Duration = Duration::from_millis(100);

/// Reads VmRSS (KiB) of `pid` from /proc.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The sources of events: this process's shards, or the worker processes.
enum Members {
    Local(engine::Engine),
    Workers {
        events: mpsc::Receiver<(usize, Event)>,
        stdins: Vec<Option<ChildStdin>>,
        children: Vec<Child>,
    },
}

impl Members {
    fn sources(&self) -> usize {
        match self {
            Members::Local(e) => e.shards,
            Members::Workers { stdins, .. } => stdins.len(),
        }
    }

    fn recv_timeout(&self, d: Duration) -> Result<(usize, Event), RecvTimeoutError> {
        match self {
            Members::Local(e) => e.events.recv_timeout(d),
            Members::Workers { events, .. } => events.recv_timeout(d),
        }
    }

    fn command(&mut self, c: Command) {
        match self {
            Members::Local(e) => e.control.apply(c),
            Members::Workers { stdins, .. } => {
                let line = serde_json::to_string(&c).expect("a command serializes");
                for stdin in stdins.iter_mut() {
                    let ok = stdin
                        .as_mut()
                        .is_some_and(|s| writeln!(s, "{line}").and_then(|_| s.flush()).is_ok());
                    if !ok {
                        *stdin = None;
                    }
                }
            }
        }
    }

    fn finish(self) {
        match self {
            Members::Local(e) => {
                if let Err(e) = e.runtime.join() {
                    eprintln!("loadgen: a shard panicked: {e}");
                }
            }
            Members::Workers {
                stdins,
                mut children,
                ..
            } => {
                drop(stdins);
                for child in &mut children {
                    let _ = child.wait();
                }
            }
        }
    }
}

/// Starts `plan.procs` worker processes: this binary again, with the same arguments plus
/// `--worker N` and the run id; their stdout lines are events, their stdin takes commands.
fn spawn_workers(plan: &Plan) -> Result<Members, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if !args
        .iter()
        .any(|a| a == "--run-id" || a.to_string_lossy().starts_with("--run-id="))
    {
        args.push("--run-id".into());
        args.push(plan.run_id.to_string().into());
    }
    let (tx, rx) = mpsc::channel();
    let mut stdins = Vec::new();
    let mut children = Vec::new();
    for w in 0..plan.procs {
        let mut child = Process::new(&exe)
            .args(&args)
            .arg("--worker")
            .arg(w.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start worker {w}: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        stdins.push(child.stdin.take());
        children.push(child);
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut finished = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Event>(&line) {
                    Ok(event) => {
                        finished |= matches!(event, Event::Final(_));
                        if tx.send((w, event)).is_err() {
                            return;
                        }
                    }
                    Err(e) => eprintln!("loadgen: worker {w}: bad line ({e}): {line:.200}"),
                }
            }
            if !finished {
                let e = format!("worker {w} ended without a report");
                let report = FinalReport {
                    errors: vec![e],
                    errors_total: 1,
                    ..FinalReport::default()
                };
                let _ = tx.send((w, Event::Final(Box::new(report))));
            }
        });
    }
    Ok(Members::Workers {
        events: rx,
        stdins,
        children,
    })
}

/// The progress line of one merged interval.
fn progress(plan: &Plan, iv: &Interval, prev: &Counters, so_far: &Hist) -> String {
    let c = &iv.counters;
    let p99 = |h: &Hist| {
        if h.count() == 0 {
            "-".to_string()
        } else {
            format!("{:.2} ms", h.0.value_at_quantile(0.99) as f64 / 1000.0)
        }
    };
    let mut line = format!(
        "[{:>4}s] conns {} (failed {}, lost {})",
        iv.index + 1,
        c.connected,
        c.connect_failed,
        c.closed_early
    );
    if plan.scenario.has_messages() {
        line += &format!(
            " | sent {}/s recv {}/s acked {}/s | p99 so far {} (this second {}, send lag {})",
            c.sent - prev.sent,
            c.received - prev.received,
            c.acked - prev.acked,
            p99(so_far),
            p99(&iv.e2e),
            p99(&iv.send_lag)
        );
    } else {
        line += &format!(
            " | +{}/s | CONNACK p99 so far {}",
            c.connected - prev.connected,
            p99(so_far)
        );
    }
    line
}

/// Runs the whole thing in this process or its workers; prints the result.
pub fn run(plan: Plan) -> ExitCode {
    let plan = Arc::new(plan);
    let rss_before = plan.broker_pid.and_then(vm_rss_kib);
    if plan.broker_pid.is_some() && rss_before.is_none() {
        eprintln!(
            "loadgen: cannot read /proc/{}/status VmRSS",
            plan.broker_pid.unwrap_or(0)
        );
    }
    let setup_began = Instant::now();
    let members = if plan.procs > 1 {
        spawn_workers(&plan)
    } else {
        engine::start(Arc::clone(&plan), 0).map(Members::Local)
    };
    let mut members = match members {
        Ok(m) => m,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut merger = Merger::new(members.sources());
    let mut timing = Timing::default();
    let mut final_report = None;

    // Setup.
    let setup_deadline = Instant::now() + Duration::from_secs(plan.setup_timeout_secs);
    let mut ready = None;
    let mut early = Vec::new();
    while ready.is_none() {
        let left = setup_deadline.saturating_duration_since(Instant::now());
        match members.recv_timeout(left.min(TICK)) {
            Ok((source, event)) => {
                for merged in merger.push(source, event) {
                    match merged {
                        Event::Ready(r) => ready = Some(r),
                        other => early.push(other),
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) if Instant::now() < setup_deadline => {}
            Err(_) => break,
        }
    }
    timing.setup_secs = setup_began.elapsed().as_secs_f64();
    let proceed = match &ready {
        None => {
            eprintln!(
                "loadgen: setup did not finish within {} s (--setup-timeout); aborting",
                plan.setup_timeout_secs
            );
            false
        }
        Some(r) if r.failed > 0 && plan.scenario.has_messages() => {
            eprintln!(
                "loadgen: {} of {} clients failed to connect or subscribe; aborting. First errors:",
                r.failed,
                r.failed + r.connected
            );
            for e in &r.errors {
                eprintln!("  {e}");
            }
            false
        }
        Some(r) => {
            if !plan.quiet {
                eprintln!(
                    "loadgen: {} clients ready in {:.2} s ({} failed)",
                    r.connected, timing.setup_secs, r.failed
                );
            }
            true
        }
    };
    // Every client connected: the broker's memory now (idle: again at the end of the hold).
    let mut rss_after = plan.broker_pid.and_then(vm_rss_kib);
    let start_ns;
    let mut hdr_log = None;
    if proceed {
        let mut delay_ns = START_DELAY_MS * 1_000_000;
        if let Some(at) = plan.start_at {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            delay_ns = delay_ns.max(((at - now).max(0.0) * 1e9) as u64);
        }
        start_ns = clock::now_ns() + delay_ns;
        let start_wall = SystemTime::now() + Duration::from_nanos(delay_ns);
        if let Some(path) = &plan.hdr_log {
            let comment = format!(
                "loadgen {} run {} ({})",
                plan.scenario.name(),
                plan.run_id,
                std::env::args().skip(1).collect::<Vec<_>>().join(" ")
            );
            match HdrLog::create(path, start_wall, &comment) {
                Ok(log) => hdr_log = Some(log),
                Err(e) => eprintln!("loadgen: --hdr-log {}: {e}", path.display()),
            }
        }
        members.command(Command::Go(start_ns));
    } else {
        timing.aborted = true;
        start_ns = clock::now_ns();
        members.command(Command::Abort);
    }

    // The run.
    let end_ns = start_ns + (plan.duration_secs * 1e9) as u64;
    let drain_ns = (plan.drain_secs * 1e9) as u64;
    let grace_ns = REPORT_GRACE_SECS * 1_000_000_000;
    let mut drained = false;
    let mut aborted = !proceed;
    let mut prev = Counters::default();
    let mut so_far = Hist::default();
    let mut pending = early;
    loop {
        for event in pending.drain(..) {
            match event {
                Event::Interval(iv) => {
                    let main = if plan.scenario.has_messages() {
                        &iv.e2e
                    } else {
                        &iv.connect
                    };
                    so_far.add(main);
                    if !plan.quiet && proceed {
                        eprintln!("{}", progress(&plan, &iv, &prev, &so_far));
                    }
                    prev = iv.counters;
                    if let Some(log) = &mut hdr_log {
                        let mut write = || -> std::io::Result<()> {
                            log.write(None, iv.index, main)?;
                            if plan.scenario.has_messages() {
                                if iv.ack.count() > 0 {
                                    log.write(Some("ack"), iv.index, &iv.ack)?;
                                }
                                if iv.connect.count() > 0 {
                                    log.write(Some("connack"), iv.index, &iv.connect)?;
                                }
                                if iv.send_lag.count() > 0 {
                                    log.write(Some("send-lag"), iv.index, &iv.send_lag)?;
                                }
                            }
                            Ok(())
                        };
                        if let Err(e) = write() {
                            eprintln!("loadgen: --hdr-log: {e}; no more intervals written");
                            hdr_log = None;
                        }
                    }
                }
                Event::PublishersDone => {
                    if !drained {
                        timing.run_secs = clock::now_ns().saturating_sub(start_ns) as f64 / 1e9;
                        if plan.scenario == Scenario::Idle && proceed {
                            rss_after = plan.broker_pid.and_then(vm_rss_kib);
                        }
                        members.command(Command::Drain);
                        drained = true;
                    }
                }
                Event::Final(f) => final_report = Some(*f),
                Event::Ready(_) => {}
            }
        }
        if final_report.is_some() {
            break;
        }
        let now = clock::now_ns();
        if !drained && now > end_ns + drain_ns + grace_ns {
            eprintln!("loadgen: publishers still not done long past the end; draining");
            timing.run_secs = now.saturating_sub(start_ns) as f64 / 1e9;
            members.command(Command::Drain);
            drained = true;
        }
        if !aborted && now > end_ns + 2 * (drain_ns + grace_ns) {
            eprintln!("loadgen: still not finished; aborting");
            members.command(Command::Abort);
            aborted = true;
        }
        if now > end_ns + 3 * (drain_ns + grace_ns) {
            eprintln!(
                "loadgen: no final report from {:?}; giving up",
                merger.unfinished()
            );
            break;
        }
        match members.recv_timeout(TICK) {
            Ok((source, event)) => pending = merger.push(source, event),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                eprintln!("loadgen: every source is gone without a final report");
                break;
            }
        }
    }
    let finished = merger.all_finished();
    if finished {
        members.finish();
    }
    let report = final_report.unwrap_or_default();
    let broker_rss = match (plan.broker_pid, rss_before, rss_after) {
        (Some(pid), Some(before), Some(after)) => Some(BrokerRss {
            pid,
            before_kib: before,
            after_kib: after,
            per_connection_bytes: if report.counters.connected > 0 {
                ((after as f64 - before as f64) * 1024.0 / report.counters.connected as f64).round()
            } else {
                0.0
            },
        }),
        _ => None,
    };
    let summary = Summary::new(&plan, &report, timing, broker_rss);
    eprint!("{}", summary.human());
    println!(
        "{}",
        serde_json::to_string(&summary).expect("the summary serializes")
    );
    if summary.status == "ok" && finished {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
