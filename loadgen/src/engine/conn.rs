//! One MQTT client connection: opening the socket (from a chosen source address), the
//! CONNECT exchange, and a wait that serves reads, writes, one timer and latches at once
//! without losing data (glommio's reads and writes are readiness-based: a poll that is
//! not completed consumed nothing). Lives on one shard, owned by its client's task.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use coremq::protocol::{
    decode, encode, ConnAck, Connect, Disconnect, Packet, ProtocolVersion, ReasonCode,
};
use futures_lite::{AsyncRead, AsyncWrite};
use shard::glommio::net::TcpStream;
use shard::glommio::timer::Timer;
use socket2::{Domain, Protocol, Socket, Type};

use super::latch::Latch;
use crate::clock;
use crate::limits::PACKET_BYTES_MAX;

/// Milliseconds a closing connection may take to write its DISCONNECT.
const CLOSE_FLUSH_MS: u64 = 1000;

/// What ended a [`Conn::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Bytes arrived: decode them with [`Conn::next_packet`].
    Read,
    /// Everything queued was written (only when asked for).
    Drained,
    /// The timer fired.
    Timer,
    /// A watched latch is set.
    Latch,
    /// The broker closed the connection.
    Closed,
}

/// A latch a wait watches, with its registration flag.
#[derive(Debug)]
pub struct Watch<'a> {
    latch: &'a Latch,
    registered: bool,
}

impl<'a> Watch<'a> {
    /// Watches `latch`.
    pub fn new(latch: &'a Latch) -> Watch<'a> {
        Watch {
            latch,
            registered: false,
        }
    }
}

/// An MQTT connection to the broker. Owned by one client task on one shard.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    version: ProtocolVersion,
    rbuf: BytesMut,
    /// Bytes waiting to be written.
    pub wbuf: BytesMut,
    /// When bytes were last handed to the socket, ns on the run's clock.
    pub last_sent_ns: u64,
}

