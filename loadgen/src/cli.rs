//! The command line, and the [`Plan`] it resolves to: every parameter of the run, checked,
//! with the scenario's defaults applied. Worker processes get the same command line plus
//! `--worker N` and resolve the same plan.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};
use coremq::protocol::{ProtocolVersion, QoS, TopicFilter, TopicName};
use serde::Serialize;

use crate::clock::ClockKind;
use crate::iprange::parse_source_ips;
use crate::limits::*;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// P publishers -> S subscribers (default 4 -> 1) on a wildcard filter.
    Fanin,
    /// P publishers (default 1) -> S subscribers (default 10) on one topic.
    Fanout,
    /// N publisher/subscriber pairs (default 10), one topic per pair.
    Pairs,
    /// P publishers (default 4) -> one `$share/{group}/...` group of S members (default 4).
    Shared,
    /// Open C connections (default 1000): connection rate and CONNACK latency; each closes
    /// after its CONNACK.
    ConnStorm,
    /// Hold C connections (default 1000) for the duration with keep-alive.
    Idle,
}

impl Scenario {
    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Fanin => "fanin",
            Scenario::Fanout => "fanout",
            Scenario::Pairs => "pairs",
            Scenario::Shared => "shared",
            Scenario::ConnStorm => "conn-storm",
            Scenario::Idle => "idle",
        }
    }

    /// True for the scenarios that publish messages.
    pub fn has_messages(self) -> bool {
        !matches!(self, Scenario::ConnStorm | Scenario::Idle)
    }
}

/// coremq's load generator: thread-per-core MQTT clients, open-loop rates, end-to-end
/// latency in HdrHistogram without coordinated omission.
///
/// Prints a progress line every second and a summary on stderr, and one JSON line on
/// stdout (schema in loadgen/README.md). Every run is bounded in time (--duration) and
/// may be bounded in count (--count); it stops by itself.
#[derive(Debug, Clone, Parser)]
#[command(name = "loadgen", version)]
pub struct Args {
    /// Scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,

    /// Broker host name or address.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Broker port.
    #[arg(long, default_value_t = 1883)]
    pub port: u16,
    /// MQTT version: 3.1, 3.1.1 (or 4) or 5.
    #[arg(long = "mqtt", value_name = "VERSION", default_value = "3.1.1", value_parser = parse_version)]
    pub mqtt_version: ProtocolVersion,
    /// QoS of the published messages.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// QoS of the subscriptions (default: --qos).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub sub_qos: Option<u8>,
    /// Payload bytes per message (at least 24: the header with publisher, sequence number
    /// and send time).
    #[arg(long, default_value_t = 64, value_name = "BYTES")]
    pub payload: usize,

    /// Publishers (fanin, fanout, shared).
    #[arg(long, value_name = "P")]
    pub publishers: Option<usize>,
    /// Subscribers (fanin, fanout) or members of the shared group (shared).
    #[arg(long, value_name = "S")]
    pub subscribers: Option<usize>,
    /// Publisher/subscriber pairs (pairs).
    #[arg(long, value_name = "N")]
    pub pairs: Option<usize>,
    /// Connections (conn-storm, idle).
    #[arg(long, value_name = "C")]
    pub connections: Option<usize>,

    /// First topic level of every topic.
    #[arg(long, default_value = "lg")]
    pub topic_prefix: String,
    /// Topic each publisher publishes to; {prefix} and {pub} (publisher id) are replaced.
    /// Default: {prefix}/fanin/{pub}, {prefix}/fanout, {prefix}/pairs/{pub},
    /// {prefix}/shared/{pub}.
    #[arg(long, value_name = "PATTERN")]
    pub topic_pattern: Option<String>,
    /// Topic filter each subscriber subscribes to; {prefix}, {sub} (subscriber id) and
    /// {group} are replaced. Default: {prefix}/fanin/+, {prefix}/fanout,
    /// {prefix}/pairs/{sub}, $share/{group}/{prefix}/shared/+. Which publishers a
    /// subscriber is expected to hear follows the scenario, not the filter.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Shared subscription group name (shared).
    #[arg(long, default_value = "lg")]
    pub group: String,

