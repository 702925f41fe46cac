//! Which member of a shared subscription group gets a message (MQTT 5.0 §4.8.2 leaves the
//! choice to the server). Pure, no I/O.
//!
//! The choice is made in two steps, because no shard knows every member: the publishing
//! shard picks one of the shards with members of the group from its replica of the
//! shared-group table ([`SharedPicker::choose_shard`]), and that shard picks one of its
//! local members ([`SharedPicker::choose_member`]). For the strategies that promise a
//! stable member, both steps must give the same answer whichever shard publishes:
//!
//! * `hash_clientid`, `hash_topic`: the publishing shard hashes the publisher's client id
//!   (EMQX's meaning) or the topic into a key that travels with the message. The shard is
//!   the highest of `mix(key, shard)` (rendezvous hashing: the same on every replica
//!   whatever order it lists the shards in, and only the keys of a leaving shard move);
//!   the member is `mix(key) % members`, stable while the shard's members are.
//! * `sticky`: the shard whose members of the group go back furthest (the time its
//!   first current member subscribed, replicated with the route; ties to the lower shard),
//!   then its oldest local member. Every shard agrees without talking, and the choice
//!   changes only when the chosen member leaves: a newcomer is never older.
//! * `round_robin` and `random` promise nothing beyond one member per message; each shard
//!   keeps its own generator, and a turn per group at each of the two steps.

use std::fmt;

/// How a shared group chooses the member for a message. One per broker
/// (`[shared_subscriptions] strategy`), copied into every shard's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SharedStrategy {
    /// Members in turn.
    #[default]
    RoundRobin,
    /// A member at random.
    Random,
    /// One member per publisher: a hash of the publishing client's id.
    HashClientId,
    /// One member per topic: a hash of the topic name.
    HashTopic,
    /// One member until it leaves the group.
    Sticky,
}

impl SharedStrategy {
    /// Every strategy, in the order the documentation lists them.
    pub const ALL: [SharedStrategy; 5] = [
        SharedStrategy::RoundRobin,
        SharedStrategy::Random,
        SharedStrategy::HashClientId,
        SharedStrategy::HashTopic,
        SharedStrategy::Sticky,
    ];

    /// The name in the configuration file (EMQX's names).
    pub fn name(self) -> &'static str {
        match self {
            SharedStrategy::RoundRobin => "round_robin",
            SharedStrategy::Random => "random",
            SharedStrategy::HashClientId => "hash_clientid",
            SharedStrategy::HashTopic => "hash_topic",
            SharedStrategy::Sticky => "sticky",
        }
    }

    /// The strategy called `name` in the configuration file.
    pub fn from_name(name: &str) -> Option<SharedStrategy> {
        SharedStrategy::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The names of every strategy, for error messages.
    pub fn names() -> [&'static str; 5] {
        SharedStrategy::ALL.map(SharedStrategy::name)
    }

    /// The key a message is chosen by: the hash of the publisher's client id or of the
    /// topic for the hash strategies, 0 for the others. `client_id` is asked for only
    /// under `hash_clientid`; a message without a publishing session (a will, `$SYS`)
    /// hashes as the empty client id.
    pub fn message_key<'a>(self, topic: &str, client_id: impl FnOnce() -> Option<&'a str>) -> u64 {
        match self {
            SharedStrategy::HashClientId => hash_bytes(client_id().unwrap_or("").as_bytes()),
            SharedStrategy::HashTopic => hash_bytes(topic.as_bytes()),
            _ => 0,
        }
    }
}

impl fmt::Display for SharedStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// FNV-1a over `bytes`: stable across shards, builds and restarts.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// SplitMix64's finaliser: spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The state the choices keep on one shard: a random generator. (Round-robin turns are
/// kept per group by the index and passed in: one turn for several groups, or for both
/// steps, would skip members whenever a shard takes two turns for one message.) One per
/// shard, in its broker state.
#[derive(Clone, Debug)]
pub struct SharedPicker {
    random: u64,
}

impl Default for SharedPicker {
    fn default() -> Self {
        Self::new(0)
    }
}

