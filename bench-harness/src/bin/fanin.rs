//! QoS 0 fan-in throughput: N publishers, each on its own blocking TCP connection
//! and thread, write QoS 0 PUBLISH packets to `fanin/<i>` open-loop, as fast as the
//! socket accepts, for a fixed time; S subscribers (`fanin/#`, QoS 0) count what
//! arrives and record end-to-end latency from an 8-byte send timestamp at the front
//! of every payload (nanoseconds since an `Instant` shared by all threads).
//!
//! ```text
//! cargo run --release -p bench-harness --bin fanin -- --broker 127.0.0.1:1883 \
//!     --publishers 8 --seconds 10 --payload 64 [--subscribers 1] [--version 4|5]
//! ```
//!
//! Everything is bounded by time: socket reads and writes have timeouts, setup has a
//! deadline, publishing stops at the end of the window, and subscribers drain for at
//! most 2 s after it (less once 500 ms pass with nothing received).
//!
//! Latency includes client-side queueing: publishers are open-loop, so it measures
//! how far behind the subscriber falls (socket buffers, broker queues), not the
//! broker's unloaded forwarding latency.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use coremq::protocol::{
    decode, encode, Connect, Disconnect, MqttString, Packet, PacketId, ProtocolVersion, Publish,
    QoS, ReasonCode, Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName,
};
use hdrhistogram::Histogram;

/// Encoded PUBLISH packets per `write` batch.
const BATCH: usize = 64;
/// Limit on a decoded packet from the broker.
const MAX_PACKET: u32 = 16 * 1024 * 1024;
/// Setup (connect, CONNACK, SUBACK) of every client must finish within this.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket read and write timeout: the granularity at which loops re-check the clock.
const IO_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest drain after the publishing window.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// Drain ends early once nothing arrived for this long.
const DRAIN_IDLE: Duration = Duration::from_millis(500);
/// A publisher blocked mid-batch at the end of the window gives up after this.
const WRITE_GRACE: Duration = Duration::from_secs(1);
/// Read chunk size.
const READ_CHUNK: usize = 64 * 1024;
/// Histogram upper bound, ns (60 s).
const HIST_MAX_NS: u64 = 60_000_000_000;

struct Args {
    broker: String,
    publishers: usize,
    subscribers: usize,
    seconds: f64,
    payload: usize,
    version: ProtocolVersion,
}

