//! The bounds of one session, with their units. Defaults live here until the lead merges
//! them into `src/limits.rs`; relations between them are checked at compile time.

/// Outbound QoS 1/2 messages in flight (sent, not yet acknowledged) per session, on the
/// server's side. The effective window is the smaller of this and the client's Receive
/// Maximum (MQTT 5.0 §3.1.2.11.3). EMQX uses 32; Mosquitto 20.
pub const INFLIGHT_MAX_DEFAULT: u16 = 32;

/// Inbound QoS 2 packet ids received and not yet released by PUBREL, per session: the
/// Receive Maximum the broker advertises in CONNACK (MQTT 5.0 §3.2.2.3.3). Also bounds
/// 3.x clients, which are told nothing and simply disconnected past it.
pub const INBOUND_RECEIVE_MAXIMUM_DEFAULT: u16 = 32;

/// Messages queued behind the inflight window or while the client is offline.
/// Mosquitto's `max_queued_messages` default.
pub const QUEUED_MESSAGES_MAX_DEFAULT: usize = 1000;

/// Topic and payload bytes queued per session (see `Message::size_bytes`).
pub const QUEUED_BYTES_MAX_DEFAULT: usize = 4 << 20;

/// Subscriptions (distinct topic filters) per session.
pub const SUBSCRIPTIONS_MAX_DEFAULT: usize = 1000;

const _: () = assert!(INFLIGHT_MAX_DEFAULT > 0);
const _: () = assert!(INBOUND_RECEIVE_MAXIMUM_DEFAULT > 0);
const _: () = assert!(QUEUED_MESSAGES_MAX_DEFAULT > 0);
// A message of the largest accepted packet size must fit in an empty queue.
const _: () =
    assert!(QUEUED_BYTES_MAX_DEFAULT >= crate::limits::MAX_PACKET_SIZE_BYTES_DEFAULT as usize);

/// The bounds of one session. Copied into each session (it is small); one set per
/// listener or per broker in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Server-side inflight window for outbound QoS 1/2 messages, at least 1.
    pub inflight_max: u16,
    /// Inbound QoS 2 packet ids pending PUBREL; what CONNACK advertises as Receive
    /// Maximum. At least 1.
    pub inbound_receive_maximum: u16,
    /// Messages in the queue at most.
    pub queued_messages_max: usize,
    /// Topic and payload bytes in the queue at most.
    pub queued_bytes_max: usize,
    /// Distinct topic filters at most.
    pub subscriptions_max: usize,
    /// Queue QoS 0 messages while the client is offline (Mosquitto's
    /// `queue_qos0_messages`). Off by default: MQTT lets the server drop them
    /// (MQTT 5.0 §3.1.2.4 "QoS 0 messages ... may be stored"), and they are counted.
    pub queue_qos0_offline: bool,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            inflight_max: INFLIGHT_MAX_DEFAULT,
            inbound_receive_maximum: INBOUND_RECEIVE_MAXIMUM_DEFAULT,
            queued_messages_max: QUEUED_MESSAGES_MAX_DEFAULT,
            queued_bytes_max: QUEUED_BYTES_MAX_DEFAULT,
            subscriptions_max: SUBSCRIPTIONS_MAX_DEFAULT,
            queue_qos0_offline: false,
        }
    }
}
