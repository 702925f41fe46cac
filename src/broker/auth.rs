//! Authentication on the owner shard of the client id: the CONNECT's user name and
//! password, or an enhanced authentication exchange (MQTT 5.0 §4.12) run over the
//! connection before CONNACK, so that a takeover only happens once the new client has
//! proved who it is; and re-authentication on the live connection (§4.12.1), beside its
//! other packets. The decisions are [`crate::auth`]'s; this carries them out.

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;
use futures_lite::AsyncWriteExt;
use shard::glommio;
use shard::glommio::net::TcpStream;

use super::connection::{next_event, Event, Registered};
use super::connections::{CloseRequest, ConnectionControl, ConnectionEvent};
use super::packets::Next;
use super::read_buffer::ReadTail;
use super::shard_broker::ShardBroker;
use crate::auth::{random_bytes, Exchange, PasswordCheck, Refusal, Step};
use crate::limits::AUTH_ENTROPY_BYTES;
use crate::protocol::{
    check, Auth, AuthProperties, ConnAck, Connect, MqttString, Packet, ReasonCode, Status,
};

/// What CONNACK carries after an enhanced authentication (MQTT 5.0 §3.2.2.3.17-18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAckAuth {
    /// The Authentication Method of the exchange.
    pub method: MqttString,
    /// The method's final Authentication Data (SCRAM: the server signature).
    pub data: Option<Bytes>,
}

/// How a connection authenticated with an Authentication Method, kept for
/// re-authentication. In the `ConnectionControl` of the connection, on the shard that
/// serves it; other connections hold nothing.
pub struct ConnectionAuth {
    method: MqttString,
    username: String,
    /// A re-authentication under way, and when it started (shard clock, ms).
    reauth: Option<(Exchange, u64)>,
}

impl fmt::Debug for ConnectionAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionAuth")
            .field("method", &self.method)
            .field("username", &self.username)
            .field("reauthenticating", &self.reauth.is_some())
            .finish()
    }
}

/// How an exchange before CONNACK ended without success.
enum Ended {
    /// Answer CONNACK with this, then close.
    Refused(Refusal),
    /// Close without an answer (the client left, the deadline passed, shutdown).
    Closed(String),
}

fn refusal(reason_code: ReasonCode, why: impl Into<String>) -> Refusal {
    Refusal {
        reason_code,
        why: why.into(),
    }
}

/// Authenticates the client of `connect` on this, the owner shard, before attach: the
/// user name and password, or the exchange of its Authentication Method (bounded by the
/// CONNECT timeout). `Some` with what CONNACK must carry; `None` when refused (the
/// CONNACK refusal, if any, is queued on the connection): the caller closes.
pub(super) async fn authenticate(
    broker: &ShardBroker,
    stream: &mut TcpStream,
    peer: Option<SocketAddr>,
    conn: &mut Registered,
    connect: &Connect,
    tail: &mut ReadTail,
) -> Option<Option<ConnAckAuth>> {
    let control = std::rc::Rc::clone(&conn.control);
    control.set_version(connect.protocol_version);
    let client_id = connect.client_id.as_str();
    let Some(method) = connect.properties.authentication_method.as_ref() else {
        let check = broker.settings.auth.check_password(
            connect.username.as_ref().map(MqttString::as_str),
            connect.password.as_deref(),
            &broker.password_cache.borrow(),
        );
        let checked = match check {
            PasswordCheck::Done(result) => result,
            PasswordCheck::Verify(verification) => {
                // PBKDF2 takes milliseconds: on the shard's helper thread, so the shard
                // serves its other connections meanwhile.
                let (verification, matches) = glommio::executor()
                    .spawn_blocking(move || {
                        let matches = verification.run();
                        (verification, matches)
                    })
                    .await;
                verification.finish(matches, &mut broker.password_cache.borrow_mut())
            }
        };
        return match checked {
            Ok(()) => Some(None),
            Err(refused) => {
                refuse_connect(broker, &control, peer, client_id, refused);
                None
            }
        };
    };
    conn.set_deadline(
        broker.settings.connect_timeout,
        CloseRequest::ConnectTimeout,
    );
    let ended = match exchange(broker, stream, &control, connect, method, tail).await {
        Ok(connack_auth) => {
            conn.clear_deadline();
            tracing::debug!(?peer, client_id, method = method.as_str(), "authenticated");
            return Some(Some(connack_auth));
        }
        Err(ended) => ended,
    };
    match ended {
        Ended::Refused(refused) => refuse_connect(broker, &control, peer, client_id, refused),
        Ended::Closed(why) => tracing::info!(?peer, client_id, "closing connection: {why}"),
    }
    None
}

