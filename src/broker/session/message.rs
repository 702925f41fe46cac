//! The application message as it is routed: built once from the publisher's PUBLISH and
//! shared by every subscriber it fans out to. Pure, no I/O.

use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::{Publish, PublishProperties, QoS, TopicName};

/// One routed application message. Cloning it is cheap (reference counts only): the
/// payload and topic share the publisher's read buffer and the properties sit behind an
/// `Arc`, so fanning out to many subscribers copies no bytes. `Send`: it crosses shards
/// through the mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Topic Name, alias already resolved.
    pub topic: TopicName,
    /// Application Message.
    pub payload: Bytes,
    /// QoS as published; each subscriber gets at most its granted QoS.
    pub qos: QoS,
    /// RETAIN as published.
    pub retain: bool,
    /// MQTT 5.0 properties that travel with the message, `None` when there are none
    /// (every 3.x message: no allocation). Never holds a Topic Alias, Subscription
    /// Identifiers or the Message Expiry Interval: those are written per delivery.
    pub properties: Option<Arc<PublishProperties>>,
    /// When the message expires, in the caller's milliseconds, from the Message Expiry
    /// Interval (MQTT 5.0 §3.3.2.3.3); `None`: never.
    pub expiry_at_ms: Option<u64>,
}

impl Message {
    /// The message a client's PUBLISH carries, received at `now_ms`. Drops what is
    /// per-connection or per-delivery: Topic Alias (§3.3.2.3.4), Subscription
    /// Identifiers (§3.3.4) and the Message Expiry Interval, kept as `expiry_at_ms`.
    pub fn from_publish(publish: Publish, now_ms: u64) -> Self {
        let mut properties = publish.properties;
        let expiry_at_ms = properties
            .message_expiry_interval_secs
            .take()
            .map(|secs| now_ms.saturating_add(u64::from(secs) * 1000));
        properties.topic_alias = None;
        properties.subscription_identifiers.clear();
        Self {
            topic: publish.topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties: (!properties.is_empty()).then(|| Arc::new(properties)),
            expiry_at_ms,
        }
    }

    /// The message with its topic and payload copied into allocations of their own. A
    /// decoded message shares the shard's 64 KiB read buffer; one that may be stored
    /// (retained, or queued for a QoS 1/2 subscriber) is detached first, once, so it pins
    /// only its own bytes. Properties still share the read buffer (they are rare).
    pub fn detached(self) -> Self {
        Self {
            topic: self.topic.detached(),
            payload: Bytes::copy_from_slice(&self.payload),
            ..self
        }
    }

    /// What the message costs a queue: topic and payload bytes, the parts that grow.
    pub fn size_bytes(&self) -> usize {
        self.topic.as_str().len() + self.payload.len()
    }

    /// True once the Message Expiry Interval has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expiry_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// The Message Expiry Interval to write in a PUBLISH sent at `now_ms`: the received
    /// value minus the time the message waited ([MQTT-3.3.2-6]), rounded up to whole
    /// seconds so an unexpired message never says 0; 0 once expired (a resend of an
    /// inflight message, which must still go out, §4.4).
    pub fn remaining_expiry_secs(&self, now_ms: u64) -> Option<u32> {
        self.expiry_at_ms.map(|at| {
            let secs = at.saturating_sub(now_ms).div_ceil(1000);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU16;

    fn publish() -> Publish {
        Publish::new(TopicName::new("a/b").unwrap(), Bytes::from_static(b"hello"))
    }

    #[test]
    fn detached_message_holds_only_its_own_bytes() {
        let buffer = Bytes::from(vec![b'x'; 65536]);
        let mut publish = publish();
        publish.payload = buffer.slice(100..105);
        let message = Message::from_publish(publish, 0).detached();
        assert_eq!(&message.payload[..], b"xxxxx");
        let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
        assert!(!range.contains(&(message.payload.as_ptr() as usize)));
        assert_eq!(message.topic.as_str(), "a/b");
    }

    #[test]
    fn message_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Message>();
    }

    #[test]
    fn from_publish_without_properties_allocates_none() {
        let message = Message::from_publish(publish(), 0);
        assert!(message.properties.is_none());
        assert_eq!(message.expiry_at_ms, None);
        assert_eq!(message.size_bytes(), 3 + 5);
    }

    #[test]
    fn from_publish_strips_per_connection_properties() {
        // MQTT 5.0 §3.3.2.3.4: a Topic Alias is per connection; §3.3.4: Subscription
        // Identifiers are per delivery; §3.3.2.3.3: the expiry becomes a deadline.
        let mut p = publish();
        p.properties.topic_alias = NonZeroU16::new(3);
        p.properties.message_expiry_interval_secs = Some(10);
        let message = Message::from_publish(p, 5_000);
        assert!(message.properties.is_none());
        assert_eq!(message.expiry_at_ms, Some(15_000));
        assert!(!message.is_expired(14_999));
        assert!(message.is_expired(15_000));
    }

    #[test]
    fn remaining_expiry_rounds_up_and_saturates() {
        let mut p = publish();
        p.properties.message_expiry_interval_secs = Some(10);
        let message = Message::from_publish(p, 0);
        assert_eq!(message.remaining_expiry_secs(0), Some(10));
        assert_eq!(message.remaining_expiry_secs(3_500), Some(7));
        assert_eq!(message.remaining_expiry_secs(9_999), Some(1));
        assert_eq!(message.remaining_expiry_secs(20_000), Some(0));
    }
}