    /// Keep Alive, seconds (0: off); clients send PINGREQ after 3/4 of it without sending.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub keep_alive: u16,
    /// Clean Session (3.x) / Clean Start (5.0): true or false.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub clean: bool,
    /// MQTT 5.0 Session Expiry Interval, seconds (default: absent, i.e. 0).
    #[arg(long, value_name = "SECS")]
    pub session_expiry: Option<u32>,

    /// Total publish rate, messages per second, spread evenly over the publishers
    /// (open loop). 0 means --saturate.
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub rate: Option<f64>,
    /// Publish as fast as the window allows (closed loop): --outstanding unacknowledged
    /// messages per publisher at QoS 1/2, --outstanding-bytes queued at QoS 0.
    #[arg(long)]
    pub saturate: bool,
    /// QoS 1/2: unacknowledged messages per publisher at most (5.0: also capped by the
    /// broker's Receive Maximum).
    #[arg(long, value_name = "N")]
    pub outstanding: Option<usize>,
    /// QoS 0: bytes queued per publisher (its buffer plus the socket's send queue) at most.
    #[arg(long, default_value_t = OUTSTANDING_BYTES_DEFAULT, value_name = "BYTES")]
    pub outstanding_bytes: usize,

    /// Seconds to publish (conn-storm: to open connections; idle: to hold them).
    /// Default 10, or 60 with --count.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Messages to publish in total (conn-storm: ignored, use --connections); the run
    /// ends at the count or at --duration, whichever comes first.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Seconds subscribers (and publishers awaiting acks) go on after publishing ends, at
    /// most; a subscriber stops earlier once nothing arrived for 300 ms.
    #[arg(long = "drain", default_value_t = DRAIN_SECS_DEFAULT, value_name = "SECS")]
    pub drain_secs: f64,

    /// Threads (shards, one glommio executor each) per process. Default: available cores.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Pin each thread to a core.
    #[arg(long)]
    pub pin: bool,
    /// Worker processes (each with --threads threads); the parent merges their results.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub procs: usize,
    /// Local addresses to connect from, round robin over clients: a list and/or ranges,
    /// e.g. 127.0.0.2-127.0.0.50,10.0.0.7 (bound with IP_BIND_ADDRESS_NO_PORT).
    #[arg(long, value_name = "LIST")]
    pub source_ips: Option<String>,
    /// Connections opened per second, all processes together (0: as fast as
    /// --connect-concurrency allows). In conn-storm, the open-loop schedule.
    #[arg(long, default_value_t = 0.0, value_name = "PER_SEC")]
    pub connect_rate: f64,
    /// Connections each thread has in progress at once (TCP connect to CONNACK).
    #[arg(long, default_value_t = CONNECTS_IN_FLIGHT_PER_SHARD_DEFAULT, value_name = "N")]
    pub connect_concurrency: usize,
    /// Seconds for every client to connect (and subscribe) before the run is abandoned.
    #[arg(long, default_value_t = SETUP_TIMEOUT_SECS_DEFAULT, value_name = "SECS")]
    pub setup_timeout: u64,

    /// The broker's process id: report its resident memory (VmRSS) before connecting and
    /// after, and per connection (idle).
    #[arg(long, value_name = "PID")]
    pub broker_pid: Option<u32>,
    /// Write one latency histogram per second to this file, in HdrHistogram's interval
    /// log format (values in µs).
    #[arg(long, value_name = "PATH")]
    pub hdr_log: Option<PathBuf>,
    /// Client identifier prefix: clients are {prefix}-p{N}, -s{N}, -c{N}.
    #[arg(long, default_value = "lg")]
    pub client_prefix: String,
    /// Run id carried in every payload (default: random); messages of other runs are
    /// counted as foreign.
    #[arg(long)]
    pub run_id: Option<u32>,
    /// Clock of timestamps: monotonic (one host) or realtime (synchronised hosts).
    #[arg(long, value_enum, default_value = "monotonic")]
    pub clock: ClockKind,
    /// Start publishing at this Unix time (seconds, fractional), so that runs on several
    /// hosts start together; default: as soon as every client is ready.
    #[arg(long, value_name = "UNIX_SECS")]
    pub start_at: Option<f64>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,