/// Runs the exchange of `method` before CONNACK. `Ok` with what CONNACK carries.
async fn exchange(
    broker: &ShardBroker,
    stream: &mut TcpStream,
    control: &ConnectionControl,
    connect: &Connect,
    method: &MqttString,
    tail: &mut ReadTail,
) -> Result<ConnAckAuth, Ended> {
    let auth = &broker.settings.auth;
    let mut exchange = start(broker, method).map_err(Ended::Refused)?;
    let mut data = connect.properties.authentication_data.clone();
    loop {
        match exchange.step(auth.users(), data.as_deref()) {
            Step::Continue(server_data) => {
                send_auth(
                    broker,
                    control,
                    ReasonCode::ContinueAuthentication,
                    method,
                    Some(server_data),
                );
                let packet = next_packet(broker, stream, control, connect, tail).await?;
                data = match packet {
                    Packet::Auth(auth)
                        if auth.reason_code == ReasonCode::ContinueAuthentication
                            && auth.properties.authentication_method.as_ref() == Some(method) =>
                    {
                        auth.properties.authentication_data
                    }
                    Packet::Auth(_) => return Err(Ended::Refused(refusal(
                        ReasonCode::ProtocolError,
                        "AUTH without Continue Authentication and the same Authentication Method",
                    ))),
                    Packet::Disconnect(_) => {
                        return Err(Ended::Closed("DISCONNECT during authentication".into()))
                    }
                    other => {
                        // MQTT 5.0 [MQTT-4.12.0-?]: only AUTH or DISCONNECT before CONNACK.
                        return Err(Ended::Refused(refusal(
                            ReasonCode::ProtocolError,
                            format!("{:?} during authentication", other.packet_type()),
                        )));
                    }
                };
            }
            Step::Success { username, data } => {
                // A User Name beside the method must be the user the method proved.
                if let Some(name) = &connect.username {
                    if name.as_str() != username {
                        return Err(Ended::Refused(refusal(
                            ReasonCode::NotAuthorized,
                            format!(
                                "User Name {name:?} is not the authenticated user {username:?}"
                            ),
                        )));
                    }
                }
                *control.auth.borrow_mut() = Some(Box::new(ConnectionAuth {
                    method: method.clone(),
                    username,
                    reauth: None,
                }));
                return Ok(ConnAckAuth {
                    method: method.clone(),
                    data,
                });
            }
            Step::Failure(refused) => return Err(Ended::Refused(refused)),
        }
    }
}

/// A new exchange of `method` with fresh randomness; 0x8C when it is not offered.
fn start(broker: &ShardBroker, method: &MqttString) -> Result<Exchange, Refusal> {
    let entropy = random_bytes::<AUTH_ENTROPY_BYTES>().map_err(|e| {
        refusal(
            ReasonCode::UnspecifiedError,
            format!("no randomness for a nonce: {e}"),
        )
    })?;
    broker.settings.auth.start(method, &entropy).ok_or_else(|| {
        refusal(
            ReasonCode::BadAuthenticationMethod,
            format!("Authentication Method {:?} is not offered", method.as_str()),
        )
    })
}

