//! Latency histograms (µs) and their forms in reports: percentiles in JSON, and the
//! HdrHistogram V2 compressed encoding (base64) between worker processes and in the log.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::limits::{HISTOGRAM_SIGFIGS, LATENCY_US_MAX};

/// A latency histogram in µs, 1 µs to [`LATENCY_US_MAX`].
#[derive(Clone, Debug)]
pub struct Hist(pub Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        Hist(Histogram::new_with_bounds(1, LATENCY_US_MAX, HISTOGRAM_SIGFIGS).expect("bounds"))
    }
}

impl Hist {
    /// Records a latency in ns (rounded to µs, clamped to the bounds).
    pub fn record_ns(&mut self, ns: u64) {
        self.0
            .saturating_record((ns / 1000).clamp(1, LATENCY_US_MAX));
    }

    /// Adds every value of `other`.
    pub fn add(&mut self, other: &Hist) {
        // Same bounds on both sides: `add` cannot fail.
        self.0
            .add(&other.0)
            .expect("histograms with the same bounds");
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The V2 compressed encoding, base64: what Java's HdrHistogram reads.
    pub fn to_base64(&self) -> String {
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut buf)
            .expect("serializing to memory");
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    /// Decodes [`to_base64`](Self::to_base64)'s output.
    pub fn from_base64(s: &str) -> Result<Hist, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("histogram base64: {e}"))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram: {e:?}"))?;
        let mut out = Hist::default();
        out.0
            .add(&h)
            .map_err(|e| format!("histogram out of bounds: {e:?}"))?;
        Ok(out)
    }

    /// Percentiles for the report.
    pub fn percentiles(&self) -> Percentiles {
        let h = &self.0;
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        Percentiles {
            count: h.len(),
            min: if h.is_empty() { 0 } else { h.min() },
            mean: if h.is_empty() {
                0.0
            } else {
                (h.mean() * 10.0).round() / 10.0
            },
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: if h.is_empty() { 0 } else { h.max() },
        }
    }
}

impl Serialize for Hist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Hist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hist, D::Error> {
        let s = String::deserialize(d)?;
        Hist::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

/// Latency percentiles, µs (the JSON report's `*_us` objects). Zero when `count` is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Smallest value.
    pub min: u64,
    /// Mean, to 0.1 µs.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// Largest value.
    pub max: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_keeps_counts() {
        let mut h = Hist::default();
        for ns in [500, 1_000, 2_500_000, 90_000_000_000_000] {
            h.record_ns(ns);
        }
        let back = Hist::from_base64(&h.to_base64()).unwrap();
        assert_eq!(back.count(), 4);
        assert_eq!(back.0.min(), 1); // 500 ns rounds to 0 µs, clamped to 1
        assert_eq!(back.0.max(), h.0.max());
        let p = back.percentiles();
        assert_eq!(p.count, 4);
        assert!(p.max >= LATENCY_US_MAX * 999 / 1000);
    }

    #[test]
    fn empty_percentiles_are_zero() {
        assert_eq!(Hist::default().percentiles(), Percentiles::default());
    }
}
