//! coremq's thread-per-core runtime (MQTT-agnostic).
