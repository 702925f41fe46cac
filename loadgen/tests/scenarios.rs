//! loadgen's scenarios end to end: the real loadgen binary against the real coremq
//! broker (2 shards) over loopback, small counts, each run a second or two. Only what
//! loadgen reports is asserted (delivery, counts, file formats), never its speed.

mod support;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use support::{loadgen, Broker, Scratch};

#[test]
fn fanin_qos1_delivers_every_message_and_writes_a_readable_hdr_log() {
    let broker = Broker::start();
    let scratch = Scratch::new("fanin");
    let log = scratch.0.join("fanin.hlog");
    let run = loadgen(
        &broker,
        &[
            "fanin",
            "--publishers",
            "3",
            "--qos",
            "1",
            "--count",
            "600",
            "--rate",
            "1500",
            "--threads",
            "2",
            "--hdr-log",
            log.to_str().unwrap(),
        ],
    );
    run.assert_every_message_delivered(600);
    assert_eq!(run.n("sent"), 600);
    assert_eq!(run.n("acked"), 600);
    assert_eq!(run.n("ack_latency_us.count"), 600);
    assert_eq!(run.n("connections.established"), 4);
    assert_eq!(run.json["scenario"], "fanin");
    assert_eq!(run.json["schema"], "loadgen.v1");
    assert_eq!(run.json["hdr_log"], log.to_str().unwrap());

    // The interval log parses back with hdrhistogram's own reader and deserializer, and
    // its untagged (end-to-end) intervals add up to every message received.
    let text = std::fs::read(&log).expect("the HDR log exists");
    let mut e2e_total = 0;
    let mut ack_total = 0;
    let mut base_time = false;
    for entry in IntervalLogIterator::new(&text) {
        match entry.expect("a well-formed interval log") {
            LogEntry::Interval(interval) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .expect("base64");
                let h: hdrhistogram::Histogram<u64> = Deserializer::new()
                    .deserialize(&mut &bytes[..])
                    .expect("a V2 compressed histogram");
                match interval.tag().map(|t| t.as_str()) {
                    None => e2e_total += h.len(),
                    Some("ack") => ack_total += h.len(),
                    Some(_) => {}
                }
            }
            LogEntry::BaseTime(_) => base_time = true,
            LogEntry::StartTime(_) => {}
        }
    }
    assert!(base_time);
    assert_eq!(e2e_total, 600);
    assert_eq!(ack_total, 600);
}

#[test]
fn pairs_qos1_deliver_every_message() {
    let broker = Broker::start();
    let run = loadgen(
        &broker,
        &[
            "pairs", "--pairs", "20", "--qos", "1", "--count", "400", "--rate", "2000",
        ],
    );
    run.assert_every_message_delivered(400);
    assert_eq!(run.n("acked"), 400);
    assert_eq!(run.n("connections.established"), 40);
    assert_eq!(run.n("params.publishers"), 20);
}

#[test]
fn mqtt5_qos2_fanout_and_shared_group_deliver_every_message_once() {
    let broker = Broker::start();
    let run = loadgen(
        &broker,
        &[
            "fanout",
            "--subscribers",
            "3",
            "--mqtt",
            "5",
            "--qos",
            "2",
            "--count",
            "100",
            "--rate",
            "500",
        ],
    );
    // Every subscriber expects every message.
    run.assert_every_message_delivered(300);
    assert_eq!(run.n("sent"), 100);
    assert_eq!(run.n("acked"), 100);

    // A shared group: each message to exactly one member; members on both shards.
    let run = loadgen(
        &broker,
        &[
            "shared",
            "--publishers",
            "2",
            "--subscribers",
            "3",
            "--mqtt",
            "5",
            "--qos",
            "1",
            "--count",
            "200",
            "--rate",
            "1000",
        ],
    );
    run.assert_every_message_delivered(200);
}

#[test]
fn conn_storm_makes_every_connection() {
    let broker = Broker::start();
    let run = loadgen(&broker, &["conn-storm", "--connections", "200"]);
    run.assert_ok();
    assert_eq!(run.n("connections.attempted"), 200);
    assert_eq!(run.n("connections.established"), 200);
    assert_eq!(run.n("connections.failed"), 0);
    assert_eq!(run.n("connections.connack_us.count"), 200);
    // Open loop: 400/s spreads the 200 over half a second.
    let run = loadgen(
        &broker,
        &[
            "conn-storm",
            "--connections",
            "100",
            "--connect-rate",
            "400",
        ],
    );
    run.assert_ok();
    assert_eq!(run.n("connections.established"), 100);
}

