//! What shards and worker processes report, and how reports merge. Pure, no I/O.
//!
//! A shard sends [`Event`]s to its process; a worker process merges its shards' events
//! and sends the merged ones to the parent as JSON lines; the parent merges again. The
//! merge is the same at both levels ([`crate::merger::Merger`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hist::Hist;
use crate::limits::ERRORS_KEPT_MAX;
use crate::seq::{SeqSet, SeqTracker};

/// Cumulative counters of a shard, a process or the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Connections that got a successful CONNACK (and SUBACK).
    pub connected: u64,
    /// Connections that failed before that.
    pub connect_failed: u64,
    /// Established connections that ended before the run did (broker closed, error).
    pub closed_early: u64,
    /// PUBLISH packets handed to the socket.
    pub sent: u64,
    /// Publishes acknowledged with success (PUBACK, or PUBREC at QoS 2).
    pub acked: u64,
    /// Publishes acknowledged with a failure reason code.
    pub ack_failed: u64,
    /// PUBLISH packets of this run received by subscribers (duplicates included).
    pub received: u64,
    /// PUBLISH packets received that this run did not send (other run id, no header).
    pub foreign: u64,
}

impl Counters {
    /// Adds `other` into `self`.
    pub fn add(&mut self, o: &Counters) {
        self.connected += o.connected;
        self.connect_failed += o.connect_failed;
        self.closed_early += o.closed_early;
        self.sent += o.sent;
        self.acked += o.acked;
        self.ack_failed += o.ack_failed;
        self.received += o.received;
        self.foreign += o.foreign;
    }
}

/// Setup finished (every client connected, subscribed, or failed).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ready {
    /// Clients ready.
    pub connected: u64,
    /// Clients that failed setup.
    pub failed: u64,
    /// Some of the failures, for the operator.
    pub errors: Vec<String>,
}

/// One interval (second `index` after the start) of a shard, a process or the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Interval {
    /// Seconds since the start; interval `i` covers `[i, i + 1)`.
    pub index: u32,
    /// Counters at the end of the interval (cumulative since the process started).
    pub counters: Counters,
    /// End-to-end latencies recorded in the interval, µs.
    pub e2e: Hist,
    /// PUBLISH-to-acknowledgement latencies recorded in the interval, µs.
    pub ack: Hist,
    /// Connect-to-CONNACK latencies recorded in the interval, µs.
    pub connect: Hist,
    /// How late open-loop publishers sent, µs (intended time to the write).
    pub send_lag: Hist,
}

impl Interval {
    /// Adds another source's interval of the same index.
    pub fn add(&mut self, o: &Interval) {
        self.counters.add(&o.counters);
        self.e2e.add(&o.e2e);
        self.ack.add(&o.ack);
        self.connect.add(&o.connect);
        self.send_lag.add(&o.send_lag);
    }
}

/// What one publisher did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublisherReport {
    /// Publisher id.
    pub id: u32,
    /// Messages sent: sequence numbers `0..sent`.
    pub sent: u64,
    /// Sequence numbers acknowledged with success (QoS 1: PUBACK; QoS 2: PUBREC).
    pub acked: SeqSet,
    /// Messages due by the schedule before the end that were never sent (the publisher
    /// fell behind: window full, socket full, or the connection ended).
    pub backlog: u64,
}

/// What one scope (a subscriber, or a shared group) received from one publisher.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reception {
    /// Subscriber id, or 0 for the shared group.
    pub scope: u32,
    /// Publisher id.
    pub publisher: u32,
    /// Sequence numbers seen, duplicates, reordering.
    pub tracker: SeqTracker,
}

/// Everything a shard, a process or the run did, at the end.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FinalReport {
    /// Totals.
    pub counters: Counters,
    /// End-to-end latency, µs, all of the run.
    pub e2e: Hist,
    /// Acknowledgement latency, µs.
    pub ack: Hist,
    /// Connect latency, µs (setup and conn-storm).
    pub connect: Hist,
    /// How late open-loop publishers sent, µs.
    pub send_lag: Hist,
    /// Every publisher, by id.
    pub publishers: Vec<PublisherReport>,
    /// Every (scope, publisher) with at least one reception, sorted.
    pub receptions: Vec<Reception>,
    /// Up to [`ERRORS_KEPT_MAX`] error messages.
    pub errors: Vec<String>,
    /// All errors, counted.
    pub errors_total: u64,
}