const USAGE: &str = "usage: fanin --broker HOST:PORT [--publishers N] [--subscribers S] \
                     [--seconds T] [--payload BYTES] [--version 4|5]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        broker: String::new(),
        publishers: 8,
        subscribers: 1,
        seconds: 10.0,
        payload: 64,
        version: ProtocolVersion::V3_1_1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("{flag}: {what}: {value:?}\n{USAGE}");
        match flag.as_str() {
            "--broker" => args.broker = value.clone(),
            "--publishers" => args.publishers = value.parse().map_err(|_| bad("not a count"))?,
            "--subscribers" => args.subscribers = value.parse().map_err(|_| bad("not a count"))?,
            "--seconds" => args.seconds = value.parse().map_err(|_| bad("not a number"))?,
            "--payload" => args.payload = value.parse().map_err(|_| bad("not a size"))?,
            "--version" => {
                args.version = match value.as_str() {
                    "4" | "3.1.1" => ProtocolVersion::V3_1_1,
                    "5" | "5.0" => ProtocolVersion::V5,
                    _ => return Err(bad("expected 4 or 5")),
                }
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if args.broker.is_empty() {
        return Err(format!("--broker is required\n{USAGE}"));
    }
    if args.publishers == 0 || args.subscribers == 0 {
        return Err("--publishers and --subscribers must be at least 1".to_string());
    }
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err("--seconds must be in (0, 3600]".to_string());
    }
    if args.payload < 8 {
        return Err("--payload must be at least 8 (it carries the send timestamp)".to_string());
    }
    Ok(args)
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Reads until one whole packet is decoded or `deadline` passes.
fn read_packet(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    version: ProtocolVersion,
    deadline: Instant,
) -> io::Result<Packet> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(packet) =
            decode(buf, Some(version), MAX_PACKET).map_err(|e| other(e.to_string()))?
        {
            return Ok(packet);
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "timed out waiting for the broker",
            ));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(other("broker closed the connection")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Connects, sends CONNECT and waits for a successful CONNACK.
fn connect(args: &Args, client_id: &str, deadline: Instant) -> io::Result<(TcpStream, BytesMut)> {
    let addr = args
        .broker
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| other("broker address did not resolve"))?;
    let mut stream = TcpStream::connect_timeout(&addr, SETUP_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let client_id = MqttString::new(client_id).map_err(|e| other(e.to_string()))?;
    // Keep Alive 0: subscribers send nothing once subscribed.
    let connect = Connect::new(args.version, client_id, 0);
    let mut out = BytesMut::new();
    encode(&Packet::Connect(Box::new(connect)), args.version, &mut out)
        .map_err(|e| other(e.to_string()))?;
    stream.write_all(&out)?;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    match read_packet(&mut stream, &mut buf, args.version, deadline)? {
        Packet::ConnAck(ack) if ack.reason_code.is_success() => Ok((stream, buf)),
        Packet::ConnAck(ack) => Err(other(format!("CONNACK refused: {}", ack.reason_code))),
        p => Err(other(format!(
            "expected CONNACK, got {:?}",
            p.packet_type()
        ))),
    }
}

fn send_disconnect(stream: &mut TcpStream, version: ProtocolVersion) {
    let mut out = BytesMut::new();
    let packet = Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION));
    if encode(&packet, version, &mut out).is_ok() {
        let _ = stream.write_all(&out);
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// Start signal: `Some(start)` to go, `None` to abort.
type Go = Option<Instant>;

struct PubResult {
    sent: u64,
    error: Option<String>,
}

fn publisher(
    args: &Args,
    index: usize,
    epoch: Instant,
    ready: Sender<Result<(), String>>,
    go: Receiver<Go>,
) -> PubResult {
    let fail = |e: String| PubResult {
        sent: 0,
        error: Some(e),
    };
    let setup_deadline = Instant::now() + SETUP_TIMEOUT;
    let (mut stream, _) = match connect(args, &format!("fanin-pub-{index}"), setup_deadline) {
        Ok(c) => c,
        Err(e) => {
            let e = format!("publisher {index}: {e}");
            let _ = ready.send(Err(e.clone()));
            return fail(e);
        }
    };

    // One batch of identical packets; the timestamp offsets are patched per write.
    let topic = TopicName::new(&format!("fanin/{index}")).expect("valid topic");
    let publish = Publish::new(topic, Bytes::from(vec![0u8; args.payload]));
    let packet = Packet::Publish(publish);
    let mut batch = BytesMut::new();
    let mut ts_offsets = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        encode(&packet, args.version, &mut batch).expect("encodable PUBLISH");
        // The payload is the tail of a PUBLISH.
        ts_offsets.push(batch.len() - args.payload);
    }
    let packet_len = (batch.len() / BATCH) as u64;
    let mut batch = batch.to_vec();

    let _ = ready.send(Ok(()));
    let start = match go.recv_timeout(SETUP_TIMEOUT * 2) {
        Ok(Some(start)) => start,
        _ => return fail(format!("publisher {index}: aborted before start")),
    };
    let end = start + Duration::from_secs_f64(args.seconds);
    let hard_stop = end + WRITE_GRACE;
    while Instant::now() < start {
        thread::sleep(Duration::from_millis(1));
    }

    let mut bytes: u64 = 0;
    let mut error = None;
    'outer: while Instant::now() < end {
        let ts = (epoch.elapsed().as_nanos() as u64).to_le_bytes();
        for &off in &ts_offsets {
            batch[off..off + 8].copy_from_slice(&ts);
        }
        let mut off = 0;
        while off < batch.len() {
            match stream.write(&batch[off..]) {
                Ok(0) => {
                    error = Some(format!("publisher {index}: connection closed"));
                    break 'outer;
                }
                Ok(n) => {
                    off += n;
                    bytes += n as u64;
                }
                Err(e) if is_timeout(&e) => {
                    if Instant::now() >= hard_stop {
                        break 'outer;
                    }
                }
                Err(e) => {
                    error = Some(format!("publisher {index}: write: {e}"));
                    break 'outer;
                }
            }
        }
    }
    send_disconnect(&mut stream, args.version);
    PubResult {
        // Only whole packets count.
        sent: bytes / packet_len,
        error,
    }
}

struct SubResult {
    received: u64,
    in_window: u64,
    hist: Histogram<u64>,
    error: Option<String>,
}

