//! Moving a live TCP connection from one shard to another.
//!
//! The accepting shard wraps the socket, the bytes it already read and its protocol state
//! in a [`Handoff`], sends it inside a mesh message, and the target shard turns it back into
//! a glommio `TcpStream`. Nothing of the byte stream is lost: the kernel keeps unread bytes
//! in the socket, and `already_read` carries what the source had taken out of it.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

use glommio::net::TcpStream;

/// A connection in transit between shards. Lives in a mesh message between two shards.
///
/// Dropping it (anywhere, e.g. inside a batch that is never received) closes the socket.
#[derive(Debug)]
pub struct Handoff<S> {
    fd: OwnedFd,
    already_read: Vec<u8>,
    state: S,
}

impl<S> Handoff<S> {
    /// Takes `stream` off the current shard.
    ///
    /// `already_read` holds the bytes read from the socket but not consumed (e.g. an
    /// unfinished packet). The stream must have no read or write in flight (it is taken
    /// by value, so no future borrows it).
    ///
    /// glommio's `TcpStream` cannot give up its fd, so the socket is duplicated
    /// (`F_DUPFD_CLOEXEC`) and the stream dropped; the duplicate keeps the connection open.
    pub fn new(stream: TcpStream, already_read: Vec<u8>, state: S) -> io::Result<Self> {
        // SAFETY: the fd is open for as long as `stream` lives, which outlasts the borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) }.try_clone_to_owned()?;
        drop(stream);
        Ok(Handoff {
            fd,
            already_read,
            state,
        })
    }

    /// A handoff from an already-owned socket fd (e.g. accepted outside glommio).
    pub fn from_fd(fd: OwnedFd, already_read: Vec<u8>, state: S) -> Self {
        Handoff {
            fd,
            already_read,
            state,
        }
    }

    /// The bytes the source shard had read but not consumed.
    pub fn already_read(&self) -> &[u8] {
        &self.already_read
    }

    /// The protocol state carried along.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Adopts the connection on the current shard: a glommio stream, the already-read bytes
    /// (to be consumed before anything read from the stream) and the state.
    ///
    /// Must be called on a shard (inside a glommio executor). See also
    /// [`ShardContext::adopt`](crate::ShardContext::adopt), which also counts it.
    pub fn into_stream(self) -> (TcpStream, Vec<u8>, S) {
        // SAFETY: `fd` is an open TCP socket we own; ownership moves into the stream.
        let stream = unsafe { TcpStream::from_raw_fd(self.fd.into_raw_fd()) };
        (stream, self.already_read, self.state)
    }

    /// Splits the handoff without adopting the socket.
    pub fn into_parts(self) -> (OwnedFd, Vec<u8>, S) {
        (self.fd, self.already_read, self.state)
    }
}
