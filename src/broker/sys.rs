//! The `$SYS` topic tree, as Mosquitto names it: broker-wide counters published every
//! `sys_interval_secs` as retained QoS 0 messages, so a new subscriber to `$SYS/#` gets the
//! current values at once.
//!
//! Every shard counts in its own [`ShardCounters`] (no lock, no atomics). Every interval
//! each shard's timer task sends a [`SysSnapshot`] of them to shard 0 through the mesh
//! ([`MeshMessage::SysStats`]); shard 0 sums the latest snapshot of every shard (so a value
//! is at most one interval old) and publishes what changed through the normal
//! `ShardBroker::route`, so every shard stores and delivers the messages like any
//! retained message. [`SysTree`] is the pure part: sums, maximum, load averages, and what
//! changed since the last publication.
//!
//! [`ShardCounters`]: super::counters::ShardCounters

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use shard::glommio;

use super::counters::{Gauges, SysSnapshot};
use super::mesh_message::MeshMessage;
use super::session::Message;
use super::shard_broker::ShardBroker;
use crate::protocol::{Packet, QoS, TopicName};

/// What `$SYS/broker/version` says.
pub const VERSION: &str = concat!("coremq ", env!("CARGO_PKG_VERSION"));

/// The windows of the load averages, seconds, and their topic suffixes.
const LOAD_WINDOWS: [(f64, &str); 3] = [(60.0, "1min"), (300.0, "5min"), (900.0, "15min")];

/// Reads one total out of a sum of snapshots.
type Read = fn(&SysSnapshot) -> u64;

/// The rates averaged under `$SYS/broker/load/`, each with how it is read from a sum.
const LOADS: [(&str, Read); 7] = [
    ("messages/received", |s| s.messages_received),
    ("messages/sent", |s| s.messages_sent),
    ("publish/received", |s| s.publish_received),
    ("publish/sent", |s| s.publish_sent),
    ("publish/dropped", |s| s.publish_dropped),
    ("bytes/received", |s| s.bytes_received),
    ("bytes/sent", |s| s.bytes_sent),
];

/// The figures published per shard, under `$SYS/broker/shards/{n}/`: how evenly
/// SO_REUSEPORT and the client-id hash spread the work.
const PER_SHARD: [(&str, Read); 8] = [
    ("clients/connected", |s| s.clients_connected),
    ("clients/total", |s| s.sessions),
    ("subscriptions/count", |s| s.subscriptions),
    ("publish/messages/received", |s| s.publish_received),
    ("publish/messages/sent", |s| s.publish_sent),
    ("publish/messages/dropped", |s| s.publish_dropped),
    ("bytes/received", |s| s.bytes_received),
    ("bytes/sent", |s| s.bytes_sent),
];

/// The allocator's figures for the whole process, bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heap {
    /// Committed now.
    pub current_bytes: u64,
    /// Committed at most since start.
    pub maximum_bytes: u64,
}

impl Heap {
    /// What mimalloc has committed now and at most (the broker's global allocator;
    /// another allocator's allocations are not seen).
    pub fn read() -> Option<Heap> {
        let (mut elapsed, mut user, mut system, mut rss, mut peak_rss) = (0, 0, 0, 0, 0);
        let (mut commit, mut peak_commit, mut faults) = (0, 0, 0);
        // SAFETY: every pointer is to a live local; mimalloc only writes through them.
        unsafe {
            libmimalloc_sys::mi_process_info(
                &mut elapsed,
                &mut user,
                &mut system,
                &mut rss,
                &mut peak_rss,
                &mut commit,
                &mut peak_commit,
                &mut faults,
            );
        }
        (peak_commit > 0).then_some(Heap {
            current_bytes: commit as u64,
            maximum_bytes: peak_commit as u64,
        })
    }
}

