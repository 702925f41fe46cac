//! The broker on one shard: the sessions homed here, the local subscription index, the
//! route table and retained replicas, the connections this shard serves, and the mesh
//! traffic between them. Everything here is owned by one shard and touched only from its
//! executor: `RefCell`, never a lock, and no borrow is held across an `await`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;
use std::rc::Rc;

use shard::{glommio, ShardContext};

use super::connection::ConnectionSettings;
use super::connections::{CloseRequest, ConnectionId, ConnectionTable};
use super::counters::ShardCounters;
use super::index::{RouteTable, SubscriptionTrie};
use super::mesh_message::MeshMessage;
use super::read_buffer::ReadScratch;
use super::retained::RetainedStore;
use super::session::Session;
use super::sys::SysTree;
use crate::protocol::{MqttString, SubscriptionId, SubscriptionOptions, Will};

/// Names a session on its owner shard (the trie's subscriber key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(pub(super) u64);

/// A deadline in the shard's timer wheel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Ask a connection to close (CONNECT timeout, keep-alive).
    Connection(ConnectionId, CloseRequest),
    /// A session without a connection reaches its expiry interval.
    SessionExpiry(SessionKey, u64),
    /// A disconnected session's Will Delay Interval ends (MQTT 5.0 §3.1.3.2.2).
    WillDelay(SessionKey, u64),
    /// A delayed publish (`$delayed/{secs}/{topic}`) is due.
    DelayedPublish(u64),
}

/// A subscription as the shard's index holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubEntry {
    /// The options granted.
    pub options: SubscriptionOptions,
    /// The MQTT 5.0 Subscription Identifier it was made with.
    pub subscription_id: Option<SubscriptionId>,
    /// When it was made, in the shard's order of subscriptions (a replacement keeps the
    /// original's): the `sticky` strategy prefers a group's oldest member.
    pub subscribed_seq: u64,
}

/// A session homed on this shard and what surrounds it. On the owner shard of its
/// client id.
#[derive(Debug)]
pub(super) struct SessionEntry {
    pub(super) session: Session,
    /// The live connection, if the client is connected.
    pub(super) connection: Option<ConnectionId>,
    /// The Will Message of the current (or last) connection, until published or cleared.
    pub(super) will: Option<Will>,
    /// Session Expiry Interval, seconds (`u32::MAX`: never).
    pub(super) expiry_secs: u32,
    /// Bumped on every attach, so stale expiry and will-delay deadlines are ignored.
    pub(super) epoch: u64,
}

/// A SUBACK waiting for other shards to acknowledge new routes.
#[derive(Debug)]
pub(super) struct PendingSuback {
    pub(super) key: SessionKey,
    pub(super) remaining_acks: usize,
    pub(super) finish: super::routing::SubscribeFinish,
}

/// Mutable state of the shard's broker.
#[derive(Default)]
pub(super) struct State {
    pub(super) sessions: HashMap<SessionKey, SessionEntry>,
    pub(super) by_client_id: HashMap<MqttString, SessionKey>,
    pub(super) next_key: u64,
    pub(super) trie: SubscriptionTrie<SessionKey, SubEntry>,
    pub(super) routes: RouteTable,
    pub(super) retained: RetainedStore,
    pub(super) pending_subacks: HashMap<u64, PendingSuback>,
    pub(super) next_token: u64,
    pub(super) next_assigned_id: u64,
    /// The shared-subscription strategy's turn and generator, for both of its choices.
    pub(super) shared_picker: super::shared_strategy::SharedPicker,
    /// Orders the subscriptions made on this shard ([`SubEntry::subscribed_seq`]).
    pub(super) next_subscribed_seq: u64,
    pub(super) delayed: super::delayed::DelayedStore,
    /// Local subscriptions per topic filter as sent (`$share/...` included): a route is
    /// announced when a count goes 0 to 1 and withdrawn when it returns to 0.
    pub(super) route_counts: HashMap<crate::protocol::TopicFilter, u32>,
    /// Replicated on every shard: for each shared group, the shards with members, each
    /// with the time (ms) its current members' first one subscribed.
    pub(super) shared_routes: SubscriptionTrie<usize, u64>,
    /// Shared-subscription messages of sessions that just ended, waiting to be given to
    /// another member of their group once the state is no longer borrowed
    /// (`ShardBroker::redistribute_shared`).
    pub(super) shared_leftovers: Vec<(super::session::Message, super::session::SharedDelivery)>,
    /// Reused by every local delivery (see `deliver_local`): no allocation per message.
    /// Each match is a session, its subscription, and the index of the shared group it
    /// came through in the delivery's groups.
    pub(super) match_scratch: Vec<(SessionKey, SubEntry, Option<usize>)>,
    pub(super) action_scratch: Vec<super::session::SessionAction>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("sessions", &self.sessions.len())
            .field("subscriptions", &self.trie.subscription_count())
            .field("routes", &self.routes.filter_count())
            .field("retained", &self.retained.len())
            .finish_non_exhaustive()
    }
}