fn send_auth(
    broker: &ShardBroker,
    control: &ConnectionControl,
    reason_code: ReasonCode,
    method: &MqttString,
    data: Option<Bytes>,
) {
    let packet = Packet::Auth(Auth {
        reason_code,
        properties: AuthProperties {
            authentication_method: Some(method.clone()),
            authentication_data: data,
            ..AuthProperties::default()
        },
    });
    let queued = control.send(&packet);
    broker.count_sent(&packet, queued);
}

fn refuse_connect(
    broker: &ShardBroker,
    control: &ConnectionControl,
    peer: Option<SocketAddr>,
    client_id: &str,
    refused: Refusal,
) {
    tracing::info!(
        ?peer,
        client_id,
        "refused CONNECT: {} (reason code {:#04x})",
        refused.why,
        refused.reason_code.as_u8()
    );
    let connack = Packet::ConnAck(Box::new(ConnAck::new(refused.reason_code)));
    let queued = control.send(&connack);
    broker.count_sent(&connack, queued);
}

/// The next packet from the client before CONNACK, writing what is queued meanwhile.
/// Bytes after it stay in `tail` for the session.
async fn next_packet(
    broker: &ShardBroker,
    stream: &mut TcpStream,
    control: &ConnectionControl,
    connect: &Connect,
    tail: &mut ReadTail,
) -> Result<Packet, Ended> {
    let max = broker.settings.max_packet_size_bytes;
    let mut buf = tail.take();
    loop {
        match check(&buf, max) {
            Ok(Status::Complete(header)) => {
                let frame = buf.split_to(header.frame_len()).freeze();
                tail.keep(buf);
                broker.counters.messages_received.incr();
                return Packet::decode(frame, header, Some(connect.protocol_version))
                    .map_err(|e| Ended::Refused(refusal(e.reason_code(), e.to_string())));
            }
            Ok(Status::Partial) => {}
            Err(e) => return Err(Ended::Refused(refusal(e.reason_code(), e.to_string()))),
        }
        match next_event(broker, stream, control).await {
            Ok(Event::Read(fresh)) if fresh.is_empty() => {
                return Err(Ended::Closed(
                    "closed by the client during authentication".into(),
                ))
            }
            Ok(Event::Read(fresh)) => buf.extend_from_slice(&fresh),
            Ok(Event::Control(ConnectionEvent::Write)) => {
                let out = control.take_outbound();
                if let Err(e) = stream.write_all(&out).await {
                    return Err(Ended::Closed(format!("write failed: {e}")));
                }
                broker.counters.bytes_sent.add(out.len() as u64);
            }
            Ok(Event::Control(ConnectionEvent::Close(CloseRequest::ConnectTimeout))) => {
                return Err(Ended::Closed(format!(
                    "authentication not finished within {:?}",
                    broker.settings.connect_timeout
                )))
            }
            Ok(Event::Control(ConnectionEvent::Close(request))) => {
                return Err(Ended::Closed(format!("{request:?} during authentication")))
            }
            Err(e) => return Err(Ended::Closed(format!("read failed: {e}"))),
        }
    }
}