    /// TLS: not supported yet (the broker has no TLS listener yet).
    #[arg(long)]
    pub tls: bool,
    /// MQTT over WebSocket: not supported yet (the broker has no WebSocket listener yet).
    #[arg(long)]
    pub websocket: bool,

    /// Internal: run as worker process N of --procs (stdin: commands, stdout: events).
    #[arg(long, hide = true)]
    pub worker: Option<usize>,
}

fn parse_version(s: &str) -> Result<ProtocolVersion, String> {
    match s {
        "3.1" | "3" => Ok(ProtocolVersion::V3_1),
        "3.1.1" | "4" => Ok(ProtocolVersion::V3_1_1),
        "5" | "5.0" => Ok(ProtocolVersion::V5),
        _ => Err(format!("{s:?}: expected 3.1, 3.1.1 or 5")),
    }
}

/// The name of a protocol version in reports.
pub fn version_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V3_1 => "3.1",
        ProtocolVersion::V3_1_1 => "3.1.1",
        ProtocolVersion::V5 => "5",
    }
}

/// Everything a run needs, checked. Shared read-only by every shard of a process.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// Broker address.
    pub broker: SocketAddr,
    /// Host as given.
    pub host: String,
    /// MQTT version of every client.
    pub version: ProtocolVersion,
    /// QoS of published messages.
    pub qos: QoS,
    /// QoS of subscriptions.
    pub sub_qos: QoS,
    /// Bytes per payload.
    pub payload_bytes: usize,
    /// Publishers.
    pub publishers: usize,
    /// Subscribers (shared: group members).
    pub subscribers: usize,
    /// Connections (conn-storm, idle).
    pub connections: usize,
    /// Publisher topic pattern ({pub}).
    pub topic_pattern: String,
    /// Subscriber filter pattern ({sub}).
    pub filter_pattern: String,
    /// Keep Alive, seconds.
    pub keep_alive_secs: u16,
    /// Clean Session / Clean Start.
    pub clean_start: bool,
    /// 5.0 Session Expiry Interval.
    pub session_expiry_secs: Option<u32>,
    /// Total rate, msgs/s; `None`: saturate.
    pub rate: Option<f64>,
    /// QoS 1/2 window per publisher.
    pub outstanding: usize,
    /// QoS 0 queued bytes per publisher.
    pub outstanding_bytes: usize,
    /// Publishing time bound, seconds.
    pub duration_secs: f64,
    /// Message count bound (total).
    pub count: Option<u64>,
    /// Drain bound, seconds.
    pub drain_secs: f64,
    /// Shards per process.
    pub threads: usize,
    /// Pin shards.
    pub pin: bool,
    /// Worker processes (1: none, the run is in this process).
    pub procs: usize,
    /// Source addresses, round robin (empty: the kernel picks).
    pub source_ips: Vec<IpAddr>,
    /// Connections per second, all processes (0: unpaced).
    pub connect_rate: f64,
    /// Connections in progress per shard.
    pub connect_concurrency: usize,
    /// Setup bound, seconds.
    pub setup_timeout_secs: u64,
    /// Broker pid for VmRSS.
    pub broker_pid: Option<u32>,
    /// HDR interval log path.
    pub hdr_log: Option<PathBuf>,
    /// Client id prefix.
    pub client_prefix: String,
    /// Run id in payloads.
    pub run_id: u32,
    /// Timestamp clock.
    pub clock: ClockKind,
    /// Wall-clock start, Unix seconds.
    pub start_at: Option<f64>,
    /// No progress line.
    pub quiet: bool,
    /// This process's worker index, if it is a worker.
    pub worker: Option<usize>,
    /// Shared group name.
    pub group: String,
    /// Topic prefix.
    pub topic_prefix: String,
}

