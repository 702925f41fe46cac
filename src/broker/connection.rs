//! The connection driver: reads a socket into the shard's scratch, decodes whole frames,
//! hands CONNECT to its owner shard and every later packet to the session there, and
//! writes what the session queued, coalesced per loop turn. One task per connection on the
//! shard that serves it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::future::{self, poll_fn};
use futures_lite::{AsyncRead, AsyncWriteExt};
use shard::glommio::net::TcpStream;
use shard::{glommio, Handoff, TimerId};

use super::connections::{CloseRequest, ConnectionControl, ConnectionEvent, ConnectionId};
use super::handshake::{first_packet, FirstPacket};
use super::mesh_message::{HandoffState, MeshMessage};
use super::packets::Next;
use super::problem::reason_string;
use super::read_buffer::ReadTail;
use super::session::SessionLimits;
use super::sessions::Ending;
use super::shard_broker::{Deadline, ShardBroker};
use crate::limits::{CLOSE_LINGER_BYTES_MAX, CLOSE_LINGER_MS};
use crate::protocol::{
    check, Connect, Disconnect, MqttString, Packet, ProtocolVersion, ReasonCode, Status,
};

/// What every connection is served with. Cloned onto every shard.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Largest packet accepted from a client, bytes (fixed header included).
    pub max_packet_size_bytes: u32,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// Bounds of every session.
    pub session_limits: SessionLimits,
    /// Connections this shard serves at most (its share of the broker's maximum).
    pub shard_connections_max: usize,
    /// Levels a Topic Name or Topic Filter may have.
    pub topic_levels_max: usize,
    /// Topic Alias Maximum advertised to 5.0 clients (0: aliases refused).
    pub topic_alias_maximum: u16,
    /// How the broker gives Topic Aliases to the topics it sends 5.0 clients.
    pub topic_alias_outbound: super::topic_alias::OutboundAliasPolicy,
    /// Topic Aliases the broker gives per connection at most.
    pub topic_alias_outbound_max: u16,
    /// Bounds of delayed publish (`$delayed/{secs}/{topic}`).
    pub delayed: super::delayed::DelayedLimits,
    /// Where clients are sent instead (MQTT 5.0 §4.11), if anywhere.
    pub redirect: Option<crate::config::Redirect>,
    /// Server Keep Alive: the keep alive every 5.0 client must use instead of its own
    /// (MQTT 5.0 §3.2.2.3.14); `None`: the client's.
    pub server_keep_alive_secs: Option<u16>,
    /// Response Information sent to 5.0 clients that ask for it (§3.2.2.3.15).
    pub response_information: Option<crate::protocol::MqttString>,
    /// How often the `$SYS` tree is published; `None`: never.
    pub sys_interval: Option<Duration>,
    /// How a shared subscription group chooses the member for a message.
    pub shared_strategy: super::shared_strategy::SharedStrategy,
    /// Who may connect, and the enhanced authentication methods (read-only, shared).
    pub auth: std::sync::Arc<crate::auth::Authenticator>,
}

/// What one wait on a connection produced.
pub(super) enum Event {
    Read(BytesMut),
    Control(ConnectionEvent),
}

/// A connection registered in the shard's table; removed when dropped, however the task
/// ends (including being dropped at shutdown).
pub(super) struct Registered {
    broker: Rc<ShardBroker>,
    id: ConnectionId,
    pub(super) control: Rc<ConnectionControl>,
    deadline: Option<TimerId>,
}

impl Registered {
    fn new(broker: &Rc<ShardBroker>) -> Self {
        let (id, control) = broker.connections.borrow_mut().insert();
        Registered {
            broker: Rc::clone(broker),
            id,
            control,
            deadline: None,
        }
    }

    pub(super) fn set_deadline(&mut self, after: Duration, request: CloseRequest) {
        self.clear_deadline();
        let deadline = Deadline::Connection(self.id, request);
        self.deadline = Some(self.broker.timers.insert_after(after, deadline));
    }

