//! Merges the events of N sources (the shards of a process, or the worker processes of a
//! run) into one stream: an event is passed on once every source that still runs has sent
//! its part. Pure, no I/O.

use std::collections::BTreeMap;

use crate::report::{push_error, Event, FinalReport, Interval, Ready};

/// One merge point. Lives on the thread that receives the sources' events.
#[derive(Debug)]
pub struct Merger {
    sources: usize,
    ready: Vec<bool>,
    ready_sum: Ready,
    /// Interval index -> (which sources contributed, the sum so far).
    intervals: BTreeMap<u32, (Vec<bool>, Interval)>,
    done: Vec<bool>,
    done_sent: bool,
    finished: Vec<bool>,
    final_sum: Option<FinalReport>,
}

impl Merger {
    /// A merger of `sources` sources (at least 1).
    pub fn new(sources: usize) -> Merger {
        assert!(sources > 0);
        Merger {
            sources,
            ready: vec![false; sources],
            ready_sum: Ready::default(),
            intervals: BTreeMap::new(),
            done: vec![false; sources],
            done_sent: false,
            finished: vec![false; sources],
            final_sum: None,
        }
    }

    /// Takes `event` from `source`; returns the merged events now complete, in order.
    pub fn push(&mut self, source: usize, event: Event) -> Vec<Event> {
        let mut out = Vec::new();
        match event {
            Event::Ready(r) => {
                if !std::mem::replace(&mut self.ready[source], true) {
                    self.ready_sum.connected += r.connected;
                    self.ready_sum.failed += r.failed;
                    for e in r.errors {
                        push_error(&mut self.ready_sum.errors, e);
                    }
                    if self.ready.iter().all(|&r| r) {
                        out.push(Event::Ready(std::mem::take(&mut self.ready_sum)));
                    }
                }
            }
            Event::Interval(iv) => {
                let entry = self.intervals.entry(iv.index).or_insert_with(|| {
                    (
                        vec![false; self.sources],
                        Interval {
                            index: iv.index,
                            ..Interval::default()
                        },
                    )
                });
                entry.0[source] = true;
                entry.1.add(&iv);
                self.flush_intervals(&mut out);
            }
            Event::PublishersDone => {
                self.done[source] = true;
                self.maybe_done(&mut out);
            }
            Event::Final(f) => {
                // A source that ends before it was ready (a worker that died) is ready now.
                if !std::mem::replace(&mut self.ready[source], true)
                    && self.ready.iter().all(|&r| r)
                {
                    out.push(Event::Ready(std::mem::take(&mut self.ready_sum)));
                }
                if !std::mem::replace(&mut self.finished[source], true) {
                    // A source that ends is done publishing, whatever it said before.
                    self.done[source] = true;
                    self.flush_intervals(&mut out);
                    self.maybe_done(&mut out);
                    match &mut self.final_sum {
                        None => self.final_sum = Some(*f),
                        Some(sum) => sum.add(*f),
                    }
                    if self.finished.iter().all(|&f| f) {
                        // Intervals some source never sent are complete now.
                        let rest = std::mem::take(&mut self.intervals);
                        out.extend(
                            rest.into_values()
                                .map(|(_, iv)| Event::Interval(Box::new(iv))),
                        );
                        let sum = self.final_sum.take().unwrap_or_default();
                        out.push(Event::Final(Box::new(sum)));
                    }
                }
            }
        }
        out
    }

    /// Whether every source has sent its final report.
    pub fn all_finished(&self) -> bool {
        self.finished.iter().all(|&f| f)
    }

    /// Sources that have not sent their final report.
    pub fn unfinished(&self) -> Vec<usize> {
        (0..self.sources).filter(|&s| !self.finished[s]).collect()
    }

    fn maybe_done(&mut self, out: &mut Vec<Event>) {
        if !self.done_sent && self.done.iter().all(|&d| d) {
            self.done_sent = true;
            out.push(Event::PublishersDone);
        }
    }

    fn flush_intervals(&mut self, out: &mut Vec<Event>) {
        while let Some(entry) = self.intervals.first_entry() {
            let (contributed, _) = entry.get();
            let complete = (0..self.sources).all(|s| contributed[s] || self.finished[s]);
            if !complete {
                break;
            }
            let (_, iv) = entry.remove();
            out.push(Event::Interval(Box::new(iv)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Counters;

    fn interval(index: u32, sent: u64) -> Event {
        Event::Interval(Box::new(Interval {
            index,
            counters: Counters {
                sent,
                ..Counters::default()
            },
            ..Interval::default()
        }))
    }

    fn sent_of(events: &[Event]) -> Vec<(u32, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Interval(iv) => Some((iv.index, iv.counters.sent)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn waits_for_every_source() {
        let mut m = Merger::new(2);
        assert!(m
            .push(
                0,
                Event::Ready(Ready {
                    connected: 3,
                    ..Ready::default()
                })
            )
            .is_empty());
        let out = m.push(
            1,
            Event::Ready(Ready {
                connected: 2,
                failed: 1,
                errors: vec![],
            }),
        );
        assert!(matches!(&out[..], [Event::Ready(r)] if r.connected == 5 && r.failed == 1));
        assert!(m.push(0, interval(0, 10)).is_empty());
        assert!(m.push(0, interval(1, 20)).is_empty());
        assert_eq!(sent_of(&m.push(1, interval(0, 1))), [(0, 11)]);
        assert!(m.push(0, Event::PublishersDone).is_empty());
        assert!(matches!(
            &m.push(1, Event::PublishersDone)[..],
            [Event::PublishersDone]
        ));
    }

    #[test]
    fn a_finished_source_no_longer_holds_intervals_back() {
        let mut m = Merger::new(2);
        m.push(0, interval(0, 1));
        m.push(0, interval(1, 2));
        let out = m.push(1, Event::Final(Box::default()));
        assert_eq!(sent_of(&out), [(0, 1), (1, 2)]);
        assert!(!m.all_finished());
        assert_eq!(m.unfinished(), [0]);
        let out = m.push(0, Event::Final(Box::default()));
        // Sources that end count as ready and done.
        assert!(matches!(
            &out[..],
            [Event::Ready(_), Event::PublishersDone, Event::Final(_)]
        ));
        assert!(m.all_finished());
    }
}
