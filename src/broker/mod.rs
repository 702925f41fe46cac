//! The broker on top of the codec and the shard runtime. Today: the connection driver
//! (read loop over the shard's scratch, decode, answer) and its pure decision half.

pub mod connection;
pub mod connections;
pub mod handshake;
pub mod index;
pub mod read_buffer;
pub mod retained;
pub mod session;
pub mod shard_main;