    pub(super) fn clear_deadline(&mut self) {
        if let Some(id) = self.deadline.take() {
            self.broker.timers.cancel(id);
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.clear_deadline();
        self.broker.connections.borrow_mut().remove(self.id);
    }
}

/// Serves a connection accepted on this shard: reads CONNECT, then serves it here or
/// hands it to the owner shard of its client id.
pub async fn serve(broker: Rc<ShardBroker>, mut stream: TcpStream, peer: Option<SocketAddr>) {
    if broker.connection_count() >= broker.settings.shard_connections_max {
        // Cheapest refusal: no CONNECT is read, so no state and no answer.
        broker.count_refused_connection();
        tracing::warn!(
            ?peer,
            max = broker.settings.shard_connections_max,
            "connection limit reached on this shard: connection closed"
        );
        return;
    }
    let mut conn = Registered::new(&broker);
    conn.set_deadline(
        broker.settings.connect_timeout,
        CloseRequest::ConnectTimeout,
    );
    let mut tail = ReadTail::default();
    let connect = loop {
        let fresh = match next_event(&broker, &mut stream, &conn.control).await {
            Ok(Event::Read(fresh)) if fresh.is_empty() => return,
            Ok(Event::Read(fresh)) => fresh,
            Ok(Event::Control(ConnectionEvent::Close(request))) => {
                // MQTT 3.1.1 §3.1.4, MQTT 5.0 §3.1.4: close without an answer.
                tracing::info!(
                    ?peer,
                    "closing connection: {request:?}: no CONNECT within {:?}",
                    broker.settings.connect_timeout
                );
                return;
            }
            Ok(Event::Control(ConnectionEvent::Write)) => continue,
            Err(e) => {
                tracing::debug!(?peer, "read failed: {e}");
                return;
            }
        };
        let mut buf = tail.join(fresh);
        let header = match check(&buf, broker.settings.max_packet_size_bytes) {
            Ok(Status::Partial) => {
                tail.keep(buf);
                continue;
            }
            Ok(Status::Complete(header)) => Ok(header),
            Err(e) => Err(e),
        };
        let (decoded, frame) = match header {
            Ok(header) => {
                let frame = buf.split_to(header.frame_len()).freeze();
                (Packet::decode(frame.clone(), header, None), frame)
            }
            Err(e) => (Err(e), buf.clone().freeze()),
        };
        match first_packet(decoded, &frame) {
            FirstPacket::Connect(connect) => {
                tail.keep(buf);
                break connect;
            }
            FirstPacket::Refuse { answer, why } => {
                tracing::info!(?peer, "closing connection: {why}");
                if let Some((packet, version)) = answer {
                    conn.control.set_version(version);
                    conn.control.send(&packet);
                }
                finish(&mut stream, &conn.control).await;
                return;
            }
        }
    };
    conn.clear_deadline();
    let owner = if connect.client_id.is_empty() {
        broker.shard_id()
    } else {
        broker.owner_of(&connect.client_id)
    };
    if owner != broker.shard_id() {
        drop(conn);
        let already_read = tail.take().to_vec();
        match Handoff::new(stream, already_read, HandoffState { connect, peer }) {
            Ok(handoff) => {
                tracing::debug!(?peer, from = broker.shard_id(), to = owner, "handoff");
                broker.send_to(owner, MeshMessage::Handoff(handoff));
            }
            Err(e) => tracing::warn!(?peer, "cannot hand the connection off: {e}"),
        }
        return;
    }
    serve_connected(broker, stream, peer, conn, connect, tail).await;
}

/// Serves a connection another shard handed to this one, the owner of its client id.
pub async fn serve_adopted(
    broker: Rc<ShardBroker>,
    stream: TcpStream,
    already_read: Vec<u8>,
    state: HandoffState,
) {
    let conn = Registered::new(&broker);
    let mut tail = ReadTail::default();
    tail.keep(BytesMut::from(&already_read[..]));
    serve_connected(broker, stream, state.peer, conn, state.connect, tail).await;
}

/// Attaches the connection to its session on this (the owner) shard and serves it.
async fn serve_connected(
    broker: Rc<ShardBroker>,
    mut stream: TcpStream,
    peer: Option<SocketAddr>,
    mut conn: Registered,
    connect: Box<Connect>,
    mut tail: ReadTail,
) {
    let version = connect.protocol_version;
    let authenticated =
        super::auth::authenticate(&broker, &mut stream, peer, &mut conn, &connect, &mut tail);
    let Some(connack_auth) = authenticated.await else {
        finish(&mut stream, &conn.control).await;
        return;
    };
    let attached = match broker.attach(&connect, conn.id, connack_auth) {
        Ok(attached) => attached,
        Err(code) => {
            tracing::info!(?peer, "refused CONNECT: {code:?}");
            finish(&mut stream, &conn.control).await;
            return;
        }
    };
    tracing::debug!(
        shard = broker.shard_id(),
        ?peer,
        client_id = attached.client_id.as_str(),
        "connected"
    );
    // Keep alive (MQTT 5.0 §3.1.2.10): nothing received for 1.5 times the interval ends
    // the connection. Reset on every read, not every packet.
    let keep_alive_secs = match broker.settings.server_keep_alive_secs {
        Some(secs) if version.is_v5() => secs,
        _ => connect.keep_alive_secs,
    };
    let keep_alive =
        (keep_alive_secs > 0).then(|| Duration::from_millis(u64::from(keep_alive_secs) * 1500));
    if let Some(after) = keep_alive {
        conn.set_deadline(after, CloseRequest::KeepAliveTimeout);
    }
    drop(connect);
    let mut pending = tail.take();
    let ending = 'serve: loop {
        if !pending.is_empty() {
            let mut buf = tail.join(std::mem::take(&mut pending));
            let next = decode_and_handle(&broker, attached.key, &conn.control, &mut buf, version);
            tail.keep(buf);
            if let Next::Close(ending) = next {
                break 'serve ending;
            }
        }
        match next_event(&broker, &mut stream, &conn.control).await {
            Ok(Event::Read(fresh)) if fresh.is_empty() => break Ending::Abnormal,
            Ok(Event::Read(fresh)) => {
                if let (Some(after), Some(id)) = (keep_alive, conn.deadline) {
                    let at = broker.now_ms() + after.as_millis() as u64;
                    broker.timers.reschedule_at(id, at);
                }
                pending = fresh;
                // A read that completes at once never yields: without this, a publisher
                // with a full socket would keep the shard from every other connection
                // (its subscribers' writes included) until its socket ran dry.
                future::yield_now().await;
            }
            Ok(Event::Control(ConnectionEvent::Write)) => {
                let out = conn.control.take_outbound();
                if let Err(e) = stream.write_all(&out).await {
                    tracing::debug!(?peer, "write failed: {e}");
                    break Ending::Abnormal;
                }
                broker.counters.bytes_sent.add(out.len() as u64);
            }
            Ok(Event::Control(ConnectionEvent::Close(request))) => {
                let reason = match request {
                    CloseRequest::KeepAliveTimeout => Some(ReasonCode::KeepAliveTimeout),
                    CloseRequest::SessionTakenOver => Some(ReasonCode::SessionTakenOver),
                    CloseRequest::ServerShuttingDown => Some(ReasonCode::ServerShuttingDown),
                    CloseRequest::ConnectTimeout | CloseRequest::Session => None,
                };
                if let Some(reason) = reason {
                    if version.is_v5() {
                        let disconnect = server_disconnect(&broker.settings, reason);
                        conn.control.send(&Packet::Disconnect(disconnect));
                    }
                }
                tracing::info!(
                    ?peer,
                    client_id = attached.client_id.as_str(),
                    "closing connection: {request:?}"
                );
                break Ending::Abnormal;
            }
            Err(e) => {
                tracing::debug!(?peer, "read failed: {e}");
                break Ending::Abnormal;
            }
        }
    };
    broker.connection_lost(attached.key, conn.id, ending);
    tracing::debug!(
        client_id = attached.client_id.as_str(),
        ?ending,
        "connection ended"
    );
    finish(&mut stream, &conn.control).await;
}

