//! The client's subscriptions as the session records them: topic filter to options and
//! MQTT 5.0 Subscription Identifier. Bookkeeping only: matching topics is the shard's
//! subscription index, which it updates from what these calls return. Pure, no I/O.

use std::collections::BTreeMap;

use crate::protocol::{SubscriptionId, SubscriptionOptions, TopicFilter};

/// One subscription of a session (MQTT 5.0 §3.8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The options granted (the QoS is the granted maximum).
    pub options: SubscriptionOptions,
    /// The Subscription Identifier of the SUBSCRIBE that made it (MQTT 5.0 §3.8.2.1.2).
    pub subscription_id: Option<SubscriptionId>,
}

/// Refused: the session already has `SessionLimits::subscriptions_max` filters. The
/// SUBACK reason is Quota exceeded (0x97) in 5.0, Failure (0x80) in 3.1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionsFull;

/// Filter to subscription; ordered so iteration is deterministic.
#[derive(Clone, Debug, Default)]
pub(super) struct Subscriptions {
    by_filter: BTreeMap<TopicFilter, Subscription>,
}

impl Subscriptions {
    pub(super) fn insert(
        &mut self,
        filter: TopicFilter,
        subscription: Subscription,
        subscriptions_max: usize,
    ) -> Result<Option<Subscription>, SubscriptionsFull> {
        // Replacing an existing filter never grows the map ([MQTT-3.8.4-3]).
        if !self.by_filter.contains_key(&filter) && self.by_filter.len() >= subscriptions_max {
            return Err(SubscriptionsFull);
        }
        Ok(self.by_filter.insert(filter, subscription))
    }

    pub(super) fn remove(&mut self, filter: &TopicFilter) -> Option<Subscription> {
        self.by_filter.remove(filter)
    }

    pub(super) fn get(&self, filter: &TopicFilter) -> Option<&Subscription> {
        self.by_filter.get(filter)
    }

    pub(super) fn len(&self) -> usize {
        self.by_filter.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&TopicFilter, &Subscription)> {
        self.by_filter.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::QoS;

    fn sub(qos: QoS) -> Subscription {
        Subscription {
            options: SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            },
            subscription_id: None,
        }
    }

    #[test]
    fn replace_returns_previous_and_is_not_bounded() {
        // [MQTT-3.8.4-3]: a SUBSCRIBE to an existing filter replaces the subscription.
        let mut subs = Subscriptions::default();
        let filter = TopicFilter::new("a/+").unwrap();
        assert_eq!(
            subs.insert(filter.clone(), sub(QoS::AtMostOnce), 1),
            Ok(None)
        );
        assert_eq!(
            subs.insert(filter.clone(), sub(QoS::ExactlyOnce), 1),
            Ok(Some(sub(QoS::AtMostOnce)))
        );
        let other = TopicFilter::new("b").unwrap();
        assert_eq!(
            subs.insert(other.clone(), sub(QoS::AtMostOnce), 1),
            Err(SubscriptionsFull)
        );
        assert_eq!(subs.get(&filter), Some(&sub(QoS::ExactlyOnce)));
        assert_eq!(subs.remove(&filter), Some(sub(QoS::ExactlyOnce)));
        assert_eq!(subs.remove(&other), None);
        assert_eq!(subs.len(), 0);
        assert_eq!(subs.iter().count(), 0);
    }
}
