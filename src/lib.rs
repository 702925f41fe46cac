//! coremq: a thread-per-core io_uring MQTT broker.
pub mod protocol;
