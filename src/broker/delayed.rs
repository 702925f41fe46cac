//! Delayed publish (EMQX's `$delayed/{seconds}/{topic}`): a message published to that
//! topic is held by the broker and published to `{topic}` once the delay has passed.
//! Held on the publisher's shard in its timer wheel; not kept across restarts. The
//! parsing and the store are pure.

use std::collections::HashMap;
use std::time::Duration;

use super::session::Message;
use super::shard_broker::{Deadline, SessionKey, ShardBroker};
use crate::limits::DELAYED_MESSAGES_MAX_PER_SHARD;
use crate::protocol::TopicName;

/// The prefix that asks for a delayed publish.
pub const DELAYED_PREFIX: &str = "$delayed/";

/// Longest delay EMQX accepts, seconds (about 49.7 days): the same here.
pub const DELAY_SECS_MAX: u32 = 4_294_967;

/// What a `$delayed/...` topic asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Delayed {
    /// Publish `topic` after `delay_secs`.
    After {
        /// Seconds to wait.
        delay_secs: u32,
        /// The topic to publish to then.
        topic: TopicName,
    },
    /// The topic starts with `$delayed/` but is not `$delayed/{seconds}/{topic}` with a
    /// valid delay and topic: the message is dropped (and the drop logged by the caller).
    Invalid(&'static str),
}

/// The bounds of delayed publish on every shard (`[delayed]` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayedLimits {
    /// Longest delay accepted, seconds (at most [`DELAY_SECS_MAX`]).
    pub max_delay_secs: u32,
    /// Messages waiting on one shard at most.
    pub shard_messages_max: usize,
}

impl Default for DelayedLimits {
    fn default() -> Self {
        DelayedLimits {
            max_delay_secs: DELAY_SECS_MAX,
            shard_messages_max: DELAYED_MESSAGES_MAX_PER_SHARD,
        }
    }
}

/// Why a delayed publish is refused, with the reason code a 5.0 publisher gets on its
/// PUBACK or PUBREC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayedRefusal {
    /// 0x90 Topic Name invalid (the `$delayed/` form or its delay), or 0x97 Quota
    /// exceeded (too many waiting).
    pub reason_code: crate::protocol::ReasonCode,
    /// For the Reason String and the log.
    pub why: &'static str,
}

/// Whether a PUBLISH to `topic` must be refused as a delayed publish, given `limits` and
/// the messages `waiting` on this shard; `None` for an ordinary topic or a delayed publish
/// that will be held.
pub fn delayed_refusal(
    topic: &str,
    limits: DelayedLimits,
    waiting: usize,
) -> Option<DelayedRefusal> {
    use crate::protocol::ReasonCode;
    match parse_delayed(topic)? {
        Delayed::Invalid(why) => Some(DelayedRefusal {
            reason_code: ReasonCode::TopicNameInvalid,
            why,
        }),
        Delayed::After { delay_secs, .. } if delay_secs > limits.max_delay_secs => {
            Some(DelayedRefusal {
                reason_code: ReasonCode::TopicNameInvalid,
                why: "the delay is longer than this broker's [delayed] max_delay_secs",
            })
        }
        Delayed::After { .. } if waiting >= limits.shard_messages_max => Some(DelayedRefusal {
            reason_code: ReasonCode::QuotaExceeded,
            why: "too many delayed publishes wait on this shard ([delayed] max_messages)",
        }),
        Delayed::After { .. } => None,
    }
}

/// Reads a delayed-publish topic; `None` when `topic` is an ordinary topic.
pub fn parse_delayed(topic: &str) -> Option<Delayed> {
    let rest = topic.strip_prefix(DELAYED_PREFIX)?;
    let Some((secs, target)) = rest.split_once('/') else {
        return Some(Delayed::Invalid("no topic after the delay"));
    };
    let digits = !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit());
    let delay_secs = match secs.parse::<u32>() {
        Ok(delay) if digits && delay <= DELAY_SECS_MAX => delay,
        _ => {
            return Some(Delayed::Invalid(
                "the delay is not a number of seconds up to 4294967",
            ))
        }
    };
    if target.starts_with(DELAYED_PREFIX) {
        return Some(Delayed::Invalid("a delayed topic cannot be delayed again"));
    }
    match TopicName::new(target) {
        Ok(topic) => Some(Delayed::After { delay_secs, topic }),
        Err(_) => Some(Delayed::Invalid(
            "the topic after the delay is not a valid topic name",
        )),
    }
}

