//! The connections a shard serves, addressable by a small id, so that a timer, a session
//! or another connection can reach one: queue packets to write, or ask it to close. The
//! keep-alive and CONNECT deadlines live in the shard's timer wheel keyed by
//! [`ConnectionId`], not as one reactor timer per connection.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;

use super::problem::{fit_diagnostics, ClientDiagnostics};
use super::topic_alias::{AliasUse, OutboundAliases};
use crate::limits::OUTBOUND_QOS0_BYTES_MAX;
use crate::protocol::{encode, Packet, ProtocolVersion, Publish, QoS, TopicName};

/// Names one live connection of a shard. A stale id (the connection ended, its slot was
/// reused) finds nothing: the slot's generation no longer matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    slot: u32,
    generation: u32,
}

/// Why a connection is asked to close from outside its own task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseRequest {
    /// No CONNECT within the configured time.
    ConnectTimeout,
    /// Nothing received for 1.5 times the keep alive (MQTT 5.0 §3.1.2.10): 0x8D.
    KeepAliveTimeout,
    /// Another connection took over the session (MQTT 5.0 §3.1.4): 0x8E.
    SessionTakenOver,
    /// The broker is shutting down: 0x8B.
    ServerShuttingDown,
    /// The session decided the connection must end (a protocol violation).
    Session,
}

/// What a connection's task must do next, besides reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// Close, for this reason (after writing what is queued).
    Close(CloseRequest),
    /// Packets are queued: write them.
    Write,
}

/// The handle a connection's task polls for requests from the rest of the shard: packets
/// to write (coalesced into one buffer until the task runs) and close requests. One per
/// connection, on the shard that serves it.
#[derive(Debug, Default)]
pub struct ConnectionControl {
    close: Cell<Option<CloseRequest>>,
    waker: RefCell<Option<Waker>>,
    outbound: RefCell<BytesMut>,
    version: Cell<Option<ProtocolVersion>>,
    dropped_qos0: Cell<u64>,
    /// Topic Aliases the client set (MQTT 5.0 §3.3.2.3.4), index = alias - 1; empty
    /// until the first alias, so connections that use none pay nothing.
    inbound_aliases: RefCell<Vec<Option<TopicName>>>,
    /// Topic Aliases the broker gave this connection's client (MQTT 5.0 §3.3.2.3.4);
    /// `None` while the client allows none or the policy is off.
    outbound_aliases: RefCell<Option<OutboundAliases>>,
    /// What the client's CONNECT said about Reason Strings and packet sizes.
    diagnostics: Cell<ClientDiagnostics>,
    /// How the client authenticated with an Authentication Method (MQTT 5.0 §4.12), for
    /// re-authentication; `None` otherwise, with no allocation.
    pub(super) auth: RefCell<Option<Box<super::auth::ConnectionAuth>>>,
}

impl ConnectionControl {
    /// Fixes the protocol version packets are encoded in (after CONNECT).
    pub fn set_version(&self, version: ProtocolVersion) {
        self.version.set(Some(version));
    }

    /// Fixes, after CONNECT, what the client allows: the diagnostics it asked for and the
    /// Topic Aliases the broker may give it.
    pub fn set_client(&self, diagnostics: ClientDiagnostics, aliases: Option<OutboundAliases>) {
        self.diagnostics.set(diagnostics);
        *self.outbound_aliases.borrow_mut() = aliases;
    }

