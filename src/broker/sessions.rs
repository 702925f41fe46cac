//! Sessions on their owner shard: attaching a connection (new session, resumed session,
//! takeover), losing it (will, expiry), and carrying out what a session asks for. All of
//! it runs on the one shard that owns the client id, so there is no race between two
//! connections of one client: they meet here, one after the other.

use std::rc::Rc;
use std::time::Duration;

use super::connections::{CloseRequest, ConnectionId};
use super::problem::{reason_string, ClientDiagnostics};
use super::session::{Message, Session, SessionAction};
use super::shard_broker::{Deadline, SessionEntry, SessionKey, ShardBroker};
use super::topic_alias::OutboundAliases;
use crate::config::RedirectReason;
use crate::limits::{CLIENT_ID_CHARS_MAX_V3_1, SESSION_EXPIRY_SECS_V3_PERSISTENT};
use crate::protocol::{
    ConnAck, Connect, MqttString, Packet, ProtocolVersion, PublishProperties, ReasonCode,
};

/// How a connection ended, which decides the will (MQTT 5.0 §3.1.2.5, 3.1.1 §3.1.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// DISCONNECT with Normal disconnection: the will is discarded.
    Normal,
    /// DISCONNECT with Disconnect with Will Message (0x04, 5.0).
    WithWill,
    /// Anything else: network error, keep-alive timeout, protocol error, takeover,
    /// shutdown. The will is published.
    Abnormal,
}

/// A connection attached to its session.
#[derive(Debug)]
pub struct Attached {
    /// The session's key on this shard.
    pub key: SessionKey,
    /// The client id in use (assigned when the client sent none).
    pub client_id: MqttString,
}

