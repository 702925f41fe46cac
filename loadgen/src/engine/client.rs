//! The task of one client: connect (and subscribe), wait for the start, publish /
//! receive / hold, drain, disconnect, report. Plus the conn-storm driver. Each runs on one
//! shard, as a glommio task.

use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use coremq::protocol::{
    Connect, MqttString, Packet, PacketId, PublishAck, QoS, Subscribe, SubscribeProperties,
    SubscriptionOptions, TopicFilter, TopicName,
};
use shard::glommio;
use shard::glommio::timer::Timer;

use super::conn::{Conn, Wake, Watch};
use super::publisher::{AckOutcome, Fill, PublisherState};
use super::subscriber::{Received, SubscriberState};
use super::template::PublishTemplate;
use super::ShardState;
use crate::clock;
use crate::limits::{CONNECT_TIMEOUT_SECS, DRAIN_IDLE_MS, OUTQ_RECHECK_US};
use crate::pacing::Pacer;
use crate::report::{PublisherReport, Reception};

const MS: u64 = 1_000_000;

/// What a client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Publisher id.
    Publisher(usize),
    /// Subscriber id.
    Subscriber(usize),
    /// Idle connection id (idle scenario).
    Idle(usize),
}

/// One client of this shard.
#[derive(Clone, Copy, Debug)]
pub struct ClientSpec {
    /// What it does.
    pub role: Role,
    /// Its number in the run (subscribers, then publishers), for the source address.
    pub number: usize,
    /// Its position among this shard's clients, for connect pacing.
    pub ordinal: usize,
}

impl ClientSpec {
    /// Publishers and idle holders count towards "publishers done".
    pub fn is_producer(&self) -> bool {
        !matches!(self.role, Role::Subscriber(_))
    }
}

/// What a client hands back at its end.
#[derive(Debug)]
pub enum ClientReport {
    /// A publisher's sends and acknowledgements.
    Publisher(PublisherReport),
    /// A subscriber's receptions.
    Subscriber(Vec<Reception>),
    /// Nothing to report (idle, or setup failed).
    Nothing,
}

fn source_ip(st: &ShardState, number: usize) -> Option<IpAddr> {
    let ips = &st.plan.source_ips;
    (!ips.is_empty()).then(|| ips[number % ips.len()])
}

fn connect_packet(st: &ShardState, client_id: &str, clean: bool) -> Result<Connect, String> {
    let plan = &st.plan;
    let id = MqttString::new(client_id).map_err(|e| format!("client id {client_id:?}: {e}"))?;
    let mut connect = Connect::new(plan.version, id, plan.keep_alive_secs);
    connect.clean_start = clean;
    if plan.version.is_v5() {
        connect.properties.session_expiry_interval_secs = plan.session_expiry_secs;
    }
    Ok(connect)
}

/// The role's state while it runs.
enum RoleState {
    Publisher(PublisherState),
    Subscriber(SubscriberState),
    Idle,
}

/// Runs one client to its end and leaves its report with the shard.
pub async fn run(st: Rc<ShardState>, spec: ClientSpec) {
    let report = match setup(&st, &spec).await {
        Ok((conn, role, client_id)) => {
            st.setup_finished(&spec, None);
            drive(&st, &spec, conn, role, &client_id).await
        }
        Err(e) => {
            st.setup_finished(&spec, Some(e));
            ClientReport::Nothing
        }
    };
    st.client_finished(report);
}