#[test]
fn two_worker_processes_merge_their_counts() {
    let broker = Broker::start();
    let scratch = Scratch::new("procs");
    let log = scratch.0.join("procs.hlog");
    let run = loadgen(
        &broker,
        &[
            "pairs",
            "--pairs",
            "10",
            "--procs",
            "2",
            "--threads",
            "1",
            "--qos",
            "1",
            "--count",
            "300",
            "--rate",
            "1500",
            "--hdr-log",
            log.to_str().unwrap(),
        ],
    );
    // Pairs 0, 2, 4... run in worker 0, pairs 1, 3, 5... in worker 1: delivering all
    // 300 with no loss takes both workers' counts, merged.
    run.assert_every_message_delivered(300);
    assert_eq!(run.n("connections.established"), 20);
    assert_eq!(run.n("params.procs"), 2);
    let text = std::fs::read(&log).expect("the parent wrote the HDR log");
    let e2e: u64 = IntervalLogIterator::new(&text)
        .filter_map(|e| match e.expect("well formed") {
            LogEntry::Interval(i) if i.tag().is_none() => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .unwrap();
                let h: hdrhistogram::Histogram<u64> =
                    Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
                Some(h.len())
            }
            _ => None,
        })
        .sum();
    assert_eq!(e2e, 300);
}

#[test]
fn source_ip_range_on_loopback() {
    let broker = Broker::start();
    let run = loadgen(
        &broker,
        &[
            "pairs",
            "--pairs",
            "4",
            "--qos",
            "1",
            "--count",
            "80",
            "--rate",
            "400",
            "--source-ips",
            "127.0.0.2-127.0.0.5",
        ],
    );
    run.assert_every_message_delivered(80);
    assert_eq!(run.n("params.source_ips"), 4);
    // The broker saw connections from each of the four addresses.
    let log = broker.log();
    for ip in ["127.0.0.2:", "127.0.0.3:", "127.0.0.4:", "127.0.0.5:"] {
        assert!(
            log.contains(ip),
            "no connection from {ip} in the broker log"
        );
    }
}

#[test]
fn idle_reports_broker_memory_per_connection() {
    let broker = Broker::start();
    let pid = broker.pid().to_string();
    let run = loadgen(
        &broker,
        &[
            "idle",
            "--connections",
            "100",
            "--duration",
            "1",
            "--broker-pid",
            &pid,
        ],
    );
    run.assert_ok();
    assert_eq!(run.n("connections.established"), 100);
    assert_eq!(run.n("broker_rss.pid"), broker.pid() as u64);
    assert!(run.n("broker_rss.after_kib") > 0);
    assert!(run.json["broker_rss"]["per_connection_bytes"].is_number());
}

#[test]
fn qos0_saturation_stops_by_itself() {
    let broker = Broker::start();
    let run = loadgen(&broker, &["fanin", "--saturate", "--duration", "1"]);
    run.assert_ok();
    assert!(run.n("sent") > 0);
    assert!(run.n("received") <= run.n("sent"));
    assert_eq!(run.n("lost") + run.n("received"), run.n("sent"));
    assert_eq!(run.json["params"]["saturate"], true);
}

#[test]
fn unsupported_and_bad_flags_are_refused() {
    let broker = Broker::start();
    for (args, needle) in [
        (&["fanin", "--tls"][..], "not supported yet"),
        (&["fanin", "--websocket"][..], "not supported yet"),
        (&["fanin", "--payload", "8"][..], "--payload"),
    ] {
        let run = loadgen(&broker, args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn merge_adds_up_runs_from_several_hosts() {
    // Two runs stand for two hosts; merge sums their counts and recomputes percentiles
    // from their interval logs.
    let broker = Broker::start();
    let scratch = Scratch::new("merge");
    let mut json_args = Vec::new();
    for (i, prefix) in ["h1", "h2"].iter().enumerate() {
        let hlog = scratch.0.join(format!("{prefix}.hlog"));
        let run = loadgen(
            &broker,
            &[
                "pairs",
                "--pairs",
                "3",
                "--qos",
                "1",
                "--count",
                "60",
                "--rate",
                "300",
                "--client-prefix",
                prefix,
                "--topic-prefix",
                prefix,
                "--hdr-log",
                hlog.to_str().unwrap(),
            ],
        );
        run.assert_every_message_delivered(60);
        let json = scratch.0.join(format!("{prefix}.json"));
        std::fs::write(&json, run.json.to_string()).unwrap();
        json_args.push(("--json", json, i));
        json_args.push(("--hlog", hlog, i));
    }
    let merged_log = scratch.0.join("all.hlog");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("merge")
        .args(
            json_args
                .iter()
                .flat_map(|(flag, path, _)| [flag.into(), path.clone().into_os_string()]),
        )
        .arg("--hdr-log")
        .arg(&merged_log)
        .output()
        .expect("loadgen merge");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(v["merged_from"], 2);
    assert_eq!(v["sent"], 120);
    assert_eq!(v["received"], 120);
    assert_eq!(v["lost"], 0);
    assert_eq!(v["connections"]["established"], 12);
    assert_eq!(v["latency_us"]["count"], 120);
    assert_eq!(v["ack_latency_us"]["count"], 120);
    assert!(merged_log.exists());
}
