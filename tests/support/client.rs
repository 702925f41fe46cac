//! A tiny raw MQTT test client over a std `TcpStream`, built on the project's codec: it
//! sends exactly the packets a test asks for (no automatic acknowledgements, no
//! reconnects), and every wait is bounded so a silent broker fails the test instead of
//! hanging it.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use coremq::protocol::{
    check, decode, encode, Auth, AuthProperties, ConnAck, Connect, Disconnect, MqttString, Packet,
    PacketId, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, Status, SubAck, Subscribe,
    SubscribeProperties, SubscriptionId, SubscriptionOptions, TopicFilter, TopicName, Unsubscribe,
    UnsubscribeProperties, Will,
};

use super::{Broker, IO_TIMEOUT};

#[allow(unused_imports)] // Each test binary uses part of these.
pub use coremq::protocol::ProtocolVersion::{V3_1, V3_1_1, V5};
#[allow(unused_imports)]
pub use coremq::protocol::QoS::{AtLeastOnce as QOS1, AtMostOnce as QOS0, ExactlyOnce as QOS2};

/// Largest packet this client accepts.
const MAX_PACKET_BYTES: u32 = 1 << 20;
/// How long `expect_nothing` style checks listen by default.
pub const QUIET: Duration = Duration::from_millis(300);

/// What to put in a CONNECT, beyond version and client id.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub clean: bool,
    pub keep_alive_secs: u16,
    pub will: Option<Will>,
    /// MQTT 5.0 Session Expiry Interval.
    pub session_expiry_secs: Option<u32>,
    /// MQTT 5.0 Receive Maximum.
    pub receive_maximum: Option<u16>,
    /// MQTT 5.0 Maximum Packet Size.
    pub maximum_packet_size: Option<u32>,
    /// MQTT 5.0 Topic Alias Maximum: aliases the server may set.
    pub topic_alias_maximum: Option<u16>,
    /// MQTT 5.0 Request Problem Information.
    pub request_problem_information: Option<bool>,
    /// User Name and Password.
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    /// MQTT 5.0 Authentication Method and Data (enhanced authentication).
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Vec<u8>>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            clean: true,
            keep_alive_secs: 60,
            will: None,
            session_expiry_secs: None,
            receive_maximum: None,
            maximum_packet_size: None,
            topic_alias_maximum: None,
            request_problem_information: None,
            username: None,
            password: None,
            authentication_method: None,
            authentication_data: None,
        }
    }
}

/// A Will Message for `ConnectOptions::will`.
pub fn will(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Will {
    Will {
        qos,
        retain,
        properties: Default::default(),
        topic: TopicName::new(topic).expect("valid will topic"),
        payload: Bytes::copy_from_slice(payload),
    }
}

pub fn pid(id: u16) -> PacketId {
    PacketId::new(id).expect("non-zero packet id")
}

/// A PUBLISH with the given flags; `packet_id` is ignored for QoS 0.
pub fn publish_packet(
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
    packet_id: u16,
) -> Publish {
    let mut publish = Publish::new(
        TopicName::new(topic).expect("valid topic"),
        Bytes::copy_from_slice(payload),
    );
    publish.qos = qos;
    publish.retain = retain;
    publish.packet_id = (qos != QoS::AtMostOnce).then(|| pid(packet_id));
    publish
}

/// Encodes `packet` for `version`.
pub fn bytes_of(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out).expect("encodable packet");
    out.to_vec()
}

/// One raw MQTT connection.
pub struct Client {
    stream: TcpStream,
    read_buf: BytesMut,
    /// Packets read while waiting for another kind, in arrival order, with their bytes.
    pending: VecDeque<(Bytes, Packet)>,
    pub version: ProtocolVersion,
    pub client_id: String,
    next_packet_id: u16,
    closed: bool,
}

