//! Shared subscriptions (MQTT 5.0 §4.8.2, also accepted from 3.1.1 clients) over real
//! sockets, with members on both shards: each message goes to exactly one member of each
//! group, while plain subscriptions to the same filter still get every message. Also
//! EMQX's `$queue/{filter}`, the strategies (`[shared_subscriptions] strategy`), and the
//! redistribution of a leaving member's undelivered messages.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use coremq::protocol::{Packet, Publish, PublishAck, ReasonCode};
use support::client::{ids, text, Client, ConnectOptions, QOS1, QOS2, QUIET, V3_1_1, V5};
use support::{Broker, ConfigFile, IO_TIMEOUT};

/// The shard coremq homes `id` on, with 2 shards.
fn owner(id: &str) -> usize {
    coremq::broker::shard_broker::owner_shard(id, 2)
}

/// `n` client ids starting with `prefix`, homed on shard 0, 1, 0, 1, ... in that order.
fn ids_on_both_shards(prefix: &str, n: usize) -> Vec<String> {
    let mut by_shard = [Vec::new(), Vec::new()];
    let mut i = 0;
    while by_shard.iter().any(|ids| ids.len() < n.div_ceil(2)) {
        let id = format!("{prefix}-{i}");
        by_shard[owner(&id)].push(id);
        i += 1;
    }
    (0..n).map(|k| by_shard[k % 2][k / 2].clone()).collect()
}

/// A broker with 2 shards and shared subscription strategy `strategy`.
fn broker_with_strategy(strategy: &str) -> (Broker, ConfigFile) {
    let config = ConfigFile::new(
        &format!("14-{strategy}"),
        &format!("[shared_subscriptions]\nstrategy = \"{strategy}\"\n"),
    );
    let broker = Broker::start(&["--config", config.arg(), "--shards", "2"]);
    (broker, config)
}

/// Members of `filter` at QoS 1 on both shards, 5.0 and 3.1.1 alternately.
fn members(broker: &Broker, prefix: &str, n: usize, filter: &str) -> Vec<Client> {
    ids_on_both_shards(prefix, n)
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let version = if i % 2 == 0 { V5 } else { V3_1_1 };
            let mut member = Client::connect(broker, version, id);
            assert_eq!(
                member.subscribe(&[(filter, QOS1)]),
                [ReasonCode::GrantedQoS1]
            );
            member
        })
        .collect()
}

/// Every PUBLISH that arrives until nothing has for `QUIET`, acknowledged when `ack`.
fn receive_all(client: &mut Client, ack: bool) -> Vec<Publish> {
    let mut got = Vec::new();
    while let Some(packet) = client.recv(QUIET) {
        if let Packet::Publish(publish) = packet {
            if ack {
                client.ack(&publish);
            }
            got.push(publish);
        }
    }
    got
}

/// Payload → index of the member that received it, asserting that no payload arrived
/// twice (to one member or to two).
fn who_got_what(members: &mut [Client]) -> BTreeMap<String, usize> {
    let mut got = BTreeMap::new();
    for (index, member) in members.iter_mut().enumerate() {
        for publish in receive_all(member, true) {
            let previous = got.insert(text(&publish), index);
            assert_eq!(previous, None, "{} delivered twice", text(&publish));
        }
    }
    got
}

#[test]
fn each_message_reaches_exactly_one_member_of_the_group_across_shards() {
    const MESSAGES: usize = 200;
    let broker = Broker::start(&["--shards", "2"]);
    // Eight members (3.1.1 and 5.0) on many client ids, so both shards have members.
    let mut members: Vec<Client> = ids("share-member", 8)
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let version = if i % 2 == 0 { V5 } else { V3_1_1 };
            let mut member = Client::connect(&broker, version, id);
            member.subscribe(&[("$share/workers/jobs/#", QOS1)]);
            member
        })
        .collect();
    let mut plain = Client::connect(&broker, V5, "share-plain");
    plain.subscribe(&[("jobs/#", QOS1)]);
    let mut publisher = Client::connect(&broker, V5, "share-pub");
    for n in 0..MESSAGES {
        publisher.publish(
            &format!("jobs/{}", n % 7),
            n.to_string().as_bytes(),
            QOS1,
            false,
        );
    }
    // The plain subscriber gets every message.
    let all: Vec<String> = plain.collect(MESSAGES).iter().map(text).collect();
    assert_eq!(all.len(), MESSAGES);
    // The group's members together get each message exactly once.
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    let mut per_member = Vec::new();
    for member in members.iter_mut() {
        let mut got = 0;
        while let Some(coremq::protocol::Packet::Publish(publish)) =
            member.recv(Duration::from_millis(300))
        {
            member.ack(&publish);
            *seen.entry(text(&publish).parse().unwrap()).or_default() += 1;
            got += 1;
        }
        per_member.push(got);
    }
    assert_eq!(
        seen.len(),
        MESSAGES,
        "every message reached the group: {per_member:?}"
    );
    assert!(seen.values().all(|&n| n == 1), "none twice: {per_member:?}");
    assert!(
        per_member.iter().all(|&n| n > 0),
        "all members served: {per_member:?}"
    );
}

