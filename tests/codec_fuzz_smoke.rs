//! The bounded, stable-Rust run of the `decode` fuzz target: every file of the seed
//! corpus `fuzz/corpus/decode/`, then a fixed number of seeded mutations of them, go
//! through `fuzz_decode_roundtrip`, which panics on a codec bug (a panic while
//! decoding, or a decoded packet that does not survive encode then decode).
//!
//! The seed files are the encodings of the packets in `seeds()`; this test checks they
//! still are. After a deliberate change of encoding, rewrite them with
//! `COREMQ_BLESS_CORPUS=1 cargo test --test codec_fuzz_smoke`.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use coremq::protocol::fuzzing::fuzz_decode_roundtrip;
use coremq::protocol::{
    decode, encode, AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, Disconnect, MqttString, Packet, PacketId, ProtocolVersion, PubAck, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionId,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe, UserProperty, Will,
    WillProperties,
};

/// Seeded mutations run after the corpus; bounded so CI time stays small.
const MUTATION_COUNT: usize = 10_000;
/// Fixed xorshift seed: every run tries the same inputs.
const MUTATION_SEED: u64 = 0x9E37_79B9_7F4A_7C15;
/// Edits applied to one input, at most.
const MUTATION_EDITS_MAX: u64 = 4;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode")
}

fn s(value: &str) -> MqttString {
    MqttString::new(value).expect("valid string")
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).expect("non-zero")
}

fn topic(value: &str) -> TopicName {
    TopicName::new(value).expect("valid topic name")
}

fn filter(value: &str) -> TopicFilter {
    TopicFilter::new(value).expect("valid topic filter")
}

fn publish(qos: QoS, v5: bool) -> Packet {
    let mut publish = Publish::new(topic("sensors/1/temp"), Bytes::from_static(b"21.5"));
    publish.qos = qos;
    publish.packet_id = (qos != QoS::AtMostOnce).then(|| id(10));
    publish.retain = qos == QoS::ExactlyOnce;
    if v5 {
        publish.properties = PublishProperties {
            message_expiry_interval_secs: Some(60),
            topic_alias: std::num::NonZeroU16::new(3),
            subscription_identifiers: vec![SubscriptionId::new(7).expect("in range")],
            user_properties: vec![UserProperty {
                name: s("k"),
                value: s("v"),
            }],
            ..Default::default()
        };
    }
    Packet::Publish(publish)
}

/// One valid packet per type per version, named `{version}_{packet}`.
fn seeds() -> Vec<(String, ProtocolVersion, Packet)> {
    let mut seeds = Vec::new();
    for (prefix, version) in [
        ("v31", ProtocolVersion::V3_1),
        ("v311", ProtocolVersion::V3_1_1),
        ("v5", ProtocolVersion::V5),
    ] {
        let v5 = version.is_v5();
        let mut connect = Connect::new(version, s("client-1"), 30);
        connect.username = Some(s("user"));
        connect.password = Some(Bytes::from_static(b"secret"));
        connect.will = Some(Will {
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: if v5 {
                WillProperties {
                    will_delay_interval_secs: Some(5),
                    ..Default::default()
                }
            } else {
                WillProperties::default()
            },
            topic: topic("clients/1/status"),
            payload: Bytes::from_static(b"gone"),
        });
        if v5 {
            connect.properties = ConnectProperties {
                session_expiry_interval_secs: Some(3600),
                receive_maximum: std::num::NonZeroU16::new(100),
                topic_alias_maximum: Some(10),
                ..Default::default()
            };
        }
        let mut connack = ConnAck::new(ReasonCode::Success);
        connack.session_present = true;
        if v5 {
            connack.properties = ConnAckProperties {
                maximum_qos: Some(QoS::AtLeastOnce),
                assigned_client_identifier: Some(s("auto-1")),
                ..Default::default()
            };
        }
        let ack_properties = if v5 {
            AckProperties {
                reason_string: Some(s("ok")),
                user_properties: vec![],
            }
        } else {
            AckProperties::default()
        };
        let options = SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: v5,
            retain_as_published: v5,
            retain_handling: if v5 {
                RetainHandling::SendAtSubscribeIfNew
            } else {
                RetainHandling::SendAtSubscribe
            },
        };
        let mut subscribe = Subscribe {
            packet_id: id(2),
            properties: Default::default(),
            filters: vec![
                (filter("sensors/+/temp"), options),
                (filter("$share/g/alerts/#"), SubscriptionOptions::default()),
            ],
        };
        if v5 {
            subscribe.properties.subscription_identifier = SubscriptionId::new(7);
        }
        let reason_codes = if v5 {
            vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        } else {
            vec![]
        };
        let packets = vec![
            ("connect", Packet::Connect(Box::new(connect))),
            ("connack", Packet::ConnAck(Box::new(connack))),
            ("publish_qos0", publish(QoS::AtMostOnce, v5)),
            ("publish_qos1", publish(QoS::AtLeastOnce, v5)),
            ("publish_qos2", publish(QoS::ExactlyOnce, v5)),
            (
                "puback",
                Packet::PubAck(PubAck {
                    properties: ack_properties.clone(),
                    ..PubAck::new(id(10))
                }),
            ),
            ("pubrec", Packet::PubRec(PubAck::new(id(10)))),
            ("pubrel", Packet::PubRel(PubAck::new(id(10)))),
            ("pubcomp", Packet::PubComp(PubAck::new(id(10)))),
            ("subscribe", Packet::Subscribe(subscribe)),
            (
                "suback",
                Packet::SubAck(SubAck {
                    packet_id: id(2),
                    properties: ack_properties.clone(),
                    reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
                }),
            ),
            (
                "unsubscribe",
                Packet::Unsubscribe(Unsubscribe {
                    packet_id: id(3),
                    properties: Default::default(),
                    filters: vec![filter("sensors/+/temp"), filter("$share/g/alerts/#")],
                }),
            ),
            (
                "unsuback",
                Packet::UnsubAck(UnsubAck {
                    packet_id: id(3),
                    properties: ack_properties,
                    reason_codes,
                }),
            ),
            ("pingreq", Packet::PingReq),
            ("pingresp", Packet::PingResp),
            (
                "disconnect",
                Packet::Disconnect(if v5 {
                    Disconnect::new(ReasonCode::DisconnectWithWillMessage)
                } else {
                    Disconnect::default()
                }),
            ),
        ];
        for (name, packet) in packets {
            seeds.push((format!("{prefix}_{name}"), version, packet));
        }
    }
    seeds.push((
        "v5_auth".to_owned(),
        ProtocolVersion::V5,
        Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: AuthProperties {
                authentication_method: Some(s("SCRAM-SHA-256")),
                authentication_data: Some(Bytes::from_static(b"n,,n=user,r=abc")),
                ..Default::default()
            },
        }),
    ));
    seeds
}