/// Connects (paced, bounded in concurrency) and subscribes.
async fn setup(st: &ShardState, spec: &ClientSpec) -> Result<(Conn, RoleState, String), String> {
    let plan = &st.plan;
    let (client_id, role) = match spec.role {
        Role::Publisher(p) => {
            let topic = TopicName::new(&plan.topic(p)).map_err(|e| e.to_string())?;
            let template = PublishTemplate::new(topic, plan.qos, plan.payload_bytes, plan.version)?;
            // The schedule and end are set at the start; placeholders until then.
            let state = PublisherState::new(
                p as u32,
                plan.run_id,
                template,
                plan.qos,
                None,
                plan.count_of_publisher(p),
                0,
                plan.outstanding,
                plan.outstanding_bytes,
            );
            (
                format!("{}-p{p}", plan.client_prefix),
                RoleState::Publisher(state),
            )
        }
        Role::Subscriber(s) => (
            format!("{}-s{s}", plan.client_prefix),
            RoleState::Subscriber(SubscriberState::new(
                plan.scope_of_subscriber(s),
                plan.run_id,
            )),
        ),
        Role::Idle(c) => (format!("{}-i{c}", plan.client_prefix), RoleState::Idle),
    };
    let shard_rate = plan.connect_rate / (plan.procs * plan.threads) as f64;
    if shard_rate > 0.0 {
        let at = st.setup_start_ns + (spec.ordinal as f64 * 1e9 / shard_rate) as u64;
        glommio::timer::sleep(clock::until(at)).await;
    }
    let _permit = st
        .connect_permits
        .acquire_permit(1)
        .await
        .map_err(|e| format!("connect permit: {e}"))?;
    let began = clock::now_ns();
    let deadline = began + CONNECT_TIMEOUT_SECS * 1_000_000_000;
    let connect = connect_packet(st, &client_id, plan.clean_start)?;
    let opened = Conn::open(
        plan.broker,
        source_ip(st, spec.number),
        connect,
        &st.scratch,
        &st.abort,
        deadline,
    )
    .await;
    let (mut conn, connack) = opened.map_err(|e| format!("{client_id}: {e}"))?;
    st.record_connect(clock::now_ns() - began);
    let mut role = role;
    match &mut role {
        RoleState::Publisher(p) => {
            if let Some(max) = connack.properties.receive_maximum {
                p.cap_window(usize::from(max.get()));
            }
        }
        RoleState::Subscriber(sub) => {
            let Role::Subscriber(s) = spec.role else {
                unreachable!("a subscriber's role")
            };
            let filter = TopicFilter::new(&plan.filter(s)).map_err(|e| e.to_string())?;
            let subscribe = Subscribe {
                packet_id: PacketId::MIN,
                properties: SubscribeProperties::default(),
                filters: vec![(
                    filter,
                    SubscriptionOptions {
                        qos: plan.sub_qos,
                        ..SubscriptionOptions::default()
                    },
                )],
            };
            conn.queue(&Packet::Subscribe(subscribe))?;
            // A persistent session may deliver queued messages before the SUBACK.
            loop {
                let packet = conn
                    .read_packet_until(&st.scratch, &st.abort, deadline)
                    .await
                    .map_err(|e| format!("{client_id}: SUBSCRIBE: {e}"))?;
                match packet {
                    Packet::SubAck(ack) if ack.reason_codes.iter().all(|c| c.is_success()) => break,
                    Packet::SubAck(ack) => {
                        return Err(format!(
                            "{client_id}: SUBACK refused: {:?}",
                            ack.reason_codes
                        ))
                    }
                    other => on_subscriber_packet(st, &mut conn, sub, other, clock::now_ns())?,
                }
            }
        }
        RoleState::Idle => {}
    }
    Ok((conn, role, client_id))
}

/// Handles one packet a subscriber received.
fn on_subscriber_packet(
    st: &ShardState,
    conn: &mut Conn,
    sub: &mut SubscriberState,
    packet: Packet,
    now_ns: u64,
) -> Result<(), String> {
    match packet {
        Packet::Publish(p) => {
            match sub.on_payload(&p.payload, now_ns) {
                Received::Ours { latency_ns } => st.record_received(latency_ns),
                Received::Foreign => st.counters.foreign.set(st.counters.foreign.get() + 1),
            }
            match (p.qos, p.packet_id) {
                (QoS::AtLeastOnce, Some(id)) => conn.queue(&Packet::PubAck(PublishAck::new(id)))?,
                (QoS::ExactlyOnce, Some(id)) => conn.queue(&Packet::PubRec(PublishAck::new(id)))?,
                _ => {}
            }
        }
        Packet::PubRel(r) => conn.queue(&Packet::PubComp(PublishAck::new(r.packet_id)))?,
        other => return on_common_packet(other),
    }
    Ok(())
}