/// The broker on one shard. One per shard.
pub struct ShardBroker {
    pub(super) ctx: ShardContext<MeshMessage>,
    pub(super) settings: ConnectionSettings,
    /// Where every read on the shard lands.
    pub(super) scratch: RefCell<ReadScratch>,
    /// The connections this shard serves.
    pub(super) connections: RefCell<ConnectionTable>,
    /// Connection and session deadlines.
    pub(super) timers: shard::ShardTimers<Deadline>,
    pub(super) state: RefCell<State>,
    /// Mesh messages that found their outbox full, per target, sent in order before any
    /// newer message to that target.
    deferred: RefCell<Vec<VecDeque<MeshMessage>>>,
    deferred_pending: Cell<bool>,
    /// Wakes [`ShardBroker::run_deferred`] when a message is deferred.
    deferred_waker: RefCell<Option<std::task::Waker>>,
    refused_connections: Cell<u64>,
    /// What this shard counts for the `$SYS` tree.
    pub(super) counters: ShardCounters,
    /// The `$SYS` tree, summed from every shard (used on shard 0 only).
    pub(super) sys: RefCell<SysTree>,
    /// Passwords verified on this shard (plain CONNECT), so a reconnect skips PBKDF2.
    pub(super) password_cache: RefCell<crate::auth::PasswordCache>,
}

impl ShardBroker {
    /// The broker state of one shard.
    pub fn new(ctx: ShardContext<MeshMessage>, settings: ConnectionSettings) -> Rc<Self> {
        let shard_count = ctx.shard_count();
        let shard_id = ctx.shard_id();
        Rc::new(ShardBroker {
            timers: ctx.timers(),
            ctx,
            settings,
            scratch: RefCell::new(ReadScratch::new()),
            connections: RefCell::default(),
            state: RefCell::new(State {
                shared_picker: super::shared_strategy::SharedPicker::new(shard_id as u64),
                ..State::default()
            }),
            deferred: RefCell::new((0..shard_count).map(|_| VecDeque::new()).collect()),
            deferred_pending: Cell::new(false),
            deferred_waker: RefCell::new(None),
            refused_connections: Cell::new(0),
            counters: ShardCounters::default(),
            sys: RefCell::new(SysTree::new(shard_count)),
            password_cache: RefCell::new(crate::auth::PasswordCache::new(
                // Without randomness the cache key is predictable, not the passwords.
                crate::auth::random_bytes().unwrap_or_default(),
            )),
        })
    }

    /// This shard's index.
    pub fn shard_id(&self) -> usize {
        self.ctx.shard_id()
    }

    /// The shard that owns sessions with `client_id`: the same answer on every shard.
    pub fn owner_of(&self, client_id: &str) -> usize {
        owner_shard(client_id, self.ctx.shard_count())
    }

    /// Milliseconds on the shard clock (the same epoch on every shard).
    pub fn now_ms(&self) -> u64 {
        self.timers.now_ms()
    }

    /// Sends `msg` to shard `target` without waiting; if its outbox is full the message
    /// waits in a local queue that keeps its order (see [`ShardBroker::run_deferred`]).
    pub(super) fn send_to(&self, target: usize, msg: MeshMessage) {
        let mut deferred = self.deferred.borrow_mut();
        if !deferred[target].is_empty() {
            deferred[target].push_back(msg);
            return;
        }
        if let Err(full) = self.ctx.mesh().send(target, msg) {
            deferred[target].push_back(full.into_inner());
            self.deferred_pending.set(true);
            if let Some(waker) = self.deferred_waker.borrow_mut().take() {
                waker.wake();
            }
        }
    }

    /// Sends `msg` to every other shard.
    pub(super) fn broadcast(&self, msg: impl Fn() -> MeshMessage) {
        for target in 0..self.ctx.shard_count() {
            if target != self.shard_id() {
                self.send_to(target, msg());
            }
        }
    }

    /// Whether this shard should stop reading from publishers: an outbox to another shard
    /// is past its high-water mark or messages are already waiting for room.
    pub fn congested(&self) -> bool {
        self.deferred_pending.get() || self.ctx.mesh().any_congested()
    }