    /// The protocol version packets are encoded in, once CONNECT fixed it.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version.get()
    }

    /// Queues `packet` for writing and wakes the connection's task. A QoS 0 PUBLISH is
    /// dropped (and counted) while more than [`OUTBOUND_QOS0_BYTES_MAX`] wait: a slow
    /// subscriber must not grow its buffer without bound (QoS 1/2 are bounded by the
    /// session's inflight window instead). Returns whether the packet was queued.
    pub fn send(&self, packet: &Packet) -> bool {
        let Some(version) = self.version.get() else {
            debug_assert!(false, "send before CONNECT");
            return false;
        };
        let mut outbound = self.outbound.borrow_mut();
        let aliased;
        let mut packet = fit_diagnostics(packet, version, self.diagnostics.get());
        if let Packet::Publish(publish) = &*packet {
            if publish.qos == QoS::AtMostOnce && outbound.len() > OUTBOUND_QOS0_BYTES_MAX {
                self.dropped_qos0.set(self.dropped_qos0.get() + 1);
                return false;
            }
            if let Some(with_alias) = self.outbound_alias(publish, version) {
                aliased = Packet::Publish(with_alias);
                packet = std::borrow::Cow::Borrowed(&aliased);
            }
        }
        if let Err(e) = encode(&packet, version, &mut outbound) {
            // Our own packet: a broken invariant, not the peer's fault.
            debug_assert!(false, "cannot encode {packet:?}: {e}");
            tracing::error!("cannot encode {:?}: {e}", packet.packet_type());
            return false;
        }
        drop(outbound);
        self.wake();
        true
    }

    /// `publish` with the Topic Alias the broker gives its topic, if any (recorded as
    /// sent). None when aliases are off for this client, or when setting one would make
    /// the packet larger than the client's Maximum Packet Size.
    fn outbound_alias(&self, publish: &Publish, version: ProtocolVersion) -> Option<Publish> {
        let mut aliases = self.outbound_aliases.borrow_mut();
        let aliases = aliases.as_mut()?;
        if let Some(max) = self.diagnostics.get().maximum_packet_size {
            // Setting an alias adds its 3 bytes (identifier and two-byte value) to the
            // body; 5 bounds the fixed header.
            let body_len = publish.body_len(version).ok()?;
            if 5 + body_len + 3 > max.get() as usize {
                return None;
            }
        }
        let mut with_alias = publish.clone();
        match aliases.assign(&publish.topic)? {
            AliasUse::Set(alias) => with_alias.properties.topic_alias = Some(alias),
            AliasUse::Use(alias) => {
                with_alias.properties.topic_alias = Some(alias);
                with_alias.topic = TopicName::empty();
            }
        }
        Some(with_alias)
    }

    /// Resolves a PUBLISH's Topic Alias: a non-empty `topic` sets (or replaces) the
    /// alias, an empty one uses it. `None` for an alias of 0, past `maximum`, or not set
    /// yet: the caller ends the connection (0x94 Topic Alias invalid).
    pub fn resolve_topic_alias(
        &self,
        alias: u16,
        topic: &TopicName,
        maximum: u16,
    ) -> Option<TopicName> {
        if alias == 0 || alias > maximum {
            return None;
        }
        let slot = usize::from(alias - 1);
        let mut aliases = self.inbound_aliases.borrow_mut();
        if topic.as_str().is_empty() {
            return aliases.get(slot).cloned().flatten();
        }
        if aliases.len() <= slot {
            aliases.resize(slot + 1, None);
        }
        // Detached: the alias outlives the read buffer the topic was decoded from.
        let topic = topic.detached();
        aliases[slot] = Some(topic.clone());
        Some(topic)
    }

    /// Takes everything queued for writing.
    pub fn take_outbound(&self) -> BytesMut {
        std::mem::take(&mut *self.outbound.borrow_mut())
    }

    /// QoS 0 messages dropped because the client read too slowly.
    pub fn dropped_qos0(&self) -> u64 {
        self.dropped_qos0.get()
    }

    /// Ready with what to do next: close (once requested) or write (once something is
    /// queued); registers the task's waker otherwise.
    pub fn poll_event(&self, cx: &Context<'_>) -> Poll<ConnectionEvent> {
        if let Some(request) = self.close.get() {
            return Poll::Ready(ConnectionEvent::Close(request));
        }
        if !self.outbound.borrow().is_empty() {
            return Poll::Ready(ConnectionEvent::Write);
        }
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }

    fn wake(&self) {
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Asks the connection to close; its task wakes and does it.
    pub fn request_close(&self, request: CloseRequest) {
        if self.close.get().is_none() {
            self.close.set(Some(request));
        }
        self.wake();
    }

    /// The close request made, if any.
    pub fn close_requested(&self) -> Option<CloseRequest> {
        self.close.get()
    }
}

