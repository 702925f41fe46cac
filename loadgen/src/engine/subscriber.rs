//! One subscriber's bookkeeping: each received payload is checked against the run and
//! tracked per publisher. Pure (time is a parameter). Lives with its subscriber's
//! connection task.

use std::collections::HashMap;

use crate::payload::Header;
use crate::report::Reception;
use crate::seq::SeqTracker;

/// What a received payload was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// A message of this run; latency from its intended send time.
    Ours {
        /// ns from intended send to `now_ns` (0 if the sender's clock is ahead).
        latency_ns: u64,
    },
    /// Not of this run (another run id, or no header).
    Foreign,
}

/// Receptions of one subscriber, by publisher.
#[derive(Debug)]
pub struct SubscriberState {
    scope: u32,
    run_id: u32,
    trackers: HashMap<u32, SeqTracker>,
}

impl SubscriberState {
    /// A subscriber in `scope` (see `Plan::scope_of_subscriber`).
    pub fn new(scope: u32, run_id: u32) -> SubscriberState {
        SubscriberState {
            scope,
            run_id,
            trackers: HashMap::new(),
        }
    }

    /// Records one received payload at `now_ns`.
    pub fn on_payload(&mut self, payload: &[u8], now_ns: u64) -> Received {
        match Header::read(payload) {
            Some(h) if h.run_id == self.run_id => {
                self.trackers
                    .entry(h.publisher_id)
                    .or_default()
                    .record(h.seq);
                Received::Ours {
                    latency_ns: now_ns.saturating_sub(h.intended_ns),
                }
            }
            _ => Received::Foreign,
        }
    }

    /// What was received, per publisher.
    pub fn into_receptions(self) -> Vec<Reception> {
        let scope = self.scope;
        let mut out: Vec<Reception> = self
            .trackers
            .into_iter()
            .map(|(publisher, tracker)| Reception {
                scope,
                publisher,
                tracker,
            })
            .collect();
        out.sort_by_key(|r| r.publisher);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(run_id: u32, publisher_id: u32, seq: u64, intended_ns: u64) -> Vec<u8> {
        let mut p = vec![0; 40];
        Header {
            run_id,
            publisher_id,
            seq,
            intended_ns,
        }
        .write(&mut p);
        p
    }

    #[test]
    fn tracks_per_publisher_and_rejects_foreign_payloads() {
        let mut s = SubscriberState::new(4, 7);
        assert_eq!(
            s.on_payload(&payload(7, 1, 0, 100), 350),
            Received::Ours { latency_ns: 250 }
        );
        s.on_payload(&payload(7, 1, 1, 100), 350);
        s.on_payload(&payload(7, 2, 0, 400), 350); // sender ahead: 0, not an underflow
        assert_eq!(s.on_payload(&payload(8, 1, 2, 0), 350), Received::Foreign);
        assert_eq!(s.on_payload(b"short", 350), Received::Foreign);
        let r = s.into_receptions();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].scope, r[0].publisher, r[0].tracker.seen.len()),
            (4, 1, 2)
        );
        assert_eq!((r[1].publisher, r[1].tracker.seen.len()), (2, 1));
    }
}
