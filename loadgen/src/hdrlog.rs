//! The `--hdr-log` file: one latency histogram per second in HdrHistogram's interval log
//! format (what Java's `HistogramLogProcessor` and `hdr-plot` read), values in µs.
//! Untagged intervals hold the run's main latency (end-to-end, or connect-to-CONNACK in
//! conn-storm and idle); intervals tagged `ack` and `connack` hold the others.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::hist::Hist;

/// An open interval log. Owned by the coordinator.
pub struct HdrLog {
    out: BufWriter<File>,
    serializer: V2DeflateSerializer,
}

impl std::fmt::Debug for HdrLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HdrLog")
    }
}

impl HdrLog {
    /// Creates the file and writes the header; interval timestamps count from `base`.
    pub fn create(path: &Path, base: SystemTime, comment: &str) -> io::Result<HdrLog> {
        let mut out = BufWriter::new(File::create(path)?);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(comment)
            .add_comment("values in microseconds (HistogramLogProcessor: -outputValueUnitRatio 1)")
            .add_comment("[Histogram log format version 1.3]")
            .with_start_time(base)
            .with_base_time(base)
            .begin_log_with(&mut out, &mut serializer)?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        Ok(HdrLog { out, serializer })
    }

    /// Writes second `index` of the run (tag `None`: the main latency).
    pub fn write(&mut self, tag: Option<&str>, index: u32, hist: &Hist) -> io::Result<()> {
        let mut writer =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        writer
            .write_histogram(
                &hist.0,
                Duration::from_secs(u64::from(index)),
                Duration::from_secs(1),
                tag.and_then(Tag::new),
            )
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn the_log_parses_back() {
        let dir = std::env::temp_dir().join(format!("loadgen-hdr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.hlog");
        let mut log = HdrLog::create(&path, SystemTime::now(), "loadgen test").unwrap();
        let mut h = Hist::default();
        h.record_ns(1_500_000);
        h.record_ns(2_500_000);
        log.write(None, 0, &h).unwrap();
        log.write(Some("ack"), 0, &h).unwrap();
        log.write(None, 1, &Hist::default()).unwrap();
        drop(log);
        let text = std::fs::read(&path).unwrap();
        let mut intervals = Vec::new();
        let mut base = None;
        for entry in IntervalLogIterator::new(&text) {
            match entry.unwrap() {
                LogEntry::Interval(i) => intervals.push((
                    i.tag().map(|t| t.as_str().to_string()),
                    i.start_timestamp(),
                    i.encoded_histogram().to_string(),
                )),
                LogEntry::BaseTime(b) => base = Some(b),
                LogEntry::StartTime(_) => {}
            }
        }
        assert!(base.is_some());
        assert_eq!(intervals.len(), 3);
        assert_eq!(intervals[1].0.as_deref(), Some("ack"));
        assert_eq!(intervals[2].1, Duration::from_secs(1));
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&intervals[0].2)
            .unwrap();
        let back: hdrhistogram::Histogram<u64> =
            Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
