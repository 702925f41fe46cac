//! Shared subscriptions (MQTT 5.0 §4.8.2, also accepted from 3.1.1 clients) over real
//! sockets, with members on both shards: each message goes to exactly one member of each
//! group, while plain subscriptions to the same filter still get every message.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::client::{ids, text, Client, QOS1, V3_1_1, V5};
use support::Broker;

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