fn subscriber(
    args: &Args,
    index: usize,
    epoch: Instant,
    ready: Sender<Result<(), String>>,
    go: Receiver<Go>,
) -> SubResult {
    let mut result = SubResult {
        received: 0,
        in_window: 0,
        hist: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("histogram bounds"),
        error: None,
    };
    let setup_deadline = Instant::now() + SETUP_TIMEOUT;
    let setup = || -> io::Result<(TcpStream, BytesMut)> {
        let (mut stream, mut buf) = connect(args, &format!("fanin-sub-{index}"), setup_deadline)?;
        let subscribe = Subscribe {
            packet_id: PacketId::new(1).expect("nonzero"),
            properties: SubscribeProperties::default(),
            filters: vec![(
                TopicFilter::new("fanin/#").expect("valid filter"),
                SubscriptionOptions {
                    qos: QoS::AtMostOnce,
                    ..SubscriptionOptions::default()
                },
            )],
        };
        let mut out = BytesMut::new();
        encode(&Packet::Subscribe(subscribe), args.version, &mut out)
            .map_err(|e| other(e.to_string()))?;
        stream.write_all(&out)?;
        match read_packet(&mut stream, &mut buf, args.version, setup_deadline)? {
            Packet::SubAck(ack) if ack.reason_codes.iter().all(|c| c.is_success()) => {
                Ok((stream, buf))
            }
            Packet::SubAck(ack) => Err(other(format!("SUBACK refused: {:?}", ack.reason_codes))),
            p => Err(other(format!("expected SUBACK, got {:?}", p.packet_type()))),
        }
    };
    let (mut stream, mut buf) = match setup() {
        Ok(c) => c,
        Err(e) => {
            let e = format!("subscriber {index}: {e}");
            let _ = ready.send(Err(e.clone()));
            result.error = Some(e);
            return result;
        }
    };
    let _ = ready.send(Ok(()));
    let start = match go.recv_timeout(SETUP_TIMEOUT * 2) {
        Ok(Some(start)) => start,
        _ => {
            result.error = Some(format!("subscriber {index}: aborted before start"));
            return result;
        }
    };
    let end = start + Duration::from_secs_f64(args.seconds);
    let drain_deadline = end + DRAIN_MAX;

    let mut chunk = vec![0u8; READ_CHUNK];
    let mut last_rx = Instant::now();
    'outer: loop {
        let now = Instant::now();
        if now >= drain_deadline
            || (now >= end && now.duration_since(last_rx.max(end)) >= DRAIN_IDLE)
        {
            break;
        }
        let n = match stream.read(&mut chunk) {
            Ok(0) => {
                result.error = Some(format!("subscriber {index}: broker closed the connection"));
                break;
            }
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => {
                result.error = Some(format!("subscriber {index}: read: {e}"));
                break;
            }
        };
        let arrived = Instant::now();
        last_rx = arrived;
        let now_ns = arrived.duration_since(epoch).as_nanos() as u64;
        let in_window = arrived <= end;
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match decode(&mut buf, Some(args.version), MAX_PACKET) {
                Ok(Some(Packet::Publish(p))) => {
                    result.received += 1;
                    if in_window {
                        result.in_window += 1;
                    }
                    if let Some(ts) = p.payload.get(..8) {
                        let sent_ns = u64::from_le_bytes(ts.try_into().expect("8 bytes"));
                        let lat = now_ns.saturating_sub(sent_ns).clamp(1, HIST_MAX_NS);
                        result.hist.saturating_record(lat);
                    }
                }
                Ok(Some(Packet::Disconnect(d))) => {
                    result.error = Some(format!(
                        "subscriber {index}: broker sent DISCONNECT {}",
                        d.reason_code
                    ));
                    break 'outer;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    result.error = Some(format!("subscriber {index}: decode: {e}"));
                    break 'outer;
                }
            }
        }
    }
    send_disconnect(&mut stream, args.version);
    result
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn lat_json(h: &Histogram<u64>) -> String {
    format!(
        "{{\"p50\":{:.1},\"p99\":{:.1},\"p999\":{:.1},\"max\":{:.1}}}",
        us(h.value_at_quantile(0.50)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max())
    )
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let epoch = Instant::now();
    let args = &args;

    let (pubs, subs, start) = thread::scope(|scope| {
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut go_txs: Vec<Sender<Go>> = Vec::new();
        let mut sub_handles = Vec::new();
        for i in 0..args.subscribers {
            let (go_tx, go_rx) = mpsc::channel();
            go_txs.push(go_tx);
            let ready = ready_tx.clone();
            sub_handles.push(scope.spawn(move || subscriber(args, i, epoch, ready, go_rx)));
        }
        let mut pub_handles = Vec::new();
        for i in 0..args.publishers {
            let (go_tx, go_rx) = mpsc::channel();
            go_txs.push(go_tx);
            let ready = ready_tx.clone();
            pub_handles.push(scope.spawn(move || publisher(args, i, epoch, ready, go_rx)));
        }
        drop(ready_tx);

        // Every subscriber holds its SUBACK and every publisher its CONNACK before
        // anyone publishes.
        let deadline = Instant::now() + SETUP_TIMEOUT + Duration::from_secs(1);
        let mut ok = 0;
        let mut failed = false;
        while ok < args.subscribers + args.publishers {
            let left = deadline.saturating_duration_since(Instant::now());
            match ready_rx.recv_timeout(left) {
                Ok(Ok(())) => ok += 1,
                Ok(Err(e)) => {
                    eprintln!("setup failed: {e}");
                    failed = true;
                    break;
                }
                Err(_) => {
                    eprintln!("setup timed out");
                    failed = true;
                    break;
                }
            }
        }
        let start = Instant::now() + Duration::from_millis(20);
        let signal = if failed { None } else { Some(start) };
        for tx in &go_txs {
            let _ = tx.send(signal);
        }
        let pubs: Vec<PubResult> = pub_handles
            .into_iter()
            .map(|h| h.join().expect("publisher thread"))
            .collect();
        let subs: Vec<SubResult> = sub_handles
            .into_iter()
            .map(|h| h.join().expect("subscriber thread"))
            .collect();
        (pubs, subs, signal)
    });

    let errors: Vec<&String> = pubs
        .iter()
        .filter_map(|p| p.error.as_ref())
        .chain(subs.iter().filter_map(|s| s.error.as_ref()))
        .collect();
    for e in &errors {
        eprintln!("error: {e}");
    }
    if start.is_none() {
        return ExitCode::FAILURE;
    }

    let secs = args.seconds;
    let sent: u64 = pubs.iter().map(|p| p.sent).sum();
    let version = if args.version.is_v5() { 5 } else { 4 };
    let mut all = Histogram::<u64>::new_with_bounds(1, HIST_MAX_NS, 3).expect("histogram bounds");
    for s in &subs {
        all.add(&s.hist).expect("same bounds");
    }
    let loss = |received: u64| {
        if sent == 0 {
            0.0
        } else {
            100.0 * (1.0 - received.min(sent) as f64 / sent as f64)
        }
    };

    println!(
        "fanin: broker {} MQTT v{} | {} publishers -> {} subscriber(s) | QoS 0 | {} B payload | {} s window",
        args.broker, version, args.publishers, args.subscribers, args.payload, secs
    );
    println!(
        "sent: {} msgs ({:.0} msg/s); per publisher min {} max {}",
        sent,
        sent as f64 / secs,
        pubs.iter().map(|p| p.sent).min().unwrap_or(0),
        pubs.iter().map(|p| p.sent).max().unwrap_or(0),
    );
    println!(
        "{:<8} {:>12} {:>12} {:>14} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "sub",
        "received",
        "in-window",
        "rx msg/s",
        "loss %",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "max us"
    );
    let row = |name: &str, received: u64, in_window: u64, h: &Histogram<u64>| {
        println!(
            "{:<8} {:>12} {:>12} {:>14.0} {:>8.2} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            name,
            received,
            in_window,
            in_window as f64 / secs,
            loss(received),
            us(h.value_at_quantile(0.50)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            us(h.max())
        );
    };
    for (i, s) in subs.iter().enumerate() {
        row(&format!("sub-{i}"), s.received, s.in_window, &s.hist);
    }
    if subs.len() > 1 {
        let received: u64 = subs.iter().map(|s| s.received).sum();
        let in_window: u64 = subs.iter().map(|s| s.in_window).sum();
        println!(
            "{:<8} {:>12} {:>12} {:>14.0} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            "all",
            received,
            in_window,
            in_window as f64 / secs,
            "-",
            us(all.value_at_quantile(0.50)),
            us(all.value_at_quantile(0.99)),
            us(all.value_at_quantile(0.999)),
            us(all.max())
        );
    }
    println!(
        "note: rx msg/s counts messages received inside the publishing window; loss counts \
         everything received by the end of the drain (<= 2 s). Publishers send open-loop as \
         fast as the socket accepts, so latency includes client-side and socket queueing \
         (how far behind the subscriber fell), not unloaded broker latency."
    );

    let subs_json: Vec<String> = subs
        .iter()
        .map(|s| {
            format!(
                "{{\"received\":{},\"in_window\":{},\"rx_rate\":{:.0},\"loss_pct\":{:.3},\"latency_us\":{}}}",
                s.received,
                s.in_window,
                s.in_window as f64 / secs,
                loss(s.received),
                lat_json(&s.hist)
            )
        })
        .collect();
    let errors_json: Vec<String> = errors.iter().map(|e| json_str(e)).collect();
    println!(
        "{{\"bench\":\"fanin\",\"broker\":{},\"version\":{},\"publishers\":{},\"subscribers\":{},\
         \"payload\":{},\"seconds\":{},\"sent\":{},\"send_rate\":{:.0},\"subs\":[{}],\
         \"latency_us\":{},\"latency_includes_client_queueing\":true,\"errors\":[{}]}}",
        json_str(&args.broker),
        version,
        args.publishers,
        args.subscribers,
        args.payload,
        secs,
        sent,
        sent as f64 / secs,
        subs_json.join(","),
        lat_json(&all),
        errors_json.join(",")
    );
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
