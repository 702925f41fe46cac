//! What one run measured: loadgen's JSON line (schema `loadgen.v1`, loadgen/README.md),
//! the part of it the report uses, and the broker's CPU and memory over the run.

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// loadgen's latency percentiles, µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// Largest.
    pub max: u64,
}

/// loadgen's connection figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Connections {
    /// Got CONNACK.
    pub established: u64,
    /// Failed to.
    pub failed: u64,
    /// CONNACKs per second.
    pub rate_per_sec: f64,
    /// Connect to CONNACK, µs.
    pub connack_us: Percentiles,
}

/// loadgen's message rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Sent per second.
    pub send_per_sec: f64,
    /// Received per second.
    pub receive_per_sec: f64,
}

/// The broker's memory as loadgen's `idle` measured it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerRss {
    /// Before any client, KiB.
    pub before_kib: u64,
    /// With every client connected, KiB.
    pub after_kib: u64,
    /// Per connection, bytes.
    pub per_connection_bytes: f64,
}

/// The part of loadgen's JSON line the report uses (other fields are ignored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadgenSummary {
    /// "loadgen.v1".
    pub schema: String,
    /// "ok", "errors" or "aborted".
    pub status: String,
    /// Seconds of publishing (acks included).
    pub duration_secs: f64,
    /// Connections.
    pub connections: Connections,
    /// PUBLISH sent.
    pub sent: u64,
    /// Acknowledged.
    pub acked: u64,
    /// Expected to arrive.
    pub expected: u64,
    /// Arrived, duplicates included.
    pub received: u64,
    /// Expected and never arrived.
    pub lost: u64,
    /// Arrived twice.
    pub duplicates: u64,
    /// Arrived out of order.
    pub reordered: u64,
    /// Acknowledged and never arrived.
    pub acked_lost: u64,
    /// Rates.
    pub rates: Rates,
    /// End-to-end latency, µs.
    pub latency_us: Percentiles,
    /// Broker memory (idle).
    pub broker_rss: Option<BrokerRss>,
    /// Client errors counted.
    pub errors_total: u64,
}

impl LoadgenSummary {
    /// Reads the JSON line out of loadgen's stdout (its last line that is a JSON object).
    pub fn from_stdout(stdout: &str) -> Result<LoadgenSummary, String> {
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or("loadgen printed no JSON line")?;
        let summary: LoadgenSummary =
            serde_json::from_str(line).map_err(|e| format!("loadgen's JSON line: {e}"))?;
        if summary.schema != "loadgen.v1" {
            return Err(format!("unknown loadgen schema {:?}", summary.schema));
        }
        Ok(summary)
    }
}

/// One run: a scenario against a broker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Broker name.
    pub broker: String,
    /// Repetition, from 0.
    pub repetition: u32,
    /// loadgen's figures; `None` when the run failed.
    pub loadgen: Option<LoadgenSummary>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// Broker CPU seconds over the loadgen run; `None` when not measured.
    pub broker_cpu_secs: Option<f64>,
    /// Wall seconds of the loadgen run.
    pub wall_secs: f64,
    /// Broker peak resident memory, bytes.
    pub broker_rss_peak_bytes: Option<u64>,
    /// The HDR interval log, relative to the report directory.
    pub hdr_log: Option<String>,
}

impl RunResult {
    /// Broker cores used on average over the run.
    pub fn broker_cores(&self) -> Option<f64> {
        self.broker_cpu_secs
            .filter(|_| self.wall_secs > 0.0)
            .map(|cpu| cpu / self.wall_secs)
    }

    /// Messages received per second per broker core.
    pub fn receive_per_core(&self) -> Option<f64> {
        let rate = self.loadgen.as_ref()?.rates.receive_per_sec;
        self.broker_cores()
            .filter(|&cores| cores > 0.01)
            .map(|cores| rate / cores)
    }
}