/// Packets any client may get that need no answer; DISCONNECT is an error.
fn on_common_packet(packet: Packet) -> Result<(), String> {
    match packet {
        Packet::PingResp | Packet::SubAck(_) | Packet::UnsubAck(_) => Ok(()),
        Packet::Disconnect(d) => Err(format!("broker sent DISCONNECT {}", d.reason_code)),
        other => Err(format!(
            "unexpected {:?} from the broker",
            other.packet_type()
        )),
    }
}

/// Handles one packet a publisher received.
fn on_publisher_packet(
    st: &ShardState,
    conn: &mut Conn,
    publisher: &mut PublisherState,
    packet: Packet,
    now_ns: u64,
) -> Result<(), String> {
    let c = &st.counters;
    match packet {
        Packet::PubAck(a) => {
            match publisher.on_puback(a.packet_id, a.reason_code.is_success(), now_ns) {
                AckOutcome::Finished {
                    latency_ns,
                    success,
                } => {
                    st.record_ack(latency_ns);
                    if success {
                        c.acked.set(c.acked.get() + 1);
                    } else {
                        c.ack_failed.set(c.ack_failed.get() + 1);
                    }
                }
                _ => return Err(format!("unexpected PUBACK {}", a.packet_id.get())),
            }
        }
        Packet::PubRec(a) => {
            match publisher.on_pubrec(a.packet_id, a.reason_code.is_success(), now_ns) {
                AckOutcome::Release(id) => {
                    c.acked.set(c.acked.get() + 1);
                    conn.queue(&Packet::PubRel(PublishAck::new(id)))?;
                }
                AckOutcome::Finished { latency_ns, .. } => {
                    st.record_ack(latency_ns);
                    c.ack_failed.set(c.ack_failed.get() + 1);
                }
                AckOutcome::Unexpected => {
                    return Err(format!("unexpected PUBREC {}", a.packet_id.get()))
                }
            }
        }
        Packet::PubComp(a) => match publisher.on_pubcomp(a.packet_id, now_ns) {
            AckOutcome::Finished { latency_ns, .. } => st.record_ack(latency_ns),
            _ => return Err(format!("unexpected PUBCOMP {}", a.packet_id.get())),
        },
        other => return on_common_packet(other),
    }
    Ok(())
}

