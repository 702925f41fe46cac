//! `loadgen merge`: combines the results of runs on several hosts into one JSON line (and
//! one HDR interval log). Counts add up; percentiles cannot be added, so they are
//! recomputed from the runs' HDR logs (`--hlog`), whose intervals are aligned on wall-clock
//! seconds (each log's BaseTime plus the interval's offset).
//!
//! ```text
//! loadgen merge --json a.json --json b.json --hlog a.hlog --hlog b.hlog [--hdr-log all.hlog]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Parser;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde_json::Value;

use crate::hdrlog::HdrLog;
use crate::hist::Hist;
use crate::limits::ERRORS_KEPT_MAX;

/// Merge the JSON lines (and HDR logs) of loadgen runs on several hosts.
#[derive(Debug, Parser)]
#[command(name = "loadgen merge")]
struct MergeArgs {
    /// A run's JSON line (its stdout); repeat for each run.
    #[arg(long = "json", value_name = "FILE", required = true)]
    json: Vec<PathBuf>,
    /// A run's --hdr-log file; repeat for each run. Without them, the merged line has no
    /// percentiles (they are null).
    #[arg(long = "hlog", value_name = "FILE")]
    hlogs: Vec<PathBuf>,
    /// Write the merged interval log here.
    #[arg(long, value_name = "PATH")]
    hdr_log: Option<PathBuf>,
}

/// Fields summed over the runs.
const SUMMED: &[&str] = &[
    "sent",
    "acked",
    "ack_failed",
    "expected",
    "received",
    "lost",
    "duplicates",
    "reordered",
    "acked_lost",
    "unexpected",
    "foreign",
    "backlog",
    "errors_total",
    "connections.attempted",
    "connections.established",
    "connections.failed",
    "connections.closed_early",
    "connections.rate_per_sec",
    "rates.send_per_sec",
    "rates.receive_per_sec",
    "rates.ack_per_sec",
    "params.publishers",
    "params.subscribers",
    "params.connections",
    "params.procs",
];

fn at<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    path.split('.').fold(v, |v, k| &mut v[k])
}

/// Sums `runs` into the first one's shape (see [`SUMMED`]); worst status wins.
fn merge_json(runs: &[Value]) -> Value {
    let mut out = runs[0].clone();
    for path in SUMMED {
        let sum: f64 = runs
            .iter()
            .map(|r| {
                path.split('.')
                    .fold(r, |v, k| &v[k])
                    .as_f64()
                    .unwrap_or(0.0)
            })
            .sum();
        let slot = at(&mut out, path);
        *slot = if slot.is_u64() || slot.is_null() && sum.fract() == 0.0 {
            Value::from(sum as u64)
        } else {
            Value::from((sum * 10.0).round() / 10.0)
        };
    }
    let rank = |s: &Value| match s.as_str() {
        Some("ok") => 0,
        Some("errors") => 1,
        _ => 2,
    };
    out["status"] = runs
        .iter()
        .map(|r| r["status"].clone())
        .max_by_key(rank)
        .unwrap_or(Value::Null);
    out["duration_secs"] = runs
        .iter()
        .filter_map(|r| r["duration_secs"].as_f64())
        .fold(0.0, f64::max)
        .into();
    let errors: Vec<Value> = runs
        .iter()
        .flat_map(|r| r["errors"].as_array().cloned().unwrap_or_default())
        .take(ERRORS_KEPT_MAX)
        .collect();
    out["errors"] = Value::Array(errors);
    out["merged_from"] = runs.len().into();
    out["run_id"] = Value::Null;
    out["hdr_log"] = Value::Null;
    out["broker_rss"] = Value::Null;
    out
}

/// Interval histograms by (tag, wall-clock second), and the earliest second.
type Buckets = BTreeMap<(Option<String>, u64), Hist>;

fn read_hlogs(paths: &[PathBuf]) -> Result<(Buckets, u64), String> {
    let mut buckets = Buckets::new();
    let mut first = u64::MAX;
    for path in paths {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut base = Duration::ZERO;
        for entry in IntervalLogIterator::new(&text) {
            match entry.map_err(|e| format!("{}: {e:?}", path.display()))? {
                LogEntry::BaseTime(b) => base = b,
                LogEntry::StartTime(_) => {}
                LogEntry::Interval(i) => {
                    let second = (base + i.start_timestamp()).as_secs();
                    first = first.min(second);
                    let hist = Hist::from_base64(i.encoded_histogram())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let tag = i.tag().map(|t| t.as_str().to_string());
                    buckets.entry((tag, second)).or_default().add(&hist);
                }
            }
        }
    }
    Ok((buckets, first))
}