impl Plan {
    /// Resolves and checks the command line.
    pub fn from_args(a: &Args) -> Result<Plan, String> {
        if a.tls {
            return Err("--tls is not supported yet: coremq has no TLS listener yet".into());
        }
        if a.websocket {
            return Err(
                "--websocket is not supported yet: coremq has no WebSocket listener yet".into(),
            );
        }
        let broker = (a.host.as_str(), a.port)
            .to_socket_addrs()
            .map_err(|e| format!("--host {}: {e}", a.host))?
            .next()
            .ok_or_else(|| format!("--host {} resolves to nothing", a.host))?;
        let qos = QoS::from_u8(a.qos).expect("clap checked the range");
        let sub_qos = a.sub_qos.map_or(qos, |q| QoS::from_u8(q).expect("range"));
        let check_count = |what: &str, n: usize| {
            if n == 0 || n > CLIENTS_MAX {
                Err(format!("{what} {n} not in 1..={CLIENTS_MAX}"))
            } else {
                Ok(n)
            }
        };
        let refuse = |flag: &str, given: bool| {
            if given {
                Err(format!("{flag} does not apply to {}", a.scenario.name()))
            } else {
                Ok(())
            }
        };
        let (publishers, subscribers, connections) = match a.scenario {
            Scenario::Fanin | Scenario::Fanout | Scenario::Shared => {
                refuse("--pairs", a.pairs.is_some())?;
                refuse("--connections", a.connections.is_some())?;
                let (p, s) = match a.scenario {
                    Scenario::Fanin => (4, 1),
                    Scenario::Fanout => (1, 10),
                    _ => (4, 4),
                };
                (
                    check_count("--publishers", a.publishers.unwrap_or(p))?,
                    check_count("--subscribers", a.subscribers.unwrap_or(s))?,
                    0,
                )
            }
            Scenario::Pairs => {
                refuse("--publishers (use --pairs)", a.publishers.is_some())?;
                refuse("--subscribers (use --pairs)", a.subscribers.is_some())?;
                refuse("--connections", a.connections.is_some())?;
                let n = check_count("--pairs", a.pairs.unwrap_or(10))?;
                (n, n, 0)
            }
            Scenario::ConnStorm | Scenario::Idle => {
                refuse("--publishers", a.publishers.is_some())?;
                refuse("--subscribers", a.subscribers.is_some())?;
                refuse("--pairs", a.pairs.is_some())?;
                (
                    0,
                    0,
                    check_count("--connections", a.connections.unwrap_or(1000))?,
                )
            }
        };
        if !(PAYLOAD_HEADER_BYTES..=PAYLOAD_BYTES_MAX).contains(&a.payload) {
            return Err(format!(
                "--payload {} not in {PAYLOAD_HEADER_BYTES}..={PAYLOAD_BYTES_MAX} (the first \
                 {PAYLOAD_HEADER_BYTES} bytes carry publisher, sequence number and send time)",
                a.payload
            ));
        }
        let rate = match (a.rate, a.saturate) {
            (Some(r), true) if r != 0.0 => {
                return Err("--saturate and a non-zero --rate contradict".into())
            }
            (_, true) | (Some(0.0), _) => None,
            (Some(r), false) if r > 0.0 && r.is_finite() => Some(r),
            (Some(r), false) => return Err(format!("--rate {r} must be positive, or 0")),
            (None, false) => Some(1000.0),
        };
        let outstanding = a.outstanding.unwrap_or(OUTSTANDING_DEFAULT);
        if outstanding == 0 || outstanding > OUTSTANDING_MAX {
            return Err(format!(
                "--outstanding {outstanding} not in 1..={OUTSTANDING_MAX}"
            ));
        }
        if a.outstanding_bytes < a.payload + 64 {
            return Err(format!(
                "--outstanding-bytes {} must hold at least one message ({} bytes)",
                a.outstanding_bytes,
                a.payload + 64
            ));
        }
        let duration_secs = a.duration.unwrap_or(if a.count.is_some() {
            COUNT_DURATION_SECS_DEFAULT
        } else {
            DURATION_SECS_DEFAULT
        });
        if !(duration_secs > 0.0 && duration_secs <= DURATION_SECS_MAX) {
            return Err(format!(
                "--duration {duration_secs} not in (0, {DURATION_SECS_MAX}]"
            ));
        }
        if a.count == Some(0) {
            return Err("--count must be at least 1".into());
        }
        if !(0.0..=3600.0).contains(&a.drain_secs) {
            return Err(format!("--drain {} not in [0, 3600]", a.drain_secs));
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = a.threads.unwrap_or(cores);
        if threads == 0 || threads > shard::limits::SHARD_COUNT_MAX {
            return Err(format!(
                "--threads {threads} not in 1..={}",
                shard::limits::SHARD_COUNT_MAX
            ));
        }
        if a.pin && threads > cores {
            return Err(format!("--pin needs --threads <= {cores} (the cores here)"));
        }
        if a.procs == 0 || a.procs > PROCS_MAX {
            return Err(format!("--procs {} not in 1..={PROCS_MAX}", a.procs));
        }
        if a.worker.is_some_and(|w| w >= a.procs) {
            return Err("--worker out of range".into());
        }
        let source_ips = match &a.source_ips {
            Some(spec) => parse_source_ips(spec).map_err(|e| format!("--source-ips: {e}"))?,
            None => Vec::new(),
        };
        if source_ips.iter().any(|ip| ip.is_ipv4() != broker.is_ipv4()) {
            return Err("--source-ips must be of the broker address's family".into());
        }
        if !(a.connect_rate >= 0.0 && a.connect_rate.is_finite()) {
            return Err(format!(
                "--connect-rate {} must be 0 or more",
                a.connect_rate
            ));
        }
        if a.connect_concurrency == 0 {
            return Err("--connect-concurrency must be at least 1".into());
        }
        if a.client_prefix.is_empty() || a.client_prefix.len() > 12 {
            return Err("--client-prefix must be 1 to 12 characters".into());
        }
        let (topic_default, filter_default) = match a.scenario {
            Scenario::Fanin => ("{prefix}/fanin/{pub}", "{prefix}/fanin/+"),
            Scenario::Fanout => ("{prefix}/fanout", "{prefix}/fanout"),
            Scenario::Pairs => ("{prefix}/pairs/{pub}", "{prefix}/pairs/{sub}"),
            Scenario::Shared => ("{prefix}/shared/{pub}", "$share/{group}/{prefix}/shared/+"),
            Scenario::ConnStorm | Scenario::Idle => ("{prefix}/unused", "{prefix}/unused"),
        };
        let run_id = a.run_id.unwrap_or_else(random_run_id);
        let plan = Plan {
            scenario: a.scenario,
            broker,
            host: a.host.clone(),
            version: a.mqtt_version,
            qos,
            sub_qos,
            payload_bytes: a.payload,
            publishers,
            subscribers,
            connections,
            topic_pattern: a.topic_pattern.clone().unwrap_or(topic_default.into()),
            filter_pattern: a.filter.clone().unwrap_or(filter_default.into()),
            keep_alive_secs: a.keep_alive,
            clean_start: a.clean,
            session_expiry_secs: a.session_expiry,
            rate,
            outstanding,
            outstanding_bytes: a.outstanding_bytes,
            duration_secs,
            count: a.count,
            drain_secs: a.drain_secs,
            threads,
            pin: a.pin,
            procs: a.procs,
            source_ips,
            connect_rate: a.connect_rate,
            connect_concurrency: a.connect_concurrency,
            setup_timeout_secs: a.setup_timeout,
            broker_pid: a.broker_pid,
            hdr_log: a.hdr_log.clone(),
            client_prefix: a.client_prefix.clone(),
            run_id,
            clock: a.clock,
            start_at: a.start_at,
            quiet: a.quiet,
            worker: a.worker,
            group: a.group.clone(),
            topic_prefix: a.topic_prefix.clone(),
        };
        if plan.scenario.has_messages() {
            TopicName::new(&plan.topic(0))
                .map_err(|e| format!("topic {:?} is not a valid topic name: {e}", plan.topic(0)))?;
            TopicFilter::new(&plan.filter(0)).map_err(|e| {
                format!(
                    "filter {:?} is not a valid topic filter: {e}",
                    plan.filter(0)
                )
            })?;
        }
        if plan.session_expiry_secs.is_some() && !plan.version.is_v5() {
            return Err("--session-expiry is MQTT 5.0 only (use --mqtt 5)".into());
        }
        Ok(plan)
    }

    /// Publisher `id`'s topic.
    pub fn topic(&self, id: usize) -> String {
        self.topic_pattern
            .replace("{prefix}", &self.topic_prefix)
            .replace("{pub}", &id.to_string())
    }

    /// Subscriber `id`'s filter.
    pub fn filter(&self, id: usize) -> String {
        self.filter_pattern
            .replace("{prefix}", &self.topic_prefix)
            .replace("{group}", &self.group)
            .replace("{sub}", &id.to_string())
    }

    /// Messages publisher `id` may send at most.
    pub fn count_of_publisher(&self, id: usize) -> u64 {
        self.count
            .map_or(u64::MAX, |c| crate::pacing::share(c, self.publishers, id))
    }

    /// The subscriber scope (whose reception of each publisher is tracked as one) of
    /// subscriber `id`: itself, or the whole group in `shared`.
    pub fn scope_of_subscriber(&self, id: usize) -> u32 {
        match self.scenario {
            Scenario::Shared => 0,
            _ => id as u32,
        }
    }

    /// Every (scope, publisher) pair that should receive every message of the publisher.
    pub fn expected_pairs(&self) -> Vec<(u32, u32)> {
        let (p, s) = (self.publishers as u32, self.subscribers as u32);
        match self.scenario {
            Scenario::Fanin | Scenario::Fanout => {
                (0..s).flat_map(|s| (0..p).map(move |p| (s, p))).collect()
            }
            Scenario::Pairs => (0..p).map(|i| (i, i)).collect(),
            Scenario::Shared => (0..p).map(|p| (0, p)).collect(),
            Scenario::ConnStorm | Scenario::Idle => Vec::new(),
        }
    }
}

fn random_run_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Plan, String> {
        let args = Args::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Plan::from_args(&args)
    }

