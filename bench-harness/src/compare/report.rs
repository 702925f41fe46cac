//! The report directory: `report.md` (a table per scenario, medians over repetitions,
//! with throughput per broker core), `<scenario>.svg` (latency percentile plots with every
//! broker on one chart), `results.jsonl` (every run), `meta.json` (machine, kernel,
//! versions, commit) and `raw/` (loadgen's output and HDR logs, broker logs).

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::result::{read_hdr_log, RunResult};
use super::suite::Headline;
use super::Options;

/// Writes `report.md` and the plots.
pub fn write(options: &Options, results: &[RunResult]) -> Result<(), String> {
    let mut md = String::new();
    let _ = writeln!(md, "# Broker comparison: suite `{}`\n", options.suite);
    let _ = writeln!(md, "{}\n", machine_line());
    let _ = writeln!(
        md,
        "Each scenario ran {} time(s) per broker for {} s, interleaved (every broker once per \
         repetition, the order rotating), each run on a freshly started broker; loadgen and \
         the broker share this machine. Figures are medians over repetitions. *Broker cores*: \
         the broker's CPU time over the run (/proc) divided by the run's wall time, so \
         *per core* stays fair when the load generator competes for the same cores.\n",
        options.repeat, options.duration_secs
    );
    let _ = writeln!(md, "Brokers:\n");
    for broker in &options.brokers {
        let _ = writeln!(md, "- **{}**: {}", broker.name, broker.describe());
    }
    md.push('\n');
    for scenario in &options.scenarios {
        let runs: Vec<&RunResult> = results
            .iter()
            .filter(|r| r.scenario == scenario.name)
            .collect();
        let _ = writeln!(md, "## {}\n\n{}\n", scenario.name, scenario.about);
        let _ = writeln!(md, "`loadgen {}`\n", scenario.args.join(" "));
        md.push_str(&table(scenario.headline, &options.brokers_names(), &runs));
        let failures: Vec<&&RunResult> = runs.iter().filter(|r| r.error.is_some()).collect();
        for failure in failures {
            let _ = writeln!(
                md,
                "\n- {} repetition {} failed: {}",
                failure.broker,
                failure.repetition + 1,
                failure
                    .error
                    .as_deref()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
            );
        }
        if scenario.headline != Headline::IdleMemory {
            let series: Vec<(String, Histogram<u64>)> = options
                .brokers
                .iter()
                .filter_map(|b| {
                    merged_histogram(options, &runs, &b.name).map(|h| (b.name.clone(), h))
                })
                .collect();
            let title = format!("{}: latency by percentile (all repetitions)", scenario.name);
            let svg = super::plot::percentile_svg(&title, &series);
            let file = format!("{}.svg", scenario.name);
            std::fs::write(options.out.join(&file), svg).map_err(|e| format!("{file}: {e}"))?;
            let _ = writeln!(md, "\n![{} latency]({file})\n", scenario.name);
        } else {
            md.push('\n');
        }
    }
    std::fs::write(options.out.join("report.md"), md).map_err(|e| format!("report.md: {e}"))
}

impl Options {
    fn brokers_names(&self) -> Vec<String> {
        self.brokers.iter().map(|b| b.name.clone()).collect()
    }
}

