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
        let (delay_secs, topic) = match parse_delayed(message.topic.as_str()) {
            None => return self.route(message, Some(publisher)),
            Some(Delayed::Invalid(why)) => {
                tracing::info!(
                    topic = message.topic.as_str(),
                    "delayed publish dropped: {why}"
                );
                return;
            }
            Some(Delayed::After { delay_secs, topic }) => (delay_secs, topic),
        };
        let message = Message { topic, ..message }.detached();
        let id = self
            .state
            .borrow_mut()
            .delayed
            .insert(message, DELAYED_MESSAGES_MAX_PER_SHARD);
        match id {
            Some(id) => {
                let delay = Duration::from_secs(u64::from(delay_secs));
                self.timers
                    .insert_after(delay, Deadline::DelayedPublish(id));
            }
            None => tracing::warn!(
                max = DELAYED_MESSAGES_MAX_PER_SHARD,
                "delayed publish dropped: too many waiting on this shard"
            ),
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