#[test]
fn a_group_without_members_left_gets_nothing_and_retained_is_not_sent() {
    let broker = Broker::start(&["--shards", "2"]);
    let mut publisher = Client::connect(&broker, V5, "share-ret-pub");
    publisher.publish("kept/t", b"retained", QOS1, true);
    // MQTT 5.0 §4.8.2: no retained messages for a new shared subscription.
    let mut member = Client::connect(&broker, V5, "share-ret-member");
    member.subscribe(&[("$share/g/kept/#", QOS1)]);
    member.expect_nothing(support::client::QUIET);
    // After unsubscribing, the group is gone: nothing more is delivered to it.
    member.unsubscribe(&["$share/g/kept/#"]);
    publisher.publish("kept/t", b"live", QOS1, false);
    member.expect_nothing(support::client::QUIET);
}

#[test]
fn queue_subscriptions_form_one_group_for_3_1_1_and_5_0() {
    const MESSAGES: usize = 40;
    let broker = Broker::start(&["--shards", "2"]);
    let mut queue = members(&broker, "queue-member", 4, "$queue/q/#");
    // A `$share` group named `$queue` is another group: it gets every message too.
    let mut named = Client::connect(&broker, V5, "queue-named");
    named.subscribe(&[("$share/$queue/q/#", QOS1)]);
    let mut publisher = Client::connect(&broker, V3_1_1, "queue-pub");
    for n in 0..MESSAGES {
        publisher.publish(
            &format!("q/{}", n % 3),
            n.to_string().as_bytes(),
            QOS1,
            false,
        );
    }
    let got = who_got_what(&mut queue);
    assert_eq!(got.len(), MESSAGES, "each message reached the queue once");
    let served: BTreeSet<usize> = got.values().copied().collect();
    assert_eq!(served.len(), 4, "round robin serves every member: {got:?}");
    assert_eq!(receive_all(&mut named, true).len(), MESSAGES);
    // UNSUBSCRIBE with the same `$queue/...` string leaves the group.
    for member in queue.iter_mut() {
        member.unsubscribe(&["$queue/q/#"]);
    }
    publisher.publish("q/0", b"after", QOS1, false);
    for member in queue.iter_mut() {
        member.expect_nothing(QUIET);
    }
    assert_eq!(receive_all(&mut named, true).len(), 1);
}

#[test]
fn invalid_queue_subscriptions_are_refused_like_share_ones() {
    let broker = Broker::start(&["--shards", "2"]);
    let disconnect_reason = |packets: &[Packet]| {
        packets.iter().find_map(|p| match p {
            Packet::Disconnect(d) => Some(d.reason_code),
            _ => None,
        })
    };
    // `$queue/` without a filter: Topic Filter invalid (0x8F) (MQTT 5.0 §4.8.2).
    let mut v5 = Client::connect(&broker, V5, "queue-bad-5");
    v5.send_bytes(&[
        0x82, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x07, b'$', b'q', b'u', b'e', b'u', b'e', b'/', 0x00,
    ]);
    let got = v5.expect_closed(IO_TIMEOUT);
    assert_eq!(
        disconnect_reason(&got),
        Some(ReasonCode::TopicFilterInvalid)
    );
    // No Local on a shared subscription is a Protocol Error (MQTT 5.0 §3.8.3.1).
    let mut no_local = Client::connect(&broker, V5, "queue-bad-nl");
    no_local.send_bytes(&[
        0x82, 0x0E, 0x00, 0x01, 0x00, 0x00, 0x08, b'$', b'q', b'u', b'e', b'u', b'e', b'/', b't',
        0x04,
    ]);
    let got = no_local.expect_closed(IO_TIMEOUT);
    assert_eq!(disconnect_reason(&got), Some(ReasonCode::ProtocolError));
    // 3.1.1 has no DISCONNECT from the server: the connection just closes.
    let mut v3 = Client::connect(&broker, V3_1_1, "queue-bad-3");
    v3.send_bytes(&[
        0x82, 0x0C, 0x00, 0x01, 0x00, 0x07, b'$', b'q', b'u', b'e', b'u', b'e', b'/', 0x00,
    ]);
    assert_eq!(v3.expect_closed(IO_TIMEOUT), []);
}

