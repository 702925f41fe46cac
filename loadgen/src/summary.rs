//! The run's result: the JSON line on stdout (schema `loadgen.v1`, documented in
//! loadgen/README.md; keep it stable, bench-harness parses it) and the human summary on
//! stderr. Computing it is pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::{version_name, Plan};
use crate::hist::Percentiles;
use crate::report::FinalReport;
use crate::seq::SeqTracker;

/// The JSON schema's name and version.
pub const SCHEMA: &str = "loadgen.v1";

/// The parameters of the run, as resolved.
#[derive(Debug, Serialize)]
pub struct Params {
    /// Broker host as given.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// "3.1", "3.1.1" or "5".
    pub mqtt: &'static str,
    /// QoS of publishes.
    pub qos: u8,
    /// QoS of subscriptions.
    pub sub_qos: u8,
    /// Payload bytes.
    pub payload_bytes: usize,
    /// Publishers.
    pub publishers: usize,
    /// Subscribers (shared: group members).
    pub subscribers: usize,
    /// Connections (conn-storm, idle).
    pub connections: usize,
    /// Topic pattern.
    pub topic: String,
    /// Filter pattern.
    pub filter: String,
    /// Keep Alive, s.
    pub keep_alive_secs: u16,
    /// Clean Session / Clean Start.
    pub clean_start: bool,
    /// 5.0 Session Expiry Interval, s.
    pub session_expiry_secs: Option<u32>,
    /// Total target rate, msgs/s; null when saturating.
    pub rate: Option<f64>,
    /// True in saturation mode.
    pub saturate: bool,
    /// QoS 1/2 window per publisher.
    pub outstanding: usize,
    /// QoS 0 bytes bound per publisher.
    pub outstanding_bytes: usize,
    /// Time bound, s.
    pub duration_secs: f64,
    /// Count bound; null when none.
    pub count: Option<u64>,
    /// Drain bound, s.
    pub drain_secs: f64,
    /// Threads per process.
    pub threads: usize,
    /// Processes.
    pub procs: usize,
    /// Source addresses used (0: the kernel chose).
    pub source_ips: usize,
    /// Connect rate, /s (0: unpaced).
    pub connect_rate: f64,
    /// Connects in progress per thread.
    pub connect_concurrency: usize,
    /// "monotonic" or "realtime".
    pub clock: crate::clock::ClockKind,
}

/// Connection figures.
#[derive(Debug, Serialize)]
pub struct Connections {
    /// Connections tried.
    pub attempted: u64,
    /// Got CONNACK (and SUBACK).
    pub established: u64,
    /// Failed to.
    pub failed: u64,
    /// Established, then lost before the end of the run.
    pub closed_early: u64,
    /// conn-storm: CONNACKs per second over the storm; otherwise over setup.
    pub rate_per_sec: f64,
    /// Connect (TCP connect start, or intended time in conn-storm with
    /// --connect-rate) to CONNACK, µs.
    pub connack_us: Percentiles,
}

/// Message rates, over `duration_secs`.
#[derive(Debug, Serialize)]
pub struct Rates {
    /// Sent per second.
    pub send_per_sec: f64,
    /// Received per second.
    pub receive_per_sec: f64,
    /// Acknowledged per second.
    pub ack_per_sec: f64,
}

/// The broker's resident memory, from /proc/PID/status VmRSS.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BrokerRss {
    /// The broker's pid.
    pub pid: u32,
    /// Before any client connected, KiB.
    pub before_kib: u64,
    /// With every client connected (idle: at the end of the hold), KiB.
    pub after_kib: u64,
    /// (after - before) / established connections, bytes.
    pub per_connection_bytes: f64,
}