/// The live connections of one shard. One per shard.
#[derive(Debug, Default)]
pub struct ConnectionTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    control: Option<Rc<ConnectionControl>>,
}

impl ConnectionTable {
    /// Registers a new connection.
    pub fn insert(&mut self) -> (ConnectionId, Rc<ConnectionControl>) {
        let control = Rc::new(ConnectionControl::default());
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len())
                    .expect("more than u32::MAX connections on one shard");
                self.slots.push(Slot::default());
                slot
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.control = Some(Rc::clone(&control));
        self.live += 1;
        let id = ConnectionId {
            slot,
            generation: entry.generation,
        };
        (id, control)
    }

    /// The connection `id` names, if it is still live.
    pub fn get(&self, id: ConnectionId) -> Option<&Rc<ConnectionControl>> {
        let slot = self.slots.get(id.slot as usize)?;
        (slot.generation == id.generation)
            .then_some(slot.control.as_ref())
            .flatten()
    }

    /// Forgets a connection that ended. Unknown or stale ids are ignored.
    pub fn remove(&mut self, id: ConnectionId) {
        if let Some(slot) = self.slots.get_mut(id.slot as usize) {
            if slot.generation == id.generation && slot.control.take().is_some() {
                self.free.push(id.slot);
                self.live -= 1;
            }
        }
    }

    /// Every live connection, for shutdown.
    pub fn iter(&self) -> impl Iterator<Item = &Rc<ConnectionControl>> {
        self.slots.iter().filter_map(|slot| slot.control.as_ref())
    }

    /// Connections live on this shard.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the shard serves no connection.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn queued_packets_wake_the_connection_and_coalesce() {
        let control = ConnectionControl::default();
        control.set_version(ProtocolVersion::V3_1_1);
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(Arc::clone(&flag));
        let cx = Context::from_waker(&waker);
        assert!(control.poll_event(&cx).is_pending());
        assert!(control.send(&Packet::PingResp));
        assert!(control.send(&Packet::PingResp));
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(control.poll_event(&cx), Poll::Ready(ConnectionEvent::Write));
        // MQTT 3.1.1 §3.13: PINGRESP is 0xD0 0x00; both in one buffer.
        assert_eq!(&control.take_outbound()[..], [0xD0, 0x00, 0xD0, 0x00]);
        assert!(control.poll_event(&cx).is_pending());
    }

    #[test]
    fn topic_aliases_are_set_used_and_bounded() {
        let control = ConnectionControl::default();
        let topic = TopicName::new("a/b").unwrap();
        let empty = TopicName::empty();
        // MQTT 5.0 §3.3.2.3.4: an unset alias, 0 and one past the maximum are errors.
        assert_eq!(control.resolve_topic_alias(1, &empty, 4), None);
        assert_eq!(control.resolve_topic_alias(0, &topic, 4), None);
        assert_eq!(control.resolve_topic_alias(5, &topic, 4), None);
        assert_eq!(
            control.resolve_topic_alias(2, &topic, 4),
            Some(topic.clone())
        );
        assert_eq!(control.resolve_topic_alias(2, &empty, 4), Some(topic));
        let other = TopicName::new("c").unwrap();
        assert_eq!(
            control.resolve_topic_alias(2, &other, 4),
            Some(other.clone())
        );
        assert_eq!(control.resolve_topic_alias(2, &empty, 4), Some(other));
    }

    #[test]
    fn stale_ids_find_nothing_after_reuse() {
        let mut table = ConnectionTable::default();
        let (a, _) = table.insert();
        table.remove(a);
        let (b, _) = table.insert();
        assert_eq!(a.slot, b.slot, "the slot is reused");
        assert!(table.get(a).is_none());
        assert!(table.get(b).is_some());
        table.remove(a); // stale: must not remove b
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_close_request_wakes_the_connection() {
        let control = ConnectionControl::default();
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(Arc::clone(&flag));
        let cx = Context::from_waker(&waker);
        assert!(control.poll_event(&cx).is_pending());
        control.request_close(CloseRequest::ConnectTimeout);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            control.poll_event(&cx),
            Poll::Ready(ConnectionEvent::Close(CloseRequest::ConnectTimeout))
        );
    }
}