/// The untagged histograms of an HDR interval log (loadgen's main latency), summed.
pub fn read_hdr_log(text: &[u8]) -> Result<Histogram<u64>, String> {
    let mut total: Option<Histogram<u64>> = None;
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(text) {
        let entry = entry.map_err(|e| format!("HDR log: {e:?}"))?;
        let LogEntry::Interval(interval) = entry else {
            continue;
        };
        if interval.tag().is_some() {
            continue;
        }
        let bytes = base64_decode(interval.encoded_histogram())
            .ok_or("HDR log: an interval is not base64")?;
        let histogram: Histogram<u64> = deserializer
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("HDR log: {e:?}"))?;
        match &mut total {
            Some(t) => t.add(&histogram).map_err(|e| format!("HDR log: {e:?}"))?,
            None => total = Some(histogram),
        }
    }
    match total {
        Some(t) => Ok(t),
        None => Histogram::new(3).map_err(|e| format!("{e:?}")),
    }
}

/// Standard base64 (with padding), as HDR logs write it.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let len = chunk.len().checked_sub(1)?;
        out.extend_from_slice(&n.to_be_bytes()[1..1 + len]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_line_is_found_after_progress_lines() {
        let stdout = "progress 1s\n{\"schema\":\"loadgen.v1\",\"status\":\"ok\",\"duration_secs\":2.0,\
            \"connections\":{\"established\":3,\"failed\":0,\"rate_per_sec\":100.0,\
            \"connack_us\":{\"count\":3,\"p50\":10,\"p99\":20,\"p99_9\":20,\"max\":20}},\
            \"sent\":10,\"acked\":10,\"expected\":10,\"received\":10,\"lost\":0,\"duplicates\":0,\
            \"reordered\":0,\"acked_lost\":0,\"rates\":{\"send_per_sec\":5.0,\"receive_per_sec\":5.0},\
            \"latency_us\":{\"count\":10,\"p50\":100,\"p99\":200,\"p99_9\":300,\"max\":400},\
            \"broker_rss\":null,\"errors_total\":0,\"extra\":1}\n";
        let summary = LoadgenSummary::from_stdout(stdout).unwrap();
        assert_eq!((summary.received, summary.latency_us.p99), (10, 200));
        assert_eq!(summary.connections.established, 3);
        assert!(LoadgenSummary::from_stdout("no json").is_err());
        assert!(LoadgenSummary::from_stdout("{\"schema\":\"other\"}").is_err());
    }

    #[test]
    fn base64_decodes_padded_text() {
        assert_eq!(base64_decode("TWFu").unwrap(), b"Man");
        assert_eq!(base64_decode("TWE=").unwrap(), b"Ma");
        assert_eq!(base64_decode("TQ==").unwrap(), b"M");
        assert!(base64_decode("T*==").is_none());
    }

    #[test]
    fn an_hdr_log_sums_its_untagged_intervals() {
        use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
        use hdrhistogram::serialization::V2DeflateSerializer;
        let mut log = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut writer = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut log, &mut serializer)
            .unwrap();
        let mut a = Histogram::<u64>::new(3).unwrap();
        a.record(100).unwrap();
        let mut b = Histogram::<u64>::new(3).unwrap();
        b.record(300).unwrap();
        let mut tagged = Histogram::<u64>::new(3).unwrap();
        tagged.record(9999).unwrap();
        let second = std::time::Duration::from_secs(1);
        writer.write_histogram(&a, second, second, None).unwrap();
        writer
            .write_histogram(&b, 2 * second, second, None)
            .unwrap();
        writer
            .write_histogram(&tagged, 2 * second, second, Tag::new("ack"))
            .unwrap();
        drop(writer);
        let total = read_hdr_log(&log).unwrap();
        assert_eq!(total.len(), 2);
        assert!(total.max() < 1000, "the tagged interval is left out");
    }

    #[test]
    fn per_core_figures_need_a_measured_broker() {
        let mut run = RunResult {
            scenario: "s".into(),
            broker: "b".into(),
            repetition: 0,
            loadgen: Some(LoadgenSummary {
                rates: Rates {
                    send_per_sec: 1000.0,
                    receive_per_sec: 1000.0,
                },
                ..LoadgenSummary::default()
            }),
            error: None,
            broker_cpu_secs: Some(5.0),
            wall_secs: 10.0,
            broker_rss_peak_bytes: None,
            hdr_log: None,
        };
        assert_eq!(run.broker_cores(), Some(0.5));
        assert_eq!(run.receive_per_core(), Some(2000.0));
        run.broker_cpu_secs = None;
        assert_eq!(run.receive_per_core(), None);
    }
}