/// The JSON line.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// "ok" (ran, no client error), "errors" (ran, some client errors: see `errors`),
    /// "aborted" (setup failed or timed out; figures are partial).
    pub status: &'static str,
    /// Scenario name.
    pub scenario: &'static str,
    /// Parameters.
    pub params: Params,
    /// Run id in the payloads.
    pub run_id: u32,
    /// From the first intended send to the last publisher done (acks included), s.
    pub duration_secs: f64,
    /// Connections.
    pub connections: Connections,
    /// PUBLISH packets sent.
    pub sent: u64,
    /// Acknowledged with success (QoS 1 PUBACK, QoS 2 PUBREC).
    pub acked: u64,
    /// Acknowledged with a failure reason code.
    pub ack_failed: u64,
    /// Messages that should have arrived: each publisher's `sent` times the scopes that
    /// expect it (fanin/fanout: every subscriber; pairs: its pair; shared: the group once).
    pub expected: u64,
    /// PUBLISH packets of this run received, duplicates included.
    pub received: u64,
    /// Expected messages that never arrived.
    pub lost: u64,
    /// Receptions of a message already received by the same scope.
    pub duplicates: u64,
    /// Receptions after a higher sequence number of the same publisher, same scope.
    pub reordered: u64,
    /// Acknowledged messages that never arrived where expected: should be 0 at QoS 1/2.
    pub acked_lost: u64,
    /// Receptions by a scope that was not expected to get that publisher.
    pub unexpected: u64,
    /// Receptions of other runs' messages.
    pub foreign: u64,
    /// Messages due by the schedule that publishers never sent (they fell behind).
    pub backlog: u64,
    /// Rates.
    pub rates: Rates,
    /// End-to-end latency from the intended send time, µs.
    pub latency_us: Percentiles,
    /// Intended send to PUBACK (QoS 1) or PUBCOMP (QoS 2), µs.
    pub ack_latency_us: Percentiles,
    /// Open loop: how late publishers wrote each message, from its intended time, µs.
    /// Large values mean the load generator (or the window, or TCP) held messages back:
    /// they still count in `latency_us`, which starts at the intended time.
    pub send_lag_us: Percentiles,
    /// Broker memory, with --broker-pid.
    pub broker_rss: Option<BrokerRss>,
    /// The HDR log written, if any.
    pub hdr_log: Option<String>,
    /// Some error messages.
    pub errors: Vec<String>,
    /// Errors counted.
    pub errors_total: u64,
}

/// What the coordinator measured beside the reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// Seconds from the start to the last publisher done.
    pub run_secs: f64,
    /// Seconds setup took.
    pub setup_secs: f64,
    /// Setup did not complete.
    pub aborted: bool,
}

/// Loss, duplicates, reordering and acked-but-lost over the expected (scope, publisher)
/// pairs of the plan.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// See [`Summary::expected`].
    pub expected: u64,
    /// See [`Summary::lost`].
    pub lost: u64,
    /// See [`Summary::duplicates`].
    pub duplicates: u64,
    /// See [`Summary::reordered`].
    pub reordered: u64,
    /// See [`Summary::acked_lost`].
    pub acked_lost: u64,
    /// See [`Summary::unexpected`].
    pub unexpected: u64,
}

/// Computes [`Delivery`] from the merged report.
pub fn delivery(plan: &Plan, report: &FinalReport) -> Delivery {
    let publishers: BTreeMap<u32, _> = report.publishers.iter().map(|p| (p.id, p)).collect();
    let mut receptions: BTreeMap<(u32, u32), &SeqTracker> = report
        .receptions
        .iter()
        .map(|r| ((r.scope, r.publisher), &r.tracker))
        .collect();
    let mut d = Delivery::default();
    let empty = SeqTracker::default();
    for (scope, publisher) in plan.expected_pairs() {
        let tracker = receptions.remove(&(scope, publisher)).unwrap_or(&empty);
        let (sent, acked_lost) = match publishers.get(&publisher) {
            Some(p) => (p.sent, tracker.acked_lost(&p.acked)),
            None => (0, 0),
        };
        d.expected += sent;
        d.lost += tracker.lost(sent);
        d.acked_lost += acked_lost;
        d.duplicates += tracker.duplicates;
        d.reordered += tracker.reordered;
    }
    d.unexpected = receptions
        .values()
        .map(|t| t.seen.len() + t.duplicates)
        .sum();
    d
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        (n as f64 / secs * 10.0).round() / 10.0
    } else {
        0.0
    }
}