/// The tree's state on shard 0: the latest snapshot of every shard, and what was
/// published last. Pure: time is a parameter.
#[derive(Debug)]
pub struct SysTree {
    latest: Vec<SysSnapshot>,
    clients_maximum: u64,
    /// Per load topic: the moving average, per minute.
    loads: Vec<f64>,
    /// The sum and time of the last update, for the rates.
    last: Option<(SysSnapshot, u64)>,
    /// The payload last published per topic: only changes are published.
    published: HashMap<String, String>,
}

impl SysTree {
    /// The tree of a broker with `shard_count` shards; nothing recorded yet.
    pub fn new(shard_count: usize) -> Self {
        SysTree {
            latest: vec![SysSnapshot::default(); shard_count],
            clients_maximum: 0,
            loads: vec![0.0; LOADS.len() * LOAD_WINDOWS.len()],
            last: None,
            published: HashMap::new(),
        }
    }

    /// Keeps `snapshot` as the latest of `shard`.
    pub fn record(&mut self, shard: usize, snapshot: SysSnapshot) {
        if let Some(slot) = self.latest.get_mut(shard) {
            *slot = snapshot;
        }
    }

    /// The `(topic, payload)` pairs to publish at `now_ms` (milliseconds since the broker
    /// started), with the process's `heap` when the allocator tells it: every topic the
    /// first time, then only those whose payload changed.
    pub fn update(&mut self, now_ms: u64, heap: Option<Heap>) -> Vec<(String, String)> {
        let total = SysSnapshot::sum(&self.latest);
        self.clients_maximum = self.clients_maximum.max(total.clients_connected);
        let mut values: Vec<(String, String)> = [
            ("version", VERSION.to_string()),
            ("uptime", format!("{} seconds", now_ms / 1000)),
            ("clients/connected", total.clients_connected.to_string()),
            (
                "clients/disconnected",
                total.clients_disconnected().to_string(),
            ),
            ("clients/total", total.sessions.to_string()),
            ("clients/maximum", self.clients_maximum.to_string()),
            ("clients/expired", total.sessions_expired.to_string()),
            ("messages/received", total.messages_received.to_string()),
            ("messages/sent", total.messages_sent.to_string()),
            ("messages/stored", total.retained.to_string()),
            (
                "publish/messages/received",
                total.publish_received.to_string(),
            ),
            ("publish/messages/sent", total.publish_sent.to_string()),
            (
                "publish/messages/dropped",
                total.publish_dropped.to_string(),
            ),
            ("bytes/received", total.bytes_received.to_string()),
            ("bytes/sent", total.bytes_sent.to_string()),
            ("subscriptions/count", total.subscriptions.to_string()),
            ("retained messages/count", total.retained.to_string()),
        ]
        .into_iter()
        .map(|(topic, value)| (format!("$SYS/broker/{topic}"), value))
        .collect();
        if let Some(heap) = heap {
            values.push((
                "$SYS/broker/heap/current".to_string(),
                heap.current_bytes.to_string(),
            ));
            values.push((
                "$SYS/broker/heap/maximum".to_string(),
                heap.maximum_bytes.to_string(),
            ));
        }
        for (shard, snapshot) in self.latest.iter().enumerate() {
            for (name, value) in PER_SHARD {
                values.push((
                    format!("$SYS/broker/shards/{shard}/{name}"),
                    value(snapshot).to_string(),
                ));
            }
        }
        self.update_loads(&total, now_ms, &mut values);
        values.retain(|(topic, value)| {
            self.published.get(topic) != Some(value) && {
                self.published.insert(topic.clone(), value.clone());
                true
            }
        });
        values
    }

