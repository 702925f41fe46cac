//! Counters of one shard for the `$SYS` tree: plain cells bumped where things happen, no
//! atomics and no lock (one per shard, touched only from its executor). Every interval a
//! [`SysSnapshot`] of them travels to shard 0, which sums them (see `sys.rs`).

use std::cell::Cell;

/// One counter of a shard. Not `Sync`: it never leaves its shard.
#[derive(Debug, Default)]
pub struct Counter(Cell<u64>);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.set(self.0.get().wrapping_add(n));
    }

    /// Adds one.
    pub fn incr(&self) {
        self.add(1);
    }

    /// Takes one away (a gauge), never below zero.
    pub fn decr(&self) {
        self.0.set(self.0.get().saturating_sub(1));
    }

    /// The value.
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// What one shard counts for `$SYS/broker/...`. One per shard. Totals since start unless
/// said otherwise.
#[derive(Debug, Default)]
pub struct ShardCounters {
    /// MQTT control packets received from clients, of every type (CONNECT included).
    pub messages_received: Counter,
    /// MQTT control packets queued for writing to clients, of every type.
    pub messages_sent: Counter,
    /// PUBLISH packets received from clients.
    pub publish_received: Counter,
    /// PUBLISH packets queued for writing to subscribers.
    pub publish_sent: Counter,
    /// Deliveries dropped: session queue full, QoS 0 to an offline client, too large for
    /// the client, or QoS 0 to a connection that reads too slowly.
    pub publish_dropped: Counter,
    /// Bytes read from client sockets.
    pub bytes_received: Counter,
    /// Bytes written to client sockets.
    pub bytes_sent: Counter,
    /// Gauge: sessions homed here with a connection attached.
    pub clients_connected: Counter,
    /// Persistent sessions ended by their Session Expiry Interval.
    pub sessions_expired: Counter,
}

impl ShardCounters {
    /// The counters as plain data, with the gauges read from the shard's state.
    pub fn snapshot(&self, gauges: Gauges) -> SysSnapshot {
        SysSnapshot {
            messages_received: self.messages_received.get(),
            messages_sent: self.messages_sent.get(),
            publish_received: self.publish_received.get(),
            publish_sent: self.publish_sent.get(),
            publish_dropped: self.publish_dropped.get(),
            bytes_received: self.bytes_received.get(),
            bytes_sent: self.bytes_sent.get(),
            clients_connected: self.clients_connected.get(),
            sessions_expired: self.sessions_expired.get(),
            sessions: gauges.sessions,
            subscriptions: gauges.subscriptions,
            retained: gauges.retained,
        }
    }
}

/// Gauges a shard reads from its state when it takes a snapshot (each O(1)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Sessions homed on the shard, connected or not.
    pub sessions: u64,
    /// Subscriptions in the shard's trie.
    pub subscriptions: u64,
    /// Messages in the shard's retained replica.
    pub retained: u64,
}

/// One shard's counters at one moment: plain data, sent to shard 0 through the mesh.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysSnapshot {
    /// See [`ShardCounters::messages_received`].
    pub messages_received: u64,
    /// See [`ShardCounters::messages_sent`].
    pub messages_sent: u64,
    /// See [`ShardCounters::publish_received`].
    pub publish_received: u64,
    /// See [`ShardCounters::publish_sent`].
    pub publish_sent: u64,
    /// See [`ShardCounters::publish_dropped`].
    pub publish_dropped: u64,
    /// See [`ShardCounters::bytes_received`].
    pub bytes_received: u64,
    /// See [`ShardCounters::bytes_sent`].
    pub bytes_sent: u64,
    /// See [`ShardCounters::clients_connected`].
    pub clients_connected: u64,
    /// See [`ShardCounters::sessions_expired`].
    pub sessions_expired: u64,
    /// See [`Gauges::sessions`].
    pub sessions: u64,
    /// See [`Gauges::subscriptions`].
    pub subscriptions: u64,
    /// See [`Gauges::retained`].
    pub retained: u64,
}

impl SysSnapshot {
    /// The broker-wide sum of every shard's snapshot. The retained count is not summed:
    /// every shard holds the same replica, so the first shard's (shard 0's) is taken.
    pub fn sum<'a>(shards: impl IntoIterator<Item = &'a SysSnapshot>) -> SysSnapshot {
        let mut total = SysSnapshot::default();
        for (i, s) in shards.into_iter().enumerate() {
            total.messages_received += s.messages_received;
            total.messages_sent += s.messages_sent;
            total.publish_received += s.publish_received;
            total.publish_sent += s.publish_sent;
            total.publish_dropped += s.publish_dropped;
            total.bytes_received += s.bytes_received;
            total.bytes_sent += s.bytes_sent;
            total.clients_connected += s.clients_connected;
            total.sessions_expired += s.sessions_expired;
            total.sessions += s.sessions;
            total.subscriptions += s.subscriptions;
            if i == 0 {
                total.retained = s.retained;
            }
        }
        total
    }

    /// Sessions without a connection (persistent sessions of offline clients).
    pub fn clients_disconnected(&self) -> u64 {
        self.sessions.saturating_sub(self.clients_connected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_never_goes_below_zero() {
        let c = Counter::default();
        c.incr();
        c.decr();
        c.decr();
        assert_eq!(c.get(), 0);
        c.add(5);
        assert_eq!(c.get(), 5);
    }

    #[test]
    fn snapshots_sum_but_retained_is_taken_from_the_first() {
        let counters = ShardCounters::default();
        counters.messages_received.add(3);
        counters.clients_connected.add(2);
        let gauges = Gauges {
            sessions: 5,
            subscriptions: 4,
            retained: 7,
        };
        let a = counters.snapshot(gauges);
        assert_eq!(a.messages_received, 3);
        assert_eq!(a.clients_disconnected(), 3);
        let b = SysSnapshot {
            messages_received: 10,
            clients_connected: 1,
            sessions: 1,
            subscriptions: 2,
            retained: 7,
            ..SysSnapshot::default()
        };
        let total = SysSnapshot::sum([&a, &b]);
        assert_eq!(total.messages_received, 13);
        assert_eq!(total.clients_connected, 3);
        assert_eq!(total.sessions, 6);
        assert_eq!(total.subscriptions, 6);
        assert_eq!(total.retained, 7, "one replica, not the sum");
        assert_eq!(total.clients_disconnected(), 3);
    }
}
