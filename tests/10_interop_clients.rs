//! Interoperability with real MQTT clients: the mosquitto command-line clients
//! (`mosquitto_pub`, `mosquitto_sub`), the paho-mqtt Python client (MQTT 3.1.1 and 5.0,
//! tests/interop/paho_pubsub.py), rumqttc (Rust, sync `Client`, MQTT 3.1.1 and 5.0) and
//! MQTT.js in 5.0 mode (tests/interop/mqttjs/v5.js). scripts/install-deps.sh
//! installs the tools; a missing tool fails the test once that script has run (its
//! marker file exists, or CI is set) and is skipped with a printed reason otherwise.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::client::{text, Client, QOS1, V3_1_1};
use support::{Broker, IO_TIMEOUT};

fn broker() -> Broker {
    Broker::start_under_test(&["--shards", "2"])
}

/// Written by scripts/install-deps.sh when it has installed everything.
fn deps_installed() -> bool {
    if std::env::var_os("CI").is_some() {
        return true;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")));
    cache.is_some_and(|dir| dir.join("coremq/install-deps.done").exists())
}

/// True when `program probe...` runs (and, with `must_succeed`, exits 0); otherwise
/// the test is skipped (false) or, after scripts/install-deps.sh, fails.
fn have(program: &str, probe: &[&str], must_succeed: bool) -> bool {
    let found = Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success() || !must_succeed);
    if !found {
        assert!(
            !deps_installed(),
            "{program} {probe:?} failed although scripts/install-deps.sh has run"
        );
        eprintln!("SKIPPED: {program} is not installed; run scripts/install-deps.sh");
    }
    found
}

fn port(broker: &Broker) -> String {
    broker.addr.port().to_string()
}

/// Runs a command to completion within `IO_TIMEOUT`; returns its stdout.
fn run(command: &mut Command) -> String {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let deadline = Instant::now() + IO_TIMEOUT + Duration::from_secs(5);
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                output.status.success(),
                "{command:?}: {}\nstdout:\n{stdout}\nstderr:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            return stdout;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn mosquitto_pub_reaches_a_subscriber_v311_and_v5() {
    if !have("mosquitto_pub", &["--help"], false) {
        return;
    }
    let broker = broker();
    let mut sub = Client::connect(&broker, V3_1_1, "cli-raw-sub");
    sub.subscribe(&[("cli/pub/#", QOS1)]);
    for (version, qos) in [("mqttv311", "1"), ("mqttv5", "2"), ("mqttv31", "0")] {
        run(Command::new("mosquitto_pub").args([
            "-h",
            "127.0.0.1",
            "-p",
            &port(&broker),
            "-V",
            version,
            "-i",
            &format!("cli-pub-{version}"),
            "-q",
            qos,
            "-t",
            &format!("cli/pub/{version}"),
            "-m",
            &format!("hello {version}"),
        ]));
        let publish = sub.expect_publish_acked();
        assert_eq!(publish.topic.as_str(), format!("cli/pub/{version}"));
        assert_eq!(text(&publish), format!("hello {version}"));
        assert_eq!(publish.qos as u8, qos.parse::<u8>().unwrap().min(1));
    }
}

#[test]
fn mosquitto_sub_receives_live_and_retained_messages() {
    if !have("mosquitto_sub", &["--help"], false) || !have("mosquitto_pub", &["--help"], false) {
        return;
    }
    let broker = broker();
    for version in ["mqttv311", "mqttv5"] {
        // Live: mosquitto_sub -d reports its SUBACK, then 3 messages are published
        // (stdbuf: line-buffered stdout, else the report waits in a pipe buffer).
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(["-h", "127.0.0.1", "-p", &port(&broker), "-V", version])
            .args(["-i", &format!("cli-sub-{version}"), "-q", "1", "-d"])
            .args(["-t", "cli/sub", "-C", "3", "-W", "10"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto_sub");
        let (lines_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut output = Vec::new();
        loop {
            let line = lines
                .recv_timeout(IO_TIMEOUT)
                .unwrap_or_else(|_| panic!("mosquitto_sub did not subscribe: {output:?}"));
            let subscribed = line.contains("received SUBACK");
            output.push(line);
            if subscribed {
                break;
            }
        }
        let mut publisher = Client::connect(&broker, V3_1_1, &format!("cli-raw-pub-{version}"));
        for n in 0..3 {
            publisher.publish("cli/sub", format!("m{n}").as_bytes(), QOS1, false);
        }
        let deadline = Instant::now() + IO_TIMEOUT;
        while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            output.push(line);
        }
        let status = child.wait().unwrap();
        let payloads: Vec<&String> = output.iter().filter(|l| l.starts_with('m')).collect();
        assert_eq!(payloads, ["m0", "m1", "m2"], "{version}: {output:?}");
        assert!(status.success(), "{version}: {status}: {output:?}");

        // Retained: set with mosquitto_pub -r, read with -C 1 and the retain flag (%r).
        let topic = format!("cli/kept/{version}");
        run(Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port(&broker), "-V", version])
            .args(["-q", "1", "-r", "-t", &topic, "-m", "kept"]));
        let got = run(Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port(&broker), "-V", version])
            .args(["-t", &topic, "-C", "1", "-W", "10", "-F", "%r %t %p"]));
        assert_eq!(got.trim(), format!("1 {topic} kept"), "{version}");
        run(Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port(&broker), "-V", version])
            .args(["-q", "1", "-r", "-n", "-t", &topic]));
    }
}