#[test]
fn hash_clientid_keeps_each_publisher_on_one_member() {
    let (broker, _config) = broker_with_strategy("hash_clientid");
    let mut group = members(&broker, "hcid-member", 4, "$share/g/h/#");
    let publisher_ids = ids_on_both_shards("hcid-pub", 6);
    for id in &publisher_ids {
        let mut publisher = Client::connect(&broker, V5, id);
        for n in 0..8 {
            // Many topics: only the publisher decides.
            let payload = format!("{id}/{n}");
            publisher.publish(&format!("h/{n}"), payload.as_bytes(), QOS1, false);
        }
    }
    let got = who_got_what(&mut group);
    assert_eq!(got.len(), 6 * 8, "every message once: {got:?}");
    let mut members_of: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (payload, member) in &got {
        let publisher = payload.rsplit_once('/').unwrap().0;
        let publisher = publisher_ids.iter().find(|id| *id == publisher).unwrap();
        members_of.entry(publisher).or_default().insert(*member);
    }
    assert!(
        members_of.values().all(|m| m.len() == 1),
        "one member per publisher: {members_of:?}"
    );
    let used: BTreeSet<usize> = members_of.values().flatten().copied().collect();
    assert!(
        used.len() > 1,
        "publishers spread over members: {members_of:?}"
    );
}

#[test]
fn hash_topic_keeps_each_topic_on_one_member_whichever_shard_publishes() {
    let (broker, _config) = broker_with_strategy("hash_topic");
    let mut group = members(&broker, "htop-member", 4, "$share/g/t/#");
    // Two publishers on different shards send to the same topics.
    let mut publishers: Vec<Client> = ids_on_both_shards("htop-pub", 2)
        .iter()
        .map(|id| Client::connect(&broker, V3_1_1, id))
        .collect();
    for round in 0..3 {
        for (p, publisher) in publishers.iter_mut().enumerate() {
            for topic in 0..8 {
                let payload = format!("{topic}/{p}/{round}");
                publisher.publish(&format!("t/{topic}"), payload.as_bytes(), QOS1, false);
            }
        }
    }
    let got = who_got_what(&mut group);
    assert_eq!(got.len(), 3 * 2 * 8, "every message once: {got:?}");
    let mut members_of: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (payload, member) in &got {
        let topic = payload.split('/').next().unwrap();
        members_of.entry(topic).or_default().insert(*member);
    }
    assert!(
        members_of.values().all(|m| m.len() == 1),
        "one member per topic: {members_of:?}"
    );
    let used: BTreeSet<usize> = members_of.values().flatten().copied().collect();
    assert!(used.len() > 1, "topics spread over members: {members_of:?}");
}

#[test]
fn sticky_stays_on_one_member_until_it_leaves_then_moves() {
    let (broker, _config) = broker_with_strategy("sticky");
    let mut group = members(&broker, "sticky-member", 4, "$share/g/s/#");
    let mut publishers: Vec<Client> = ids_on_both_shards("sticky-pub", 2)
        .iter()
        .map(|id| Client::connect(&broker, V5, id))
        .collect();
    let mut publish_round = |round: &str| {
        for (p, publisher) in publishers.iter_mut().enumerate() {
            for n in 0..10 {
                let payload = format!("{round}/{p}/{n}");
                publisher.publish(&format!("s/{n}"), payload.as_bytes(), QOS1, false);
            }
        }
    };
    publish_round("first");
    let got = who_got_what(&mut group);
    assert_eq!(got.len(), 20);
    let chosen: BTreeSet<usize> = got.values().copied().collect();
    assert_eq!(
        chosen.len(),
        1,
        "one member, whichever shard published: {got:?}"
    );
    let first = *chosen.first().unwrap();
    // It leaves: another member takes over, for good.
    group.remove(first).disconnect();
    publish_round("second");
    publish_round("third");
    let got = who_got_what(&mut group);
    assert_eq!(got.len(), 40);
    let chosen: BTreeSet<usize> = got.values().copied().collect();
    assert_eq!(chosen.len(), 1, "one member again: {got:?}");
}

