//! `TopicName` and `TopicFilter`: only constructible valid (MQTT 5.0 §4.7, §4.8.2).
//! Both hold an `MqttString` backed by `Bytes`, so decoding never copies them.
//! Pure, no I/O.

use std::fmt;

use super::error::DecodeError;
use super::string::MqttString;

const SHARE_PREFIX: &str = "$share/";
const QUEUE_PREFIX: &str = "$queue/";

/// The ShareName of every `$queue/{filter}` subscription: EMQX's shorthand for one
/// unnamed shared group per filter. A ShareName may not contain `/` (MQTT 5.0 §4.8.2), so
/// no `$share/{ShareName}/{filter}` group can have this name.
pub const QUEUE_SHARE_NAME: &str = QUEUE_PREFIX;

/// A Topic Name for PUBLISH and the Will: a UTF-8 string without `+` or `#`
/// ([MQTT-4.7.0-1], [MQTT-3.3.2-2]) and, except for [`TopicName::empty`], at least
/// one character ([MQTT-4.7.3-1]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(MqttString);

impl TopicName {
    /// Copies and validates `name`.
    pub fn new(name: &str) -> Result<Self, DecodeError> {
        Self::from_string(MqttString::new(name)?)
    }

    /// Validates a decoded string without copying it.
    pub fn from_string(name: MqttString) -> Result<Self, DecodeError> {
        if name.is_empty() {
            return Err(DecodeError::TopicNameInvalid("empty topic name"));
        }
        if name.bytes().any(|b| b == b'+' || b == b'#') {
            return Err(DecodeError::TopicNameInvalid("wildcard in topic name"));
        }
        Ok(Self(name))
    }

    /// The zero-length topic name, valid only in an MQTT 5.0 PUBLISH that carries a
    /// Topic Alias (§3.3.2.3.4).
    pub fn empty() -> Self {
        Self(MqttString::default())
    }

    /// The topic name.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The same name in an allocation of its own (see [`MqttString::detached`]).
    pub fn detached(&self) -> Self {
        Self(self.0.detached())
    }

    /// The topic name as an `MqttString` (shares the decoded buffer).
    pub fn as_mqtt_string(&self) -> &MqttString {
        &self.0
    }

    /// True only for [`TopicName::empty`].
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Topic Filter for SUBSCRIBE and UNSUBSCRIBE: non-empty, `#` only as a whole last
/// level, `+` only as a whole level (§4.7.1), and a Shared Subscription
/// `$share/{ShareName}/{filter}` with a non-empty ShareName free of `/`, `+`, `#`
/// followed by a valid non-empty filter (§4.8.2). `$queue/{filter}` is a Shared
/// Subscription too (EMQX's form), in the group [`QUEUE_SHARE_NAME`]. The shared forms are
/// checked in every protocol version, since the broker offers shared subscriptions to 3.x
/// clients too.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter {
    filter: MqttString,
    /// Byte offset of the inner filter: 0 unless shared.
    inner_start: u16,
}

impl TopicFilter {
    /// Copies and validates `filter`.
    pub fn new(filter: &str) -> Result<Self, DecodeError> {
        Self::from_string(MqttString::new(filter)?)
    }

    /// Validates a decoded string without copying it.
    pub fn from_string(filter: MqttString) -> Result<Self, DecodeError> {
        let s = filter.as_str();
        let mut inner_start = 0;
        if let Some(rest) = s.strip_prefix(SHARE_PREFIX) {
            let Some(slash) = rest.find('/') else {
                return Err(DecodeError::TopicFilterInvalid(
                    "shared subscription without a topic filter",
                ));
            };
            let group = &rest[..slash];
            if group.is_empty() {
                return Err(DecodeError::TopicFilterInvalid("empty ShareName"));
            }
            if group.contains(['+', '#']) {
                return Err(DecodeError::TopicFilterInvalid("wildcard in ShareName"));
            }
            inner_start = SHARE_PREFIX.len() + slash + 1;
        } else if s.starts_with(QUEUE_PREFIX) {
            inner_start = QUEUE_PREFIX.len();
        }
        check_levels(&s[inner_start..])?;
        // At most 65,535 by MqttString's bound.
        let inner_start = u16::try_from(inner_start)
            .map_err(|_| DecodeError::TopicFilterInvalid("topic filter too long"))?;
        Ok(Self {
            filter,
            inner_start,
        })
    }