impl Client {
    /// Opens a TCP connection, without sending anything.
    pub fn open(broker: &Broker, version: ProtocolVersion, client_id: &str) -> Client {
        let stream = broker.connect();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            read_buf: BytesMut::with_capacity(4096),
            pending: VecDeque::new(),
            version,
            client_id: client_id.to_owned(),
            next_packet_id: 0,
            closed: false,
        }
    }

    /// Connects with a clean session, keep alive 60, and asserts success.
    pub fn connect(broker: &Broker, version: ProtocolVersion, client_id: &str) -> Client {
        Client::connect_with(broker, version, client_id, ConnectOptions::default()).0
    }

    /// Connects with `options` and asserts a successful CONNACK, which is returned.
    pub fn connect_with(
        broker: &Broker,
        version: ProtocolVersion,
        client_id: &str,
        options: ConnectOptions,
    ) -> (Client, ConnAck) {
        let mut client = Client::open(broker, version, client_id);
        let connack = client.handshake(options);
        assert_eq!(
            connack.reason_code,
            ReasonCode::Success,
            "CONNACK for {client_id}: {connack:?}"
        );
        (client, connack)
    }

    /// The CONNECT packet this client would send with `options`.
    pub fn connect_packet(&self, options: ConnectOptions) -> Packet {
        let mut connect = Connect::new(
            self.version,
            MqttString::new(&self.client_id).expect("valid client id"),
            options.keep_alive_secs,
        );
        connect.clean_start = options.clean;
        connect.will = options.will;
        connect.properties.session_expiry_interval_secs = options.session_expiry_secs;
        connect.properties.receive_maximum = options.receive_maximum.and_then(NonZeroU16::new);
        connect.properties.maximum_packet_size = options
            .maximum_packet_size
            .and_then(std::num::NonZeroU32::new);
        connect.properties.topic_alias_maximum = options.topic_alias_maximum;
        connect.properties.request_problem_information = options.request_problem_information;
        connect.username = options
            .username
            .map(|u| MqttString::new(&u).expect("valid user name"));
        connect.password = options.password.map(Bytes::from);
        connect.properties.authentication_method = options
            .authentication_method
            .map(|m| MqttString::new(&m).expect("valid method"));
        connect.properties.authentication_data = options.authentication_data.map(Bytes::from);
        Packet::Connect(Box::new(connect))
    }

    /// Sends CONNECT and returns the CONNACK, whatever its code.
    pub fn handshake(&mut self, options: ConnectOptions) -> ConnAck {
        let connect = self.connect_packet(options);
        self.send(&connect);
        match self.expect_packet() {
            Packet::ConnAck(connack) => *connack,
            other => panic!("{}: expected CONNACK, got {other:?}", self.client_id),
        }
    }

    /// Sends AUTH with `reason_code`, Authentication Method and Data (MQTT 5.0 §3.15).
    pub fn send_auth(&mut self, reason_code: ReasonCode, method: &str, data: &[u8]) {
        let auth = Auth {
            reason_code,
            properties: AuthProperties {
                authentication_method: Some(MqttString::new(method).expect("valid method")),
                authentication_data: Some(Bytes::copy_from_slice(data)),
                ..Default::default()
            },
        };
        self.send(&Packet::Auth(auth));
    }

    /// The next AUTH (other packets are kept for later); panics on close or timeout.
    pub fn expect_auth(&mut self) -> Auth {
        match self.expect_kind("AUTH", |p| matches!(p, Packet::Auth(_))) {
            Packet::Auth(auth) => auth,
            _ => unreachable!(),
        }
    }

    /// A fresh packet identifier (1, 2, ... wrapping, never 0).
    pub fn next_id(&mut self) -> u16 {
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        self.next_packet_id
    }

    pub fn send(&mut self, packet: &Packet) {
        let bytes = bytes_of(packet, self.version);
        self.send_bytes(&bytes);
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.client_id));
    }

    /// Sends, ignoring a connection the broker already closed.
    pub fn try_send(&mut self, packet: &Packet) -> bool {
        let bytes = bytes_of(packet, self.version);
        self.stream.write_all(&bytes).is_ok()
    }

    /// The next frame within `timeout` (pending ones first): its bytes and the decoded
    /// packet. `None` on timeout or when the broker closed the connection (`is_closed`).
    pub fn recv_frame(&mut self, timeout: Duration) -> Option<(Bytes, Packet)> {
        match self.pending.pop_front() {
            Some(frame) => Some(frame),
            None => self.read_frame(timeout),
        }
    }

    /// Reads one frame off the socket, ignoring the pending queue.
    fn read_frame(&mut self, timeout: Duration) -> Option<(Bytes, Packet)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(frame) = self.take_frame() {
                return Some(frame);
            }
            if self.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.read_buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = true, // reset by the broker
            }
        }
    }

    fn take_frame(&mut self) -> Option<(Bytes, Packet)> {
        let header = match check(&self.read_buf, MAX_PACKET_BYTES) {
            Ok(Status::Complete(header)) => header,
            Ok(Status::Partial) => return None,
            Err(e) => panic!("{}: broker sent a bad header: {e:?}", self.client_id),
        };
        let raw = Bytes::copy_from_slice(&self.read_buf[..header.frame_len()]);
        let packet = decode(&mut self.read_buf, Some(self.version), MAX_PACKET_BYTES)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: broker sent a bad packet {raw:02X?}: {e:?}",
                    self.client_id
                )
            })
            .expect("a complete frame");
        Some((raw, packet))
    }

    /// The next packet, or `None` after `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Option<Packet> {
        self.recv_frame(timeout).map(|(_, packet)| packet)
    }

    /// The next packet; panics after `IO_TIMEOUT` or on close.
    pub fn expect_packet(&mut self) -> Packet {
        match self.recv(IO_TIMEOUT) {
            Some(packet) => packet,
            None if self.closed => panic!("{}: connection closed by the broker", self.client_id),
            None => panic!("{}: no packet within {IO_TIMEOUT:?}", self.client_id),
        }
    }

    /// The bytes of the next packet; panics after `IO_TIMEOUT` or on close.
    pub fn expect_bytes(&mut self) -> Vec<u8> {
        match self.recv_frame(IO_TIMEOUT) {
            Some((raw, _)) => raw.to_vec(),
            None => panic!(
                "{}: no packet within {IO_TIMEOUT:?} (closed: {})",
                self.client_id, self.closed
            ),
        }
    }

    /// The next PUBLISH; panics on anything else.
    pub fn expect_publish(&mut self) -> Publish {
        match self.expect_packet() {
            Packet::Publish(publish) => publish,
            other => panic!("{}: expected PUBLISH, got {other:?}", self.client_id),
        }
    }

    /// The next PUBLISH, acknowledged (PUBACK, or PUBREC / PUBREL / PUBCOMP).
    pub fn expect_publish_acked(&mut self) -> Publish {
        let publish = self.expect_publish();
        self.ack(&publish);
        publish
    }

    /// The next `n` PUBLISH packets, each acknowledged.
    pub fn collect(&mut self, n: usize) -> Vec<Publish> {
        (0..n).map(|_| self.expect_publish_acked()).collect()
    }

    /// Completes the receiver's side of `publish`'s QoS flow.
    pub fn ack(&mut self, publish: &Publish) {
        let Some(id) = publish.packet_id else { return };
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(&Packet::PubAck(PubAck::new(id))),
            QoS::ExactlyOnce => {
                self.send(&Packet::PubRec(PubAck::new(id)));
                let rel = self.expect_kind(
                    "PUBREL",
                    |p| matches!(p, Packet::PubRel(r) if r.packet_id == id),
                );
                let Packet::PubRel(rel) = rel else {
                    unreachable!()
                };
                self.send(&Packet::PubComp(PubAck::new(rel.packet_id)));
            }
        }
    }

    /// Waits for the first packet that `wanted` accepts; packets before it are kept for
    /// later `recv` calls, in order.
    pub fn expect_kind(&mut self, what: &str, wanted: impl Fn(&Packet) -> bool) -> Packet {
        if let Some(pos) = self.pending.iter().position(|(_, p)| wanted(p)) {
            return self.pending.remove(pos).expect("position found").1;
        }
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_frame(left) {
                Some((_, packet)) if wanted(&packet) => return packet,
                Some(frame) => self.pending.push_back(frame),
                None => panic!(
                    "{}: no {what} within {IO_TIMEOUT:?} (closed: {}); got {:?}",
                    self.client_id, self.closed, self.pending
                ),
            }
        }
    }

    /// Subscribes (3.x, or 5.0 without options) and returns the SUBACK codes.
    pub fn subscribe(&mut self, filters: &[(&str, QoS)]) -> Vec<ReasonCode> {
        let filters: Vec<_> = filters
            .iter()
            .map(|&(filter, qos)| {
                (
                    filter,
                    SubscriptionOptions {
                        qos,
                        ..Default::default()
                    },
                )
            })
            .collect();
        self.subscribe_with(&filters, None).reason_codes
    }

    /// Subscribes with full options and an optional MQTT 5.0 Subscription Identifier.
    pub fn subscribe_with(
        &mut self,
        filters: &[(&str, SubscriptionOptions)],
        subscription_id: Option<u32>,
    ) -> SubAck {
        let id = self.next_id();
        let subscribe = Subscribe {
            packet_id: pid(id),
            properties: SubscribeProperties {
                subscription_identifier: subscription_id
                    .map(|id| SubscriptionId::new(id).expect("non-zero subscription id")),
                ..Default::default()
            },
            filters: filters
                .iter()
                .map(|(filter, options)| {
                    (TopicFilter::new(filter).expect("valid filter"), *options)
                })
                .collect(),
        };
        self.send(&Packet::Subscribe(subscribe));
        match self.expect_kind(
            "SUBACK",
            |p| matches!(p, Packet::SubAck(s) if s.packet_id.get() == id),
        ) {
            Packet::SubAck(suback) => suback,
            _ => unreachable!(),
        }
    }

    /// Unsubscribes and waits for the UNSUBACK.
    pub fn unsubscribe(&mut self, filters: &[&str]) {
        let id = self.next_id();
        let unsubscribe = Unsubscribe {
            packet_id: pid(id),
            properties: UnsubscribeProperties::default(),
            filters: filters
                .iter()
                .map(|f| TopicFilter::new(f).expect("valid filter"))
                .collect(),
        };
        self.send(&Packet::Unsubscribe(unsubscribe));
        self.expect_kind(
            "UNSUBACK",
            |p| matches!(p, Packet::UnsubAck(u) if u.packet_id.get() == id),
        );
    }

    /// Publishes and completes the sender's side of the QoS flow (waits for PUBACK, or
    /// PUBREC, sends PUBREL, waits for PUBCOMP). Other packets are kept for later.
    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
        let id = self.next_id();
        self.send(&Packet::Publish(publish_packet(
            topic, payload, qos, retain, id,
        )));
        self.complete_publish(qos, id);
    }

    /// The sender's side of the QoS flow of PUBLISH `id` already sent.
    pub fn complete_publish(&mut self, qos: QoS, id: u16) {
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.expect_kind(
                    "PUBACK",
                    |p| matches!(p, Packet::PubAck(a) if a.packet_id.get() == id),
                );
            }
            QoS::ExactlyOnce => {
                self.expect_kind(
                    "PUBREC",
                    |p| matches!(p, Packet::PubRec(a) if a.packet_id.get() == id),
                );
                self.send(&Packet::PubRel(PubAck::new(pid(id))));
                self.expect_kind(
                    "PUBCOMP",
                    |p| matches!(p, Packet::PubComp(a) if a.packet_id.get() == id),
                );
            }
        }
    }

    /// Asserts nothing arrives for `quiet`.
    pub fn expect_nothing(&mut self, quiet: Duration) {
        if let Some(packet) = self.recv(quiet) {
            panic!("{}: expected nothing, got {packet:?}", self.client_id);
        }
    }

    /// Round trip through the broker (PINGREQ / PINGRESP): everything the broker sent
    /// this connection before answering is then buffered. Packets are kept for later.
    pub fn ping(&mut self) {
        self.send(&Packet::PingReq);
        self.expect_kind("PINGRESP", |p| matches!(p, Packet::PingResp));
    }

    /// Waits (bounded) until the broker closes the connection; returns what it sent
    /// before closing (pending packets included).
    pub fn expect_closed(&mut self, timeout: Duration) -> Vec<Packet> {
        let deadline = Instant::now() + timeout;
        let mut got: Vec<Packet> = self.pending.drain(..).map(|(_, p)| p).collect();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(packet) => got.push(packet),
                None if self.closed => return got,
                None => panic!(
                    "{}: still open after {timeout:?}; got {got:?}",
                    self.client_id
                ),
            }
        }
    }

    /// True once a read saw the broker close the connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends DISCONNECT (normal) and closes the socket.
    pub fn disconnect(mut self) {
        self.send(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        // Let the broker read the DISCONNECT before the reset of a close with unread data.
        let _ = self.recv(Duration::from_millis(50));
    }

    /// Sends DISCONNECT with a reason code (MQTT 5.0) and closes the socket.
    pub fn disconnect_with(mut self, reason: ReasonCode) {
        self.send(&Packet::Disconnect(Disconnect::new(reason)));
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let _ = self.recv(Duration::from_millis(50));
    }

    /// Drops the socket without DISCONNECT: an abnormal close for the broker.
    pub fn drop_connection(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The payload as UTF-8, for messages.
pub fn text(publish: &Publish) -> String {
    String::from_utf8_lossy(&publish.payload).into_owned()
}

/// Client ids spread over shards: `prefix-0` .. `prefix-(n-1)`.
pub fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Granted QoS as the SUBACK code.
pub fn granted(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}