fn encode_seed(version: ProtocolVersion, packet: &Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out).expect("seed packets are valid");
    out.to_vec()
}

/// The seed files hold exactly the seed packets' encodings (or are rewritten).
#[test]
fn seed_corpus_matches_packets() {
    let dir = corpus_dir();
    let bless = std::env::var_os("COREMQ_BLESS_CORPUS").is_some();
    if bless {
        fs::create_dir_all(&dir).expect("create corpus dir");
    }
    let mut streams: Vec<(ProtocolVersion, Vec<u8>)> = Vec::new();
    for (name, version, packet) in seeds() {
        let bytes = encode_seed(version, &packet);
        let path = dir.join(&name);
        if bless {
            fs::write(&path, &bytes).expect("write seed");
        } else {
            let on_disk = fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(
                on_disk, bytes,
                "{name} differs; rerun with COREMQ_BLESS_CORPUS=1"
            );
        }
        // Each seed decodes to its packet in its own version.
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(
            decode(&mut buf, Some(version), u32::MAX),
            Ok(Some(packet)),
            "{name}"
        );
        if let Some((_, stream)) = streams.iter_mut().find(|(v, _)| *v == version) {
            stream.extend_from_slice(&bytes);
        } else {
            streams.push((version, bytes));
        }
    }
    // One stream per version: CONNECT first, then every other packet of that version,
    // which exercises the version switch in `fuzz_decode_roundtrip`.
    for (version, stream) in streams {
        let name = match version {
            ProtocolVersion::V3_1 => "v31_stream",
            ProtocolVersion::V3_1_1 => "v311_stream",
            ProtocolVersion::V5 => "v5_stream",
        };
        let path = dir.join(name);
        if bless {
            fs::write(&path, &stream).expect("write seed");
        } else {
            assert_eq!(fs::read(&path).ok(), Some(stream), "{name} differs");
        }
    }
}

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(corpus_dir())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .filter_map(|path| fs::read(&path).ok().map(|bytes| (path, bytes)))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every corpus file round-trips under every starting version.
#[test]
fn corpus_round_trips() {
    let files = corpus();
    assert!(files.len() >= seeds().len(), "seed corpus missing");
    for (path, bytes) in &files {
        eprintln!("{}", path.display());
        fuzz_decode_roundtrip(bytes);
    }
}

/// xorshift64: deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        // Modulo bias is irrelevant here.
        (self.next() % bound.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, input: &mut Vec<u8>, corpus: &[(PathBuf, Vec<u8>)]) {
    for _ in 0..=(rng.next() % MUTATION_EDITS_MAX) {
        let at = rng.below(input.len());
        match rng.next() % 7 {
            0 if !input.is_empty() => input[at] ^= 1 << (rng.next() % 8),
            1 if !input.is_empty() => input[at] = rng.next() as u8,
            2 => input.insert(at.min(input.len()), rng.next() as u8),
            3 if !input.is_empty() => {
                input.remove(at);
            }
            4 => input.truncate(at),
            5 if !input.is_empty() => {
                // Set a byte to an interesting boundary value.
                const EDGES: [u8; 6] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x23];
                input[at] = EDGES[rng.below(EDGES.len())];
            }
            _ => {
                let (_, other) = &corpus[rng.below(corpus.len())];
                input.extend_from_slice(other);
            }
        }
    }
}

/// Seeded mutations of the corpus: never a panic, always a faithful round trip.
#[test]
fn mutations_round_trip() {
    let files = corpus();
    assert!(!files.is_empty(), "seed corpus missing");
    let mut rng = XorShift(MUTATION_SEED);
    let mut decoded_some = 0usize;
    for _ in 0..MUTATION_COUNT {
        let (_, seed) = &files[rng.below(files.len())];
        let mut input = seed.clone();
        mutate(&mut rng, &mut input, &files);
        let result = std::panic::catch_unwind(|| fuzz_decode_roundtrip(&input));
        if result.is_err() {
            panic!("fuzz_decode_roundtrip failed on input {input:02X?}");
        }
        let mut buf = BytesMut::from(&input[..]);
        if matches!(
            decode(&mut buf, Some(ProtocolVersion::V5), 1 << 20),
            Ok(Some(_))
        ) {
            decoded_some += 1;
        }
    }
    // The mutations must still reach the packet decoders, not only the header check.
    assert!(
        decoded_some > MUTATION_COUNT / 10,
        "only {decoded_some} mutants decoded"
    );
}
