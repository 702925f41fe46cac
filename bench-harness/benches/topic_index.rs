//! Subscription index micro-benchmarks: one PUBLISH topic matched against a shard's
//! `SubscriptionTrie` of 1k and 100k subscriptions (IoT fleet filters: exact, `+` and `#`),
//! and a `RouteTable` lookup over 64 shards.
//! Run: `cargo bench -p bench-harness --bench topic_index`. Figures go in
//! docs/benchmarks.md.

use coremq::broker::index::{Match, RouteTable, SubscriptionTrie};
use coremq::protocol::{TopicFilter, TopicName};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

const SHARD_COUNT: usize = 64;
const METRICS: [&str; 4] = ["gps", "speed", "fuel", "engine"];

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).expect("valid bench filter")
}

fn topic(t: &str) -> TopicName {
    TopicName::new(t).expect("valid bench topic")
}

/// About `count` filters, 8 per vehicle as dashboards and services subscribe: 4 exact
/// metrics, the status, `+` over the metrics, `#` over the vehicle, and a shared group's
/// ingest of one metric; plus a few fleet-wide wildcards.
fn filters(count: usize) -> Vec<TopicFilter> {
    let vehicles = count / 8;
    let mut filters = Vec::with_capacity(count + 4);
    for v in 0..vehicles {
        for metric in METRICS {
            filters.push(filter(&format!("fleet/vehicle-{v}/telemetry/{metric}")));
        }
        filters.push(filter(&format!("fleet/vehicle-{v}/telemetry/+")));
        filters.push(filter(&format!("fleet/vehicle-{v}/#")));
        filters.push(filter(&format!("fleet/vehicle-{v}/status")));
        filters.push(filter(&format!(
            "$share/ingest/fleet/vehicle-{v}/telemetry/gps"
        )));
    }
    for wide in [
        "fleet/+/telemetry/gps",
        "fleet/+/status",
        "fleet/#",
        "$SYS/#",
    ] {
        filters.push(filter(wide));
    }
    filters
}

fn subscription_trie(count: usize) -> SubscriptionTrie<u32, u8> {
    let mut trie = SubscriptionTrie::new();
    for (session, f) in filters(count).iter().enumerate() {
        // Two filters per session.
        trie.subscribe(f, (session / 2) as u32, 1);
    }
    trie
}

fn route_table(count: usize) -> RouteTable {
    let mut routes = RouteTable::new();
    for (i, f) in filters(count).iter().enumerate() {
        routes.add(f, i % SHARD_COUNT);
    }
    routes
}

fn bench_match(c: &mut Criterion) {
    let published = topic("fleet/vehicle-123/telemetry/gps");
    let unmatched = topic("factory/line-4/press/pressure");
    let mut group = c.benchmark_group("subscription_trie_match");
    group.sample_size(20);
    for count in [1_000, 100_000] {
        let trie = subscription_trie(count);
        let mut hits = 0;
        trie.matches(&published, |_| hits += 1);
        eprintln!(
            "trie of {count} subscriptions: {} nodes, {} filters, {hits} matches for {published}",
            trie.node_count(),
            trie.filter_count()
        );
        group.bench_with_input(BenchmarkId::new("hit", count), &trie, |b, trie| {
            b.iter(|| {
                let mut qos_sum = 0u32;
                trie.matches(black_box(&published), |m| {
                    if let Match::Subscription { options, .. } = m {
                        qos_sum += u32::from(*options);
                    }
                });
                qos_sum
            })
        });
        group.bench_with_input(BenchmarkId::new("miss", count), &trie, |b, trie| {
            b.iter(|| {
                let mut hits = 0u32;
                trie.matches(black_box(&unmatched), |_| hits += 1);
                hits
            })
        });
    }
    group.finish();
}

fn bench_route(c: &mut Criterion) {
    let published = topic("fleet/vehicle-123/telemetry/gps");
    let mut group = c.benchmark_group("route_table_route");
    group.sample_size(20);
    for count in [1_000, 100_000] {
        let routes = route_table(count);
        eprintln!(
            "route table of {count} filters: {} nodes, {:?} for {published}",
            routes.node_count(),
            routes.route(&published)
        );
        group.bench_with_input(BenchmarkId::new("route", count), &routes, |b, routes| {
            b.iter(|| routes.route(black_box(&published)))
        });
    }
    group.finish();
}

fn bench_subscribe(c: &mut Criterion) {
    let mut group = c.benchmark_group("subscription_trie_churn");
    group.sample_size(20);
    let mut trie = subscription_trie(100_000);
    let f = filter("fleet/vehicle-999999/telemetry/+");
    group.bench_function("subscribe_unsubscribe_100000", |b| {
        b.iter(|| {
            trie.subscribe(black_box(&f), 7, 1);
            trie.unsubscribe(black_box(&f), 7)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_match, bench_route, bench_subscribe);
criterion_main!(benches);