impl ShardBroker {
    /// Attaches connection `conn` (whose CONNECT is `connect`) to its session on this,
    /// the owner shard: answers CONNACK and resends what the session had in flight.
    /// `Err` carries the CONNACK refusal already queued on the connection. `auth`: the
    /// Authentication Method and final data of an enhanced authentication, for CONNACK.
    pub fn attach(
        &self,
        connect: &Connect,
        conn: ConnectionId,
        auth: Option<super::auth::ConnAckAuth>,
    ) -> Result<Attached, ReasonCode> {
        let version = connect.protocol_version;
        self.counters.messages_received.incr();
        let control = self
            .connections
            .borrow()
            .get(conn)
            .cloned()
            .expect("attach of a live connection");
        control.set_version(version);
        if version.is_v5() {
            let properties = &connect.properties;
            let diagnostics = ClientDiagnostics {
                request_problem_information: properties.request_problem_information.unwrap_or(true),
                maximum_packet_size: properties.maximum_packet_size,
            };
            let alias_maximum = properties
                .topic_alias_maximum
                .unwrap_or(0)
                .min(self.settings.topic_alias_outbound_max);
            let aliases = OutboundAliases::new(self.settings.topic_alias_outbound, alias_maximum);
            control.set_client(diagnostics, aliases);
        }
        if let Some(redirect) = &self.settings.redirect {
            if let Some(reason) = redirect.connect {
                // MQTT 5.0 §4.11; a 3.x client reads 0x03 Server unavailable.
                let code = match reason {
                    RedirectReason::UseAnotherServer => ReasonCode::UseAnotherServer,
                    RedirectReason::ServerMoved => ReasonCode::ServerMoved,
                };
                let mut connack = ConnAck::new(code);
                connack.properties.server_reference =
                    MqttString::new(&redirect.server_reference).ok();
                connack.properties.reason_string =
                    reason_string("this server sends its clients to the server referenced");
                return Err(self.refuse_with(&control, connack));
            }
        }

        let mut client_id = connect.client_id.clone();
        let mut assigned = None;
        if client_id.is_empty() {
            // 3.1 requires an id; 3.1.1 allows none with clean session (the codec refused
            // it without); 5.0 gets one assigned and told in CONNACK.
            if version == ProtocolVersion::V3_1 {
                return Err(self.refuse(
                    &control,
                    ReasonCode::ClientIdentifierNotValid,
                    "MQTT 3.1 requires a client identifier",
                ));
            }
            client_id = self.assign_client_id();
            if version.is_v5() {
                assigned = Some(client_id.clone());
            }
        } else if version == ProtocolVersion::V3_1
            && client_id.chars().count() > CLIENT_ID_CHARS_MAX_V3_1
        {
            return Err(self.refuse(
                &control,
                ReasonCode::ClientIdentifierNotValid,
                "MQTT 3.1 client identifiers have at most 23 characters",
            ));
        }

        let expiry_secs = match version {
            ProtocolVersion::V5 => connect.properties.session_expiry_interval_secs.unwrap_or(0),
            _ if connect.clean_start => 0,
            _ => SESSION_EXPIRY_SECS_V3_PERSISTENT,
        };
        let now_ms = self.now_ms();
        let mut actions = Vec::new();
        let mut taken_over_will = None;
        let (key, session_present) = {
            let mut state = self.state.borrow_mut();
            let existing = state.by_client_id.get(&client_id).copied();
            let mut session_present = false;
            if let Some(key) = existing {
                let entry = state.sessions.get_mut(&key).expect("indexed session");
                if let Some(old) = entry.connection.take() {
                    self.counters.clients_connected.decr();
                    // Takeover (MQTT 5.0 §3.1.4 step 2): the old connection closes with
                    // 0x8E. Its will is published unless a will delay covers the new
                    // connection (MQTT 5.0 §3.1.3.2.2); in 3.1.1 it is published.
                    if let Some(control) = self.connections.borrow().get(old) {
                        control.request_close(CloseRequest::SessionTakenOver);
                    }
                    let will = entry.will.take();
                    let delayed = will
                        .as_ref()
                        .and_then(|w| w.properties.will_delay_interval_secs)
                        .is_some_and(|d| d > 0);
                    if !delayed || connect.clean_start {
                        taken_over_will = will;
                    }
                    entry.session.disconnected();
                } else if entry.will.is_some() && !connect.clean_start {
                    // A delayed will of the last connection: the new connection cancels it.
                    entry.will = None;
                }
                if connect.clean_start {
                    self.drop_session_locked(&mut state, key);
                } else {
                    session_present = true;
                }
            }
            let key = if session_present {
                existing.expect("present session")
            } else {
                let key = SessionKey(state.next_key);
                state.next_key += 1;
                let session =
                    Session::new(client_id.clone(), version, self.settings.session_limits);
                state.sessions.insert(
                    key,
                    SessionEntry {
                        session,
                        connection: None,
                        will: None,
                        expiry_secs,
                        epoch: 0,
                    },
                );
                state.by_client_id.insert(client_id.clone(), key);
                key
            };
            let entry = state.sessions.get_mut(&key).expect("session just made");
            entry.connection = Some(conn);
            self.counters.clients_connected.incr();
            entry.will = connect.will.clone();
            entry.expiry_secs = expiry_secs;
            entry.epoch += 1;
            (key, session_present)
        };
        self.redistribute_shared();
        if let Some(will) = taken_over_will {
            self.publish_will(will);
        }

        let mut connack = ConnAck::new(ReasonCode::Success);
        connack.session_present = session_present;
        if version.is_v5() {
            let properties = &mut connack.properties;
            properties.assigned_client_identifier = assigned;
            properties.receive_maximum =
                std::num::NonZeroU16::new(self.settings.session_limits.inbound_receive_maximum);
            properties.maximum_packet_size =
                std::num::NonZeroU32::new(self.settings.max_packet_size_bytes);
            properties.server_keep_alive_secs = self.settings.server_keep_alive_secs;
            if connect.properties.request_response_information == Some(true) {
                properties.response_information = self.settings.response_information.clone();
            }
            // Absent means 0 (MQTT 5.0 §3.2.2.3.8).
            properties.topic_alias_maximum =
                Some(self.settings.topic_alias_maximum).filter(|&max| max > 0);
            if let Some(auth) = auth {
                properties.authentication_method = Some(auth.method);
                properties.authentication_data = auth.data;
            }
        }
        let connack = Packet::ConnAck(Box::new(connack));
        let queued = control.send(&connack);
        self.count_sent(&connack, queued);
        {
            let mut state = self.state.borrow_mut();
            let entry = state.sessions.get_mut(&key).expect("attached session");
            let receive_maximum = connect.properties.receive_maximum;
            entry
                .session
                .set_client_maximum_packet_size(connect.properties.maximum_packet_size);
            entry
                .session
                .connected(version, receive_maximum, now_ms, &mut actions);
        }
        self.apply(key, actions);
        Ok(Attached { key, client_id })
    }

