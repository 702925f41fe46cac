//! Codec micro-benchmarks: decode and encode of PUBLISH (64 B and 1 KiB payloads) and
//! SUBSCRIBE with 10 filters, under MQTT 3.1.1 and 5.0.
//! Run: `cargo bench -p bench-harness --bench codec`. Figures go in docs/benchmarks.md.

use bytes::{Bytes, BytesMut};
use coremq::protocol::{
    decode, encode, Packet, PacketId, ProtocolVersion, Publish, QoS, Subscribe,
    SubscriptionOptions, TopicFilter, TopicName,
};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const MAX_PACKET_SIZE_BYTES: u32 = 1 << 20;

fn publish(payload_len: usize) -> Packet {
    let mut publish = Publish::new(
        TopicName::new("sensors/building-7/floor-3/room-12/temperature").expect("valid topic"),
        Bytes::from(vec![0x5a; payload_len]),
    );
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = PacketId::new(4242);
    Packet::Publish(publish)
}

fn subscribe_10() -> Packet {
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

fn bench_packet(c: &mut Criterion, name: &str, packet: &Packet) {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut encoded = BytesMut::new();
        encode(packet, version, &mut encoded).expect("encodable");
        let encoded = encoded.freeze();
        let mut group = c.benchmark_group(format!("{name}/{version:?}"));
        group.throughput(Throughput::Bytes(encoded.len() as u64));
        group.bench_function("decode", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&encoded[..]),
                |buf| decode(black_box(buf), Some(version), MAX_PACKET_SIZE_BYTES),
                BatchSize::SmallInput,
            )
        });
        let mut out = BytesMut::with_capacity(encoded.len() * 2);
        group.bench_function("encode", |b| {
            b.iter(|| {
                out.clear();
                encode(black_box(packet), version, &mut out).expect("encodable");
            })
        });
        group.finish();
    }
}

fn codec(c: &mut Criterion) {
    bench_packet(c, "publish_64B", &publish(64));
    bench_packet(c, "publish_1KiB", &publish(1024));
    bench_packet(c, "subscribe_10_filters", &subscribe_10());
}

criterion_group!(benches, codec);
criterion_main!(benches);
