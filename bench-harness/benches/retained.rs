//! Retained store micro-benchmarks: `matching` of a subscribe's filter over stores of 10k
//! and 100k retained topics (an IoT fleet's `fleet/vehicle-N/telemetry/{metric}`), with
//! `#` and `+` filters, and `set` replacing a retained message.
//! Run: `cargo bench -p bench-harness --bench retained`. Figures go in docs/benchmarks.md.

use bytes::Bytes;
use coremq::broker::retained::RetainedStore;
use coremq::broker::session::Message;
use coremq::protocol::{QoS, TopicFilter, TopicName};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

const METRICS: [&str; 4] = ["gps", "speed", "fuel", "engine"];
const PAYLOAD_BYTES: usize = 64;
const NOW_MS: u64 = 0;

fn message(topic: &str) -> Message {
    Message {
        topic: TopicName::new(topic).expect("valid bench topic"),
        payload: Bytes::from(vec![0x5a; PAYLOAD_BYTES]),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: None,
        expiry_at_ms: None,
    }
}

/// `count` retained topics, one per metric of `count / 4` vehicles.
fn store(count: usize) -> RetainedStore {
    let mut store = RetainedStore::default();
    for v in 0..count / METRICS.len() {
        for metric in METRICS {
            let message = message(&format!("fleet/vehicle-{v}/telemetry/{metric}"));
            let topic = message.topic.clone();
            store.set(&topic, message, NOW_MS);
        }
    }
    assert_eq!(store.len(), count);
    store
}

fn bench_matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("retained/matching");
    for count in [10_000, 100_000] {
        let store = store(count);
        let vehicle = count / METRICS.len() / 2;
        for filter in [
            // One dashboard's view of one vehicle: 4 messages.
            format!("fleet/vehicle-{vehicle}/#"),
            format!("fleet/vehicle-{vehicle}/telemetry/+"),
            // One exact topic: 1 message.
            format!("fleet/vehicle-{vehicle}/telemetry/gps"),
            // One metric of every vehicle: count / 4 messages.
            "fleet/+/telemetry/gps".to_owned(),
            // Everything: count messages.
            "fleet/#".to_owned(),
        ] {
            let parsed = TopicFilter::new(&filter).expect("valid bench filter");
            group.bench_with_input(BenchmarkId::new(filter, count), &parsed, |b, filter| {
                b.iter(|| {
                    let mut visited = 0usize;
                    store.matching(black_box(filter), NOW_MS, |message| {
                        visited += message.payload.len();
                    });
                    visited
                })
            });
        }
    }
    group.finish();
}

fn bench_set(c: &mut Criterion) {
    let mut group = c.benchmark_group("retained/set");
    for count in [10_000, 100_000] {
        let mut store = store(count);
        // Replacing a vehicle's gps, cycling over the fleet: the path exists, the box is
        // reused, nothing allocates but the new message itself (made outside the timing).
        let messages: Vec<Message> = (0..1024)
            .map(|i| {
                message(&format!(
                    "fleet/vehicle-{}/telemetry/gps",
                    i * 7 % (count / 4)
                ))
            })
            .collect();
        let mut next = 0;
        group.bench_function(BenchmarkId::new("replace", count), |b| {
            b.iter(|| {
                let message = messages[next % messages.len()].clone();
                next += 1;
                let topic = message.topic.clone();
                store.set(black_box(&topic), message, NOW_MS)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_matching, bench_set);
criterion_main!(benches);