    fn refuse(
        &self,
        control: &super::connections::ConnectionControl,
        code: ReasonCode,
        why: &str,
    ) -> ReasonCode {
        let mut connack = ConnAck::new(code);
        connack.properties.reason_string = reason_string(why);
        self.refuse_with(control, connack)
    }

    /// Sends `connack`, a refusal, and returns its code.
    fn refuse_with(
        &self,
        control: &super::connections::ConnectionControl,
        connack: ConnAck,
    ) -> ReasonCode {
        let code = connack.reason_code;
        let connack = Packet::ConnAck(Box::new(connack));
        let queued = control.send(&connack);
        self.count_sent(&connack, queued);
        code
    }

    /// A client id no client sent, homed on this shard (DESIGN.md: it hashes here).
    fn assign_client_id(&self) -> MqttString {
        let mut state = self.state.borrow_mut();
        loop {
            state.next_assigned_id += 1;
            let id = format!("coremq-{}-{}", self.shard_id(), state.next_assigned_id);
            let id = MqttString::new(&id).expect("ASCII id");
            if self.owner_of(&id) == self.shard_id() && !state.by_client_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// Connection `conn` of session `key` ended. A connection that was taken over finds
    /// its session attached elsewhere and changes nothing.
    pub fn connection_lost(&self, key: SessionKey, conn: ConnectionId, ending: Ending) {
        let now_ms = self.now_ms();
        let mut will_now = None;
        {
            let mut state = self.state.borrow_mut();
            let Some(entry) = state.sessions.get_mut(&key) else {
                return;
            };
            if entry.connection != Some(conn) {
                return;
            }
            entry.connection = None;
            self.counters.clients_connected.decr();
            entry.session.disconnected();
            let will = match ending {
                Ending::Normal => {
                    entry.will = None;
                    None
                }
                Ending::WithWill | Ending::Abnormal => entry.will.take(),
            };
            let expiry_secs = entry.expiry_secs;
            let epoch = entry.epoch;
            if let Some(will) = will {
                let delay = will.properties.will_delay_interval_secs.unwrap_or(0);
                if delay == 0 || expiry_secs == 0 {
                    will_now = Some(will);
                } else {
                    entry.will = Some(will);
                    let at = now_ms + u64::from(delay.min(expiry_secs)) * 1000;
                    self.timers.insert_at(at, Deadline::WillDelay(key, epoch));
                }
            }
            match expiry_secs {
                0 => self.drop_session_locked(&mut state, key),
                u32::MAX => {}
                secs => {
                    self.timers.insert_after(
                        Duration::from_secs(u64::from(secs)),
                        Deadline::SessionExpiry(key, epoch),
                    );
                }
            }
        }
        if let Some(will) = will_now {
            self.publish_will(will);
        }
        self.redistribute_shared();
    }

    /// A session's expiry deadline fired: it ends unless a connection came back since.
    pub(super) fn expire_session(&self, key: SessionKey, epoch: u64) {
        let will = {
            let mut state = self.state.borrow_mut();
            let Some(entry) = state.sessions.get_mut(&key) else {
                return;
            };
            if entry.epoch != epoch || entry.connection.is_some() {
                return;
            }
            // The session ends before the will delay: the will goes now (§3.1.3.2.2).
            let will = entry.will.take();
            self.drop_session_locked(&mut state, key);
            self.counters.sessions_expired.incr();
            will
        };
        if let Some(will) = will {
            self.publish_will(will);
        }
        self.redistribute_shared();
    }

    /// A will delay ended with no new connection: publish the will.
    pub(super) fn will_delay_ended(&self, key: SessionKey, epoch: u64) {
        let will = {
            let mut state = self.state.borrow_mut();
            match state.sessions.get_mut(&key) {
                Some(entry) if entry.epoch == epoch && entry.connection.is_none() => {
                    entry.will.take()
                }
                _ => None,
            }
        };
        if let Some(will) = will {
            self.publish_will(will);
        }
    }

    /// Removes session `key` and its subscriptions from this shard. Its undelivered
    /// shared-subscription messages wait in the state for the caller's
    /// [`ShardBroker::redistribute_shared`], once the state is no longer borrowed.
    pub(super) fn drop_session_locked(
        &self,
        state: &mut super::shard_broker::State,
        key: SessionKey,
    ) {
        let Some(mut entry) = state.sessions.remove(&key) else {
            return;
        };
        self.keep_shared_leftovers(state, &mut entry);
        if entry.connection.is_some() {
            self.counters.clients_connected.decr();
        }
        state.by_client_id.remove(entry.session.client_id());
        let filters: Vec<_> = entry
            .session
            .subscriptions()
            .map(|(f, _)| f.clone())
            .collect();
        for filter in filters {
            if state.trie.unsubscribe(&filter, key).is_some()
                && super::routing::count_down(&mut state.route_counts, &filter)
            {
                super::routing::remove_route(
                    &mut state.routes,
                    &mut state.shared_routes,
                    &filter,
                    self.shard_id(),
                );
                self.broadcast(|| super::mesh_message::MeshMessage::RouteRemove {
                    filter: filter.clone(),
                });
            }
        }
    }

    /// Publishes a will message as if its client had published it.
    fn publish_will(&self, will: crate::protocol::Will) {
        let properties = PublishProperties {
            payload_format_indicator: will.properties.payload_format_indicator,
            message_expiry_interval_secs: will.properties.message_expiry_interval_secs,
            content_type: will.properties.content_type.clone(),
            response_topic: will.properties.response_topic.clone(),
            correlation_data: will.properties.correlation_data.clone(),
            user_properties: will.properties.user_properties.clone(),
            ..PublishProperties::default()
        };
        let mut publish = crate::protocol::Publish::new(will.topic, will.payload);
        publish.qos = will.qos;
        publish.retain = will.retain;
        publish.properties = properties;
        let message = Message::from_publish(publish, self.now_ms());
        self.route(message, None);
    }

    /// Carries out what session `key` asked for.
    pub(super) fn apply(&self, key: SessionKey, mut actions: Vec<SessionAction>) {
        self.apply_drain(key, &mut actions);
    }

    /// [`ShardBroker::apply`], leaving `actions` empty for reuse.
    pub(super) fn apply_drain(&self, key: SessionKey, actions: &mut Vec<SessionAction>) {
        if actions.is_empty() {
            return;
        }
        let connection = {
            let state = self.state.borrow();
            state.sessions.get(&key).and_then(|e| e.connection)
        };
        let control = connection.and_then(|c| self.connections.borrow().get(c).cloned());
        for action in actions.drain(..) {
            match action {
                SessionAction::Send(packet) => {
                    if let Some(control) = &control {
                        let queued = control.send(&packet);
                        self.count_sent(&packet, queued);
                    }
                }
                SessionAction::Route(message) => self.route_or_delay(message, key),
                SessionAction::Disconnect(reason) => {
                    if let Some(control) = &control {
                        if control.close_requested().is_none() {
                            self.send_disconnect(control, reason);
                            control.request_close(CloseRequest::Session);
                        }
                    }
                }
            }
        }
    }

    /// Sends DISCONNECT with `reason` where the protocol has one (5.0).
    pub(super) fn send_disconnect(
        &self,
        control: &Rc<super::connections::ConnectionControl>,
        reason: ReasonCode,
    ) {
        if control.version().is_some_and(|v| v.is_v5()) {
            let mut disconnect = crate::protocol::Disconnect::new(reason);
            disconnect.properties.reason_string =
                super::problem::explain_session_disconnect(reason).and_then(reason_string);
            control.send(&Packet::Disconnect(disconnect));
        }
    }
}