/// The DISCONNECT the server sends for `reason`, explained, and at shutdown pointing to
/// another server when `[redirect] on_shutdown` says so (MQTT 5.0 §4.11).
fn server_disconnect(settings: &ConnectionSettings, reason: ReasonCode) -> Disconnect {
    let redirect = settings.redirect.as_ref().filter(|r| r.on_shutdown);
    let (reason, text) = match (reason, redirect) {
        (ReasonCode::ServerShuttingDown, Some(_)) => (
            ReasonCode::UseAnotherServer,
            "the server is shutting down; use the server referenced",
        ),
        (ReasonCode::ServerShuttingDown, None) => (reason, "the server is shutting down"),
        (ReasonCode::KeepAliveTimeout, _) => {
            (reason, "nothing received for 1.5 times the keep alive")
        }
        (ReasonCode::SessionTakenOver, _) => (
            reason,
            "another connection took over the session with this client identifier",
        ),
        _ => (reason, ""),
    };
    let mut disconnect = Disconnect::new(reason);
    disconnect.properties.reason_string = (!text.is_empty()).then(|| reason_string(text)).flatten();
    if reason == ReasonCode::UseAnotherServer {
        disconnect.properties.server_reference =
            redirect.and_then(|r| MqttString::new(&r.server_reference).ok());
    }
    disconnect
}