    /// Mosquitto's load averages: the rate per minute over the last interval, folded into
    /// exponential moving averages over 1, 5 and 15 minutes, published with two decimals.
    fn update_loads(&mut self, total: &SysSnapshot, now_ms: u64, out: &mut Vec<(String, String)>) {
        if let Some((last, last_ms)) = self.last {
            if now_ms > last_ms {
                let elapsed_secs = (now_ms - last_ms) as f64 / 1000.0;
                for (i, (name, read)) in LOADS.iter().enumerate() {
                    let per_minute =
                        read(total).saturating_sub(read(&last)) as f64 * 60.0 / elapsed_secs;
                    for (j, (window_secs, suffix)) in LOAD_WINDOWS.iter().enumerate() {
                        let exponent = (-elapsed_secs / window_secs).exp();
                        let load = &mut self.loads[i * LOAD_WINDOWS.len() + j];
                        *load = per_minute + exponent * (*load - per_minute);
                        out.push((
                            format!("$SYS/broker/load/{name}/{suffix}"),
                            format!("{load:.2}"),
                        ));
                    }
                }
            }
        }
        self.last = Some((*total, now_ms));
    }
}

impl ShardBroker {
    /// This shard's counters, with the gauges read from its state.
    pub(super) fn sys_snapshot(&self) -> SysSnapshot {
        let state = self.state.borrow();
        self.counters.snapshot(Gauges {
            sessions: state.sessions.len() as u64,
            subscriptions: state.trie.subscription_count() as u64,
            retained: state.retained.len() as u64,
        })
    }

    /// A shard's snapshot reached shard 0.
    pub(super) fn on_sys_stats(&self, source: usize, snapshot: SysSnapshot) {
        self.sys.borrow_mut().record(source, snapshot);
    }

    /// Counts a packet handed to a connection (`queued`) or refused by it (a QoS 0
    /// PUBLISH to a client that reads too slowly: dropped).
    pub(super) fn count_sent(&self, packet: &Packet, queued: bool) {
        let publish = matches!(packet, Packet::Publish(_));
        if queued {
            self.counters.messages_sent.incr();
            if publish {
                self.counters.publish_sent.incr();
            }
        } else if publish {
            self.counters.publish_dropped.incr();
        }
    }

    /// Every `interval`: shard 0 publishes the tree, every other shard sends it its
    /// snapshot. Other shards send once at start too, so shard 0's first publication
    /// already has them. One task per shard; it stops at shutdown.
    pub async fn run_sys(self: Rc<Self>, interval: Duration) {
        let is_zero = self.shard_id() == 0;
        if !is_zero {
            self.send_to(0, MeshMessage::SysStats(self.sys_snapshot()));
        }
        loop {
            let tick = async {
                glommio::timer::sleep(interval).await;
                true
            };
            let stop = async {
                self.ctx.shutdown().wait().await;
                false
            };
            if !futures_lite::future::or(tick, stop).await {
                return;
            }
            let snapshot = self.sys_snapshot();
            if is_zero {
                self.publish_sys(snapshot);
            } else {
                self.send_to(0, MeshMessage::SysStats(snapshot));
            }
        }
    }