impl FinalReport {
    /// Merges another report in. Receptions of the same (scope, publisher) are merged as
    /// one scope's (a message both saw is a duplicate).
    pub fn add(&mut self, o: FinalReport) {
        self.counters.add(&o.counters);
        self.e2e.add(&o.e2e);
        self.ack.add(&o.ack);
        self.connect.add(&o.connect);
        self.send_lag.add(&o.send_lag);
        self.publishers.extend(o.publishers);
        self.publishers.sort_by_key(|p| p.id);
        let mut map: BTreeMap<(u32, u32), SeqTracker> = std::mem::take(&mut self.receptions)
            .into_iter()
            .map(|r| ((r.scope, r.publisher), r.tracker))
            .collect();
        for r in o.receptions {
            match map.entry((r.scope, r.publisher)) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(r.tracker);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    e.get_mut().merge(&r.tracker)
                }
            }
        }
        self.receptions = map
            .into_iter()
            .map(|((scope, publisher), tracker)| Reception {
                scope,
                publisher,
                tracker,
            })
            .collect();
        self.errors_total += o.errors_total;
        for e in o.errors {
            push_error(&mut self.errors, e);
        }
    }
}

/// Keeps `e` if fewer than [`ERRORS_KEPT_MAX`] are kept.
pub fn push_error(errors: &mut Vec<String>, e: String) {
    if errors.len() < ERRORS_KEPT_MAX {
        errors.push(e);
    }
}

/// One message from a shard to its process, or from a worker to the parent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    /// Setup is over.
    Ready(Ready),
    /// One second of the run.
    Interval(Box<Interval>),
    /// Every publisher (conn-storm: connector; idle: holder) is done.
    PublishersDone,
    /// The end.
    Final(Box<FinalReport>),
}

/// What the coordinator tells shards and workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Start; the first intended send is at this time (ns on the run's clock).
    Go(u64),
    /// Publishers are done everywhere: subscribers may finish once quiet.
    Drain,
    /// Stop now.
    Abort,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reception(scope: u32, publisher: u32, seqs: &[u64]) -> Reception {
        let mut tracker = SeqTracker::default();
        for &s in seqs {
            tracker.record(s);
        }
        Reception {
            scope,
            publisher,
            tracker,
        }
    }

    #[test]
    fn final_reports_merge_counts_and_receptions() {
        let mut a = FinalReport {
            counters: Counters {
                sent: 5,
                ..Counters::default()
            },
            receptions: vec![reception(0, 0, &[0, 2, 4]), reception(0, 1, &[0])],
            publishers: vec![PublisherReport {
                id: 1,
                sent: 1,
                ..PublisherReport::default()
            }],
            ..FinalReport::default()
        };
        a.e2e.record_ns(5_000);
        let mut b = FinalReport {
            counters: Counters {
                sent: 3,
                received: 4,
                ..Counters::default()
            },
            receptions: vec![reception(0, 0, &[1, 3, 4])],
            publishers: vec![PublisherReport {
                id: 0,
                sent: 5,
                ..PublisherReport::default()
            }],
            errors: vec!["x".into()],
            errors_total: 7,
            ..FinalReport::default()
        };
        b.e2e.record_ns(9_000);
        a.add(b);
        assert_eq!(a.counters.sent, 8);
        assert_eq!(a.counters.received, 4);
        assert_eq!(a.e2e.count(), 2);
        assert_eq!(
            a.publishers.iter().map(|p| p.id).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(a.receptions.len(), 2);
        let group = &a.receptions[0].tracker;
        assert_eq!(group.lost(5), 0);
        assert_eq!(group.duplicates, 1); // 4 reached both
        assert_eq!((a.errors.len(), a.errors_total), (1, 7));
    }

    #[test]
    fn events_survive_json() {
        let mut iv = Interval {
            index: 3,
            ..Interval::default()
        };
        iv.e2e.record_ns(1_000_000);
        let line = serde_json::to_string(&Event::Interval(Box::new(iv))).unwrap();
        let Event::Interval(back) = serde_json::from_str(&line).unwrap() else {
            panic!("{line}")
        };
        assert_eq!(back.index, 3);
        assert_eq!(back.e2e.count(), 1);
        let cmd = serde_json::to_string(&Command::Go(42)).unwrap();
        assert_eq!(
            serde_json::from_str::<Command>(&cmd).unwrap(),
            Command::Go(42)
        );
    }
}