/// Handles every whole packet read so far.
fn handle_packets(
    st: &ShardState,
    conn: &mut Conn,
    role: &mut RoleState,
    now_ns: u64,
    last_rx_ns: &mut u64,
) -> Result<(), String> {
    while let Some(packet) = conn.next_packet()? {
        match role {
            RoleState::Publisher(p) => on_publisher_packet(st, conn, p, packet, now_ns)?,
            RoleState::Subscriber(s) => {
                *last_rx_ns = now_ns;
                on_subscriber_packet(st, conn, s, packet, now_ns)?
            }
            RoleState::Idle => on_common_packet(packet)?,
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Connected; waiting for the start.
    WaitGo,
    /// Publishing (or holding).
    Running,
    /// Done producing; waiting for the coordinator's drain.
    AwaitDrain,
    /// Subscribers: reading until quiet.
    Draining { since_ns: u64 },
}

/// The life of a connected client after setup.
async fn drive(
    st: &ShardState,
    spec: &ClientSpec,
    mut conn: Conn,
    mut role: RoleState,
    client_id: &str,
) -> ClientReport {
    let plan = &st.plan;
    let keep_alive_ns = u64::from(plan.keep_alive_secs) * 750 * MS;
    let drain_ns = (plan.drain_secs * 1e9) as u64;
    let mut phase = Phase::WaitGo;
    let mut end_ns = u64::MAX;
    let mut last_rx_ns = 0;
    let mut ping_outstanding = false;
    // Latches in the order they are set; `seen` of them are no longer watched.
    let mut watches = [
        Watch::new(&st.go),
        Watch::new(&st.drain),
        Watch::new(&st.abort),
    ];
    let mut seen = 0;
    let mut failure: Option<String> = None;
    let mut producing = spec.is_producer();
    loop {
        let now = clock::now_ns();
        if let Err(e) = handle_packets(st, &mut conn, &mut role, now, &mut last_rx_ns) {
            failure = Some(e);
            break;
        }
        if st.abort.is_set() {
            break;
        }
        if phase == Phase::WaitGo && st.go.is_set() {
            seen = 1;
            phase = Phase::Running;
            end_ns = st.start_ns.get() + (plan.duration_secs * 1e9) as u64;
            if let (RoleState::Publisher(p), Role::Publisher(id)) = (&mut role, spec.role) {
                let pacer = plan
                    .rate
                    .map(|rate| Pacer::new(st.start_ns.get(), rate, plan.publishers, id));
                p.start(pacer, end_ns);
            }
            if matches!(role, RoleState::Subscriber(_)) {
                phase = Phase::AwaitDrain;
            }
        }
        if phase == Phase::Running {
            let finished = match &role {
                RoleState::Publisher(p) => {
                    // Open loop: messages meant for before the end still go out late
                    // (until the drain bound); saturation stops at the end.
                    let generated = p.exhausted(now) || now >= end_ns + drain_ns;
                    let settled = plan.qos == QoS::AtMostOnce
                        || p.in_flight() == 0
                        || now >= end_ns + drain_ns;
                    generated && settled && conn.wbuf.is_empty()
                }
                RoleState::Idle => now >= end_ns,
                RoleState::Subscriber(_) => true,
            };
            if finished {
                if std::mem::take(&mut producing) {
                    st.producer_done();
                }
                phase = Phase::AwaitDrain;
            }
        }
        if phase == Phase::AwaitDrain && st.drain.is_set() {
            seen = 2;
            phase = Phase::Draining { since_ns: now };
        }
        let mut next_ns = u64::MAX;
        let mut want_drained = false;
        if let Phase::Draining { since_ns } = phase {
            let RoleState::Subscriber(_) = role else {
                break;
            };
            let quiet_at = last_rx_ns.max(since_ns) + DRAIN_IDLE_MS * MS;
            let give_up_at = since_ns + drain_ns;
            if now >= quiet_at.min(give_up_at) {
                break;
            }
            next_ns = quiet_at.min(give_up_at);
        }
        if phase == Phase::Running {
            match &mut role {
                RoleState::Publisher(p) if !p.exhausted(now) && now < end_ns + drain_ns => {
                    let queued = if plan.qos == QoS::AtMostOnce {
                        conn.socket_queued()
                    } else {
                        0
                    };
                    let (fill, n) =
                        p.fill(&mut conn.wbuf, now, queued, |lag| st.record_send_lag(lag));
                    st.counters.sent.set(st.counters.sent.get() + n);
                    match fill {
                        Fill::Due(t) => next_ns = t,
                        Fill::Yield => next_ns = now,
                        Fill::BytesFull if conn.wbuf.is_empty() => {
                            next_ns = now + OUTQ_RECHECK_US * 1000
                        }
                        Fill::BytesFull => want_drained = true,
                        Fill::WindowFull | Fill::Exhausted => {}
                    }
                    next_ns = next_ns.min(end_ns + drain_ns);
                }
                RoleState::Publisher(p) if p.in_flight() > 0 => {
                    next_ns = end_ns + drain_ns;
                    want_drained = true;
                }
                RoleState::Publisher(_) => want_drained = true,
                RoleState::Idle => next_ns = end_ns,
                RoleState::Subscriber(_) => {}
            }
        }
        if keep_alive_ns > 0 {
            let ping_at = conn.last_sent_ns + keep_alive_ns;
            if now >= ping_at && !ping_outstanding {
                if let Err(e) = conn.queue(&Packet::PingReq) {
                    failure = Some(e);
                    break;
                }
                ping_outstanding = true;
            } else if now < ping_at {
                next_ns = next_ns.min(ping_at);
            }
        }
        let mut timer = (next_ns != u64::MAX).then(|| Timer::new(clock::until(next_ns)));
        let watching = &mut watches[seen..];
        match conn
            .wait(&st.scratch, timer.as_mut(), watching, want_drained)
            .await
        {
            Ok(Wake::Closed) => {
                failure = Some("the broker closed the connection".into());
                break;
            }
            Ok(Wake::Read) if matches!(role, RoleState::Subscriber(_)) => {}
            Ok(_) => {}
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        // Whatever the broker sent proves it alive; a lost PINGRESP must not stop pings.
        if conn.last_sent_ns + keep_alive_ns > clock::now_ns() {
            ping_outstanding = false;
        }
    }
    if let Some(e) = failure {
        st.connection_failed(format!("{client_id}: {e}"));
    }
    if producing {
        st.producer_done();
    }
    conn.close(&st.scratch).await;
    let now = clock::now_ns();
    match role {
        RoleState::Publisher(p) => ClientReport::Publisher(p.report(now)),
        RoleState::Subscriber(s) => ClientReport::Subscriber(s.into_receptions()),
        RoleState::Idle => ClientReport::Nothing,
    }
}

/// conn-storm on one shard: opens its share of the connections, each at its intended
/// time (`--connect-rate`) or as soon as a permit is free, records connect-to-CONNACK
/// latency, and closes each after its CONNACK.
pub async fn storm(st: Rc<ShardState>, ids: Vec<usize>) {
    let plan = &st.plan;
    let start = st.start_ns.get();
    let end_ns = start + (plan.duration_secs * 1e9) as u64;
    let running = Rc::new(std::cell::Cell::new(0usize));
    for c in ids {
        if st.abort.is_set() {
            break;
        }
        let intended = if plan.connect_rate > 0.0 {
            let at = Pacer::new(start, plan.connect_rate, plan.connections, c).intended_ns(0);
            if at >= end_ns {
                break;
            }
            let abort = st.abort.wait();
            futures_lite::future::or(glommio::timer::sleep(clock::until(at)), abort).await;
            Some(at)
        } else {
            None
        };
        let Ok(permit) = st.connect_permits.clone().acquire_static_permit(1).await else {
            break;
        };
        let now = clock::now_ns();
        if now >= end_ns || st.abort.is_set() {
            break;
        }
        let began = intended.unwrap_or(now);
        running.set(running.get() + 1);
        let (st2, running2) = (st.clone(), running.clone());
        glommio::spawn_local(async move {
            let st = st2;
            let client_id = format!("{}-c{c}", st.plan.client_prefix);
            let result = match connect_packet(&st, &client_id, true) {
                Ok(connect) => {
                    let deadline = clock::now_ns() + CONNECT_TIMEOUT_SECS * 1_000_000_000;
                    Conn::open(
                        st.plan.broker,
                        source_ip(&st, c),
                        connect,
                        &st.scratch,
                        &st.abort,
                        deadline,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok((conn, _)) => {
                    st.record_connect(clock::now_ns().saturating_sub(began));
                    conn.close(&st.scratch).await;
                }
                Err(e) => st.storm_failed(format!("{client_id}: {e}")),
            }
            drop(permit);
            running2.set(running2.get() - 1);
        })
        .detach();
    }
    while running.get() > 0 {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    st.storm_done();
}
