//! coremq's side-by-side broker comparison: the same loadgen scenarios against coremq,
//! Mosquitto, rumqttd and any other broker, repeated and interleaved, with a report
//! directory (markdown table, latency plots, raw JSON and HDR logs, machine metadata).
//! The micro-benchmarks live in `benches/` (`cargo bench -p bench-harness`).
//!
//! ```text
//! cargo build --release -p coremq -p loadgen
//! cargo run --release -p bench-harness -- compare --brokers coremq,mosquitto --suite standard
//! cargo run --release -p bench-harness -- icount     # instructions per codec/index operation
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bench_harness::compare::brokers::{find_program, BrokerKind, BrokerSpec};
use bench_harness::compare::{self, suite, Options};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "coremq's side-by-side broker comparison")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Runs a suite of loadgen scenarios against each broker and writes a report.
    Compare(Box<CompareArgs>),
    /// Lists the suites and their scenarios.
    Suites,
    /// Instructions per operation of the codec and index micro-benchmarks, under
    /// valgrind's callgrind (deterministic where wall time is noisy).
    Icount {
        /// Operations per measurement (the difference of N and 2N cancels set-up).
        #[arg(long, default_value_t = 2000)]
        iterations: u64,
        /// Only these cases, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Runs one icount case N times (what `icount` runs under callgrind).
    #[command(hide = true)]
    IcountRun { case: String, iterations: u64 },
}

