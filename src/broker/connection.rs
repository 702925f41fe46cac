//! The connection driver: reads a socket into the shard's scratch, decodes whole frames,
//! hands packets to the pure [`Handshake`], and carries out its actions. One task per
//! connection on the shard that accepted it.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::future::poll_fn;
use futures_lite::{AsyncRead, AsyncWriteExt};
use shard::glommio::net::TcpStream;
use shard::ShardTimers;

use super::connections::{CloseRequest, ConnectionTable};
use super::handshake::{Action, Handshake};
use super::read_buffer::{ReadScratch, ReadTail};
use crate::protocol::{check, encode, Packet, Status};

/// What every connection on a shard is served with. Cloned onto every shard.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Largest packet accepted from a client, bytes (fixed header included).
    pub max_packet_size_bytes: u32,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
}

/// A deadline in the shard's timer wheel: which connection, and what to ask of it.
pub type ConnectionDeadline = (super::connections::ConnectionId, CloseRequest);

/// What the connections of one shard share. One per shard.
pub struct ShardConnections {
    /// Where every read on the shard lands.
    pub scratch: RefCell<ReadScratch>,
    /// The live connections, so deadlines can reach them.
    pub table: RefCell<ConnectionTable>,
    /// The shard's wheel of connection deadlines (CONNECT timeout; keep-alive later).
    pub timers: ShardTimers<ConnectionDeadline>,
}

impl ShardConnections {
    /// Drives the deadlines until shutdown: each one that fires asks its connection to
    /// close. Run as one task per shard.
    pub async fn run_deadlines(&self) {
        let mut due = Vec::new();
        while self.timers.expired(&mut due).await {
            let table = self.table.borrow();
            for (id, request) in due.drain(..) {
                if let Some(control) = table.get(id) {
                    control.request_close(request);
                }
            }
        }
    }
}

/// What one read produced.
enum Readable {
    Bytes(BytesMut),
    Closed(CloseRequest),
}

/// Serves one connection until it closes. Never panics on network input: every bad
/// packet becomes an [`Action::Close`] with the reason code the spec requires.
pub async fn serve(
    mut stream: TcpStream,
    peer: Option<SocketAddr>,
    shard: Rc<ShardConnections>,
    settings: ConnectionSettings,
) {
    let (id, control) = shard.table.borrow_mut().insert();
    let connect_deadline = shard
        .timers
        .insert_after(settings.connect_timeout, (id, CloseRequest::ConnectTimeout));
    let mut handshake = Handshake::default();
    let mut tail = ReadTail::default();
    let mut actions = Vec::new();
    let mut out = BytesMut::new();
    loop {
        // The scratch is borrowed only while a read completes synchronously: glommio's
        // read tries a non-blocking recv first and keeps no buffer while it waits.
        let read = poll_fn(|cx| {
            if let Poll::Ready(request) = control.poll_close(cx) {
                return Poll::Ready(Ok(Readable::Closed(request)));
            }
            let mut scratch = shard.scratch.borrow_mut();
            match Pin::new(&mut stream).poll_read(cx, scratch.space()) {
                Poll::Ready(Ok(n)) => Poll::Ready(Ok(Readable::Bytes(scratch.take(n)))),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        let fresh = match read {
            Ok(Readable::Bytes(fresh)) if fresh.is_empty() => {
                tracing::debug!(?peer, "peer closed the connection");
                break;
            }
            Ok(Readable::Bytes(fresh)) => fresh,
            Ok(Readable::Closed(CloseRequest::ConnectTimeout)) => {
                // MQTT 3.1.1 §3.1.4, MQTT 5.0 §3.1.4: close without an answer.
                tracing::info!(
                    ?peer,
                    "closing connection: no CONNECT within {:?}",
                    settings.connect_timeout
                );
                break;
            }
            Err(e) => {
                tracing::debug!(?peer, "read failed: {e}");
                break;
            }
        };
        let mut buf = tail.join(fresh);
        let before_connect = handshake.version().is_none();
        decode_frames(&mut buf, &mut handshake, &settings, &mut actions);
        tail.keep(buf);
        if before_connect && handshake.version().is_some() {
            shard.timers.cancel(connect_deadline);
        }
        if !carry_out(&mut stream, peer, &mut actions, &mut out).await {
            break;
        }
    }
    shard.timers.cancel(connect_deadline);
    shard.table.borrow_mut().remove(id);
}

/// Decodes every whole frame in `buf`, stopping at the first that asks to close.
fn decode_frames(
    buf: &mut BytesMut,
    handshake: &mut Handshake,
    settings: &ConnectionSettings,
    actions: &mut Vec<Action>,
) {
    while !actions.iter().any(|a| matches!(a, Action::Close { .. })) {
        let header = match check(buf, settings.max_packet_size_bytes) {
            Ok(Status::Complete(header)) => header,
            Ok(Status::Partial) => return,
            Err(e) => return handshake.on_decode_error(&e, buf, actions),
        };
        let frame = buf.split_to(header.frame_len()).freeze();
        match Packet::decode(frame.clone(), header, handshake.version()) {
            Ok(packet) => handshake.on_packet(packet, actions),
            Err(e) => handshake.on_decode_error(&e, &frame, actions),
        }
    }
}

/// Writes what the actions send, coalesced into one write; returns false when the
/// connection must end.
async fn carry_out(
    stream: &mut TcpStream,
    peer: Option<SocketAddr>,
    actions: &mut Vec<Action>,
    out: &mut BytesMut,
) -> bool {
    let mut close = None;
    for action in actions.drain(..) {
        match action {
            Action::Send(packet, version) => {
                if let Err(e) = encode(&packet, version, out) {
                    // Our own packet failed to encode: a bug, not the peer's fault.
                    debug_assert!(false, "encoding {packet:?} failed: {e}");
                    tracing::error!(?peer, "cannot encode {:?}: {e}", packet.packet_type());
                }
            }
            Action::Close { why } => {
                close = Some(why);
                break;
            }
        }
    }
    if !out.is_empty() {
        let written = stream.write_all(out).await;
        out.clear();
        if let Err(e) = written {
            tracing::debug!(?peer, "write failed: {e}");
            return false;
        }
    }
    match close {
        Some(why) => {
            tracing::info!(?peer, "closing connection: {why}");
            // FIN after the answer, so the peer reads it before the connection ends.
            let _ = stream.shutdown(std::net::Shutdown::Write).await;
            false
        }
        None => true,
    }
}
