//! The comparison harness end to end (issue 5: its own tests run in CI, the suite itself
//! does not): the `smoke` suite for 2 s against coremq and Mosquitto, with this build's
//! debug binaries, must write a report with a row per broker, a latency plot, every run's
//! JSON and HDR log, and the machine's metadata. Nothing here is a performance assertion.

use std::path::{Path, PathBuf};
use std::process::Command;

/// target/<profile>, where cargo put this test's sibling binaries (coremq, loadgen).
fn bin_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_bench-harness"));
    exe.parent().expect("a target directory").to_path_buf()
}

fn mosquitto_present() -> bool {
    Path::new("/usr/sbin/mosquitto").is_file()
        || Command::new("mosquitto").arg("-h").output().is_ok()
}

#[test]
fn the_smoke_suite_writes_a_complete_report() {
    let bins = bin_dir();
    for needed in ["coremq", "loadgen"] {
        if !bins.join(needed).is_file() {
            // `cargo test --workspace` builds every package's binaries first; a lone
            // `cargo test -p bench-harness` may not.
            eprintln!(
                "SKIPPED: {} missing; run cargo test --workspace",
                bins.join(needed).display()
            );
            return;
        }
    }
    let brokers = if mosquitto_present() {
        "coremq,mosquitto"
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "mosquitto missing in CI: scripts/install-deps.sh installs it"
        );
        "coremq"
    };
    let out = std::env::temp_dir().join(format!("coremq-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(env!("CARGO_BIN_EXE_bench-harness"))
        .args([
            "compare",
            "--suite",
            "smoke",
            "--duration",
            "2",
            "--repeat",
            "1",
        ])
        .args(["--brokers", brokers, "--coremq-shards", "2"])
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run bench-harness");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    for broker in brokers.split(',') {
        // Every scenario ran on every broker: "| broker | 1/1 |" once per scenario.
        let rows = report.matches(&format!("| {broker} | 1/1 |")).count();
        assert_eq!(rows, 2, "{broker} in:\n{report}\n{stderr}");
    }
    let svg = std::fs::read_to_string(out.join("fanin-2to1-qos1.svg")).expect("the plot");
    assert_eq!(
        svg.matches("<polyline").count(),
        brokers.split(',').count(),
        "one latency line per broker"
    );
    let results = std::fs::read_to_string(out.join("results.jsonl")).expect("results");
    let runs: Vec<serde_json::Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON run"))
        .collect();
    assert_eq!(runs.len(), 2 * brokers.split(',').count());
    for run in &runs {
        assert!(run["error"].is_null(), "{run}");
        let hdr = run["hdr_log"].as_str().expect("an HDR log");
        assert!(out.join(hdr).is_file(), "{hdr}");
        if run["scenario"] == "fanin-2to1-qos1" {
            // QoS 1 at a modest rate: nothing acknowledged may be lost, on any broker.
            assert_eq!(run["loadgen"]["acked_lost"], 0, "{run}");
            assert!(run["loadgen"]["received"].as_u64().unwrap() > 0, "{run}");
        }
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).expect("meta"))
            .expect("meta.json parses");
    assert!(
        meta["machine"].as_str().unwrap().contains("cores"),
        "{meta}"
    );
    assert_eq!(meta["suite"], "smoke");
    let _ = std::fs::remove_dir_all(&out);
}