/// Opens a TCP connection to `broker` from `source` (if any), without blocking the shard:
/// the connect is started non-blocking and completes while the first write waits (io_uring
/// polls the socket for writability).
fn start_connect(broker: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(broker),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nodelay(true)?;
    if let Some(ip) = source {
        if ip.is_ipv4() {
            // Without it, bind() reserves a port for this address alone and the 28k
            // ephemeral ports run out across all destinations; with it, the port is
            // chosen at connect() per 4-tuple.
            let one: libc::c_int = 1;
            // SAFETY: a valid socket fd and a c_int option of the right size.
            let rc = unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    socket.set_nonblocking(true)?;
    match socket.connect(&broker.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    // glommio sends and receives with MSG_DONTWAIT and polls through io_uring; the fd
    // itself stays blocking, as glommio's own sockets are.
    socket.set_nonblocking(false)?;
    // SAFETY: we own the socket; ownership moves to the stream.
    Ok(unsafe { TcpStream::from_raw_fd(socket.into_raw_fd()) })
}

impl Conn {
    /// Connects, sends `connect` and waits for the CONNACK until `deadline_ns` (or an
    /// abort). A refused CONNACK is an error.
    pub async fn open(
        broker: SocketAddr,
        source: Option<IpAddr>,
        connect: Connect,
        scratch: &RefCell<Vec<u8>>,
        abort: &Latch,
        deadline_ns: u64,
    ) -> Result<(Conn, ConnAck), String> {
        let version = connect.protocol_version;
        let stream = start_connect(broker, source).map_err(|e| format!("connect: {e}"))?;
        let mut conn = Conn {
            stream,
            version,
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            last_sent_ns: clock::now_ns(),
        };
        conn.queue(&Packet::Connect(Box::new(connect)))?;
        match conn.read_packet_until(scratch, abort, deadline_ns).await? {
            Packet::ConnAck(ack) if ack.reason_code.is_success() => Ok((conn, *ack)),
            Packet::ConnAck(ack) => Err(format!("CONNACK refused: {}", ack.reason_code)),
            p => Err(format!("expected CONNACK, got {:?}", p.packet_type())),
        }
    }

    /// Queues `packet` for writing.
    pub fn queue(&mut self, packet: &Packet) -> Result<(), String> {
        encode(packet, self.version, &mut self.wbuf).map_err(|e| format!("encode: {e}"))
    }

    /// The next whole packet already read, if any. A malformed packet is an error.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, String> {
        decode(&mut self.rbuf, Some(self.version), PACKET_BYTES_MAX)
            .map_err(|e| format!("from the broker: {e}"))
    }

    /// Bytes the kernel holds in the socket's send queue, not yet acknowledged by the peer
    /// (`SIOCOUTQ`).
    pub fn socket_queued(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: a valid socket fd and an int out pointer, as TIOCOUTQ (SIOCOUTQ) wants.
        let rc = unsafe { libc::ioctl(self.stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
        if rc == 0 {
            n.max(0) as usize
        } else {
            0
        }
    }

    /// Writes what is queued and reads what arrives until something happens: bytes read,
    /// the queue drained (if `want_drained`), `timer` fired, a watched latch set, the
    /// broker closed. Reads land in the shard's `scratch`, then in this connection's
    /// buffer (an idle connection keeps no read buffer of its own beyond a CONNACK).
    pub async fn wait(
        &mut self,
        scratch: &RefCell<Vec<u8>>,
        mut timer: Option<&mut Timer>,
        watches: &mut [Watch<'_>],
        want_drained: bool,
    ) -> Result<Wake, String> {
        poll_fn(|cx| {
            let mut wrote = false;
            while !self.wbuf.is_empty() {
                match Pin::new(&mut self.stream).poll_write(cx, &self.wbuf) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err("write: closed".to_string())),
                    Poll::Ready(Ok(n)) => {
                        self.wbuf.advance(n);
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(format!("write: {e}"))),
                    Poll::Pending => break,
                }
            }
            if wrote {
                self.last_sent_ns = clock::now_ns();
                if want_drained && self.wbuf.is_empty() {
                    return Poll::Ready(Ok(Wake::Drained));
                }
            }
            {
                let mut scratch = scratch.borrow_mut();
                match Pin::new(&mut self.stream).poll_read(cx, &mut scratch[..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Ok(Wake::Closed)),
                    Poll::Ready(Ok(n)) => {
                        self.rbuf.extend_from_slice(&scratch[..n]);
                        return Poll::Ready(Ok(Wake::Read));
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(format!("read: {e}"))),
                    Poll::Pending => {}
                }
            }
            if let Some(t) = timer.as_deref_mut() {
                if Pin::new(t).poll(cx).is_ready() {
                    return Poll::Ready(Ok(Wake::Timer));
                }
            }
            for w in watches.iter_mut() {
                if w.latch.poll_set(cx, &mut w.registered) {
                    return Poll::Ready(Ok(Wake::Latch));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Writes and reads until one packet is decoded, `deadline_ns` passes or `abort` is set.
    pub async fn read_packet_until(
        &mut self,
        scratch: &RefCell<Vec<u8>>,
        abort: &Latch,
        deadline_ns: u64,
    ) -> Result<Packet, String> {
        let mut timer = Timer::new(clock::until(deadline_ns));
        let mut watches = [Watch::new(abort)];
        loop {
            if let Some(p) = self.next_packet()? {
                return Ok(p);
            }
            match self
                .wait(scratch, Some(&mut timer), &mut watches, false)
                .await?
            {
                Wake::Read | Wake::Drained => {}
                Wake::Timer => return Err("timed out waiting for the broker".into()),
                Wake::Latch => return Err("aborted".into()),
                Wake::Closed => return Err("the broker closed the connection".into()),
            }
        }
    }

    /// Sends DISCONNECT (normal), writes what is queued (for at most a second), and
    /// closes the write side.
    pub async fn close(mut self, scratch: &RefCell<Vec<u8>>) {
        let _ = self.queue(&Packet::Disconnect(Disconnect::new(
            ReasonCode::NORMAL_DISCONNECTION,
        )));
        let mut timer = Timer::new(Duration::from_millis(CLOSE_FLUSH_MS));
        while !self.wbuf.is_empty() {
            match self.wait(scratch, Some(&mut timer), &mut [], true).await {
                Ok(Wake::Read) => self.rbuf.clear(),
                Ok(Wake::Drained) => break,
                _ => return,
            }
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write).await;
    }
}