    /// The whole filter as sent, `$share/...` included.
    pub fn as_str(&self) -> &str {
        self.filter.as_str()
    }

    /// The filter as an `MqttString` (shares the decoded buffer).
    pub fn as_mqtt_string(&self) -> &MqttString {
        &self.filter
    }

    /// True for a Shared Subscription (`$share/{ShareName}/{filter}` or `$queue/{filter}`).
    pub fn is_shared(&self) -> bool {
        self.inner_start != 0
    }

    /// The ShareName of a Shared Subscription; [`QUEUE_SHARE_NAME`] for `$queue/{filter}`.
    pub fn share_group(&self) -> Option<&str> {
        if !self.is_shared() {
            return None;
        }
        if self.as_str().starts_with(QUEUE_PREFIX) {
            return Some(QUEUE_SHARE_NAME);
        }
        let end = usize::from(self.inner_start) - 1;
        self.as_str().get(SHARE_PREFIX.len()..end)
    }

    /// The filter that topics are matched against: without `$share/{ShareName}/`.
    pub fn filter(&self) -> &str {
        self.as_str()
            .get(usize::from(self.inner_start)..)
            .unwrap_or_default()
    }

    /// True if the matched filter has a `+` or `#` level.
    pub fn has_wildcards(&self) -> bool {
        self.filter().contains(['+', '#'])
    }
}

fn check_levels(filter: &str) -> Result<(), DecodeError> {
    if filter.is_empty() {
        return Err(DecodeError::TopicFilterInvalid("empty topic filter"));
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(DecodeError::TopicFilterInvalid(
                "'#' must be the whole last level",
            ));
        }
        if level.contains('+') && level != "+" {
            return Err(DecodeError::TopicFilterInvalid("'+' must be a whole level"));
        }
    }
    Ok(())
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // MQTT 5.0 §4.7.1.2 / §4.7.1.3 wildcard placement.
    #[test]
    fn filter_wildcards() {
        for ok in [
            "#", "+", "a/#", "a/+/b", "+/+", "/", "a//b", "$SYS/#", "$share",
        ] {
            assert!(TopicFilter::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "#/a", "a+", "a/b+/c", "++"] {
            assert!(
                matches!(
                    TopicFilter::new(bad),
                    Err(DecodeError::TopicFilterInvalid(_))
                ),
                "{bad}"
            );
        }
    }

    // MQTT 5.0 §4.8.2 Shared Subscriptions.
    #[test]
    fn shared_filters() {
        let f = TopicFilter::new("$share/g1/a/+/c").unwrap();
        assert!(f.is_shared());
        assert_eq!(f.share_group(), Some("g1"));
        assert_eq!(f.filter(), "a/+/c");
        assert!(f.has_wildcards());
        let plain = TopicFilter::new("a/b").unwrap();
        assert!(!plain.is_shared());
        assert_eq!(plain.share_group(), None);
        assert_eq!(plain.filter(), "a/b");
        // EMQX's `$queue/{filter}`: one group whose name no `$share` group can have.
        let q = TopicFilter::new("$queue/a/+").unwrap();
        assert!(q.is_shared());
        assert_eq!(q.share_group(), Some(QUEUE_SHARE_NAME));
        assert_eq!(q.filter(), "a/+");
        let named = TopicFilter::new("$share/$queue/a/+").unwrap();
        assert_ne!(named.share_group(), q.share_group());
        assert_eq!(named.filter(), q.filter());
        // Without the slash it is an ordinary filter, like `$share`.
        assert!(!TopicFilter::new("$queue").unwrap().is_shared());
        for bad in [
            "$queue/",
            "$queue/a#",
            "$share/",
            "$share//a",
            "$share/g",
            "$share/g/",
            "$share/g+/a",
            "$share/#/a",
        ] {
            assert!(TopicFilter::new(bad).is_err(), "{bad}");
        }
    }

    // MQTT 5.0 §4.7.3: topic names have no wildcards and are non-empty.
    #[test]
    fn topic_names() {
        assert!(TopicName::new("a/b/c").is_ok());
        assert!(TopicName::new("/").is_ok());
        for bad in ["", "a/+", "a/#", "+"] {
            assert!(
                matches!(TopicName::new(bad), Err(DecodeError::TopicNameInvalid(_))),
                "{bad}"
            );
        }
        assert!(TopicName::empty().is_empty());
    }
}