    #[test]
    fn scenario_defaults() {
        let p = plan(&["fanin"]).unwrap();
        assert_eq!((p.publishers, p.subscribers), (4, 1));
        assert_eq!(p.topic(3), "lg/fanin/3");
        assert_eq!(p.filter(0), "lg/fanin/+");
        assert_eq!(p.rate, Some(1000.0));
        assert_eq!(p.expected_pairs().len(), 4);
        let p = plan(&["pairs", "--pairs", "3"]).unwrap();
        assert_eq!(p.expected_pairs(), vec![(0, 0), (1, 1), (2, 2)]);
        assert_eq!(p.filter(2), "lg/pairs/2");
        let p = plan(&["shared", "--group", "g"]).unwrap();
        assert_eq!(p.filter(1), "$share/g/lg/shared/+");
        assert_eq!(p.scope_of_subscriber(3), 0);
    }

    #[test]
    fn rates_and_bounds() {
        assert_eq!(plan(&["fanin", "--rate", "0"]).unwrap().rate, None);
        assert_eq!(plan(&["fanin", "--saturate"]).unwrap().rate, None);
        assert!(plan(&["fanin", "--saturate", "--rate", "5"]).is_err());
        assert!(plan(&["fanin", "--rate", "-1"]).is_err());
        let p = plan(&["fanin", "--count", "10"]).unwrap();
        assert_eq!(p.duration_secs, COUNT_DURATION_SECS_DEFAULT);
        assert_eq!((0..4).map(|i| p.count_of_publisher(i)).sum::<u64>(), 10);
    }

    #[test]
    fn refusals() {
        assert!(plan(&["fanin", "--tls"])
            .unwrap_err()
            .contains("not supported yet"));
        assert!(plan(&["fanin", "--websocket"])
            .unwrap_err()
            .contains("not supported yet"));
        assert!(plan(&["fanin", "--payload", "23"]).is_err());
        assert!(plan(&["pairs", "--publishers", "3"]).is_err());
        assert!(plan(&["idle", "--pairs", "3"]).is_err());
        assert!(plan(&["fanin", "--topic-pattern", "a/+/b"]).is_err());
        assert!(plan(&["fanin", "--session-expiry", "5"]).is_err());
        assert!(plan(&["fanin", "--mqtt", "5", "--session-expiry", "5"]).is_ok());
        assert!(plan(&["fanin", "--mqtt", "6"]).is_err());
    }
}