    /// Moves deferred mesh messages into their outboxes as room appears. One task per
    /// shard; it sleeps until something is deferred, then retries every millisecond.
    pub async fn run_deferred(self: Rc<Self>) {
        while !self.ctx.shutdown().is_shutting_down() {
            if !self.deferred_pending.get() {
                let idle = futures_lite::future::poll_fn(|cx| {
                    if self.deferred_pending.get() {
                        std::task::Poll::Ready(true)
                    } else {
                        *self.deferred_waker.borrow_mut() = Some(cx.waker().clone());
                        std::task::Poll::Pending
                    }
                });
                let stop = async {
                    self.ctx.shutdown().wait().await;
                    false
                };
                if !futures_lite::future::or(idle, stop).await {
                    return;
                }
            }
            if self.deferred_pending.get() {
                let mut deferred = self.deferred.borrow_mut();
                let mut left = false;
                for (target, queue) in deferred.iter_mut().enumerate() {
                    while let Some(msg) = queue.pop_front() {
                        if let Err(full) = self.ctx.mesh().send(target, msg) {
                            queue.push_front(full.into_inner());
                            break;
                        }
                    }
                    left |= !queue.is_empty();
                }
                self.deferred_pending.set(left);
            }
            if self.deferred_pending.get() {
                // Outboxes drain once per loop turn; retry after the lanes had a moment.
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    }

    /// Handles mesh batches until shutdown. One task per shard.
    pub async fn run_inbox(self: Rc<Self>) {
        while let Some(batch) = self.ctx.mesh().recv().await {
            for msg in batch.msgs {
                self.on_mesh(batch.source, msg);
            }
        }
    }

    fn on_mesh(self: &Rc<Self>, source: usize, msg: MeshMessage) {
        match msg {
            MeshMessage::Handoff(handoff) => {
                let (stream, already_read, state) = self.ctx.adopt(handoff);
                let task =
                    super::connection::serve_adopted(Rc::clone(self), stream, already_read, state);
                glommio::spawn_local(task).detach();
            }
            MeshMessage::Publish {
                message,
                plain,
                groups,
                shared_key,
            } => self.deliver_local(&message, None, plain, &groups, shared_key),
            MeshMessage::RouteAdd {
                filters,
                since_ms,
                token,
            } => {
                {
                    let mut state = self.state.borrow_mut();
                    let state = &mut *state;
                    for filter in &filters {
                        super::routing::add_route(
                            &mut state.routes,
                            &mut state.shared_routes,
                            filter,
                            source,
                            since_ms,
                        );
                    }
                }
                self.send_to(source, MeshMessage::RouteAck { token });
            }
            MeshMessage::RouteAck { token } => self.on_route_ack(token),
            MeshMessage::RouteRemove { filter } => {
                let mut state = self.state.borrow_mut();
                let state = &mut *state;
                super::routing::remove_route(
                    &mut state.routes,
                    &mut state.shared_routes,
                    &filter,
                    source,
                );
            }
            MeshMessage::Retain(message) => self.store_retained(message),
            MeshMessage::SysStats(snapshot) => self.on_sys_stats(source, snapshot),
        }
    }

    /// Drives the shard's deadlines until shutdown. One task per shard.
    pub async fn run_deadlines(self: Rc<Self>) {
        let mut due = Vec::new();
        while self.timers.expired(&mut due).await {
            for deadline in due.drain(..) {
                match deadline {
                    Deadline::Connection(id, request) => {
                        if let Some(control) = self.connections.borrow().get(id) {
                            control.request_close(request);
                        }
                    }
                    Deadline::SessionExpiry(key, epoch) => self.expire_session(key, epoch),
                    Deadline::WillDelay(key, epoch) => self.will_delay_ended(key, epoch),
                    Deadline::DelayedPublish(id) => self.delayed_publish_due(id),
                }
            }
        }
    }

    /// Asks every connection to close because the broker stops (MQTT 5.0: 0x8B).
    pub fn close_all_connections(&self) {
        for control in self.connections.borrow().iter() {
            control.request_close(CloseRequest::ServerShuttingDown);
        }
    }

    /// Live connections on this shard.
    pub fn connection_count(&self) -> usize {
        self.connections.borrow().len()
    }

    /// Counts a connection closed at the connection limit.
    pub fn count_refused_connection(&self) {
        self.refused_connections
            .set(self.refused_connections.get() + 1);
    }

    /// Connections closed at the connection limit since start.
    pub fn refused_connections(&self) -> u64 {
        self.refused_connections.get()
    }
}

/// FNV-1a over the client id: stable across shards, builds and restarts, so a client id
/// always lands on the same shard of a broker with the same shard count.
pub fn owner_shard(client_id: &str, shard_count: usize) -> usize {
    let mut hasher = Fnv1a::default();
    hasher.write(client_id.as_bytes());
    (hasher.finish() % shard_count as u64) as usize
}

struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_is_stable_and_spread() {
        assert_eq!(owner_shard("sensor-1", 4), owner_shard("sensor-1", 4));
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[owner_shard(&format!("client-{i}"), 4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
