//! The one place that dispatches a packet from a connected client to its handler.

use super::connections::ConnectionControl;
use super::sessions::Ending;
use super::shard_broker::{SessionKey, ShardBroker};
use crate::protocol::{Packet, ReasonCode};

/// What the connection does after a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Keep reading.
    Continue,
    /// The client ended the connection (DISCONNECT), or the broker must close it.
    Close(Ending),
}

/// Levels of a topic name or filter (`a//b` has three).
pub(super) fn levels(topic: &str) -> usize {
    topic.bytes().filter(|&b| b == b'/').count() + 1
}

impl ShardBroker {
    /// Handles one packet from the client of session `key`, connected through `control`.
    pub fn on_packet(&self, key: SessionKey, control: &ConnectionControl, packet: Packet) -> Next {
        let now_ms = self.now_ms();
        self.counters.messages_received.incr();
        let mut actions = Vec::new();
        let session_call = |f: &mut dyn FnMut(&mut super::session::Session)| {
            let mut state = self.state.borrow_mut();
            if let Some(entry) = state.sessions.get_mut(&key) {
                f(&mut entry.session);
            }
        };
        match packet {
            Packet::Publish(mut publish) => {
                self.counters.publish_received.incr();
                // Topic Alias (MQTT 5.0 §3.3.2.3.4): resolved here, per connection, so the
                // session and everything after it see a full topic name.
                if let Some(alias) = publish.properties.topic_alias.take() {
                    match control.resolve_topic_alias(
                        alias.get(),
                        &publish.topic,
                        self.settings.topic_alias_maximum,
                    ) {
                        Some(topic) => publish.topic = topic,
                        None => {
                            tracing::info!(alias, "closing connection: invalid Topic Alias");
                            return self.protocol_violation(
                                control,
                                ReasonCode::TopicAliasInvalid,
                                "Topic Alias is 0, above the Topic Alias Maximum, or not set yet",
                            );
                        }
                    }
                }
                // Payload Format Indicator 1 promises UTF-8 (MQTT 5.0 §3.3.2.3.2); the
                // receiver may check it and answer 0x99.
                if publish.properties.payload_format_indicator
                    == Some(crate::protocol::PayloadFormatIndicator::Utf8)
                    && std::str::from_utf8(&publish.payload).is_err()
                {
                    tracing::info!("closing connection: payload is not the UTF-8 it claims");
                    return self.protocol_violation(
                        control,
                        ReasonCode::PayloadFormatInvalid,
                        "Payload Format Indicator 1 with a payload that is not UTF-8",
                    );
                }
                if levels(publish.topic.as_str()) > self.settings.topic_levels_max {
                    tracing::info!(
                        topic_levels = levels(publish.topic.as_str()),
                        "closing connection: PUBLISH topic has too many levels"
                    );
                    return self.protocol_violation(
                        control,
                        ReasonCode::TopicNameInvalid,
                        &format!(
                            "Topic Name has more than {} levels",
                            self.settings.topic_levels_max
                        ),
                    );
                }
                // A delayed publish this broker will not hold: a 5.0 QoS 1/2 publisher is
                // told so on its acknowledgement (0x90 / 0x97) and nothing is routed.
                if let (true, Some(packet_id)) = (
                    control.version().is_some_and(|v| v.is_v5()),
                    publish.packet_id,
                ) {
                    let waiting = self.state.borrow().delayed.len();
                    let refusal = super::delayed::delayed_refusal(
                        publish.topic.as_str(),
                        self.settings.delayed,
                        waiting,
                    );
                    if let Some(refusal) = refusal {
                        tracing::info!(
                            topic = publish.topic.as_str(),
                            "delayed publish refused: {}",
                            refusal.why
                        );
                        self.counters.publish_dropped.incr();
                        let mut ack = crate::protocol::PublishAck::new(packet_id);
                        ack.reason_code = refusal.reason_code;
                        ack.properties.reason_string = super::problem::reason_string(refusal.why);
                        let ack = if publish.qos == crate::protocol::QoS::AtLeastOnce {
                            Packet::PubAck(ack)
                        } else {
                            Packet::PubRec(ack)
                        };
                        let queued = control.send(&ack);
                        self.count_sent(&ack, queued);
                        return Next::Continue;
                    }
                }
                let mut publish = Some(publish);
                session_call(&mut |s| {
                    if let Some(publish) = publish.take() {
                        s.on_client_publish(publish, now_ms, &mut actions);
                    }
                });
            }
            Packet::PubAck(ack) => session_call(&mut |s| {
                s.on_puback(&ack, now_ms, &mut actions);
            }),
            Packet::PubRec(ack) => session_call(&mut |s| {
                s.on_pubrec(&ack, now_ms, &mut actions);
            }),
            Packet::PubRel(ack) => session_call(&mut |s| {
                s.on_pubrel(&ack, &mut actions);
            }),
            Packet::PubComp(ack) => session_call(&mut |s| {
                s.on_pubcomp(&ack, now_ms, &mut actions);
            }),
            Packet::Subscribe(subscribe) => {
                self.subscribe(key, subscribe);
                return Next::Continue;
            }
            Packet::Unsubscribe(unsubscribe) => {
                self.unsubscribe(key, unsubscribe);
                return Next::Continue;
            }
            Packet::PingReq => {
                let queued = control.send(&Packet::PingResp);
                self.count_sent(&Packet::PingResp, queued);
                return Next::Continue;
            }
            Packet::Disconnect(disconnect) => {
                let mut state = self.state.borrow_mut();
                if let Some(entry) = state.sessions.get_mut(&key) {
                    if let Some(secs) = disconnect.properties.session_expiry_interval_secs {
                        // MQTT 5.0 §3.14.2.2.2: from 0 to non-zero is a protocol error.
                        if entry.expiry_secs == 0 && secs != 0 {
                            drop(state);
                            return self.protocol_violation(
                                control,
                                ReasonCode::ProtocolError,
                                "DISCONNECT sets a Session Expiry Interval after CONNECT set 0",
                            );
                        }
                        entry.expiry_secs = secs;
                    }
                }
                let ending = if disconnect.reason_code == ReasonCode::DisconnectWithWillMessage {
                    Ending::WithWill
                } else {
                    Ending::Normal
                };
                return Next::Close(ending);
            }
            Packet::Auth(auth) => return self.on_auth(control, auth),
            // A second CONNECT ([MQTT-3.1.0-2]); server-to-client packets from a client.
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => {
                let why = format!(
                    "{:?} is not a packet a client sends now",
                    packet.packet_type()
                );
                return self.protocol_violation(control, ReasonCode::ProtocolError, &why);
            }
        }
        self.apply(key, actions);
        if control.close_requested().is_some() {
            Next::Close(Ending::Abnormal)
        } else {
            Next::Continue
        }
    }

    /// Ends the connection for a protocol violation: DISCONNECT with `reason` in 5.0,
    /// a plain close in 3.x; the will is published.
    pub fn protocol_violation(
        &self,
        control: &ConnectionControl,
        reason: ReasonCode,
        why: &str,
    ) -> Next {
        if control.version().is_some_and(|v| v.is_v5()) {
            let mut disconnect = crate::protocol::Disconnect::new(reason);
            disconnect.properties.reason_string = super::problem::reason_string(why);
            control.send(&Packet::Disconnect(disconnect));
        }
        Next::Close(Ending::Abnormal)
    }
}
