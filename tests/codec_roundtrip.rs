//! Property tests for `coremq::protocol`: every valid packet of every type, in every
//! protocol version that has it, encodes to bytes that decode to the same packet, and
//! every strict prefix of those bytes is reported as incomplete, never as an error.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;

use coremq::protocol::{
    check, decode, encode, AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties,
    Connect, ConnectProperties, Disconnect, DisconnectProperties, MqttString, Packet, PacketId,
    PayloadFormatIndicator, ProtocolVersion, Publish, PublishAck, PublishProperties, QoS,
    ReasonCode, RetainHandling, Status, SubAck, Subscribe, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe, UnsubscribeProperties,
    UserProperty, Will, WillProperties,
};

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

fn mqtt_string() -> impl Strategy<Value = MqttString> {
    // \PC: printable characters of any script, never U+0000.
    "\\PC{0,8}".prop_map(|s| MqttString::new(&s).expect("valid string"))
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..16).prop_map(Bytes::from)
}

fn topic_name() -> impl Strategy<Value = TopicName> {
    "[a-z0-9/$é ]{1,12}".prop_map(|s| TopicName::new(&s).expect("valid topic name"))
}

fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![
        3 => "[a-z0-9$]{0,4}".boxed(),
        1 => Just("+".to_owned()).boxed(),
    ];
    (of("[a-z0-9]{1,4}"), vec(level, 1..4), any::<bool>()).prop_filter_map(
        "empty filter",
        |(group, levels, multi)| {
            let mut filter = levels.join("/");
            if multi {
                filter.push_str(if filter.is_empty() { "#" } else { "/#" });
            }
            if let Some(group) = group {
                filter = format!("$share/{group}/{filter}");
            }
            TopicFilter::new(&filter).ok()
        },
    )
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|id| PacketId::new(id).expect("non-zero"))
}

fn qos() -> impl Strategy<Value = QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

fn user_properties() -> impl Strategy<Value = Vec<UserProperty>> {
    vec(
        (mqtt_string(), mqtt_string()).prop_map(|(name, value)| UserProperty { name, value }),
        0..3,
    )
}

fn non_zero_u16() -> impl Strategy<Value = NonZeroU16> {
    (1..=u16::MAX).prop_map(|v| NonZeroU16::new(v).expect("non-zero"))
}

fn non_zero_u32() -> impl Strategy<Value = NonZeroU32> {
    (1..=u32::MAX).prop_map(|v| NonZeroU32::new(v).expect("non-zero"))
}

fn subscription_id() -> impl Strategy<Value = SubscriptionId> {
    (1..=268_435_455u32).prop_map(|v| SubscriptionId::new(v).expect("in range"))
}

fn payload_format() -> impl Strategy<Value = PayloadFormatIndicator> {
    select(vec![
        PayloadFormatIndicator::Unspecified,
        PayloadFormatIndicator::Utf8,
    ])
}

fn reason_code(codes: &[ReasonCode]) -> impl Strategy<Value = ReasonCode> {
    select(codes.to_vec())
}

fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        of(any::<u32>()),
        of(non_zero_u16()),
        of(non_zero_u32()),
        of(any::<u16>()),
        of(any::<bool>()),
        of(any::<bool>()),
        of((mqtt_string(), of(binary()))),
        user_properties(),
    )
        .prop_map(|(expiry, receive, size, alias, rri, rpi, auth, user)| {
            let (method, data) = auth.map_or((None, None), |(m, d)| (Some(m), d));
            ConnectProperties {
                session_expiry_interval_secs: expiry,
                receive_maximum: receive,
                maximum_packet_size: size,
                topic_alias_maximum: alias,
                request_response_information: rri,
                request_problem_information: rpi,
                authentication_method: method,
                authentication_data: data,
                user_properties: user,
            }
        })
}

fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        of(any::<u32>()),
        of(payload_format()),
        of(any::<u32>()),
        of(mqtt_string()),
        of(topic_name()),
        of(binary()),
        user_properties(),
    )
        .prop_map(
            |(delay, format, expiry, content, response, correlation, user)| WillProperties {
                will_delay_interval_secs: delay,
                payload_format_indicator: format,
                message_expiry_interval_secs: expiry,
                content_type: content,
                response_topic: response,
                correlation_data: correlation,
                user_properties: user,
            },
        )
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    let will = (
        qos(),
        any::<bool>(),
        will_properties(),
        topic_name(),
        binary(),
    )
        .prop_map(move |(qos, retain, properties, topic, payload)| Will {
            qos,
            retain,
            properties: if v5 { properties } else { Default::default() },
            topic,
            payload,
        });
    (
        any::<bool>(),
        any::<u16>(),
        connect_properties(),
        mqtt_string(),
        of(will),
        of(mqtt_string()),
        of(binary()),
    )
        .prop_map(
            move |(clean, keep_alive, properties, client_id, will, username, password)| {
                // 3.x: a password needs a user name, an empty client id needs clean session.
                let password = if v5 || username.is_some() {
                    password
                } else {
                    None
                };
                let clean_start = clean || (!v5 && client_id.is_empty());
                Packet::Connect(Box::new(Connect {
                    protocol_version: version,
                    clean_start,
                    keep_alive_secs: keep_alive,
                    properties: if v5 { properties } else { Default::default() },
                    client_id,
                    will,
                    username,
                    password,
                }))
            },
        )
}