/// Decodes and handles every whole frame in `buf`, stopping at the first that ends the
/// connection.
fn decode_and_handle(
    broker: &ShardBroker,
    key: super::shard_broker::SessionKey,
    control: &ConnectionControl,
    buf: &mut BytesMut,
    version: ProtocolVersion,
) -> Next {
    loop {
        let header = match check(buf, broker.settings.max_packet_size_bytes) {
            Ok(Status::Complete(header)) => header,
            Ok(Status::Partial) => return Next::Continue,
            Err(e) => {
                tracing::info!("closing connection: {e}");
                return broker.protocol_violation(control, e.reason_code(), &e.to_string());
            }
        };
        let frame = buf.split_to(header.frame_len()).freeze();
        let next = match Packet::decode(frame, header, Some(version)) {
            Ok(packet) => broker.on_packet(key, control, packet),
            Err(e) => {
                tracing::info!("closing connection: {e}");
                broker.protocol_violation(control, e.reason_code(), &e.to_string())
            }
        };
        if next != Next::Continue {
            return next;
        }
    }
}

/// Waits for the next thing to do: bytes read, packets to write, or a close request.
/// While the shard's mesh is congested, reading pauses so TCP pushes back on publishers.
pub(super) async fn next_event(
    broker: &ShardBroker,
    stream: &mut TcpStream,
    control: &ConnectionControl,
) -> std::io::Result<Event> {
    loop {
        if broker.congested() {
            let control_event = poll_fn(|cx| control.poll_event(cx).map(Some));
            let pause = async {
                glommio::timer::sleep(Duration::from_millis(1)).await;
                None
            };
            if let Some(event) = future::or(control_event, pause).await {
                return Ok(Event::Control(event));
            }
            continue;
        }
        // The scratch is borrowed only while a read completes synchronously: glommio's
        // read tries a non-blocking recv first and keeps no buffer while it waits.
        return poll_fn(|cx| {
            if let Poll::Ready(event) = control.poll_event(cx) {
                return Poll::Ready(Ok(Event::Control(event)));
            }
            let mut scratch = broker.scratch.borrow_mut();
            match Pin::new(&mut *stream).poll_read(cx, scratch.space()) {
                Poll::Ready(Ok(n)) => {
                    broker.counters.bytes_received.add(n as u64);
                    Poll::Ready(Ok(Event::Read(scratch.take(n))))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
    }
}

/// Writes what is still queued, then sends FIN so the peer reads it before the end.
///
/// Then it reads and discards what the peer still sends, until it closes or
/// [`CLOSE_LINGER_MS`] passes: closing a socket with unread data sends a reset, which can
/// make the peer drop our last packets (a DISCONNECT with its reason code) unread.
async fn finish(stream: &mut TcpStream, control: &ConnectionControl) {
    let out = control.take_outbound();
    if !out.is_empty() {
        let _ = stream.write_all(&out).await;
    }
    let _ = stream.shutdown(std::net::Shutdown::Write).await;
    let drain = async {
        let mut sink = [0u8; 512];
        let mut left = CLOSE_LINGER_BYTES_MAX;
        while left > 0 {
            match futures_lite::AsyncReadExt::read(stream, &mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    future::or(
        drain,
        glommio::timer::sleep(Duration::from_millis(CLOSE_LINGER_MS)),
    )
    .await;
}