/// The median of `values`; `None` when empty.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// One scenario's table: a row per broker, medians over its successful runs.
pub fn table(headline: Headline, brokers: &[String], runs: &[&RunResult]) -> String {
    let mut md = String::new();
    match headline {
        Headline::IdleMemory => {
            md.push_str("| broker | runs | connections | broker RSS before | after | per connection | broker cores |\n|---|---:|---:|---:|---:|---:|---:|\n");
        }
        Headline::Connections => {
            md.push_str("| broker | runs | connections | CONNACKs/s | CONNACK p50 | p99 | p99.9 | failed | broker cores |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        }
        Headline::Throughput | Headline::Latency => {
            md.push_str("| broker | runs | received msg/s | broker cores | msg/s per broker core | p50 | p99 | p99.9 | max | lost | acked lost | dup | reordered | RSS peak |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        }
    }
    for broker in brokers {
        let ok: Vec<&&RunResult> = runs
            .iter()
            .filter(|r| &r.broker == broker && r.loadgen.is_some())
            .collect();
        let total = runs.iter().filter(|r| &r.broker == broker).count();
        let med = |f: &dyn Fn(&RunResult) -> Option<f64>| {
            median(ok.iter().filter_map(|r| f(r)).collect())
        };
        let lg = |f: fn(&super::result::LoadgenSummary) -> f64| {
            med(&|r: &RunResult| r.loadgen.as_ref().map(f))
        };
        let runs_cell = format!("{}/{}", ok.len(), total);
        let cores = fmt_opt(med(&|r: &RunResult| r.broker_cores()), 2);
        match headline {
            Headline::IdleMemory => {
                let rss = |f: fn(&super::result::BrokerRss) -> f64| {
                    med(&|r: &RunResult| r.loadgen.as_ref()?.broker_rss.as_ref().map(f))
                };
                let _ = writeln!(
                    md,
                    "| {broker} | {runs_cell} | {} | {} | {} | {} | {cores} |",
                    fmt_opt(lg(|l| l.connections.established as f64), 0),
                    fmt_kib(rss(|b| b.before_kib as f64)),
                    fmt_kib(rss(|b| b.after_kib as f64)),
                    fmt_bytes(rss(|b| b.per_connection_bytes)),
                );
            }
            Headline::Connections => {
                let _ = writeln!(
                    md,
                    "| {broker} | {runs_cell} | {} | {} | {} | {} | {} | {} | {cores} |",
                    fmt_opt(lg(|l| l.connections.established as f64), 0),
                    fmt_opt(lg(|l| l.connections.rate_per_sec), 0),
                    fmt_us(lg(|l| l.connections.connack_us.p50 as f64)),
                    fmt_us(lg(|l| l.connections.connack_us.p99 as f64)),
                    fmt_us(lg(|l| l.connections.connack_us.p99_9 as f64)),
                    fmt_opt(lg(|l| l.connections.failed as f64), 0),
                );
            }
            Headline::Throughput | Headline::Latency => {
                let _ = writeln!(
                    md,
                    "| {broker} | {runs_cell} | {} | {cores} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    fmt_opt(lg(|l| l.rates.receive_per_sec), 0),
                    fmt_opt(med(&|r: &RunResult| r.receive_per_core()), 0),
                    fmt_us(lg(|l| l.latency_us.p50 as f64)),
                    fmt_us(lg(|l| l.latency_us.p99 as f64)),
                    fmt_us(lg(|l| l.latency_us.p99_9 as f64)),
                    fmt_us(lg(|l| l.latency_us.max as f64)),
                    fmt_opt(lg(|l| l.lost as f64), 0),
                    fmt_opt(lg(|l| l.acked_lost as f64), 0),
                    fmt_opt(lg(|l| l.duplicates as f64), 0),
                    fmt_opt(lg(|l| l.reordered as f64), 0),
                    fmt_bytes(med(&|r: &RunResult| r.broker_rss_peak_bytes.map(|b| b as f64))),
                );
            }
        }
    }
    md
}

/// Every successful run's HDR log for `broker`, summed.
fn merged_histogram(
    options: &Options,
    runs: &[&RunResult],
    broker: &str,
) -> Option<Histogram<u64>> {
    let mut total: Option<Histogram<u64>> = None;
    for run in runs
        .iter()
        .filter(|r| r.broker == broker && r.loadgen.is_some())
    {
        let Some(path) = &run.hdr_log else { continue };
        let Ok(bytes) = std::fs::read(options.out.join(path)) else {
            continue;
        };
        let Ok(histogram) = read_hdr_log(&bytes) else {
            continue;
        };
        match &mut total {
            Some(t) => {
                let _ = t.add(&histogram);
            }
            None => total = Some(histogram),
        }
    }
    total
}

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    match value {
        None => "–".to_string(),
        Some(v) if decimals == 0 => thousands(v.round() as u64),
        Some(v) => format!("{v:.decimals$}"),
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_us(value: Option<f64>) -> String {
    match value {
        None => "–".to_string(),
        Some(us) if us >= 10_000.0 => format!("{:.1} ms", us / 1000.0),
        Some(us) if us >= 1000.0 => format!("{:.2} ms", us / 1000.0),
        Some(us) => format!("{us:.0} µs"),
    }
}

fn fmt_kib(value: Option<f64>) -> String {
    fmt_bytes(value.map(|kib| kib * 1024.0))
}

fn fmt_bytes(value: Option<f64>) -> String {
    match value {
        None => "–".to_string(),
        Some(b) if b >= 1024.0 * 1024.0 => format!("{:.1} MiB", b / 1024.0 / 1024.0),
        Some(b) if b >= 1024.0 => format!("{:.1} KiB", b / 1024.0),
        Some(b) => format!("{b:.0} B"),
    }
}

/// One line on the machine, for the report's head.
fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| super::procfs::status_kib(&m, "MemTotal:"))
        .map_or("?".to_string(), |kib| {
            format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    format!("Machine: {cpu}, {cores} cores, {memory}, Linux {kernel}.")
}

/// `meta.json`: machine, kernel, versions, commit, date, and the options.
pub fn metadata_json(options: &Options) -> String {
    let command_output = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let meta = serde_json::json!({
        "machine": machine_line(),
        "uname": command_output("uname", &["-a"]),
        "commit": command_output("git", &["rev-parse", "HEAD"]),
        "dirty": !command_output("git", &["status", "--porcelain"]).is_empty(),
        "date_utc": command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "suite": options.suite,
        "repeat": options.repeat,
        "duration_secs": options.duration_secs,
        "loadgen": options.loadgen.display().to_string(),
        "loadgen_args": options.loadgen_args,
        "brokers": options.brokers.iter().map(|b| serde_json::json!({
            "name": b.name, "how": b.describe(),
        })).collect::<Vec<_>>(),
        "scenarios": options.scenarios.iter().map(|s| serde_json::json!({
            "name": s.name, "about": s.about, "loadgen_args": s.args,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&meta).expect("metadata serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::result::{LoadgenSummary, Percentiles, Rates};

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn a_throughput_table_has_a_row_per_broker_with_per_core_figures() {
        let run = |broker: &str, rate: f64, cpu: f64| RunResult {
            scenario: "s".into(),
            broker: broker.into(),
            repetition: 0,
            loadgen: Some(LoadgenSummary {
                rates: Rates {
                    send_per_sec: rate,
                    receive_per_sec: rate,
                },
                latency_us: Percentiles {
                    count: 10,
                    p50: 120,
                    p99: 2500,
                    p99_9: 15_000,
                    max: 20_000,
                },
                ..LoadgenSummary::default()
            }),
            error: None,
            broker_cpu_secs: Some(cpu),
            wall_secs: 10.0,
            broker_rss_peak_bytes: Some(3 << 20),
            hdr_log: None,
        };
        let a = run("coremq", 900_000.0, 10.0);
        let b = run("mosquitto", 200_000.0, 10.0);
        let mut failed = run("mosquitto", 0.0, 0.0);
        failed.loadgen = None;
        failed.error = Some("boom".into());
        let md = table(
            Headline::Throughput,
            &["coremq".into(), "mosquitto".into()],
            &[&a, &b, &failed],
        );
        assert!(
            md.contains("| coremq | 1/1 | 900,000 | 1.00 | 900,000 | 120 µs | 2.50 ms | 15.0 ms |"),
            "{md}"
        );
        assert!(md.contains("| mosquitto | 1/2 | 200,000 |"), "{md}");
        assert!(md.contains("3.0 MiB"), "{md}");
    }
}