const CONNACK_V5: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::UnspecifiedError,
    ReasonCode::MalformedPacket,
    ReasonCode::ProtocolError,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::NotAuthorized,
    ReasonCode::Banned,
    ReasonCode::PacketTooLarge,
    ReasonCode::ConnectionRateExceeded,
];
const CONNACK_V3: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
];

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    (
        (
            of(any::<u32>()),
            of(non_zero_u16()),
            of(select(vec![QoS::AtMostOnce, QoS::AtLeastOnce])),
            of(any::<bool>()),
            of(non_zero_u32()),
            of(mqtt_string()),
            of(any::<u16>()),
            of(mqtt_string()),
        ),
        (
            of(any::<bool>()),
            of(any::<bool>()),
            of(any::<bool>()),
            of(any::<u16>()),
            of(mqtt_string()),
            of(mqtt_string()),
            of(mqtt_string()),
            of(binary()),
            user_properties(),
        ),
    )
        .prop_map(
            |((a, b, c, d, e, f, g, h), (i, j, k, l, m, n, o, p, user))| ConnAckProperties {
                session_expiry_interval_secs: a,
                receive_maximum: b,
                maximum_qos: c,
                retain_available: d,
                maximum_packet_size: e,
                assigned_client_identifier: f,
                topic_alias_maximum: g,
                reason_string: h,
                wildcard_subscription_available: i,
                subscription_identifiers_available: j,
                shared_subscription_available: k,
                server_keep_alive_secs: l,
                response_information: m,
                server_reference: n,
                authentication_method: o,
                authentication_data: p,
                user_properties: user,
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    let codes = if v5 { CONNACK_V5 } else { CONNACK_V3 };
    (any::<bool>(), reason_code(codes), connack_properties()).prop_map(
        move |(present, reason_code, properties)| {
            Packet::ConnAck(Box::new(ConnAck {
                session_present: present && reason_code == ReasonCode::Success,
                reason_code,
                properties: if v5 { properties } else { Default::default() },
            }))
        },
    )
}

fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        of(payload_format()),
        of(any::<u32>()),
        of(non_zero_u16()),
        of(topic_name()),
        of(binary()),
        of(mqtt_string()),
        vec(subscription_id(), 0..3),
        user_properties(),
    )
        .prop_map(
            |(format, expiry, alias, response, correlation, content, ids, user)| {
                PublishProperties {
                    payload_format_indicator: format,
                    message_expiry_interval_secs: expiry,
                    topic_alias: alias,
                    response_topic: response,
                    correlation_data: correlation,
                    content_type: content,
                    subscription_identifiers: ids,
                    user_properties: user,
                }
            },
        )
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        packet_id(),
        publish_properties(),
        vec(any::<u8>(), 0..64),
    )
        .prop_map(
            move |(dup, qos, retain, topic, empty_topic, id, properties, payload)| {
                let properties = if v5 { properties } else { Default::default() };
                // 5.0 §3.3.2.3.4: an empty topic only with a Topic Alias.
                let topic = if empty_topic && properties.topic_alias.is_some() {
                    TopicName::empty()
                } else {
                    topic
                };
                let at_most_once = qos == QoS::AtMostOnce;
                Packet::Publish(Publish {
                    dup: dup && !at_most_once,
                    qos,
                    retain,
                    topic,
                    packet_id: if at_most_once { None } else { Some(id) },
                    properties,
                    payload: Bytes::from(payload),
                })
            },
        )
}

fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (of(mqtt_string()), user_properties()).prop_map(|(reason_string, user_properties)| {
        AckProperties {
            reason_string,
            user_properties,
        }
    })
}

const PUBACK_V5: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::NoMatchingSubscribers,
    ReasonCode::UnspecifiedError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::NotAuthorized,
    ReasonCode::TopicNameInvalid,
    ReasonCode::PacketIdentifierInUse,
    ReasonCode::QuotaExceeded,
    ReasonCode::PayloadFormatInvalid,
];
const PUBREL_V5: &[ReasonCode] = &[ReasonCode::Success, ReasonCode::PacketIdentifierNotFound];