#[test]
fn random_spreads_and_delivers_each_message_once() {
    const MESSAGES: usize = 120;
    let (broker, _config) = broker_with_strategy("random");
    let mut group = members(&broker, "random-member", 4, "$share/g/r/#");
    let mut publishers: Vec<Client> = ids_on_both_shards("random-pub", 2)
        .iter()
        .map(|id| Client::connect(&broker, V5, id))
        .collect();
    for n in 0..MESSAGES {
        publishers[n % 2].publish("r/x", n.to_string().as_bytes(), QOS1, false);
    }
    let got = who_got_what(&mut group);
    assert_eq!(got.len(), MESSAGES, "every message exactly once");
    let served: BTreeSet<usize> = got.values().copied().collect();
    assert!(served.len() > 1, "spread over members: {got:?}");
}

/// Two members of `$share/r/r/#` on different shards: `a` never acknowledges (5.0 with
/// Receive Maximum 2 when `v5`, else 3.1.1), `b` does. Returns them after `messages` QoS
/// `qos` messages, with what each received so far (`b`'s acknowledged).
fn unacknowledging_member_and_other(
    broker: &Broker,
    prefix: &str,
    options: ConnectOptions,
    v5: bool,
    qos: coremq::protocol::QoS,
    messages: usize,
) -> (Client, Vec<Publish>, Client, Vec<Publish>) {
    let ids = ids_on_both_shards(prefix, 2);
    let version = if v5 { V5 } else { V3_1_1 };
    let (mut a, _) = Client::connect_with(broker, version, &ids[0], options);
    a.subscribe(&[("$share/r/r/#", qos)]);
    let mut b = Client::connect(broker, V5, &ids[1]);
    b.subscribe(&[("$share/r/r/#", qos)]);
    let mut publisher = Client::connect(broker, V5, &format!("{prefix}-pub"));
    for n in 0..messages {
        publisher.publish("r/x", n.to_string().as_bytes(), qos, false);
    }
    let a_got = receive_all(&mut a, false);
    let b_got = receive_all(&mut b, true);
    (a, a_got, b, b_got)
}

fn payloads(publishes: &[Publish]) -> Vec<String> {
    publishes.iter().map(text).collect()
}

#[test]
fn a_member_leaving_with_a_clean_session_passes_its_unacknowledged_messages_on() {
    const MESSAGES: usize = 20;
    let broker = Broker::start(&["--shards", "2"]);
    let clean = ConnectOptions::default();
    let (a, a_got, mut b, b_got) =
        unacknowledging_member_and_other(&broker, "redis-qos1", clean, false, QOS1, MESSAGES);
    assert!(
        !a_got.is_empty() && !b_got.is_empty(),
        "round robin served both"
    );
    // `a` ends its clean session: what it holds (inflight and queued) goes to `b`.
    a.disconnect();
    let b_later = receive_all(&mut b, true);
    let mut all: Vec<String> = payloads(&b_got);
    all.extend(payloads(&b_later));
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "nothing twice: {all:?}");
    assert_eq!(all.len(), MESSAGES, "every message reached b: {all:?}");
    for payload in payloads(&a_got) {
        assert!(payloads(&b_later).contains(&payload), "{payload} passed on");
    }
    assert!(broker.log_contains("go to other members"));
}

#[test]
fn a_takeover_with_clean_start_passes_the_old_session_s_messages_on() {
    const MESSAGES: usize = 10;
    let broker = Broker::start(&["--shards", "2"]);
    let persistent = ConnectOptions {
        clean: false,
        ..ConnectOptions::default()
    };
    let (_a, a_got, mut b, b_got) =
        unacknowledging_member_and_other(&broker, "redis-take", persistent, false, QOS1, MESSAGES);
    assert!(!a_got.is_empty());
    // The same client id connects again with a clean session: the old session ends.
    let id = ids_on_both_shards("redis-take", 2).remove(0);
    let mut again = Client::connect(&broker, V3_1_1, &id);
    let b_later = receive_all(&mut b, true);
    assert_eq!(b_got.len() + b_later.len(), MESSAGES);
    assert_eq!(payloads(&b_later), payloads(&a_got));
    again.expect_nothing(QUIET);
}