impl Summary {
    /// The summary of a run.
    pub fn new(
        plan: &Plan,
        report: &FinalReport,
        timing: Timing,
        broker_rss: Option<BrokerRss>,
    ) -> Summary {
        let c = &report.counters;
        let d = delivery(plan, report);
        let status = if timing.aborted {
            "aborted"
        } else if report.errors_total > 0 {
            "errors"
        } else {
            "ok"
        };
        let storm = plan.scenario == crate::cli::Scenario::ConnStorm;
        let connect_secs = if storm {
            timing.run_secs
        } else {
            timing.setup_secs
        };
        Summary {
            schema: SCHEMA,
            status,
            scenario: plan.scenario.name(),
            params: Params {
                host: plan.host.clone(),
                port: plan.broker.port(),
                mqtt: version_name(plan.version),
                qos: plan.qos as u8,
                sub_qos: plan.sub_qos as u8,
                payload_bytes: plan.payload_bytes,
                publishers: plan.publishers,
                subscribers: plan.subscribers,
                connections: plan.connections,
                topic: plan.topic_pattern.clone(),
                filter: plan.filter_pattern.clone(),
                keep_alive_secs: plan.keep_alive_secs,
                clean_start: plan.clean_start,
                session_expiry_secs: plan.session_expiry_secs,
                rate: plan.rate,
                saturate: plan.rate.is_none(),
                outstanding: plan.outstanding,
                outstanding_bytes: plan.outstanding_bytes,
                duration_secs: plan.duration_secs,
                count: plan.count,
                drain_secs: plan.drain_secs,
                threads: plan.threads,
                procs: plan.procs,
                source_ips: plan.source_ips.len(),
                connect_rate: plan.connect_rate,
                connect_concurrency: plan.connect_concurrency,
                clock: plan.clock,
            },
            run_id: plan.run_id,
            duration_secs: (timing.run_secs * 1000.0).round() / 1000.0,
            connections: Connections {
                attempted: c.connected + c.connect_failed,
                established: c.connected,
                failed: c.connect_failed,
                closed_early: c.closed_early,
                rate_per_sec: rate(c.connected, connect_secs),
                connack_us: report.connect.percentiles(),
            },
            sent: c.sent,
            acked: c.acked,
            ack_failed: c.ack_failed,
            expected: d.expected,
            received: c.received,
            lost: d.lost,
            duplicates: d.duplicates,
            reordered: d.reordered,
            acked_lost: d.acked_lost,
            unexpected: d.unexpected,
            foreign: c.foreign,
            backlog: report.publishers.iter().map(|p| p.backlog).sum(),
            rates: Rates {
                send_per_sec: rate(c.sent, timing.run_secs),
                receive_per_sec: rate(c.received, timing.run_secs),
                ack_per_sec: rate(c.acked, timing.run_secs),
            },
            latency_us: report.e2e.percentiles(),
            ack_latency_us: report.ack.percentiles(),
            send_lag_us: report.send_lag.percentiles(),
            broker_rss,
            hdr_log: plan.hdr_log.as_ref().map(|p| p.display().to_string()),
            errors: report.errors.clone(),
            errors_total: report.errors_total,
        }
    }