#[test]
fn paho_python_client_v311_and_v5() {
    if !have("python3", &["-c", "import paho.mqtt.client"], true) {
        return;
    }
    let broker = broker();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/paho_pubsub.py");
    for version in ["311", "5"] {
        let stdout = run(Command::new("python3").args([
            script,
            "127.0.0.1",
            &port(&broker),
            version,
            "e2e",
        ]));
        assert!(stdout.contains(&format!("OK paho v{version}")), "{stdout}");
    }
}

#[test]
fn rumqttc_sync_client_subscribes_and_publishes_qos1() {
    use rumqttc::{Client as RumqttcClient, Event, MqttOptions, Packet, QoS};
    const MESSAGES: usize = 20;
    let broker = broker();
    let options = |id: &str| {
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        options
    };
    let (sub, mut sub_events) = RumqttcClient::new(options("rumqttc-sub"), 32);
    sub.subscribe("rumqttc/t", QoS::AtLeastOnce).unwrap();
    let deadline = Instant::now() + IO_TIMEOUT;
    // The next incoming packet; the event loop only runs inside this call.
    fn next(events: &mut rumqttc::Connection, deadline: Instant) -> Packet {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(Ok(Event::Incoming(packet))) => return packet,
                Ok(Ok(Event::Outgoing(_))) => {}
                Ok(Err(e)) => panic!("rumqttc connection error: {e}"),
                Err(e) => panic!("rumqttc: no event in time: {e:?}"),
            }
        }
    }
    loop {
        match next(&mut sub_events, deadline) {
            Packet::SubAck(suback) => {
                assert_eq!(
                    suback.return_codes,
                    [rumqttc::SubscribeReasonCode::Success(QoS::AtLeastOnce)]
                );
                break;
            }
            Packet::ConnAck(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let (publisher, mut pub_events) = RumqttcClient::new(options("rumqttc-pub"), 32);
    let acked = std::thread::spawn(move || {
        for n in 0..MESSAGES {
            publisher
                .publish("rumqttc/t", QoS::AtLeastOnce, false, format!("r{n}"))
                .unwrap();
        }
        let mut acked = 0;
        while acked < MESSAGES {
            if let Packet::PubAck(_) = next(&mut pub_events, deadline) {
                acked += 1;
            }
        }
        acked
    });
    let mut got = Vec::new();
    while got.len() < MESSAGES {
        if let Packet::Publish(publish) = next(&mut sub_events, deadline) {
            assert_eq!(publish.topic, "rumqttc/t");
            assert_eq!(publish.qos, QoS::AtLeastOnce);
            got.push(String::from_utf8_lossy(&publish.payload).into_owned());
        }
    }
    let want: Vec<String> = (0..MESSAGES).map(|n| format!("r{n}")).collect();
    assert_eq!(got, want);
    assert_eq!(acked.join().unwrap(), MESSAGES);
}

#[test]
fn rumqttc_v5_client_properties_subscription_ids_and_topic_aliases() {
    use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties, SubscribeProperties};
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{Client as RumqttcClient, Connection, Event, MqttOptions};
    const MESSAGES: usize = 10;
    let broker = broker();
    let options = |id: &str| {
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        // The broker may give this client up to 4 Topic Aliases; rumqttc resolves them.
        options.set_topic_alias_max(Some(4));
        options
    };
    let deadline = Instant::now() + IO_TIMEOUT;
    fn next(events: &mut Connection, deadline: Instant) -> Packet {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(Ok(Event::Incoming(packet))) => return packet,
                Ok(Ok(Event::Outgoing(_))) => {}
                Ok(Err(e)) => panic!("rumqttc v5 connection error: {e}"),
                Err(e) => panic!("rumqttc v5: no event in time: {e:?}"),
            }
        }
    }
    let (sub, mut sub_events) = RumqttcClient::new(options("rumqttc5-sub"), 32);
    let subscription = SubscribeProperties {
        id: Some(9),
        user_properties: Vec::new(),
    };
    sub.subscribe_with_properties("rumqttc5/#", QoS::AtLeastOnce, subscription)
        .unwrap();
    loop {
        match next(&mut sub_events, deadline) {
            Packet::SubAck(suback) => {
                assert_eq!(suback.return_codes.len(), 1);
                break;
            }
            Packet::ConnAck(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let (publisher, mut pub_events) = RumqttcClient::new(options("rumqttc5-pub"), 32);
    let acked = std::thread::spawn(move || {
        for n in 0..MESSAGES {
            let properties = PublishProperties {
                response_topic: Some("rumqttc5/replies".to_string()),
                correlation_data: Some(format!("c{n}").into()),
                user_properties: vec![("k".into(), "1".into()), ("k".into(), "2".into())],
                content_type: Some("text/plain".to_string()),
                ..PublishProperties::default()
            };
            publisher
                .publish_with_properties(
                    "rumqttc5/t",
                    QoS::AtLeastOnce,
                    false,
                    format!("r{n}"),
                    properties,
                )
                .unwrap();
        }
        let mut acked = 0;
        while acked < MESSAGES {
            if let Packet::PubAck(_) = next(&mut pub_events, deadline) {
                acked += 1;
            }
        }
        acked
    });
    // rumqttc accepts the broker's aliases (an unknown one is a protocol error there) but
    // hands the event over with the topic as sent: resolve it here.
    let mut aliases = std::collections::HashMap::new();
    let mut by_alias_only = 0;
    for n in 0..MESSAGES {
        let publish = loop {
            if let Packet::Publish(publish) = next(&mut sub_events, deadline) {
                break publish;
            }
        };
        let properties = publish.properties.expect("MQTT 5.0 properties");
        let alias = properties
            .topic_alias
            .expect("the broker gives this client aliases");
        let topic = if publish.topic.is_empty() {
            by_alias_only += 1;
            aliases.get(&alias).cloned().expect("alias set before use")
        } else {
            aliases.insert(alias, publish.topic.clone());
            publish.topic.clone()
        };
        assert_eq!(&topic[..], b"rumqttc5/t");
        assert_eq!(&publish.payload[..], format!("r{n}").as_bytes());
        assert_eq!(
            properties.response_topic.as_deref(),
            Some("rumqttc5/replies")
        );
        assert_eq!(
            properties.correlation_data.as_deref(),
            Some(format!("c{n}").as_bytes())
        );
        assert_eq!(
            properties.user_properties,
            [("k".to_string(), "1".to_string()), ("k".into(), "2".into())]
        );
        assert_eq!(properties.content_type.as_deref(), Some("text/plain"));
        assert_eq!(properties.subscription_identifiers, [9]);
    }
    // One topic: sent in full once, then by alias alone.
    assert_eq!(by_alias_only, MESSAGES - 1);
    assert_eq!(acked.join().unwrap(), MESSAGES);
}

#[test]
fn mqttjs_v5_client_properties_topic_aliases_and_shared_subscriptions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/mqttjs");
    let installed = std::path::Path::new(dir).join("node_modules/mqtt").exists();
    if !have("node", &["--version"], true) {
        return;
    }
    if !installed {
        assert!(
            !deps_installed(),
            "MQTT.js missing from {dir}/node_modules although scripts/install-deps.sh has run"
        );
        eprintln!("SKIPPED: MQTT.js is not installed; run scripts/install-deps.sh");
        return;
    }
    let broker = broker();
    let stdout = run(Command::new("node").args([
        &format!("{dir}/v5.js"),
        "127.0.0.1",
        &port(&broker),
        "e2e",
    ]));
    assert!(stdout.starts_with("OK:"), "{stdout}");
}
