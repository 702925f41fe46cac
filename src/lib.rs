//! coremq: a thread-per-core io_uring MQTT broker (MQTT 3.1, 3.1.1 and 5.0).
//!
//! * [`protocol`]: the MQTT codec, pure and sans-IO.
//! * [`broker`]: connections, and later sessions and routing, on the `shard` runtime.
//! * [`auth`]: the user store and authentication methods, pure.
//! * [`limits`]: every bound of the broker, in one place.
//! * [`host`]: the host's open-files limit against the configured connections.

pub mod auth;
pub mod broker;
pub mod config;
pub mod host;
pub mod limits;
pub mod protocol;