/// Runs `loadgen merge` with `args` (after the word `merge`).
pub fn run(args: impl Iterator<Item = String>) -> ExitCode {
    let args = MergeArgs::parse_from(std::iter::once("loadgen merge".to_string()).chain(args));
    let mut runs = Vec::new();
    for path in &args.json {
        let line = std::fs::read_to_string(path).ok().and_then(|t| {
            t.lines()
                .rev()
                .find(|l| l.starts_with('{'))
                .map(String::from)
        });
        match line.and_then(|l| serde_json::from_str::<Value>(&l).ok()) {
            Some(v) if v["schema"] == crate::summary::SCHEMA => runs.push(v),
            _ => {
                eprintln!("loadgen merge: {}: no loadgen JSON line", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let mut out = merge_json(&runs);
    let (buckets, first) = match read_hlogs(&args.hlogs) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("loadgen merge: {e}");
            return ExitCode::from(2);
        }
    };
    let messages = out["params"]["publishers"].as_u64().unwrap_or(0) > 0;
    let mut totals: BTreeMap<Option<String>, Hist> = BTreeMap::new();
    for ((tag, _), h) in &buckets {
        totals.entry(tag.clone()).or_default().add(h);
    }
    let pct = |tag: Option<&str>| -> Value {
        match totals.get(&tag.map(String::from)) {
            Some(h) => serde_json::to_value(h.percentiles()).expect("serializes"),
            None => Value::Null,
        }
    };
    if messages {
        out["latency_us"] = pct(None);
        out["ack_latency_us"] = pct(Some("ack"));
        out["send_lag_us"] = pct(Some("send-lag"));
        out["connections"]["connack_us"] = pct(Some("connack"));
    } else {
        out["latency_us"] = Value::Null;
        out["ack_latency_us"] = Value::Null;
        out["send_lag_us"] = Value::Null;
        out["connections"]["connack_us"] = pct(None);
    }
    if let Some(path) = &args.hdr_log {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(first.min(u64::MAX / 2));
        let written = HdrLog::create(path, base, "loadgen merge").and_then(|mut log| {
            for ((tag, second), h) in &buckets {
                log.write(tag.as_deref(), (second - first) as u32, h)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            eprintln!("loadgen merge: --hdr-log {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        out["hdr_log"] = path.display().to_string().into();
    }
    eprintln!(
        "loadgen merge: {} runs: sent {}, received {}, lost {}, acked_lost {}, established {}",
        runs.len(),
        out["sent"],
        out["received"],
        out["lost"],
        out["acked_lost"],
        out["connections"]["established"]
    );
    println!("{out}");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_the_worst_status_wins() {
        let a: Value = serde_json::from_str(
            r#"{"status":"ok","sent":10,"lost":1,"duration_secs":10.0,"errors":[],
                "connections":{"established":5,"rate_per_sec":2.5},
                "rates":{"send_per_sec":1.0},"params":{"publishers":2}}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"status":"errors","sent":5,"lost":0,"duration_secs":11.5,"errors":["x"],
                "connections":{"established":7,"rate_per_sec":3.0},
                "rates":{"send_per_sec":2.5},"params":{"publishers":3}}"#,
        )
        .unwrap();
        let m = merge_json(&[a, b]);
        assert_eq!(m["sent"], 15);
        assert_eq!(m["lost"], 1);
        assert_eq!(m["connections"]["established"], 12);
        assert_eq!(m["connections"]["rate_per_sec"], 5.5);
        assert_eq!(m["rates"]["send_per_sec"], 3.5);
        assert_eq!(m["params"]["publishers"], 5);
        assert_eq!(m["status"], "errors");
        assert_eq!(m["duration_secs"], 11.5);
        assert_eq!(m["errors"], serde_json::json!(["x"]));
        assert_eq!(m["merged_from"], 2);
    }

    #[test]
    fn interval_logs_merge_on_wall_clock_seconds() {
        let dir = std::env::temp_dir().join(format!("loadgen-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut h = Hist::default();
        h.record_ns(1_000_000);
        let (a, b) = (dir.join("a.hlog"), dir.join("b.hlog"));
        let mut log = HdrLog::create(&a, t0, "a").unwrap();
        log.write(None, 0, &h).unwrap();
        log.write(None, 1, &h).unwrap();
        drop(log);
        // The second host started one second later.
        let mut log = HdrLog::create(&b, t0 + Duration::from_secs(1), "b").unwrap();
        log.write(None, 0, &h).unwrap();
        log.write(Some("ack"), 0, &h).unwrap();
        drop(log);
        let (buckets, first) = read_hlogs(&[a, b]).unwrap();
        assert_eq!(first, 1_000_000);
        assert_eq!(buckets[&(None, 1_000_000)].count(), 1);
        assert_eq!(buckets[&(None, 1_000_001)].count(), 2);
        assert_eq!(buckets[&(Some("ack".into()), 1_000_001)].count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
