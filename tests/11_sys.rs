//! The `$SYS` topic tree (Mosquitto's names) over real sockets: published every
//! `[sys] interval_secs` as retained QoS 0 messages, summed over both shards, and out of
//! reach of `#` and `+` (MQTT 5.0 §4.7.2, 3.1.1 §4.7.2). coremq runs with 2 shards and a
//! 1 s interval.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use coremq::broker::shard_broker::owner_shard;
use coremq::protocol::{Packet, Publish};
use support::client::{text, Client, ConnectOptions, QOS0, QOS1, QUIET, V3_1_1};
use support::{Broker, ConfigFile};

/// Long enough for several publications at a 1 s interval.
const WAIT: Duration = Duration::from_secs(8);

fn broker(tag: &str) -> (Broker, ConfigFile) {
    let config = ConfigFile::new(tag, "[sys]\ninterval_secs = 1\n");
    let broker = Broker::start(&["--shards", "2", "--config", config.arg()]);
    (broker, config)
}

/// `n` client ids starting with `prefix`, alternating between the two shards.
fn ids_on_both_shards(prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut i = 0;
    while ids.len() < n {
        let id = format!("{prefix}-{i}");
        if owner_shard(&id, 2) == ids.len() % 2 {
            ids.push(id);
        }
        i += 1;
    }
    ids
}

/// A client subscribed to `$SYS/broker/#`, keeping the latest value of every topic.
struct Watcher {
    client: Client,
    values: HashMap<String, String>,
}

impl Watcher {
    fn new(broker: &Broker, id: &str) -> Watcher {
        let mut client = Client::connect(broker, V3_1_1, id);
        client.subscribe(&[("$SYS/broker/#", QOS1)]);
        Watcher {
            client,
            values: HashMap::new(),
        }
    }

    fn take(&mut self, publish: &Publish) {
        assert!(
            publish.topic.as_str().starts_with("$SYS/broker/"),
            "{publish:?}"
        );
        assert_eq!(publish.qos, QOS0, "$SYS messages are QoS 0");
        self.values
            .insert(publish.topic.as_str().to_owned(), text(publish));
    }