#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// Brokers to start, comma-separated: coremq, mosquitto, rumqttd (each found on this
    /// host or refused with how to install it).
    #[arg(long, value_delimiter = ',', default_value = "coremq,mosquitto")]
    brokers: Vec<String>,
    /// Another broker started by a shell command, as NAME='COMMAND' with {port} where its
    /// listening port goes (e.g. emqx='docker run --rm -p {port}:1883 emqx/emqx'). Repeatable.
    #[arg(long = "start", value_name = "NAME=COMMAND")]
    start: Vec<String>,
    /// A broker already running, as NAME=HOST:PORT[@PID] (PID: measure its CPU and
    /// memory). Repeatable.
    #[arg(long = "external", value_name = "NAME=ADDR[@PID]")]
    external: Vec<String>,
    /// The suite: standard (the Open MQTT Benchmark Suite's shapes and issue 5's goals) or
    /// smoke (a few seconds, to check the harness).
    #[arg(long, default_value = "standard")]
    suite: String,
    /// Only these scenarios of the suite, comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seconds each scenario publishes for.
    #[arg(long, default_value_t = 10)]
    duration: u32,
    /// Repetitions of the whole suite (interleaved).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// coremq's shards (default: one per core).
    #[arg(long)]
    coremq_shards: Option<usize>,
    /// Extra loadgen arguments for every run, e.g. --loadgen-arg=--threads --loadgen-arg=1.
    #[arg(long = "loadgen-arg", allow_hyphen_values = true)]
    loadgen_args: Vec<String>,
    /// The report directory. Default: bench-out/<UTC date and time>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where release binaries are (coremq, loadgen). Default: the workspace's
    /// target/release.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Commands::Suites => {
            for name in suite::SUITES {
                println!("{name}:");
                for s in suite::suite(name, 10).expect("a listed suite") {
                    println!("  {:<24} {}", s.name, s.about);
                }
            }
            ExitCode::SUCCESS
        }
        Commands::Icount { iterations, only } => icount(iterations, &only),
        Commands::IcountRun { case, iterations } => {
            match bench_harness::icount::run_case(&case, iterations) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench-harness: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Commands::Compare(args) => match compare_options(*args).and_then(|o| compare::run(&o)) {
            Ok(report) => {
                println!("{}", report.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench-harness: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// Prints a markdown table of instructions per operation.
fn icount(iterations: u64, only: &[String]) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("bench-harness: {e}");
            return ExitCode::from(2);
        }
    };
    println!("| case | instructions per operation | what |\n|---|---:|---|");
    for (case, about) in bench_harness::icount::CASES {
        if !only.is_empty() && !only.iter().any(|o| o == case) {
            continue;
        }
        match bench_harness::icount::measure(&exe, case, iterations) {
            Ok(per_op) => println!("| {case} | {per_op:.0} | {about} |"),
            Err(e) => {
                eprintln!("bench-harness: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

fn compare_options(args: CompareArgs) -> Result<Options, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench-harness lives in the workspace");
    let bin_dir = args
        .bin_dir
        .unwrap_or_else(|| workspace.join("target").join("release"));
    let loadgen = bin_dir.join("loadgen");
    if !loadgen.is_file() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p coremq -p loadgen` first",
            loadgen.display()
        ));
    }
    let mut brokers = Vec::new();
    for name in &args.brokers {
        let kind = match name.as_str() {
            "coremq" => {
                let binary = bin_dir.join("coremq");
                if !binary.is_file() {
                    return Err(format!(
                        "{} is missing: run `cargo build --release -p coremq` first",
                        binary.display()
                    ));
                }
                let shards = args
                    .coremq_shards
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
                BrokerKind::Coremq { binary, shards }
            }
            "mosquitto" => BrokerKind::Mosquitto {
                binary: find_program("mosquitto", &["/usr/sbin/mosquitto"]).ok_or(
                    "mosquitto is not installed: `apt-get install mosquitto` (scripts/install-deps.sh does)",
                )?,
            },
            "rumqttd" => BrokerKind::Rumqttd {
                binary: find_program("rumqttd", &[]).ok_or(
                    "rumqttd is not installed: `cargo install rumqttd`, or leave it out",
                )?,
            },
            other => {
                return Err(format!(
                    "unknown broker {other:?}: use coremq, mosquitto, rumqttd, or --start/--external for others"
                ))
            }
        };
        brokers.push(BrokerSpec {
            name: name.clone(),
            kind,
        });
    }
    for start in &args.start {
        let (name, command) = start
            .split_once('=')
            .ok_or_else(|| format!("--start {start:?}: write NAME='COMMAND with {{port}}'"))?;
        if !command.contains("{port}") {
            return Err(format!("--start {name}: the command must contain {{port}}"));
        }
        brokers.push(BrokerSpec {
            name: name.to_string(),
            kind: BrokerKind::Command {
                command: command.to_string(),
            },
        });
    }
    for external in &args.external {
        let (name, rest) = external
            .split_once('=')
            .ok_or_else(|| format!("--external {external:?}: write NAME=HOST:PORT[@PID]"))?;
        let (addr, pid) = match rest.split_once('@') {
            Some((addr, pid)) => (
                addr,
                Some(
                    pid.parse()
                        .map_err(|_| format!("--external {name}: bad PID {pid:?}"))?,
                ),
            ),
            None => (rest, None),
        };
        let addr = addr
            .parse()
            .map_err(|_| format!("--external {name}: {addr:?} is not HOST:PORT (an IP address)"))?;
        brokers.push(BrokerSpec {
            name: name.to_string(),
            kind: BrokerKind::External { addr, pid },
        });
    }
    if brokers.is_empty() {
        return Err("no broker to compare".to_string());
    }
    let mut scenarios = suite::suite(&args.suite, args.duration).ok_or_else(|| {
        format!(
            "unknown suite {:?}: use one of {:?}",
            args.suite,
            suite::SUITES
        )
    })?;
    if !args.only.is_empty() {
        for name in &args.only {
            if !scenarios.iter().any(|s| s.name == name) {
                return Err(format!("--only {name}: not in suite {}", args.suite));
            }
        }
        scenarios.retain(|s| args.only.iter().any(|o| o == s.name));
    }
    let out = args.out.unwrap_or_else(|| {
        let stamp = std::process::Command::new("date")
            .args(["-u", "+%Y%m%d-%H%M%S"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "run".to_string());
        workspace.join("bench-out").join(stamp)
    });
    Ok(Options {
        brokers,
        scenarios,
        duration_secs: args.duration,
        repeat: args.repeat.max(1),
        loadgen,
        loadgen_args: args.loadgen_args,
        out,
        suite: args.suite,
    })
}