    /// Shard 0: publishes what changed in the tree as retained QoS 0 messages.
    fn publish_sys(&self, own: SysSnapshot) {
        let changed = {
            let mut sys = self.sys.borrow_mut();
            sys.record(0, own);
            sys.update(self.ctx.now_ms(), Heap::read())
        };
        for (topic, value) in changed {
            let Ok(topic) = TopicName::new(&topic) else {
                debug_assert!(false, "invalid $SYS topic {topic}");
                continue;
            };
            let message = Message {
                topic,
                payload: Bytes::from(value),
                qos: QoS::AtMostOnce,
                retain: true,
                properties: None,
                expiry_at_ms: None,
            };
            self.route(message, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(changed: &'a [(String, String)], topic: &str) -> Option<&'a str> {
        changed
            .iter()
            .find(|(t, _)| t == &format!("$SYS/broker/{topic}"))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_first_update_publishes_every_topic_then_only_changes() {
        let mut tree = SysTree::new(2);
        let first = tree.update(5_000, None);
        assert_eq!(value(&first, "version"), Some(VERSION));
        assert_eq!(value(&first, "uptime"), Some("5 seconds"));
        assert_eq!(value(&first, "clients/connected"), Some("0"));
        assert_eq!(value(&first, "retained messages/count"), Some("0"));
        for (topic, _) in &first {
            assert!(TopicName::new(topic).is_ok(), "{topic}");
        }
        assert!(
            value(&first, "load/bytes/sent/1min").is_none(),
            "no rate before a second update"
        );
        let second = tree.update(5_500, None);
        assert!(
            second
                .iter()
                .all(|(t, v)| t.starts_with("$SYS/broker/load/") && v == "0.00"),
            "only the load averages, first published now: {second:?}"
        );
        assert_eq!(second.len(), LOADS.len() * LOAD_WINDOWS.len());
        let again = tree.update(5_900, None);
        assert!(again.is_empty(), "nothing changed: {again:?}");
        tree.record(
            1,
            SysSnapshot {
                messages_received: 4,
                ..SysSnapshot::default()
            },
        );
        let third = tree.update(6_000, None);
        assert_eq!(value(&third, "uptime"), Some("6 seconds"));
        assert_eq!(value(&third, "messages/received"), Some("4"));
        assert_eq!(value(&third, "version"), None);
        assert_eq!(value(&third, "messages/sent"), None);
        assert_eq!(
            value(&third, "shards/1/clients/connected"),
            None,
            "unchanged"
        );
    }

    #[test]
    fn per_shard_figures_and_the_heap_are_published() {
        let mut tree = SysTree::new(2);
        tree.record(
            1,
            SysSnapshot {
                clients_connected: 2,
                publish_received: 7,
                ..SysSnapshot::default()
            },
        );
        let heap = Heap {
            current_bytes: 1000,
            maximum_bytes: 2000,
        };
        let changed = tree.update(1_000, Some(heap));
        assert_eq!(value(&changed, "shards/0/clients/connected"), Some("0"));
        assert_eq!(value(&changed, "shards/1/clients/connected"), Some("2"));
        assert_eq!(
            value(&changed, "shards/1/publish/messages/received"),
            Some("7")
        );
        assert_eq!(value(&changed, "heap/current"), Some("1000"));
        assert_eq!(value(&changed, "heap/maximum"), Some("2000"));
    }

    #[test]
    fn shards_are_summed_and_the_maximum_is_kept() {
        let mut tree = SysTree::new(2);
        let connected = |n, sessions| SysSnapshot {
            clients_connected: n,
            sessions,
            retained: 3,
            ..SysSnapshot::default()
        };
        tree.record(0, connected(2, 3));
        tree.record(1, connected(1, 2));
        let changed = tree.update(1_000, None);
        assert_eq!(value(&changed, "clients/connected"), Some("3"));
        assert_eq!(value(&changed, "clients/disconnected"), Some("2"));
        assert_eq!(value(&changed, "clients/total"), Some("5"));
        assert_eq!(value(&changed, "clients/maximum"), Some("3"));
        assert_eq!(value(&changed, "retained messages/count"), Some("3"));
        tree.record(1, connected(0, 0));
        let changed = tree.update(2_000, None);
        assert_eq!(value(&changed, "clients/connected"), Some("2"));
        assert_eq!(value(&changed, "clients/maximum"), None, "still 3");
    }

    #[test]
    fn load_is_a_per_minute_moving_average() {
        let mut tree = SysTree::new(1);
        tree.update(0, None);
        // 600 messages in 10 s: 3600 per minute over that interval.
        tree.record(
            0,
            SysSnapshot {
                messages_received: 600,
                ..SysSnapshot::default()
            },
        );
        let changed = tree.update(10_000, None);
        let one = |window| {
            value(&changed, &format!("load/messages/received/{window}"))
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        let expected_1min = 3600.0 * (1.0 - (-10.0f64 / 60.0).exp());
        assert!(
            (one("1min") - expected_1min).abs() < 0.01,
            "{}",
            one("1min")
        );
        assert!(one("5min") < one("1min") && one("15min") < one("5min"));
        assert_eq!(value(&changed, "load/bytes/sent/1min"), Some("0.00"));
    }
}