    /// Reads until `topic` (under `$SYS/broker/`) has a value `accept` takes; returns it.
    fn wait_for(&mut self, topic: &str, accept: impl Fn(&str) -> bool) -> String {
        let topic = format!("$SYS/broker/{topic}");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = self.values.get(&topic) {
                if accept(value) {
                    return value.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.client.recv(left) {
                Some(Packet::Publish(publish)) => self.take(&publish),
                Some(other) => panic!("unexpected {other:?}"),
                None => panic!(
                    "{topic}: no accepted value within {WAIT:?}; last {:?}",
                    self.values.get(&topic)
                ),
            }
        }
    }

    fn number(&mut self, topic: &str, accept: impl Fn(u64) -> bool) -> u64 {
        let value = self.wait_for(topic, |v| v.parse().is_ok_and(&accept));
        value.parse().expect("a number")
    }
}

#[test]
fn a_new_subscriber_gets_the_whole_tree_at_once_with_retain_set() {
    let (broker, _config) = broker("sys-retained");
    // Wait for a first publication.
    let mut first = Watcher::new(&broker, "sys-first");
    first.wait_for("version", |_| true);
    first.wait_for("uptime", |_| true);

    // MQTT 3.1.1 §3.3.1.3: retained messages go to a new subscription with RETAIN=1;
    // every topic of the tree must be among them.
    let mut late = Client::connect(&broker, V3_1_1, "sys-late");
    late.subscribe(&[("$SYS/#", QOS0)]);
    let mut got = HashMap::new();
    while let Some(packet) = late.recv(Duration::from_millis(500)) {
        let Packet::Publish(publish) = packet else {
            panic!("unexpected {packet:?}");
        };
        if !publish.retain {
            continue; // a new publication forwarded with RETAIN=0, not the stored set
        }
        if got.contains_key(publish.topic.as_str()) {
            break;
        }
        got.insert(publish.topic.as_str().to_owned(), text(&publish));
    }
    let version = format!("coremq {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(got.get("$SYS/broker/version"), Some(&version), "{got:?}");
    let uptime = &got["$SYS/broker/uptime"];
    let secs = uptime
        .strip_suffix(" seconds")
        .unwrap_or_else(|| panic!("uptime {uptime:?}"));
    assert!(secs.parse::<u64>().is_ok(), "uptime {uptime:?}");
    for topic in [
        "clients/connected",
        "clients/disconnected",
        "clients/total",
        "clients/maximum",
        "clients/expired",
        "messages/received",
        "messages/sent",
        "messages/stored",
        "publish/messages/received",
        "publish/messages/sent",
        "publish/messages/dropped",
        "bytes/received",
        "bytes/sent",
        "subscriptions/count",
        "retained messages/count",
    ] {
        let value = got
            .get(&format!("$SYS/broker/{topic}"))
            .unwrap_or_else(|| panic!("no {topic} in {got:?}"));
        assert!(value.parse::<u64>().is_ok(), "{topic} = {value:?}");
    }
}

#[test]
fn clients_are_counted_over_both_shards() {
    let (broker, _config) = broker("sys-clients");
    let ids = ids_on_both_shards("sys-c", 3);
    let mut watcher = Watcher::new(&broker, &ids[0]);
    let b = Client::connect(&broker, V3_1_1, &ids[1]);
    let c = Client::connect(&broker, V3_1_1, &ids[2]);
    watcher.number("clients/connected", |n| n == 3);
    watcher.number("clients/maximum", |n| n == 3);
    watcher.number("subscriptions/count", |n| n == 1);
    // Per shard: the ids alternate, so shard 0 has two clients and shard 1 one.
    watcher.number("shards/0/clients/connected", |n| n == 2);
    watcher.number("shards/1/clients/connected", |n| n == 1);
    watcher.number("shards/0/subscriptions/count", |n| n == 1);
    // The allocator's figures: something is committed, and never more than the peak.
    let current = watcher.number("heap/current", |n| n > 0);
    watcher.number("heap/maximum", |n| n >= current);

    // A persistent session without its client: disconnected, still in the total.
    let persistent = ConnectOptions {
        clean: false,
        ..ConnectOptions::default()
    };
    let (d, _) = Client::connect_with(&broker, V3_1_1, "sys-persistent", persistent);
    watcher.number("clients/connected", |n| n == 4);
    d.disconnect();
    b.disconnect();
    c.drop_connection();
    watcher.number("clients/connected", |n| n == 1);
    watcher.number("clients/disconnected", |n| n == 1);
    watcher.number("clients/total", |n| n == 2);
    watcher.number("clients/maximum", |n| n == 4);
}

#[test]
fn message_counters_grow_with_traffic() {
    let (broker, _config) = broker("sys-messages");
    let ids = ids_on_both_shards("sys-m", 3);
    let mut watcher = Watcher::new(&broker, &ids[0]);
    let mut subscriber = Client::connect(&broker, V3_1_1, &ids[1]);
    subscriber.subscribe(&[("load/#", QOS1)]);
    let mut publisher = Client::connect(&broker, V3_1_1, &ids[2]);
    let received = watcher.number("publish/messages/received", |_| true);
    let sent = watcher.number("publish/messages/sent", |_| true);
    let packets = watcher.number("messages/received", |_| true);
    let bytes = watcher.number("bytes/received", |_| true);

    const N: u64 = 20;
    for i in 0..N {
        publisher.publish("load/x", format!("m{i}").as_bytes(), QOS1, false);
    }
    for _ in 0..N {
        subscriber.expect_publish_acked();
    }
    watcher.number("publish/messages/received", |n| n >= received + N);
    watcher.number("publish/messages/sent", |n| n >= sent + N);
    // Every PUBLISH and every PUBACK from the subscriber.
    watcher.number("messages/received", |n| n >= packets + 2 * N);
    watcher.number("bytes/received", |n| n > bytes + 4 * N);
    watcher.number("bytes/sent", |n| n > 0);

    // A retained message is counted once (the replica of one shard). The tree's own
    // topics are retained messages too, as in Mosquitto: the load averages appear from
    // the second publication on (the last topic of each publication).
    watcher.wait_for("load/bytes/sent/15min", |_| true);
    let tree = watcher.values.len() as u64;
    watcher.number("retained messages/count", |n| n == tree);
    publisher.publish("load/kept", b"v", QOS1, true);
    subscriber.expect_publish_acked();
    watcher.number("retained messages/count", |n| n == tree + 1);
}

#[test]
fn wildcards_at_the_first_level_do_not_match_sys_topics() {
    // MQTT 3.1.1 §4.7.2, 5.0 §4.7.2 [MQTT-4.7.2-1]: `#` and `+` at the first level do not
    // match topic names beginning with `$`.
    let (broker, _config) = broker("sys-wildcards");
    let mut all = Client::connect(&broker, V3_1_1, "sys-all");
    all.subscribe(&[("#", QOS0), ("+/broker/uptime", QOS0)]);
    let mut watcher = Watcher::new(&broker, "sys-w");
    let first = watcher.wait_for("uptime", |_| true);
    watcher.wait_for("uptime", |v| v != first);
    all.expect_nothing(QUIET);
    // Nor retained ones, for a new subscription.
    let mut late = Client::connect(&broker, V3_1_1, "sys-all-late");
    late.subscribe(&[("#", QOS0)]);
    late.expect_nothing(QUIET);
}
