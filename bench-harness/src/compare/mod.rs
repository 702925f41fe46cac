//! `bench-harness compare`: the same loadgen scenarios against each broker in turn,
//! repeated and interleaved (repetition r runs every scenario on every broker before
//! repetition r + 1 starts, and the broker order rotates each repetition), each run on a
//! freshly started broker. Measures throughput and latency (from loadgen), broker CPU and
//! memory (from /proc), and writes a report directory.

pub mod brokers;
pub mod plot;
pub mod procfs;
pub mod report;
pub mod result;
pub mod suite;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use brokers::{BrokerSpec, RunningBroker};
use result::{LoadgenSummary, RunResult};
use suite::{Headline, Scenario};

/// Seconds a loadgen run may take beyond its own duration (setup, drain) before the
/// harness stops it.
const LOADGEN_GRACE_SECS: u64 = 90;

/// What to compare, and where.
#[derive(Clone, Debug)]
pub struct Options {
    /// The brokers, in their first-repetition order.
    pub brokers: Vec<BrokerSpec>,
    /// The scenarios.
    pub scenarios: Vec<Scenario>,
    /// Seconds each scenario publishes for (already in the scenarios' arguments).
    pub duration_secs: u32,
    /// Repetitions of the whole suite.
    pub repeat: u32,
    /// The loadgen binary.
    pub loadgen: PathBuf,
    /// Extra arguments for every loadgen run (e.g. `--threads 1`).
    pub loadgen_args: Vec<String>,
    /// The report directory (created).
    pub out: PathBuf,
    /// Suite name, for the report.
    pub suite: String,
}

/// Runs the comparison and writes the report; returns the report's path. A failed run is
/// recorded in the report, not fatal.
pub fn run(options: &Options) -> Result<PathBuf, String> {
    let raw = options.out.join("raw");
    std::fs::create_dir_all(&raw).map_err(|e| format!("{}: {e}", raw.display()))?;
    let mut results = Vec::new();
    let total = options.repeat as usize * options.scenarios.len() * options.brokers.len();
    let mut done = 0;
    for repetition in 0..options.repeat {
        for scenario in &options.scenarios {
            for b in 0..options.brokers.len() {
                let broker = &options.brokers[(b + repetition as usize) % options.brokers.len()];
                done += 1;
                eprintln!(
                    "compare: [{done}/{total}] {} on {} (repetition {})",
                    scenario.name,
                    broker.name,
                    repetition + 1
                );
                let result = run_one(options, scenario, broker, repetition);
                match (&result.error, &result.loadgen) {
                    (Some(e), _) => eprintln!("compare:   failed: {e}"),
                    (None, Some(l)) => eprintln!(
                        "compare:   {:.0} msg/s received, p99 {} µs, broker {} cores",
                        l.rates.receive_per_sec,
                        l.latency_us.p99,
                        result
                            .broker_cores()
                            .map_or("?".to_string(), |c| format!("{c:.2}"))
                    ),
                    (None, None) => {}
                }
                results.push(result);
            }
        }
    }
    let json: Vec<String> = results
        .iter()
        .map(|r| serde_json::to_string(r).expect("a result serializes"))
        .collect();
    write(
        &options.out.join("results.jsonl"),
        &(json.join("\n") + "\n"),
    )?;
    write(
        &options.out.join("meta.json"),
        &report::metadata_json(options),
    )?;
    report::write(options, &results)?;
    Ok(options.out.join("report.md"))
}

/// One scenario on one freshly started broker.
fn run_one(
    options: &Options,
    scenario: &Scenario,
    spec: &BrokerSpec,
    repetition: u32,
) -> RunResult {
    let id = format!("{}-{}-r{}", scenario.name, spec.name, repetition + 1);
    let mut result = RunResult {
        scenario: scenario.name.to_string(),
        broker: spec.name.clone(),
        repetition,
        loadgen: None,
        error: None,
        broker_cpu_secs: None,
        wall_secs: 0.0,
        broker_rss_peak_bytes: None,
        hdr_log: None,
    };
    let mut broker = match RunningBroker::start(spec, &options.out.join("raw").join("brokers")) {
        Ok(broker) => broker,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let hdr_log = format!("raw/{id}.hlog");
    let mut command = Command::new(&options.loadgen);
    command
        .args(&scenario.args)
        .args(["--host", &broker.addr.ip().to_string()])
        .args(["--port", &broker.addr.port().to_string()])
        .arg("--hdr-log")
        .arg(options.out.join(&hdr_log))
        .args(&options.loadgen_args);
    if scenario.headline == Headline::IdleMemory {
        if let Some(pid) = broker.pid {
            command.args(["--broker-pid", &pid.to_string()]);
        }
    }
    let before = broker.sample();
    let started = Instant::now();
    let output = run_bounded(
        &mut command,
        Duration::from_secs(u64::from(options.duration_secs) + LOADGEN_GRACE_SECS),
    );
    result.wall_secs = started.elapsed().as_secs_f64();
    let after = broker.sample();
    if let (Some(before), Some(after)) = (before, after) {
        result.broker_cpu_secs = Some(after.cpu_secs - before.cpu_secs);
        result.broker_rss_peak_bytes = Some(after.rss_peak_bytes);
    }
    let log_tail = broker.log_tail();
    broker.stop();
    let (stdout, stderr) = match output {
        Ok(out) => out,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let _ = write(
        &options.out.join("raw").join(format!("{id}.loadgen.txt")),
        &format!("{stderr}\n{stdout}"),
    );
    match LoadgenSummary::from_stdout(&stdout) {
        Ok(summary) => {
            // The publishing window, not setup and drain, is what rates are over; broker
            // cores are averaged over the whole loadgen run, which includes both.
            result.loadgen = Some(summary);
            result.hdr_log = Some(hdr_log);
        }
        Err(e) => {
            result.error = Some(format!(
                "{e}; loadgen stderr ends:\n{}\nbroker log ends:\n{log_tail}",
                tail(&stderr, 15)
            ));
        }
    }
    result
}

/// Runs `command` to completion within `limit`; its stdout and stderr. Killed (by its
/// own PID) past the limit.
fn run_bounded(command: &mut Command, limit: Duration) -> Result<(String, String), String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start loadgen: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = read(Box::new(stdout));
    let err = read(Box::new(stderr));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status {
        None => Err(format!(
            "loadgen ran past {limit:?} and was stopped; stderr ends:\n{}",
            tail(&stderr, 15)
        )),
        // loadgen exits non-zero when clients saw errors; its JSON line still says what
        // happened, and the report shows the status.
        Some(_) => Ok((stdout, stderr)),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