/// Messages waiting for their delay, by id. One per shard, holding what was published on
/// that shard.
#[derive(Debug, Default)]
pub struct DelayedStore {
    waiting: HashMap<u64, Message>,
    next_id: u64,
}

impl DelayedStore {
    /// Holds `message`; `None` when `max` messages already wait (refused).
    pub fn insert(&mut self, message: Message, max: usize) -> Option<u64> {
        if self.waiting.len() >= max {
            return None;
        }
        self.next_id += 1;
        self.waiting.insert(self.next_id, message);
        Some(self.next_id)
    }

    /// Takes the message whose delay ended.
    pub fn take(&mut self, id: u64) -> Option<Message> {
        self.waiting.remove(&id)
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

impl ShardBroker {
    /// Routes a message a client published, or holds it when its topic asks for a delay.
    pub(super) fn route_or_delay(&self, message: Message, publisher: SessionKey) {
        let limits = self.settings.delayed;
        let waiting = self.state.borrow().delayed.len();
        // A 5.0 QoS 1/2 publisher was already refused with a reason code (packets.rs);
        // what gets here refused is QoS 0 or 3.x, which have no way to say why.
        if let Some(refusal) = delayed_refusal(message.topic.as_str(), limits, waiting) {
            self.counters.publish_dropped.incr();
            tracing::info!(
                topic = message.topic.as_str(),
                "delayed publish dropped: {}",
                refusal.why
            );
            return;
        }
        let Some(Delayed::After { delay_secs, topic }) = parse_delayed(message.topic.as_str())
        else {
            return self.route(message, Some(publisher));
        };
        let message = Message { topic, ..message }.detached();
        let id = self
            .state
            .borrow_mut()
            .delayed
            .insert(message, limits.shard_messages_max);
        if let Some(id) = id {
            let delay = Duration::from_secs(u64::from(delay_secs));
            self.timers
                .insert_after(delay, Deadline::DelayedPublish(id));
        }
    }

    /// A delayed publish is due: route it as if just published (No Local does not apply:
    /// the publisher may be gone).
    pub(super) fn delayed_publish_due(&self, id: u64) {
        let message = self.state.borrow_mut().delayed.take(id);
        if let Some(message) = message {
            self.route(message, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn delayed_topics_are_read() {
        assert_eq!(parse_delayed("sensors/t"), None);
        assert_eq!(
            parse_delayed("$delayed/15/sensors/t"),
            Some(Delayed::After {
                delay_secs: 15,
                topic: TopicName::new("sensors/t").unwrap()
            })
        );
        for bad in [
            "$delayed/",
            "$delayed/15",
            "$delayed/x/t",
            "$delayed/-1/t",
            "$delayed/+1/t",
            "$delayed/4294968/t",
            "$delayed/15/",
            "$delayed/1/$delayed/1/t",
        ] {
            assert!(
                matches!(parse_delayed(bad), Some(Delayed::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn refusals_carry_the_reason_code_a_v5_publisher_gets() {
        use crate::protocol::ReasonCode;
        let limits = DelayedLimits {
            max_delay_secs: 60,
            shard_messages_max: 2,
        };
        assert_eq!(delayed_refusal("sensors/t", limits, 99), None);
        assert_eq!(delayed_refusal("$delayed/60/t", limits, 1), None);
        let code = |topic, waiting| delayed_refusal(topic, limits, waiting).map(|r| r.reason_code);
        assert_eq!(code("$delayed/x/t", 0), Some(ReasonCode::TopicNameInvalid));
        assert_eq!(code("$delayed/61/t", 0), Some(ReasonCode::TopicNameInvalid));
        assert_eq!(code("$delayed/5/t", 2), Some(ReasonCode::QuotaExceeded));
    }

    #[test]
    fn the_store_is_bounded() {
        let message = |p: &'static str| {
            let publish = crate::protocol::Publish::new(
                TopicName::new("t").unwrap(),
                Bytes::from_static(p.as_bytes()),
            );
            Message::from_publish(publish, 0)
        };
        let mut store = DelayedStore::default();
        let a = store.insert(message("a"), 2).unwrap();
        let _b = store.insert(message("b"), 2).unwrap();
        assert_eq!(store.insert(message("c"), 2), None);
        assert_eq!(&store.take(a).unwrap().payload[..], b"a");
        assert_eq!(store.take(a), None);
        assert_eq!(store.len(), 1);
    }
}