#[test]
fn a_qos2_message_already_pubrec_d_is_not_passed_on() {
    const MESSAGES: usize = 10;
    let broker = Broker::start(&["--shards", "2"]);
    let small_window = ConnectOptions {
        receive_maximum: Some(2),
        ..ConnectOptions::default()
    };
    let (mut a, a_got, mut b, b_got) =
        unacknowledging_member_and_other(&broker, "redis-qos2", small_window, true, QOS2, MESSAGES);
    // Receive Maximum 2: `a` saw two PUBLISH; the rest of its share waits in its queue.
    assert_eq!(a_got.len(), 2, "{:?}", payloads(&a_got));
    // It PUBRECs the first (MQTT 5.0 §4.3.3: the message is delivered), not the second.
    let first = a_got[0].packet_id.unwrap();
    a.send(&Packet::PubRec(PublishAck::new(first)));
    a.expect_kind("PUBREL", |p| matches!(p, Packet::PubRel(_)));
    a.disconnect();
    let b_later = receive_all(&mut b, true);
    let later = payloads(&b_later);
    assert!(!later.contains(&text(&a_got[0])), "PUBREC'd: not resent");
    assert!(later.contains(&text(&a_got[1])), "not PUBREC'd: passed on");
    assert_eq!(b_got.len() + b_later.len(), MESSAGES - 1, "{later:?}");
}

#[test]
fn a_persistent_member_keeps_its_messages_and_gets_them_on_reconnect() {
    const MESSAGES: usize = 10;
    let broker = Broker::start(&["--shards", "2"]);
    let persistent = ConnectOptions {
        clean: false,
        ..ConnectOptions::default()
    };
    let (a, a_got, mut b, b_got) = unacknowledging_member_and_other(
        &broker,
        "redis-keep",
        persistent.clone(),
        false,
        QOS1,
        MESSAGES,
    );
    assert!(!a_got.is_empty());
    a.disconnect();
    // The session lives on: its messages stay with it.
    b.expect_nothing(QUIET);
    let id = ids_on_both_shards("redis-keep", 2).remove(0);
    let (mut a, connack) = Client::connect_with(&broker, V3_1_1, &id, persistent);
    assert!(connack.session_present);
    let resent = receive_all(&mut a, true);
    assert!(resent.iter().all(|p| p.dup), "resent with DUP");
    assert_eq!(payloads(&resent), payloads(&a_got));
    assert_eq!(b_got.len() + resent.len(), MESSAGES);
}

#[test]
fn a_member_s_messages_are_passed_on_when_its_session_expires() {
    const MESSAGES: usize = 10;
    let broker = Broker::start(&["--shards", "2"]);
    let expiring = ConnectOptions {
        session_expiry_secs: Some(1),
        ..ConnectOptions::default()
    };
    let (a, a_got, mut b, b_got) =
        unacknowledging_member_and_other(&broker, "redis-exp", expiring, true, QOS1, MESSAGES);
    assert!(!a_got.is_empty());
    a.disconnect();
    // Kept while the session lives, passed on when it expires (1 s later).
    let mut b_later = Vec::new();
    while b_got.len() + b_later.len() < MESSAGES {
        match b.recv(IO_TIMEOUT) {
            Some(Packet::Publish(publish)) => {
                b.ack(&publish);
                b_later.push(publish);
            }
            Some(_) => {}
            None => panic!("only {:?} after the expiry", payloads(&b_later)),
        }
    }
    assert_eq!(payloads(&b_later), payloads(&a_got));
}

#[test]
fn a_leaving_member_s_messages_are_dropped_when_no_member_is_left() {
    let broker = Broker::start(&["--shards", "2"]);
    let mut alone = Client::connect(&broker, V5, "redis-alone");
    alone.subscribe(&[("$queue/alone/#", QOS1)]);
    let mut publisher = Client::connect(&broker, V5, "redis-alone-pub");
    publisher.publish("alone/x", b"1", QOS1, false);
    assert_eq!(receive_all(&mut alone, false).len(), 1);
    alone.disconnect();
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !broker.log_contains("no other member in its group") {
        assert!(std::time::Instant::now() < deadline, "drop not logged");
        std::thread::sleep(Duration::from_millis(20));
    }
}
