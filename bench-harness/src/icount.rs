//! Instruction counts per operation, for the micro-benchmarks whose wall time is too noisy
//! on a shared VM (which has no hardware counters: `perf stat -e instructions` says "not
//! supported"). Each case runs N and then 2N times under `valgrind --tool=callgrind`; the
//! difference of the two totals divided by N is the cost of one operation, with start-up
//! and set-up cancelled out. Deterministic: the same build gives the same count.

use std::hint::black_box;
use std::process::Command;

use bytes::{Bytes, BytesMut};
use coremq::broker::index::{RouteTable, SubscriptionTrie};
use coremq::protocol::{
    decode, encode, Packet, PacketId, ProtocolVersion, Publish, QoS, Subscribe,
    SubscriptionOptions, TopicFilter, TopicName,
};

const MAX_PACKET_SIZE_BYTES: u32 = 1 << 20;

/// The cases, by name, with what one operation is.
pub const CASES: [(&str, &str); 8] = [
    ("decode-publish-64B-v311", "copy a QoS 1 PUBLISH (47-byte topic, 64 B payload) into a fresh buffer and decode it, 3.1.1"),
    ("decode-publish-64B-v5", "the same in MQTT 5.0"),
    ("encode-publish-64B-v311", "encode that PUBLISH, 3.1.1"),
    ("encode-publish-64B-v5", "encode it, 5.0"),
    ("decode-subscribe-10-v311", "copy and decode a SUBSCRIBE of 10 wildcard filters, 3.1.1"),
    ("trie-match-1k", "match one topic against 1k subscriptions (4 matches)"),
    ("trie-match-100k", "match one topic against 100k subscriptions (4 matches)"),
    ("route-lookup-100k", "the shards a topic must reach, routes of 100k filters on 64 shards"),
];

fn publish_packet() -> Packet {
    let mut publish = Publish::new(
        TopicName::new("sensors/building-7/floor-3/room-12/temperature").expect("valid topic"),
        Bytes::from(vec![0x5a; 64]),
    );
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = PacketId::new(4242);
    Packet::Publish(publish)
}

fn subscribe_packet() -> Packet {
    let filters = (0..10)
        .map(|i| {
            let filter = TopicFilter::new(&format!("fleet/vehicle-{i}/+/telemetry/#"))
                .expect("valid filter");
            let options = SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..SubscriptionOptions::default()
            };
            (filter, options)
        })
        .collect();
    Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(7).expect("non-zero"),
        properties: Default::default(),
        filters,
    })
}

/// Fleet filters as the `topic_index` criterion bench builds them: 8 per vehicle.
fn fleet_filters(count: usize) -> Vec<TopicFilter> {
    let mut filters = Vec::with_capacity(count);
    for v in 0..count / 8 {
        for metric in ["gps", "speed", "fuel", "engine"] {
            filters.push(format!("fleet/vehicle-{v}/telemetry/{metric}"));
        }
        filters.push(format!("fleet/vehicle-{v}/telemetry/+"));
        filters.push(format!("fleet/vehicle-{v}/#"));
        filters.push(format!("fleet/vehicle-{v}/status"));
        filters.push(format!("$share/ingest/fleet/vehicle-{v}/telemetry/gps"));
    }
    filters
        .iter()
        .map(|f| TopicFilter::new(f).expect("valid filter"))
        .collect()
}

fn encoded(packet: &Packet, version: ProtocolVersion) -> Bytes {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out).expect("encodable");
    out.freeze()
}

/// Runs `case` `iterations` times (set-up once). `Err` for an unknown case.
pub fn run_case(case: &str, iterations: u64) -> Result<(), String> {
    let v311 = ProtocolVersion::V3_1_1;
    let v5 = ProtocolVersion::V5;
    let decode_loop = |bytes: Bytes, version| {
        for _ in 0..iterations {
            let mut buf = BytesMut::from(&bytes[..]);
            let packet = decode(black_box(&mut buf), Some(version), MAX_PACKET_SIZE_BYTES);
            black_box(packet.expect("decodes"));
        }
    };
    let encode_loop = |packet: Packet, version| {
        let mut out = BytesMut::with_capacity(1024);
        for _ in 0..iterations {
            out.clear();
            encode(black_box(&packet), version, &mut out).expect("encodable");
            black_box(&out);
        }
    };
    let match_loop = |count: usize| {
        let mut trie = SubscriptionTrie::<u32, u8>::new();
        for (i, f) in fleet_filters(count).iter().enumerate() {
            trie.subscribe(f, (i / 2) as u32, 1);
        }
        let topic = TopicName::new("fleet/vehicle-123/telemetry/gps").expect("valid topic");
        for _ in 0..iterations {
            let mut hits = 0u32;
            trie.matches(black_box(&topic), |_| hits += 1);
            black_box(hits);
        }
    };
    match case {
        "decode-publish-64B-v311" => decode_loop(encoded(&publish_packet(), v311), v311),
        "decode-publish-64B-v5" => decode_loop(encoded(&publish_packet(), v5), v5),
        "encode-publish-64B-v311" => encode_loop(publish_packet(), v311),
        "encode-publish-64B-v5" => encode_loop(publish_packet(), v5),
        "decode-subscribe-10-v311" => decode_loop(encoded(&subscribe_packet(), v311), v311),
        "trie-match-1k" => match_loop(1_000),
        "trie-match-100k" => match_loop(100_000),
        "route-lookup-100k" => {
            let mut routes = RouteTable::new();
            for (i, f) in fleet_filters(100_000).iter().enumerate() {
                routes.add(f, i % 64);
            }
            let topic = TopicName::new("fleet/vehicle-123/telemetry/gps").expect("valid topic");
            for _ in 0..iterations {
                black_box(routes.route(black_box(&topic)));
            }
        }
        other => return Err(format!("unknown case {other:?}")),
    }
    Ok(())
}

/// The total instructions callgrind reports in its summary (`Collected : N`).
pub fn collected_instructions(callgrind_stderr: &str) -> Option<u64> {
    callgrind_stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

/// Instructions of one operation of `case`: the binary `exe` re-run under callgrind with
/// `icount-run <case> <n>`, for `iterations` and twice as many.
pub fn measure(exe: &std::path::Path, case: &str, iterations: u64) -> Result<f64, String> {
    let total = |n: u64| -> Result<u64, String> {
        let output = Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(exe)
            .args(["icount-run", case, &n.to_string()])
            .output()
            .map_err(|e| format!("cannot run valgrind ({e}): apt-get install valgrind"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!("{case}: {stderr}"));
        }
        collected_instructions(&stderr).ok_or_else(|| format!("{case}: no total in {stderr}"))
    };
    let once = total(iterations)?;
    let twice = total(2 * iterations)?;
    Ok(twice.saturating_sub(once) as f64 / iterations as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_runs() {
        for (case, _) in CASES {
            run_case(case, 2).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(run_case("nope", 1).is_err());
    }

    #[test]
    fn callgrind_totals_are_read() {
        let stderr = "==12== Events    : Ir\n==12== Collected : 123456789\n==12==\n";
        assert_eq!(collected_instructions(stderr), Some(123_456_789));
        assert_eq!(collected_instructions("nothing"), None);
    }
}