impl ShardBroker {
    /// AUTH from a connected client: re-authentication (MQTT 5.0 §4.12.1) with the
    /// method of its CONNECT, step by step, while its other packets keep flowing. Success
    /// answers AUTH 0x00 with the final data; failure ends the connection (DISCONNECT
    /// 0x87; 0x82 for another method, or without enhanced authentication at CONNECT).
    /// A re-authentication older than the CONNECT timeout fails at its next step.
    pub(super) fn on_auth(&self, control: &ConnectionControl, auth: Auth) -> Next {
        let step = {
            let mut slot = control.auth.borrow_mut();
            match self.reauth_step(slot.as_deref_mut(), auth) {
                Ok((step, method)) => match step {
                    Step::Continue(data) => {
                        Ok((ReasonCode::ContinueAuthentication, method, Some(data)))
                    }
                    Step::Success { username, data } => {
                        let state = slot.as_mut().expect("re-authentication under way");
                        state.reauth = None;
                        if username == state.username {
                            Ok((ReasonCode::Success, method, data))
                        } else {
                            Err(refusal(
                                ReasonCode::NotAuthorized,
                                format!(
                                    "re-authenticated as {username:?}, connected as {:?}",
                                    state.username
                                ),
                            ))
                        }
                    }
                    Step::Failure(refused) => Err(refused),
                },
                Err(refused) => Err(refused),
            }
        };
        match step {
            Ok((reason_code, method, data)) => {
                send_auth(self, control, reason_code, &method, data);
                if reason_code == ReasonCode::Success {
                    tracing::debug!(method = method.as_str(), "re-authenticated");
                }
                Next::Continue
            }
            Err(refused) => {
                tracing::info!(
                    "closing connection: re-authentication failed: {} (reason code {:#04x})",
                    refused.why,
                    refused.reason_code.as_u8()
                );
                // A method's CONNACK codes that DISCONNECT lacks (§3.14.2.1).
                let reason_code = match refused.reason_code {
                    ReasonCode::BadUserNameOrPassword | ReasonCode::BadAuthenticationMethod => {
                        ReasonCode::NotAuthorized
                    }
                    code => code,
                };
                // The log has the cause; the client learns only that it failed, which
                // reveals nothing about which users exist.
                self.protocol_violation(control, reason_code, "re-authentication failed")
            }
        }
    }

    /// One step of a re-authentication: the method's answer and the method's name.
    fn reauth_step(
        &self,
        state: Option<&mut ConnectionAuth>,
        auth: Auth,
    ) -> Result<(Step, MqttString), Refusal> {
        let Some(state) = state else {
            return Err(refusal(
                ReasonCode::ProtocolError,
                "AUTH from a client that did not use enhanced authentication at CONNECT",
            ));
        };
        let same_method = auth.properties.authentication_method.as_ref() == Some(&state.method);
        let data = auth.properties.authentication_data;
        let now_ms = self.now_ms();
        match auth.reason_code {
            ReasonCode::ReAuthenticate => {
                if !same_method {
                    // §4.12.1: the method of the CONNECT or a Protocol Error (DISCONNECT
                    // has no 0x8C Bad authentication method, §3.14.2.1).
                    return Err(refusal(
                        ReasonCode::ProtocolError,
                        "re-authentication with another Authentication Method",
                    ));
                }
                if state.reauth.is_some() {
                    return Err(refusal(
                        ReasonCode::ProtocolError,
                        "Re-authenticate during a re-authentication",
                    ));
                }
                let mut exchange = start(self, &state.method)?;
                let step = exchange.step(self.settings.auth.users(), data.as_deref());
                state.reauth = Some((exchange, now_ms));
                if matches!(step, Step::Failure(_)) {
                    state.reauth = None;
                }
                Ok((step, state.method.clone()))
            }
            ReasonCode::ContinueAuthentication => {
                let Some((exchange, started_ms)) = state.reauth.as_mut() else {
                    return Err(refusal(
                        ReasonCode::ProtocolError,
                        "Continue Authentication without a re-authentication under way",
                    ));
                };
                if !same_method {
                    return Err(refusal(
                        ReasonCode::ProtocolError,
                        "AUTH with another Authentication Method",
                    ));
                }
                let timeout = self.settings.connect_timeout;
                if now_ms.saturating_sub(*started_ms) > timeout.as_millis() as u64 {
                    return Err(refusal(
                        ReasonCode::NotAuthorized,
                        format!("re-authentication not finished within {timeout:?}"),
                    ));
                }
                let step = exchange.step(self.settings.auth.users(), data.as_deref());
                Ok((step, state.method.clone()))
            }
            _ => Err(refusal(
                ReasonCode::ProtocolError,
                "AUTH Success from the client",
            )),
        }
    }
}
