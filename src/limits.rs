//! Every bound of the broker, with its unit last, in one place. Runtime bounds (shards,
//! rings, mesh, timers) live in `shard::limits`.

/// Largest MQTT packet the broker accepts, fixed header included (MQTT 5.0 Maximum Packet
/// Size advertised to clients). 1 MiB, as EMQX; operators raise it per deployment.
pub const MAX_PACKET_SIZE_BYTES_DEFAULT: u32 = 1 << 20;

/// Size of the shard's shared read scratch: one read of one socket lands here.
pub const READ_SCRATCH_BYTES: usize = 64 << 10;

/// A fresh scratch is taken when less than this is free, so one read is never tiny.
pub const READ_SCRATCH_FREE_MIN_BYTES: usize = 4 << 10;

/// Seconds a new connection has to send CONNECT before it is closed.
pub const CONNECT_TIMEOUT_SECS_DEFAULT: u64 = 10;

/// Connections the broker serves at once, all shards together (each shard takes an equal
/// share). Past it a new connection is closed as soon as it is accepted.
pub const MAX_CONNECTIONS_DEFAULT: usize = 1_000_000;

/// Levels in a Topic Name or Topic Filter. Deep topics cost every trie walk; 128 is far
/// past real fleets (EMQX's default is 128).
pub const TOPIC_LEVELS_MAX_DEFAULT: usize = 128;

/// Topic Aliases a 5.0 client may set per connection (CONNACK Topic Alias Maximum). Each
/// costs one topic name per connection that uses it.
pub const TOPIC_ALIAS_MAXIMUM_DEFAULT: u16 = 16;

/// Bytes of a Reason String the broker writes at most: enough to explain, small enough
/// never to matter against a client's Maximum Packet Size.
pub const REASON_STRING_BYTES_MAX: usize = 256;

/// Topic Aliases the broker gives, per connection, to the topics it sends a 5.0 client
/// that allows them (the client's Topic Alias Maximum caps it further). Each costs one
/// topic name and one map entry per connection that uses it.
pub const TOPIC_ALIAS_OUTBOUND_MAX_DEFAULT: u16 = 16;

/// Delayed publishes (`$delayed/{secs}/{topic}`) waiting on one shard; past it a new one
/// is dropped and logged.
pub const DELAYED_MESSAGES_MAX_PER_SHARD: usize = 100_000;

/// Milliseconds a closing connection waits for its peer to close too, reading and
/// discarding, so that our last packets are not lost to a reset.
pub const CLOSE_LINGER_MS: u64 = 1000;

/// Bytes a closing connection reads and discards at most while it lingers.
pub const CLOSE_LINGER_BYTES_MAX: usize = 64 << 10;

/// Bytes waiting to be written to one connection past which new QoS 0 messages for it are
/// dropped (and counted): a slow subscriber cannot make the broker buffer without bound.
pub const OUTBOUND_QOS0_BYTES_MAX: usize = 1 << 20;

/// Seconds of session expiry for a 3.x client with Clean Session 0. MQTT 3.1.1 keeps such a
/// session until the client cleans it; so do we (Mosquitto's default, no expiry).
pub const SESSION_EXPIRY_SECS_V3_PERSISTENT: u32 = u32::MAX;

/// Longest client identifier MQTT 3.1 allows ([MQTT 3.1 §3.1]).
pub const CLIENT_ID_CHARS_MAX_V3_1: usize = 23;

const _: () = assert!(READ_SCRATCH_FREE_MIN_BYTES < READ_SCRATCH_BYTES);
const _: () = assert!(MAX_PACKET_SIZE_BYTES_DEFAULT as usize <= 268_435_455 + 5);

/// PBKDF2 iterations of a new password verifier (`coremq passwd`): RFC 7677's minimum.
pub const SCRAM_ITERATIONS_DEFAULT: u32 = 4096;

/// PBKDF2 iterations a password file may use. At least RFC 7677's 4096; at most a bound on
/// the time one plain CONNECT (user name and password) can hold a shard on a cache miss.
pub const SCRAM_ITERATIONS_MIN: u32 = 4096;
/// See [`SCRAM_ITERATIONS_MIN`].
pub const SCRAM_ITERATIONS_MAX: u32 = 1_000_000;

/// Bytes of random salt in a new password verifier.
pub const SCRAM_SALT_BYTES: usize = 16;

/// Bytes of salt a password file may use.
pub const SCRAM_SALT_BYTES_MAX: usize = 64;

/// Random bytes behind each server nonce of an authentication exchange (24 base64 chars).
pub const AUTH_ENTROPY_BYTES: usize = 18;

/// Authentication Data a client may send in one step of an exchange (CONNECT or AUTH).
/// A SCRAM message with a 255-byte user name fits with room to spare.
pub const AUTH_DATA_BYTES_MAX: usize = 1024;

/// Steps (client messages) one authentication exchange may take before it fails.
pub const AUTH_STEPS_MAX: usize = 4;

/// Verified (user name, password) pairs a shard remembers so that a reconnecting client
/// does not pay PBKDF2 again; when full the cache starts over.
pub const PASSWORD_CACHE_ENTRIES_MAX: usize = 10_000;

const _: () = assert!(SCRAM_ITERATIONS_MIN <= SCRAM_ITERATIONS_DEFAULT);
const _: () = assert!(SCRAM_ITERATIONS_DEFAULT <= SCRAM_ITERATIONS_MAX);
const _: () = assert!(SCRAM_SALT_BYTES <= SCRAM_SALT_BYTES_MAX);