impl SharedPicker {
    /// A picker whose generator starts from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self {
            // xorshift's state must not be 0; mix() maps exactly one input to 0.
            random: mix(seed) | 1,
        }
    }

    /// xorshift64*: fast, and not for anything an adversary could exploit.
    fn next_random(&mut self, len: usize) -> usize {
        let mut x = self.random;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % len as u64) as usize
    }

    /// The shard that delivers a message with `key` to a group, among `shards`: each shard
    /// with members and when its current members' first one subscribed (milliseconds on
    /// the broker's clock, the same on every shard). `next_turn` takes the group's next
    /// round-robin turn (asked for only under `round_robin`). `None` when there is no
    /// shard. Under `hash_*` and `sticky` the answer does not depend on the order of
    /// `shards`.
    pub fn choose_shard(
        &mut self,
        strategy: SharedStrategy,
        key: u64,
        next_turn: impl FnOnce() -> u64,
        shards: impl ExactSizeIterator<Item = (usize, u64)>,
    ) -> Option<usize> {
        let len = shards.len();
        if len == 0 {
            return None;
        }
        let mut shards = shards;
        match strategy {
            SharedStrategy::RoundRobin => shards
                .nth((next_turn() % len as u64) as usize)
                .map(|(s, _)| s),
            SharedStrategy::Random => shards.nth(self.next_random(len)).map(|(s, _)| s),
            SharedStrategy::HashClientId | SharedStrategy::HashTopic => shards
                .max_by_key(|&(shard, _)| (mix(key ^ mix(shard as u64)), std::cmp::Reverse(shard)))
                .map(|(s, _)| s),
            SharedStrategy::Sticky => shards
                .min_by_key(|&(shard, since_ms)| (since_ms, shard))
                .map(|(s, _)| s),
        }
    }

    /// The index of the local member that gets a message with `key`, among `len` members
    /// in the shard's stable order; `next_turn` as for [`SharedPicker::choose_shard`];
    /// `subscribed_seq(i)` says when member `i` subscribed (larger: later), for `sticky`.
    /// `None` when `len` is 0.
    pub fn choose_member(
        &mut self,
        strategy: SharedStrategy,
        key: u64,
        next_turn: impl FnOnce() -> u64,
        len: usize,
        subscribed_seq: impl Fn(usize) -> u64,
    ) -> Option<usize> {
        if len == 0 {
            return None;
        }
        Some(match strategy {
            SharedStrategy::RoundRobin => (next_turn() % len as u64) as usize,
            SharedStrategy::Random => self.next_random(len),
            // Salted so that the member does not follow the bits that chose the shard.
            SharedStrategy::HashClientId | SharedStrategy::HashTopic => {
                (mix(key ^ 0x5eed) % len as u64) as usize
            }
            SharedStrategy::Sticky => (0..len).min_by_key(|&i| subscribed_seq(i))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASHES: [SharedStrategy; 2] = [SharedStrategy::HashClientId, SharedStrategy::HashTopic];

    /// For the strategies that must not take a turn.
    fn no_turn() -> u64 {
        panic!("only round_robin takes turns")
    }

    #[test]
    fn names_round_trip() {
        for strategy in SharedStrategy::ALL {
            assert_eq!(SharedStrategy::from_name(strategy.name()), Some(strategy));
            assert_eq!(strategy.to_string(), strategy.name());
        }
        assert_eq!(SharedStrategy::default(), SharedStrategy::RoundRobin);
        assert_eq!(SharedStrategy::from_name("hash"), None);
        assert_eq!(SharedStrategy::names()[2], "hash_clientid");
    }

    #[test]
    fn message_key_hashes_what_the_strategy_names() {
        let key = |s: SharedStrategy, topic, id| s.message_key(topic, || id);
        let by_client = SharedStrategy::HashClientId;
        assert_eq!(
            key(by_client, "a", Some("c1")),
            key(by_client, "b", Some("c1"))
        );
        assert_ne!(
            key(by_client, "a", Some("c1")),
            key(by_client, "a", Some("c2"))
        );
        assert_eq!(key(by_client, "a", None), hash_bytes(b""));
        let by_topic = SharedStrategy::HashTopic;
        assert_eq!(
            key(by_topic, "a", Some("c1")),
            key(by_topic, "a", Some("c2"))
        );
        assert_ne!(key(by_topic, "a", None), key(by_topic, "b", None));
        assert_eq!(key(SharedStrategy::RoundRobin, "a", Some("c")), 0);
    }

    #[test]
    fn hashed_shard_is_the_same_whatever_the_order_and_spreads() {
        let shards = [(0, 50), (3, 10), (5, 70), (9, 20)];
        let mut reversed = shards;
        reversed.reverse();
        let mut hits = [0usize; 10];
        for strategy in HASHES {
            for n in 0..400u64 {
                let key = hash_bytes(&n.to_be_bytes());
                // Two shards with their own pickers and replica orders agree.
                let one =
                    SharedPicker::new(1).choose_shard(strategy, key, no_turn, shards.into_iter());
                let two =
                    SharedPicker::new(2).choose_shard(strategy, key, no_turn, reversed.into_iter());
                assert_eq!(one, two);
                hits[one.unwrap()] += 1;
            }
        }
        for shard in [0, 3, 5, 9] {
            assert!(hits[shard] > 100, "{hits:?}");
        }
    }

    #[test]
    fn hashed_shard_moves_only_keys_of_a_leaving_shard() {
        let all = [(0, 0), (1, 0), (2, 0)];
        let without_2 = [(0, 0), (1, 0)];
        let mut picker = SharedPicker::new(0);
        for n in 0..300u64 {
            let before =
                picker.choose_shard(SharedStrategy::HashTopic, n, no_turn, all.into_iter());
            let after =
                picker.choose_shard(SharedStrategy::HashTopic, n, no_turn, without_2.into_iter());
            if before != Some(2) {
                assert_eq!(before, after, "key {n}");
            }
        }
    }

    #[test]
    fn sticky_shard_is_the_longest_served_then_the_lower() {
        let mut picker = SharedPicker::new(0);
        let mut choose = |shards: &[(usize, u64)]| {
            picker.choose_shard(SharedStrategy::Sticky, 7, no_turn, shards.iter().copied())
        };
        assert_eq!(choose(&[(2, 30), (1, 10), (0, 20)]), Some(1));
        assert_eq!(choose(&[(0, 20), (1, 10), (2, 30)]), Some(1));
        // A shard that gains members later does not take over.
        assert_eq!(choose(&[(0, 99), (1, 10)]), Some(1));
        assert_eq!(choose(&[(3, 10), (1, 10)]), Some(1));
        assert_eq!(choose(&[]), None);
    }

    #[test]
    fn round_robin_and_random_cover_every_candidate() {
        for strategy in [SharedStrategy::RoundRobin, SharedStrategy::Random] {
            let mut picker = SharedPicker::new(42);
            let (mut shard_turn, mut member_turn) = (0u64, 0u64);
            let mut shard_hits = [0usize; 3];
            let mut member_hits = [0usize; 4];
            for _ in 0..300 {
                let shards = [(0, 0), (1, 0), (2, 0)].into_iter();
                let turn = || {
                    shard_turn += 1;
                    shard_turn
                };
                shard_hits[picker.choose_shard(strategy, 0, turn, shards).unwrap()] += 1;
                let turn = || {
                    member_turn += 1;
                    member_turn
                };
                member_hits[picker.choose_member(strategy, 0, turn, 4, |_| 0).unwrap()] += 1;
            }
            assert!(
                shard_hits.iter().all(|&n| n > 50),
                "{strategy}: {shard_hits:?}"
            );
            assert!(
                member_hits.iter().all(|&n| n > 30),
                "{strategy}: {member_hits:?}"
            );
        }
        // Round robin follows the turn it is given, exactly.
        let mut picker = SharedPicker::new(0);
        let picks: Vec<usize> = (1..=6)
            .map(|turn| {
                picker
                    .choose_member(SharedStrategy::RoundRobin, 0, || turn, 3, |_| 0)
                    .unwrap()
            })
            .collect();
        assert_eq!(picks, [1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn hashed_member_is_stable_per_key_and_spreads() {
        let mut picker = SharedPicker::new(0);
        for strategy in HASHES {
            let mut hits = [0usize; 4];
            for n in 0..400u64 {
                let key = hash_bytes(format!("client-{n}").as_bytes());
                let first = picker.choose_member(strategy, key, no_turn, 4, |_| 0);
                assert_eq!(
                    first,
                    picker.choose_member(strategy, key, no_turn, 4, |_| 0)
                );
                hits[first.unwrap()] += 1;
            }
            assert!(hits.iter().all(|&n| n > 50), "{strategy}: {hits:?}");
        }
    }

    #[test]
    fn sticky_member_is_the_oldest_until_it_leaves() {
        let mut picker = SharedPicker::new(0);
        let seqs = [40u64, 12, 33];
        let pick = |picker: &mut SharedPicker, seqs: &[u64]| {
            picker.choose_member(SharedStrategy::Sticky, 0, no_turn, seqs.len(), |i| seqs[i])
        };
        for _ in 0..10 {
            assert_eq!(pick(&mut picker, &seqs), Some(1));
        }
        // A newer member joins: the oldest stays.
        assert_eq!(pick(&mut picker, &[40, 12, 33, 90]), Some(1));
        // The oldest leaves (the last member takes its place, as the index does): the
        // next oldest takes over.
        assert_eq!(pick(&mut picker, &[40, 90, 33]), Some(2));
        assert_eq!(pick(&mut picker, &[]), None);
    }
}
