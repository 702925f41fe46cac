//! SO_REUSEPORT listening sockets, one per (listener, shard), built with socket2.
//!
//! glommio's own `TcpListener::bind` fixes the backlog at 1024 and cannot set IPV6_V6ONLY,
//! so sockets are built here, bound on the thread that calls `Runtime::start` (so bind
//! errors reach the caller), and adopted by each shard with `TcpListener::from_raw_fd`.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::ListenerConfig;
use crate::error::StartError;

/// Binds one SO_REUSEPORT socket per shard for `config`: shard 0 first (it resolves port 0),
/// then the others on the port it got. Returns the sockets and the bound address.
pub(crate) fn bind_group(
    config: &ListenerConfig,
    shard_count: usize,
) -> Result<(Vec<Socket>, SocketAddr), StartError> {
    let first = bind_one(config.addr, config.backlog).map_err(|source| StartError::Bind {
        addr: config.addr,
        shard: 0,
        source,
    })?;
    let bound = first
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or_else(|| StartError::Bind {
            addr: config.addr,
            shard: 0,
            source: std::io::Error::other("bound socket has no inet address"),
        })?;
    let mut sockets = Vec::with_capacity(shard_count);
    sockets.push(first);
    for shard in 1..shard_count {
        let socket = bind_one(bound, config.backlog).map_err(|source| StartError::Bind {
            addr: config.addr,
            shard,
            source,
        })?;
        sockets.push(socket);
    }
    Ok((sockets, bound))
}

/// One listening socket: SO_REUSEADDR (restart while old connections sit in TIME_WAIT),
/// SO_REUSEPORT (the kernel spreads connections over the shards), IPV6_V6ONLY for IPv6.
///
/// The socket stays blocking, as glommio's own `bind` leaves it: glommio's accept first
/// tries a non-blocking `accept(2)` (it flips O_NONBLOCK around the call) and otherwise
/// submits an io_uring accept, which waits by itself.
fn bind_one(addr: SocketAddr, backlog: u32) -> std::io::Result<Socket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM.cloexec(), Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    // Bounded by LISTEN_BACKLOG_MAX <= i32::MAX (checked in limits.rs and validate()).
    socket.listen(backlog as i32)?;
    Ok(socket)
}

/// Stops a listening socket from accepting: the kernel leaves the LISTEN state, the port
/// closes for this socket, and a pending accept returns an error.
pub(crate) fn stop_listening(fd: std::os::fd::RawFd) {
    // SAFETY: shutdown(2) on an fd we own; an error (e.g. ENOTCONN) only means there is
    // nothing left to stop.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}