fn publish_ack(
    version: ProtocolVersion,
    codes: &'static [ReasonCode],
) -> impl Strategy<Value = PublishAck> {
    let v5 = version.is_v5();
    let codes = if v5 {
        codes
    } else {
        &[ReasonCode::Success][..]
    };
    (packet_id(), reason_code(codes), ack_properties()).prop_map(
        move |(packet_id, reason_code, properties)| PublishAck {
            packet_id,
            reason_code,
            properties: if v5 { properties } else { Default::default() },
        },
    )
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    let options = (
        qos(),
        any::<bool>(),
        any::<bool>(),
        select(vec![
            RetainHandling::SendAtSubscribe,
            RetainHandling::SendAtSubscribeIfNew,
            RetainHandling::DoNotSend,
        ]),
    )
        .prop_map(|(qos, no_local, retain_as_published, retain_handling)| {
            SubscriptionOptions {
                qos,
                no_local,
                retain_as_published,
                retain_handling,
            }
        });
    let properties = (of(subscription_id()), user_properties()).prop_map(
        |(subscription_identifier, user_properties)| SubscribeProperties {
            subscription_identifier,
            user_properties,
        },
    );
    (
        packet_id(),
        properties,
        vec((topic_filter(), options), 1..4),
    )
        .prop_map(move |(packet_id, properties, filters)| {
            let filters = filters
                .into_iter()
                .map(|(filter, options)| {
                    let options = if !v5 {
                        SubscriptionOptions {
                            qos: options.qos,
                            ..Default::default()
                        }
                    } else if filter.is_shared() {
                        // [MQTT-3.8.3-4] No Local is not allowed on a shared subscription.
                        SubscriptionOptions {
                            no_local: false,
                            ..options
                        }
                    } else {
                        options
                    };
                    (filter, options)
                })
                .collect();
            Packet::Subscribe(Subscribe {
                packet_id,
                properties: if v5 { properties } else { Default::default() },
                filters,
            })
        })
}

const SUBACK_V5: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::GrantedQoS1,
    ReasonCode::GrantedQoS2,
    ReasonCode::UnspecifiedError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::NotAuthorized,
    ReasonCode::TopicFilterInvalid,
    ReasonCode::PacketIdentifierInUse,
    ReasonCode::QuotaExceeded,
    ReasonCode::SharedSubscriptionsNotSupported,
    ReasonCode::SubscriptionIdentifiersNotSupported,
    ReasonCode::WildcardSubscriptionsNotSupported,
];
const SUBACK_V3: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::GrantedQoS1,
    ReasonCode::GrantedQoS2,
    ReasonCode::UnspecifiedError,
];

fn suback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    let codes = if v5 { SUBACK_V5 } else { SUBACK_V3 };
    (packet_id(), ack_properties(), vec(reason_code(codes), 1..5)).prop_map(
        move |(packet_id, properties, reason_codes)| {
            Packet::SubAck(SubAck {
                packet_id,
                properties: if v5 { properties } else { Default::default() },
                reason_codes,
            })
        },
    )
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    (packet_id(), user_properties(), vec(topic_filter(), 1..4)).prop_map(
        move |(packet_id, user_properties, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties: UnsubscribeProperties {
                    user_properties: if v5 { user_properties } else { vec![] },
                },
                filters,
            })
        },
    )
}

const UNSUBACK_V5: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::NoSubscriptionExisted,
    ReasonCode::UnspecifiedError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::NotAuthorized,
    ReasonCode::TopicFilterInvalid,
    ReasonCode::PacketIdentifierInUse,
];

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version.is_v5();
    (
        packet_id(),
        ack_properties(),
        vec(reason_code(UNSUBACK_V5), 1..5),
    )
        .prop_map(move |(packet_id, properties, reason_codes)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                properties: if v5 { properties } else { Default::default() },
                reason_codes: if v5 { reason_codes } else { vec![] },
            })
        })
}

const DISCONNECT_V5: &[ReasonCode] = &[
    ReasonCode::NORMAL_DISCONNECTION,
    ReasonCode::DisconnectWithWillMessage,
    ReasonCode::UnspecifiedError,
    ReasonCode::MalformedPacket,
    ReasonCode::ProtocolError,
    ReasonCode::ServerShuttingDown,
    ReasonCode::KeepAliveTimeout,
    ReasonCode::SessionTakenOver,
    ReasonCode::TopicAliasInvalid,
    ReasonCode::UseAnotherServer,
    ReasonCode::MaximumConnectTime,
    ReasonCode::WildcardSubscriptionsNotSupported,
];

fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    if !version.is_v5() {
        return Just(Packet::Disconnect(Disconnect::default())).boxed();
    }
    let properties = (
        of(any::<u32>()),
        of(mqtt_string()),
        of(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(expiry, reason, reference, user)| DisconnectProperties {
            session_expiry_interval_secs: expiry,
            reason_string: reason,
            server_reference: reference,
            user_properties: user,
        });
    (reason_code(DISCONNECT_V5), properties)
        .prop_map(|(reason_code, properties)| {
            Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            })
        })
        .boxed()
}

fn auth() -> impl Strategy<Value = Packet> {
    let codes = [
        ReasonCode::Success,
        ReasonCode::ContinueAuthentication,
        ReasonCode::ReAuthenticate,
    ];
    let properties = (
        of(mqtt_string()),
        of(binary()),
        of(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(method, data, reason, user)| AuthProperties {
            authentication_method: method,
            authentication_data: data,
            reason_string: reason,
            user_properties: user,
        });
    (reason_code(&codes), properties).prop_map(|(reason_code, properties)| {
        Packet::Auth(Auth {
            reason_code,
            properties,
        })
    })
}

/// Any valid packet for a connection speaking `version`.
fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut choices: Vec<BoxedStrategy<Packet>> = vec![
        connect(version).boxed(),
        connack(version).boxed(),
        publish(version).boxed(),
        publish_ack(version, PUBACK_V5)
            .prop_map(Packet::PubAck)
            .boxed(),
        publish_ack(version, PUBACK_V5)
            .prop_map(Packet::PubRec)
            .boxed(),
        publish_ack(version, PUBREL_V5)
            .prop_map(Packet::PubRel)
            .boxed(),
        publish_ack(version, PUBREL_V5)
            .prop_map(Packet::PubComp)
            .boxed(),
        subscribe(version).boxed(),
        suback(version).boxed(),
        unsubscribe(version).boxed(),
        unsuback(version).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(version),
    ];
    if version.is_v5() {
        choices.push(auth().boxed());
    }
    proptest::strategy::Union::new(choices).boxed()
}

fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    select(VERSIONS.to_vec()).prop_flat_map(|version| (Just(version), packet(version)))
}

fn encode_packet(packet: &Packet, version: ProtocolVersion) -> BytesMut {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out).expect("a valid packet encodes");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// decode(encode(p)) == p, consuming exactly the encoding.
    #[test]
    fn round_trip((version, packet) in versioned_packet()) {
        let mut buf = encode_packet(&packet, version);
        prop_assert_eq!(packet.encoded_len(version), Ok(buf.len()));
        let decoded = decode(&mut buf, Some(version), u32::MAX);
        prop_assert_eq!(decoded, Ok(Some(packet)));
        prop_assert!(buf.is_empty());
    }

    /// Every strict prefix of an encoding is Partial, never an error, and decodes to
    /// nothing without consuming input.
    #[test]
    fn prefixes_are_partial((version, packet) in versioned_packet()) {
        let encoded = encode_packet(&packet, version);
        for len in 0..encoded.len() {
            prop_assert_eq!(check(&encoded[..len], u32::MAX), Ok(Status::Partial));
            let mut prefix = BytesMut::from(&encoded[..len]);
            prop_assert_eq!(decode(&mut prefix, Some(version), u32::MAX), Ok(None));
            prop_assert_eq!(prefix.len(), len);
        }
        prop_assert!(matches!(check(&encoded, u32::MAX), Ok(Status::Complete(_))));
    }

    /// Packets written back to back decode one at a time, in order.
    #[test]
    fn streams_decode_in_order(
        (version, packets) in select(VERSIONS.to_vec())
            .prop_flat_map(|version| (Just(version), vec(packet(version), 1..5)))
    ) {
        let mut buf = BytesMut::new();
        for packet in &packets {
            encode(packet, version, &mut buf).expect("a valid packet encodes");
        }
        for packet in packets {
            prop_assert_eq!(decode(&mut buf, Some(version), u32::MAX), Ok(Some(packet)));
        }
        prop_assert!(buf.is_empty());
    }

    /// A packet over the maximum packet size is refused from its fixed header alone.
    #[test]
    fn oversize_refused_early((version, packet) in versioned_packet()) {
        let encoded = encode_packet(&packet, version);
        let max = u32::try_from(encoded.len() - 1).expect("small packet");
        let header_len = encoded[1..].iter().position(|b| b & 0x80 == 0).expect("varint end") + 2;
        let err = check(&encoded[..header_len], max).expect_err("too large");
        prop_assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
    }
}

/// The packet ids generated above are all valid; a zero id cannot be built at all.
#[test]
fn zero_packet_id_is_unrepresentable() {
    assert_eq!(PacketId::new(0), None);
    assert_eq!(SubscriptionId::new(0), None);
    assert_eq!(SubscriptionId::new(268_435_456), None);
}
