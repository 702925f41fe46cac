//! Open-loop pacing: when each message of a publisher is *meant* to leave. Pure, no I/O.
//!
//! A total rate R spread over P publishers gives each an interval of P/R seconds; publisher
//! i is shifted by i/R so that the publishers of a run interleave evenly instead of firing
//! together. The intended time of message k is computed from k (not by adding intervals),
//! so no rounding error accumulates. Latency is measured from the intended time: a message
//! that leaves late because the publisher, its socket or the broker was behind carries that
//! delay in its latency (no coordinated omission).

/// The schedule of one publisher (or one connector in `conn-storm`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pacer {
    /// Intended time of message 0, ns.
    first_ns: u64,
    /// ns between two messages of this publisher.
    interval_ns: f64,
}

impl Pacer {
    /// Publisher `index` of `publishers`, all starting at `start_ns`, sharing `total_rate`
    /// messages per second. `total_rate` must be positive and finite.
    pub fn new(start_ns: u64, total_rate: f64, publishers: usize, index: usize) -> Pacer {
        assert!(
            total_rate > 0.0 && total_rate.is_finite(),
            "rate {total_rate}"
        );
        let interval_ns = 1e9 * publishers as f64 / total_rate;
        let offset_ns = 1e9 * index as f64 / total_rate;
        Pacer {
            first_ns: start_ns + offset_ns as u64,
            interval_ns,
        }
    }

    /// Intended send time of message `k`, ns.
    pub fn intended_ns(&self, k: u64) -> u64 {
        self.first_ns + (k as f64 * self.interval_ns) as u64
    }

    /// How many messages (0, 1, 2...) are due at `now_ns`: those whose intended time is
    /// not after `now_ns`.
    pub fn due(&self, now_ns: u64) -> u64 {
        if now_ns < self.first_ns {
            return 0;
        }
        let k = ((now_ns - self.first_ns) as f64 / self.interval_ns) as u64;
        // Float rounding may land one off either way; settle it with the exact test.
        let mut due = k + 1;
        while due > 0 && self.intended_ns(due - 1) > now_ns {
            due -= 1;
        }
        while self.intended_ns(due) <= now_ns {
            due += 1;
        }
        due
    }
}

/// Splits `total` into `parts` shares that differ by at most one; share `i`.
pub fn share(total: u64, parts: usize, i: usize) -> u64 {
    let parts = parts as u64;
    let i = i as u64;
    total / parts + u64::from(i < total % parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn one_publisher_at_1000_per_second() {
        let p = Pacer::new(5 * SEC, 1000.0, 1, 0);
        assert_eq!(p.intended_ns(0), 5 * SEC);
        assert_eq!(p.intended_ns(1), 5 * SEC + 1_000_000);
        assert_eq!(p.due(5 * SEC - 1), 0);
        assert_eq!(p.due(5 * SEC), 1);
        assert_eq!(p.due(5 * SEC + 999_999), 1);
        assert_eq!(p.due(5 * SEC + 1_000_000), 2);
        assert_eq!(p.due(6 * SEC - 1), 1000);
    }

    #[test]
    fn publishers_share_the_total_rate_and_interleave() {
        let (rate, n) = (20_000.0, 500);
        let pacers: Vec<Pacer> = (0..n).map(|i| Pacer::new(SEC, rate, n, i)).collect();
        // Over one second, together they are due exactly the total rate.
        let due: u64 = pacers.iter().map(|p| p.due(2 * SEC - 1)).sum();
        assert_eq!(due, 20_000);
        // Each publisher sends 40 per second, and the first sends are spread over one
        // interval (25 ms), not all at the start.
        assert!(pacers.iter().all(|p| p.due(2 * SEC - 1) == 40));
        assert_eq!(pacers[0].intended_ns(0), SEC);
        assert_eq!(pacers[250].intended_ns(0), SEC + 12_500_000);
        assert!(pacers[499].intended_ns(0) < SEC + 25_000_000);
    }

    #[test]
    fn no_drift_over_long_runs() {
        // 3 per second does not divide a second evenly: after an hour, still on time.
        let p = Pacer::new(0, 3.0, 1, 0);
        let k = 3 * 3600;
        let t = p.intended_ns(k);
        assert!(t.abs_diff(3600 * SEC) <= 1, "{t}");
        assert_eq!(p.due(3600 * SEC), k + 1);
    }

    #[test]
    fn due_matches_intended_times_exactly() {
        let p = Pacer::new(17, 7_777.0, 3, 2);
        for k in 0..10_000 {
            let t = p.intended_ns(k);
            assert_eq!(p.due(t), k + 1, "at message {k}");
            assert_eq!(p.due(t - 1), k, "just before message {k}");
        }
    }

    #[test]
    fn shares_add_up() {
        assert_eq!(
            (0..3).map(|i| share(10, 3, i)).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        assert_eq!((0..4).map(|i| share(2, 4, i)).sum::<u64>(), 2);
        assert_eq!(share(0, 1, 0), 0);
    }
}
