//! One publisher's decisions: which messages are due, whether the window lets them go,
//! and what each acknowledgement means. Pure (time is a parameter); the connection task
//! does the I/O. Lives with its publisher's connection task.

use std::collections::VecDeque;

use bytes::BytesMut;
use coremq::protocol::{PacketId, QoS};

use crate::limits::SEND_BATCH_MSGS_MAX;
use crate::pacing::Pacer;
use crate::payload::Header;
use crate::report::PublisherReport;
use crate::seq::SeqSet;

use super::template::PublishTemplate;

/// Packet identifiers are `seq % PACKET_IDS + 1`: consecutive messages, consecutive ids.
const PACKET_IDS: u64 = u16::MAX as u64;

#[derive(Debug)]
struct Inflight {
    seq: u64,
    packet_id: u16,
    intended_ns: u64,
    /// QoS 2: PUBREC received, PUBREL sent.
    released: bool,
    /// Flow finished (PUBACK, PUBCOMP, or a failed PUBREC).
    done: bool,
}

/// Why [`PublisherState::fill`] stopped appending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// The next message is meant to leave at this time (ns).
    Due(u64),
    /// QoS 1/2: the window is full; an acknowledgement will free it.
    WindowFull,
    /// QoS 0: too many bytes queued; look again when the socket drained.
    BytesFull,
    /// The batch limit: let other work run, then call again at once.
    Yield,
    /// Nothing more to send: count reached or time up.
    Exhausted,
}

/// An acknowledgement's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The flow finished; `latency_ns` from the intended send time. `success` false: the
    /// broker refused the message (reason code 0x80 or above).
    Finished {
        /// Intended send to acknowledgement.
        latency_ns: u64,
        /// Accepted.
        success: bool,
    },
    /// QoS 2: PUBREC accepted; send PUBREL for this packet id.
    Release(PacketId),
    /// No message in flight has this packet id, or the step is out of order.
    Unexpected,
}

/// A publisher's schedule, window and acknowledgements.
#[derive(Debug)]
pub struct PublisherState {
    id: u32,
    run_id: u32,
    template: PublishTemplate,
    qos: QoS,
    pacer: Option<Pacer>,
    count_max: u64,
    end_ns: u64,
    next_seq: u64,
    window: VecDeque<Inflight>,
    window_max: usize,
    bytes_max: usize,
    acked: SeqSet,
}

impl PublisherState {
    /// A publisher: `pacer` None saturates; it sends at most `count_max` messages, none
    /// meant to leave at or after `end_ns`; at QoS 1/2 at most `window_max`
    /// unacknowledged, at QoS 0 at most `bytes_max` queued.
    #[allow(clippy::too_many_arguments)] // One constructor call site; a struct would only rename them.
    pub fn new(
        id: u32,
        run_id: u32,
        template: PublishTemplate,
        qos: QoS,
        pacer: Option<Pacer>,
        count_max: u64,
        end_ns: u64,
        window_max: usize,
        bytes_max: usize,
    ) -> PublisherState {
        PublisherState {
            id,
            run_id,
            template,
            qos,
            pacer,
            count_max,
            end_ns,
            next_seq: 0,
            window: VecDeque::new(),
            window_max,
            bytes_max,
            acked: SeqSet::new(),
        }
    }

    /// Sets the schedule (`None`: saturate) and the end, at the start of the run.
    pub fn start(&mut self, pacer: Option<Pacer>, end_ns: u64) {
        self.pacer = pacer;
        self.end_ns = end_ns;
    }

    /// Caps the window (MQTT 5.0: the broker's Receive Maximum).
    pub fn cap_window(&mut self, max: usize) {
        self.window_max = self.window_max.min(max.max(1));
    }

    /// Messages sent so far.
    #[cfg(test)]
    pub fn sent(&self) -> u64 {
        self.next_seq
    }

    /// Unacknowledged messages.
    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    /// True once no more messages will be generated (count reached or time up).
    pub fn exhausted(&self, now_ns: u64) -> bool {
        self.next_seq >= self.count_max
            || match self.pacer {
                Some(p) => p.intended_ns(self.next_seq) >= self.end_ns,
                None => now_ns >= self.end_ns,
            }
    }