    /// The human summary, several lines.
    pub fn human(&self) -> String {
        let p = &self.params;
        let lat = |l: &Percentiles| {
            if l.count == 0 {
                "-".to_string()
            } else {
                format!(
                    "p50 {} p90 {} p99 {} p99.9 {} p99.99 {} max {} µs ({} samples)",
                    l.p50, l.p90, l.p99, l.p99_9, l.p99_99, l.max, l.count
                )
            }
        };
        let mut s = format!(
            "loadgen {} [{}]: MQTT {} QoS {}/{} {} B | {} pub -> {} sub, {} conn | {} | {} thread(s) x {} proc(s)\n",
            self.scenario,
            self.status,
            p.mqtt,
            p.qos,
            p.sub_qos,
            p.payload_bytes,
            p.publishers,
            p.subscribers,
            p.connections,
            match p.rate {
                Some(r) => format!("open loop {r} msg/s"),
                None => "saturate".to_string(),
            },
            p.threads,
            p.procs,
        );
        let c = &self.connections;
        s += &format!(
            "connections: {} established, {} failed, {} closed early; {:.0}/s; CONNACK {}\n",
            c.established,
            c.failed,
            c.closed_early,
            c.rate_per_sec,
            lat(&c.connack_us)
        );
        if p.publishers > 0 {
            s += &format!(
                "messages over {:.2} s: sent {} ({:.0}/s), received {} ({:.0}/s), acked {} \
                 ({} failed)\n",
                self.duration_secs,
                self.sent,
                self.rates.send_per_sec,
                self.received,
                self.rates.receive_per_sec,
                self.acked,
                self.ack_failed
            );
            s += &format!(
                "delivery: expected {}, lost {}, duplicates {}, reordered {}, acked-but-lost {}, \
                 unexpected {}, foreign {}, backlog (due, never sent) {}\n",
                self.expected,
                self.lost,
                self.duplicates,
                self.reordered,
                self.acked_lost,
                self.unexpected,
                self.foreign,
                self.backlog
            );
            s += &format!("end-to-end latency: {}\n", lat(&self.latency_us));
            if self.ack_latency_us.count > 0 {
                s += &format!("ack latency: {}\n", lat(&self.ack_latency_us));
            }
            if self.send_lag_us.count > 0 {
                s += &format!(
                    "send lag (intended -> written): {}\n",
                    lat(&self.send_lag_us)
                );
            }
        }
        if let Some(r) = &self.broker_rss {
            s += &format!(
                "broker pid {} VmRSS: {} KiB before, {} KiB after: {:.0} bytes per connection\n",
                r.pid, r.before_kib, r.after_kib, r.per_connection_bytes
            );
        }
        if let Some(path) = &self.hdr_log {
            s += &format!("HDR interval log: {path}\n");
        }
        if self.errors_total > 0 {
            s += &format!("errors ({}):\n", self.errors_total);
            for e in &self.errors {
                s += &format!("  {e}\n");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PublisherReport, Reception};
    use crate::seq::SeqSet;
    use clap::Parser;

    fn plan(args: &[&str]) -> Plan {
        let args = crate::cli::Args::try_parse_from(
            std::iter::once("loadgen").chain(args.iter().copied()),
        )
        .unwrap();
        Plan::from_args(&args).unwrap()
    }

    fn reception(scope: u32, publisher: u32, seqs: impl IntoIterator<Item = u64>) -> Reception {
        let mut tracker = SeqTracker::default();
        for s in seqs {
            tracker.record(s);
        }
        Reception {
            scope,
            publisher,
            tracker,
        }
    }

    #[test]
    fn fanin_delivery() {
        let p = plan(&["fanin", "--publishers", "2"]);
        let report = FinalReport {
            publishers: vec![
                PublisherReport {
                    id: 0,
                    sent: 10,
                    acked: SeqSet::from_ranges(&[(0, 10)]),
                    backlog: 0,
                },
                PublisherReport {
                    id: 1,
                    sent: 5,
                    acked: SeqSet::from_ranges(&[(0, 4)]),
                    backlog: 0,
                },
            ],
            receptions: vec![
                reception(0, 0, (0..10).filter(|&s| s != 3)),
                reception(0, 1, [0, 2, 1, 1]),
                reception(7, 0, [0]),
            ],
            ..FinalReport::default()
        };
        let d = delivery(&p, &report);
        assert_eq!(
            d,
            Delivery {
                expected: 15,
                lost: 1 + 2,
                duplicates: 1,
                reordered: 1,
                acked_lost: 1 + 1, // 3 of publisher 0; 3 of publisher 1 (4 was never acked)
                unexpected: 1,
            }
        );
    }

    #[test]
    fn pairs_expect_only_their_own_publisher() {
        let p = plan(&["pairs", "--pairs", "2"]);
        let report = FinalReport {
            publishers: (0..2)
                .map(|id| PublisherReport {
                    id,
                    sent: 3,
                    ..PublisherReport::default()
                })
                .collect(),
            receptions: vec![
                reception(0, 0, 0..3),
                reception(1, 1, 0..3),
                reception(1, 0, [0]),
            ],
            ..FinalReport::default()
        };
        let d = delivery(&p, &report);
        assert_eq!((d.expected, d.lost, d.unexpected), (6, 0, 1));
    }

    #[test]
    fn json_has_the_documented_keys() {
        let p = plan(&["fanin"]);
        let s = Summary::new(&p, &FinalReport::default(), Timing::default(), None);
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        for key in [
            "schema",
            "status",
            "scenario",
            "params",
            "run_id",
            "duration_secs",
            "connections",
            "sent",
            "acked",
            "ack_failed",
            "expected",
            "received",
            "lost",
            "duplicates",
            "reordered",
            "acked_lost",
            "unexpected",
            "foreign",
            "backlog",
            "rates",
            "latency_us",
            "ack_latency_us",
            "broker_rss",
            "hdr_log",
            "errors",
            "errors_total",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        for key in [
            "p50", "p90", "p99", "p99_9", "p99_99", "max", "count", "mean", "min",
        ] {
            assert!(v["latency_us"].get(key).is_some(), "{key}");
        }
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["params"]["mqtt"], "3.1.1");
    }
}
