//! One message on its way to one subscriber: the QoS, RETAIN flag and Subscription
//! Identifiers it is sent with, and the PUBLISH built from it. Pure, no I/O.

use std::cmp::min;
use std::sync::Arc;

use crate::protocol::{PacketId, Publish, QoS, SubscriptionId};

use super::message::Message;

/// What the subscriber's matching subscription grants this delivery. The shard builds it
/// from the subscription(s) that matched (overlapping subscriptions are the shard's to
/// merge, MQTT 5.0 §3.3.4: not this module's concern).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// Maximum QoS granted in SUBACK: the delivery's QoS is min(published, this).
    pub max_qos: QoS,
    /// Retain As Published (MQTT 5.0 §3.8.3.1); always false in 3.x.
    pub retain_as_published: bool,
    /// Subscription Identifiers of the matching subscriptions (MQTT 5.0 §3.3.4), written
    /// in the PUBLISH. Empty in 3.x.
    pub subscription_ids: Vec<SubscriptionId>,
    /// The shared group the message came through, if it did: the session remembers it so
    /// that, should the session end before the client acknowledges the message, the
    /// message goes to another member of the group instead.
    pub shared: Option<SharedDelivery>,
}

/// A shared subscription group (`$share/{group}/{filter}`, or `$queue/{filter}`): its
/// ShareName and its inner topic filter. Cloning it costs two reference counts: it
/// travels with each message the group delivers, across the mesh and into the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroupRef {
    /// The ShareName (`crate::protocol::QUEUE_SHARE_NAME` for `$queue/`).
    pub group: Arc<str>,
    /// The inner topic filter.
    pub filter: Arc<str>,
}

impl SharedGroupRef {
    /// The group `group` of inner filter `filter` (copies both).
    pub fn new(group: &str, filter: &str) -> Self {
        Self {
            group: group.into(),
            filter: filter.into(),
        }
    }
}

/// How one delivery came through a shared group: the group, and the key its strategy
/// chose the member by (`SharedStrategy::message_key`), so that a message given to
/// another member later is chosen for the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDelivery {
    /// The group.
    pub group: SharedGroupRef,
    /// The strategy's key for the message.
    pub key: u64,
}

/// Why a message is delivered; it decides the RETAIN flag sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeliveryKind {
    /// The message matched an established subscription: RETAIN is 0, or as published
    /// with Retain As Published ([MQTT-3.3.1-12], [MQTT-3.3.1-13]; 3.1.1 [MQTT-3.3.1-9]).
    #[default]
    Matched,
    /// A retained message sent because a subscription was just made: RETAIN is 1
    /// (MQTT 5.0 §3.3.1.3, 3.1.1 [MQTT-3.3.1-8]).
    RetainedOnSubscribe,
}

/// A message bound for one subscriber, with its delivery QoS and flags fixed at
/// `deliver` time. Held in the session's queue and inflight window.
#[derive(Clone, Debug)]
pub(super) struct Outgoing {
    pub(super) message: Message,
    pub(super) qos: QoS,
    pub(super) retain: bool,
    pub(super) subscription_ids: Vec<SubscriptionId>,
    /// The shared group it came through ([`Grant::shared`]).
    pub(super) shared: Option<SharedDelivery>,
}

impl Outgoing {
    pub(super) fn new(message: Message, grant: Grant, kind: DeliveryKind) -> Self {
        let retain = match kind {
            DeliveryKind::Matched => grant.retain_as_published && message.retain,
            DeliveryKind::RetainedOnSubscribe => true,
        };
        Self {
            qos: min(message.qos, grant.max_qos),
            retain,
            subscription_ids: grant.subscription_ids,
            shared: grant.shared,
            message,
        }
    }

    /// The PUBLISH for this delivery at `now_ms`. `packet_id` is `Some` exactly when the
    /// QoS is above 0; `dup` only on a resend.
    pub(super) fn to_publish(
        &self,
        packet_id: Option<PacketId>,
        dup: bool,
        now_ms: u64,
    ) -> Publish {
        debug_assert_eq!(packet_id.is_some(), self.qos != QoS::AtMostOnce);
        let mut publish = Publish::new(self.message.topic.clone(), self.message.payload.clone());
        publish.dup = dup;
        publish.qos = self.qos;
        publish.retain = self.retain;
        publish.packet_id = packet_id;
        if let Some(properties) = &self.message.properties {
            publish.properties = (**properties).clone();
        }
        publish.properties.message_expiry_interval_secs =
            self.message.remaining_expiry_secs(now_ms);
        publish.properties.subscription_identifiers = self.subscription_ids.clone();
        publish
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicName;
    use bytes::Bytes;

    fn message(qos: QoS, retain: bool) -> Message {
        let mut publish = Publish::new(TopicName::new("t").unwrap(), Bytes::from_static(b"x"));
        publish.qos = qos;
        publish.retain = retain;
        if qos != QoS::AtMostOnce {
            publish.packet_id = PacketId::new(7);
        }
        Message::from_publish(publish, 0)
    }

    fn grant(max_qos: QoS, retain_as_published: bool) -> Grant {
        Grant {
            max_qos,
            retain_as_published,
            ..Grant::default()
        }
    }

    #[test]
    fn delivered_qos_is_min_of_published_and_granted() {
        // MQTT 5.0 §3.8.4 / 3.1.1 §3.8.4: the server may send at a lower QoS than
        // published, never higher than granted.
        let all = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
        for published in all {
            for granted in all {
                let o = Outgoing::new(
                    message(published, false),
                    grant(granted, false),
                    DeliveryKind::Matched,
                );
                assert_eq!(o.qos, published.min(granted), "{published:?} {granted:?}");
            }
        }
    }

    #[test]
    fn retain_flag_on_forwarding() {
        // MQTT 5.0 [MQTT-3.3.1-12]: RETAIN 0 without Retain As Published.
        let matched = |retain, rap| {
            Outgoing::new(
                message(QoS::AtMostOnce, retain),
                grant(QoS::AtMostOnce, rap),
                DeliveryKind::Matched,
            )
            .retain
        };
        assert!(!matched(true, false));
        // [MQTT-3.3.1-13]: with Retain As Published, RETAIN as published.
        assert!(matched(true, true));
        assert!(!matched(false, true));
        // MQTT 5.0 §3.3.1.3: a retained message sent for a new subscription has RETAIN 1.
        let on_subscribe = Outgoing::new(
            message(QoS::AtMostOnce, true),
            grant(QoS::AtMostOnce, false),
            DeliveryKind::RetainedOnSubscribe,
        );
        assert!(on_subscribe.retain);
    }

    #[test]
    fn publish_carries_subscription_ids_and_remaining_expiry() {
        let mut publish = Publish::new(TopicName::new("t").unwrap(), Bytes::from_static(b"x"));
        publish.properties.message_expiry_interval_secs = Some(60);
        let message = Message::from_publish(publish, 1_000);
        let ids = vec![SubscriptionId::new(4).unwrap()];
        let o = Outgoing::new(
            message,
            Grant {
                max_qos: QoS::AtLeastOnce,
                retain_as_published: false,
                subscription_ids: ids.clone(),
                shared: None,
            },
            DeliveryKind::Matched,
        );
        let p = o.to_publish(None, false, 21_000);
        assert_eq!(p.properties.subscription_identifiers, ids);
        // [MQTT-3.3.2-6]: 60 s received, 20 s waited.
        assert_eq!(p.properties.message_expiry_interval_secs, Some(40));
    }
}