    /// Appends every message due at `now_ns` that the window allows to `out`; `queued`
    /// is what the socket still holds unsent (QoS 0 bound). Returns why it stopped and
    /// how many it appended; `on_late` gets, for each open-loop message, how late it is
    /// (ns from its intended time to `now_ns`).
    pub fn fill(
        &mut self,
        out: &mut BytesMut,
        now_ns: u64,
        queued: usize,
        mut on_late: impl FnMut(u64),
    ) -> (Fill, u64) {
        let mut appended = 0;
        loop {
            if self.exhausted(now_ns) {
                return (Fill::Exhausted, appended);
            }
            let intended_ns = match self.pacer {
                Some(p) => {
                    let t = p.intended_ns(self.next_seq);
                    if t > now_ns {
                        return (Fill::Due(t), appended);
                    }
                    t
                }
                None => now_ns,
            };
            if self.qos == QoS::AtMostOnce {
                if out.len() + queued + self.template.len() > self.bytes_max {
                    return (Fill::BytesFull, appended);
                }
            } else if self.window.len() >= self.window_max {
                return (Fill::WindowFull, appended);
            }
            if appended as usize >= SEND_BATCH_MSGS_MAX {
                return (Fill::Yield, appended);
            }
            let seq = self.next_seq;
            let packet_id = (self.qos != QoS::AtMostOnce).then(|| {
                let id = (seq % PACKET_IDS + 1) as u16;
                self.window.push_back(Inflight {
                    seq,
                    packet_id: id,
                    intended_ns,
                    released: false,
                    done: false,
                });
                PacketId::new(id).expect("1..=65535")
            });
            let header = Header {
                run_id: self.run_id,
                publisher_id: self.id,
                seq,
                intended_ns,
            };
            self.template.append(out, packet_id, &header);
            if self.pacer.is_some() {
                on_late(now_ns - intended_ns);
            }
            self.next_seq += 1;
            appended += 1;
        }
    }

    fn find(&mut self, packet_id: PacketId) -> Option<&mut Inflight> {
        let front = self.window.front()?.packet_id;
        let offset = (u64::from(packet_id.get()) + PACKET_IDS - u64::from(front)) % PACKET_IDS;
        let entry = self.window.get_mut(offset as usize)?;
        (entry.packet_id == packet_id.get() && !entry.done).then_some(entry)
    }

    fn retire(&mut self) {
        while self.window.front().is_some_and(|e| e.done) {
            self.window.pop_front();
        }
    }

    /// PUBACK (QoS 1) with `success` (reason code below 0x80).
    pub fn on_puback(&mut self, packet_id: PacketId, success: bool, now_ns: u64) -> AckOutcome {
        if self.qos != QoS::AtLeastOnce {
            return AckOutcome::Unexpected;
        }
        let Some(e) = self.find(packet_id) else {
            return AckOutcome::Unexpected;
        };
        e.done = true;
        let (seq, latency_ns) = (e.seq, now_ns.saturating_sub(e.intended_ns));
        if success {
            self.acked.insert(seq);
        }
        self.retire();
        AckOutcome::Finished {
            latency_ns,
            success,
        }
    }

    /// PUBREC (QoS 2): accepted means the broker owns the message (counted as acked).
    pub fn on_pubrec(&mut self, packet_id: PacketId, success: bool, now_ns: u64) -> AckOutcome {
        if self.qos != QoS::ExactlyOnce {
            return AckOutcome::Unexpected;
        }
        let Some(e) = self.find(packet_id) else {
            return AckOutcome::Unexpected;
        };
        if e.released {
            return AckOutcome::Unexpected;
        }
        if !success {
            e.done = true;
            let latency_ns = now_ns.saturating_sub(e.intended_ns);
            self.retire();
            return AckOutcome::Finished {
                latency_ns,
                success: false,
            };
        }
        e.released = true;
        let seq = e.seq;
        self.acked.insert(seq);
        AckOutcome::Release(packet_id)
    }

    /// PUBCOMP (QoS 2): the flow is finished.
    pub fn on_pubcomp(&mut self, packet_id: PacketId, now_ns: u64) -> AckOutcome {
        let Some(e) = self.find(packet_id) else {
            return AckOutcome::Unexpected;
        };
        if !e.released {
            return AckOutcome::Unexpected;
        }
        e.done = true;
        let latency_ns = now_ns.saturating_sub(e.intended_ns);
        self.retire();
        AckOutcome::Finished {
            latency_ns,
            success: true,
        }
    }

    /// The report at the end, at `now_ns`.
    pub fn report(self, now_ns: u64) -> PublisherReport {
        let backlog = match self.pacer {
            Some(p) => {
                let due = p.due(now_ns.min(self.end_ns.saturating_sub(1)));
                due.min(self.count_max).saturating_sub(self.next_seq)
            }
            None => 0,
        };
        PublisherReport {
            id: self.id,
            sent: self.next_seq,
            acked: self.acked,
            backlog,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coremq::protocol::{ProtocolVersion, TopicName};

    const MS: u64 = 1_000_000;

    fn publisher(qos: QoS, pacer: Option<Pacer>, count: u64, window: usize) -> PublisherState {
        let t = PublishTemplate::new(
            TopicName::new("t").unwrap(),
            qos,
            24,
            ProtocolVersion::V3_1_1,
        )
        .unwrap();
        PublisherState::new(0, 1, t, qos, pacer, count, 1000 * MS, window, 1000)
    }

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn open_loop_sends_what_is_due_and_says_when_next() {
        // 1000/s: one message per ms from t=0.
        let mut p = publisher(QoS::AtMostOnce, Some(Pacer::new(0, 1000.0, 1, 0)), 100, 10);
        let mut out = BytesMut::new();
        assert_eq!(p.fill(&mut out, 2 * MS, 0, |_| {}), (Fill::Due(3 * MS), 3));
        out.clear();
        // Late by 10 ms: the backlog goes out at once, with its original intended times.
        let mut lates = Vec::new();
        assert_eq!(
            p.fill(&mut out, 13 * MS, 0, |l| lates.push(l / MS)),
            (Fill::Due(14 * MS), 11)
        );
        assert_eq!(lates, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        assert_eq!(p.sent(), 14);
    }

    #[test]
    fn qos0_stops_at_the_byte_bound() {
        let mut p = publisher(QoS::AtMostOnce, None, 1000, 10);
        let mut out = BytesMut::new();
        let (fill, n) = p.fill(&mut out, 0, 900, |_| {});
        assert_eq!(fill, Fill::BytesFull);
        assert!(n >= 1 && out.len() + 900 <= 1000, "{n} {}", out.len());
    }

    #[test]
    fn qos1_window_and_acks() {
        let mut p = publisher(QoS::AtLeastOnce, None, 1000, 3);
        let mut out = BytesMut::new();
        assert_eq!(p.fill(&mut out, 0, 0, |_| {}), (Fill::WindowFull, 3));
        // Out of order: the window frees only when the oldest is acked.
        assert!(matches!(
            p.on_puback(id(2), true, 5),
            AckOutcome::Finished {
                latency_ns: 5,
                success: true
            }
        ));
        assert_eq!(p.in_flight(), 3);
        assert_eq!(p.on_puback(id(2), true, 5), AckOutcome::Unexpected); // twice
        assert_eq!(p.on_puback(id(9), true, 5), AckOutcome::Unexpected); // never sent
        p.on_puback(id(1), true, 6);
        assert_eq!(p.in_flight(), 1);
        p.on_puback(id(3), false, 7); // refused: not acked
        assert_eq!(p.fill(&mut out, 8, 0, |_| {}), (Fill::WindowFull, 3));
        let r = p.report(10);
        assert_eq!(r.sent, 6);
        assert_eq!(r.acked.ranges(), vec![(0, 2)]);
    }

    #[test]
    fn qos2_flow() {
        let mut p = publisher(QoS::ExactlyOnce, None, 2, 10);
        let mut out = BytesMut::new();
        assert_eq!(p.fill(&mut out, 0, 0, |_| {}), (Fill::Exhausted, 2));
        assert_eq!(p.on_pubcomp(id(1), 1), AckOutcome::Unexpected); // before PUBREC
        assert_eq!(p.on_pubrec(id(1), true, 1), AckOutcome::Release(id(1)));
        assert_eq!(p.on_puback(id(1), true, 1), AckOutcome::Unexpected); // wrong QoS
        assert!(matches!(
            p.on_pubcomp(id(1), 4),
            AckOutcome::Finished { latency_ns: 4, .. }
        ));
        assert_eq!(p.in_flight(), 1);
        assert!(matches!(
            p.on_pubrec(id(2), false, 4),
            AckOutcome::Finished { success: false, .. }
        ));
        assert_eq!(p.in_flight(), 0);
        assert_eq!(p.report(5).acked.len(), 1);
    }

    #[test]
    fn packet_ids_wrap_past_65535() {
        let mut p = publisher(QoS::AtLeastOnce, None, 200_000, 10);
        let mut out = BytesMut::new();
        let mut acked = 0u64;
        while acked < 140_000 {
            out.clear();
            p.fill(&mut out, 0, 0, |_| {});
            let pid = (acked % 65535 + 1) as u16;
            assert!(
                matches!(p.on_puback(id(pid), true, 1), AckOutcome::Finished { .. }),
                "{acked}"
            );
            acked += 1;
        }
        assert_eq!(p.report(1).acked.ranges(), vec![(0, 140_000)]);
    }

    #[test]
    fn backlog_counts_due_but_unsent() {
        // 1000/s for 1 s, window 1, never acked: 1 sent, 999 due and never sent.
        let mut p = publisher(
            QoS::AtLeastOnce,
            Some(Pacer::new(0, 1000.0, 1, 0)),
            u64::MAX,
            1,
        );
        let mut out = BytesMut::new();
        assert_eq!(p.fill(&mut out, 500 * MS, 0, |_| {}), (Fill::WindowFull, 1));
        assert!(!p.exhausted(2000 * MS));
        let r = p.report(2000 * MS);
        assert_eq!((r.sent, r.backlog), (1, 999));
    }
}
