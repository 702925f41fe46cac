//! Authentication over real sockets: the `[auth]` section and a password file written by
//! `coremq passwd`; plain CONNECT user name and password (MQTT 3.1.1 §3.2.2.3 return
//! codes 0x04 / 0x05, MQTT 5.0 §3.2.2.2 reason codes 0x86 / 0x87); enhanced
//! authentication with SCRAM-SHA-256 (MQTT 5.0 §4.12, RFC 5802, RFC 7677) checked by an
//! independent client (tests/support/scram.rs); re-authentication (§4.12.1); and the
//! mosquitto command-line clients with -u / -P.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use coremq::protocol::{ConnAck, Packet, ProtocolVersion, ReasonCode};
use support::client::{text, Client, ConnectOptions, QOS1, V3_1, V3_1_1, V5};
use support::scram::ScramClient;
use support::{Broker, ConfigFile, IO_TIMEOUT};

const SCRAM: &str = "SCRAM-SHA-256";

/// Runs `coremq passwd args...` with `stdin`, bounded; returns its output.
fn coremq_passwd(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coremq"))
        .arg("passwd")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coremq passwd");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    wait_bounded(child)
}

fn wait_bounded(mut child: std::process::Child) -> Output {
    let deadline = Instant::now() + IO_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not finish within {IO_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// A broker with `[auth]` (`allow_anonymous`, a password file with `users` written by
/// `coremq passwd --file`) and `extra` TOML; the configuration directory lives as long
/// as the returned `ConfigFile`.
fn start(
    tag: &str,
    allow_anonymous: bool,
    users: &[(&str, &str)],
    extra: &str,
) -> (Broker, ConfigFile) {
    let config = ConfigFile::new(
        &format!("auth-{tag}"),
        &format!(
            "{extra}\n[auth]\nallow_anonymous = {allow_anonymous}\npassword_file = \"users\"\n"
        ),
    );
    let file = users_file(&config);
    let _ = std::fs::remove_file(&file);
    for (user, password) in users {
        let out = coremq_passwd(
            &["--file", file.to_str().unwrap(), user],
            &format!("{password}\n"),
        );
        assert!(out.status.success(), "passwd {user}: {out:?}");
    }
    let broker = Broker::start(&["--config", config.arg(), "--shards", "2"]);
    (broker, config)
}

fn users_file(config: &ConfigFile) -> PathBuf {
    config.path.parent().unwrap().join("users")
}

fn with_password(user: &str, password: &str) -> ConnectOptions {
    ConnectOptions {
        username: Some(user.to_string()),
        password: Some(password.as_bytes().to_vec()),
        ..ConnectOptions::default()
    }
}

/// CONNECT with `options`; the bytes of the answer and the connection.
fn connack_bytes(
    broker: &Broker,
    version: ProtocolVersion,
    id: &str,
    options: ConnectOptions,
) -> (Client, Vec<u8>) {
    let mut client = Client::open(broker, version, id);
    let connect = client.connect_packet(options);
    client.send(&connect);
    let bytes = client.expect_bytes();
    (client, bytes)
}

/// Connects with SCRAM-SHA-256 up to the CONNACK, checking the exchange on the way.
fn scram_connect(
    broker: &Broker,
    id: &str,
    user: &str,
    password: &str,
) -> (Client, ScramClient, ConnAck) {
    let mut client = Client::open(broker, V5, id);
    let mut scram = ScramClient::new(user, password, "fyko+d2lbbFgONRv9qkxdawL");
    let options = ConnectOptions {
        authentication_method: Some(SCRAM.into()),
        authentication_data: Some(scram.client_first().into_bytes()),
        ..ConnectOptions::default()
    };
    let connect = client.connect_packet(options);
    client.send(&connect);
    let auth = client.expect_auth();
    assert_eq!(auth.reason_code, ReasonCode::ContinueAuthentication);
    assert_eq!(
        auth.properties.authentication_method.as_deref(),
        Some(SCRAM)
    );
    let server_first =
        String::from_utf8(auth.properties.authentication_data.unwrap().to_vec()).unwrap();
    let client_final = scram.client_final(&server_first);
    client.send_auth(
        ReasonCode::ContinueAuthentication,
        SCRAM,
        client_final.as_bytes(),
    );
    let connack = match client.expect_packet() {
        Packet::ConnAck(connack) => *connack,
        other => panic!("expected CONNACK, got {other:?}"),
    };
    (client, scram, connack)
}

fn disconnect_reason(packets: &[Packet]) -> Option<ReasonCode> {
    packets.iter().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason_code),
        _ => None,
    })
}

#[test]
fn the_test_scram_client_reproduces_rfc_7677() {
    // RFC 7677 §3, user "user", password "pencil": the client side used below is right.
    let mut scram = ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
    assert_eq!(scram.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let client_final = scram.client_final(
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    );
    assert_eq!(
        client_final,
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    );
    scram
        .verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        .unwrap();
    assert!(scram.verify_server_final("v=AAAA").is_err());
}

#[test]
fn anonymous_clients_are_refused_when_disabled() {
    let (broker, _config) = start("anon", false, &[("alice", "wonderland")], "");
    // MQTT 3.1.1 §3.2.2.3: 0x05 Connection Refused, not authorized; 3.1 the same.
    for (version, id) in [(V3_1_1, "anon-311"), (V3_1, "anon-31")] {
        let (mut client, bytes) = connack_bytes(&broker, version, id, ConnectOptions::default());
        assert_eq!(bytes, [0x20, 0x02, 0x00, 0x05], "{id}");
        client.expect_closed(IO_TIMEOUT);
    }
    // MQTT 5.0: CONNACK 0x87 Not authorized.
    let mut client = Client::open(&broker, V5, "anon-5");
    let connack = client.handshake(ConnectOptions::default());
    assert_eq!(connack.reason_code, ReasonCode::NotAuthorized);
    client.expect_closed(IO_TIMEOUT);
    // A user with the right password still gets in.
    Client::connect_with(
        &broker,
        V5,
        "anon-alice",
        with_password("alice", "wonderland"),
    );
}

#[test]
fn plain_connect_passwords_are_checked_against_the_store() {
    // Anonymous allowed beside the store: a user name given is still checked.
    let (broker, _config) = start(
        "plain",
        true,
        &[("alice", "wonderland"), ("bob", "builder")],
        "",
    );
    Client::connect(&broker, V3_1_1, "plain-anonymous");
    for version in [V3_1_1, V5] {
        // Twice: the second is served by the shard's cache of verified passwords.
        for n in 0..2 {
            let (client, _) = Client::connect_with(
                &broker,
                version,
                &format!("plain-ok-{version:?}-{n}"),
                with_password("alice", "wonderland"),
            );
            client.disconnect();
        }
    }
    let refusals: [(&str, Option<&str>); 4] = [
        ("alice", Some("Wonderland")),
        ("alice", Some("builder")),
        ("carol", Some("wonderland")),
        ("bob", None),
    ];
    for (user, password) in refusals {
        let options = ConnectOptions {
            username: Some(user.into()),
            password: password.map(|p| p.as_bytes().to_vec()),
            ..ConnectOptions::default()
        };
        // MQTT 3.1.1: 0x04 bad user name or password.
        let (mut client, bytes) = connack_bytes(&broker, V3_1_1, "plain-bad-311", options.clone());
        assert_eq!(bytes, [0x20, 0x02, 0x00, 0x04], "{user} {password:?}");
        client.expect_closed(IO_TIMEOUT);
        // MQTT 5.0: 0x86 Bad User Name or Password.
        let mut client = Client::open(&broker, V5, "plain-bad-5");
        let connack = client.handshake(options);
        assert_eq!(
            connack.reason_code,
            ReasonCode::BadUserNameOrPassword,
            "{user} {password:?}"
        );
        client.expect_closed(IO_TIMEOUT);
    }
    assert!(broker.log_contains("wrong password for user \"alice\""));
    assert!(broker.log_contains("unknown user \"carol\""));
}

#[test]
fn a_refused_connect_does_not_take_the_session_over() {
    let (broker, _config) = start("takeover", false, &[("alice", "wonderland")], "");
    let (mut first, _) = Client::connect_with(
        &broker,
        V5,
        "takeover-id",
        with_password("alice", "wonderland"),
    );
    let mut intruder = Client::open(&broker, V5, "takeover-id");
    let connack = intruder.handshake(with_password("alice", "guess"));
    assert_eq!(connack.reason_code, ReasonCode::BadUserNameOrPassword);
    intruder.expect_closed(IO_TIMEOUT);
    // The authenticated connection is untouched...
    first.ping();
    // ...until an authenticated one takes over (MQTT 5.0 §3.1.4: DISCONNECT 0x8E).
    let (_second, _, connack) = scram_connect(&broker, "takeover-id", "alice", "wonderland");
    assert_eq!(connack.reason_code, ReasonCode::Success);
    let got = first.expect_closed(IO_TIMEOUT);
    assert_eq!(
        disconnect_reason(&got),
        Some(ReasonCode::SessionTakenOver),
        "{got:?}"
    );
}

#[test]
fn scram_sha_256_succeeds_and_the_server_proves_it_knows_the_verifier() {
    let (broker, _config) = start("scram", false, &[("user", "pencil")], "");
    for id in ["scram-a", "scram-b", "scram-c"] {
        let (mut client, scram, connack) = scram_connect(&broker, id, "user", "pencil");
        assert_eq!(connack.reason_code, ReasonCode::Success);
        // MQTT 5.0 §3.2.2.3.17-18: CONNACK carries the method and the server-final.
        assert_eq!(
            connack.properties.authentication_method.as_deref(),
            Some(SCRAM)
        );
        let server_final = connack
            .properties
            .authentication_data
            .expect("server-final");
        scram
            .verify_server_final(std::str::from_utf8(&server_final).unwrap())
            .expect("server signature");
        // The session works.
        client.subscribe(&[("scram/t", QOS1)]);
        client.publish("scram/t", b"hi", QOS1, false);
        assert_eq!(text(&client.expect_publish_acked()), "hi");
    }
}

#[test]
fn scram_with_a_wrong_password_or_unknown_user_is_not_authorized() {
    let (broker, _config) = start("scram-bad", true, &[("user", "pencil")], "");
    for (id, user, password) in [
        ("scram-wrong", "user", "pen"),
        ("scram-nobody", "nobody", "pencil"),
    ] {
        let (mut client, _, connack) = scram_connect(&broker, id, user, password);
        assert_eq!(connack.reason_code, ReasonCode::NotAuthorized, "{id}");
        assert_eq!(connack.properties.authentication_data, None);
        client.expect_closed(IO_TIMEOUT);
    }
    // A User Name beside the method must name the user the method proved.
    let mut client = Client::open(&broker, V5, "scram-other-name");
    let scram = ScramClient::new("user", "pencil", "abc");
    let options = ConnectOptions {
        username: Some("admin".into()),
        authentication_method: Some(SCRAM.into()),
        authentication_data: Some(scram.client_first().into_bytes()),
        ..ConnectOptions::default()
    };
    let connect = client.connect_packet(options);
    client.send(&connect);
    let auth = client.expect_auth();
    let mut scram = scram;
    let server_first =
        String::from_utf8(auth.properties.authentication_data.unwrap().to_vec()).unwrap();
    let client_final = scram.client_final(&server_first);
    client.send_auth(
        ReasonCode::ContinueAuthentication,
        SCRAM,
        client_final.as_bytes(),
    );
    match client.expect_packet() {
        Packet::ConnAck(connack) => assert_eq!(connack.reason_code, ReasonCode::NotAuthorized),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[test]
fn unknown_method_gets_0x8c_and_a_changed_method_is_a_protocol_error() {
    let (broker, _config) = start("method", true, &[("user", "pencil")], "");
    let mut client = Client::open(&broker, V5, "method-unknown");
    let connack = client.handshake(ConnectOptions {
        authentication_method: Some("KERBEROS-9".into()),
        authentication_data: Some(b"ticket".to_vec()),
        ..ConnectOptions::default()
    });
    assert_eq!(connack.reason_code, ReasonCode::BadAuthenticationMethod);
    client.expect_closed(IO_TIMEOUT);

    // MQTT 5.0 §4.12: the client's AUTH must name the method of the CONNECT.
    let mut client = Client::open(&broker, V5, "method-changed");
    let scram = ScramClient::new("user", "pencil", "abc");
    let connect = client.connect_packet(ConnectOptions {
        authentication_method: Some(SCRAM.into()),
        authentication_data: Some(scram.client_first().into_bytes()),
        ..ConnectOptions::default()
    });
    client.send(&connect);
    client.expect_auth();
    client.send_auth(ReasonCode::ContinueAuthentication, "SCRAM-SHA-1", b"c=biws");
    match client.expect_packet() {
        Packet::ConnAck(connack) => assert_eq!(connack.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    client.expect_closed(IO_TIMEOUT);
}

#[test]
fn an_unfinished_exchange_ends_at_the_connect_timeout() {
    let (broker, _config) = start(
        "timeout",
        true,
        &[("user", "pencil")],
        "[limits]\nconnect_timeout_secs = 1\n",
    );
    let mut client = Client::open(&broker, V5, "timeout-id");
    let scram = ScramClient::new("user", "pencil", "abc");
    let connect = client.connect_packet(ConnectOptions {
        authentication_method: Some(SCRAM.into()),
        authentication_data: Some(scram.client_first().into_bytes()),
        ..ConnectOptions::default()
    });
    client.send(&connect);
    client.expect_auth();
    // No client-final: the broker closes without CONNACK.
    let got = client.expect_closed(IO_TIMEOUT);
    assert!(got.is_empty(), "{got:?}");
    assert!(broker.log_contains("authentication not finished within 1s"));
}

#[test]
fn reauthentication_succeeds_while_publishes_keep_flowing() {
    let (broker, _config) = start("reauth", false, &[("user", "pencil")], "");
    let (mut client, _, connack) = scram_connect(&broker, "reauth-ok", "user", "pencil");
    assert_eq!(connack.reason_code, ReasonCode::Success);
    client.subscribe(&[("reauth/#", QOS1)]);
    for round in 0..2 {
        let mut scram = ScramClient::new("user", "pencil", &format!("round{round}"));
        client.send_auth(
            ReasonCode::ReAuthenticate,
            SCRAM,
            scram.client_first().as_bytes(),
        );
        // A publish in the middle of the exchange is acknowledged and delivered.
        client.publish(
            "reauth/t",
            format!("during {round}").as_bytes(),
            QOS1,
            false,
        );
        let auth = client.expect_auth();
        assert_eq!(auth.reason_code, ReasonCode::ContinueAuthentication);
        assert_eq!(
            auth.properties.authentication_method.as_deref(),
            Some(SCRAM)
        );
        assert_eq!(
            text(&client.expect_publish_acked()),
            format!("during {round}")
        );
        let server_first =
            String::from_utf8(auth.properties.authentication_data.unwrap().to_vec()).unwrap();
        let client_final = scram.client_final(&server_first);
        client.send_auth(
            ReasonCode::ContinueAuthentication,
            SCRAM,
            client_final.as_bytes(),
        );
        // MQTT 5.0 §4.12.1: AUTH 0x00 Success with the final data.
        let auth = client.expect_auth();
        assert_eq!(auth.reason_code, ReasonCode::Success);
        let server_final = auth.properties.authentication_data.expect("server-final");
        scram
            .verify_server_final(std::str::from_utf8(&server_final).unwrap())
            .expect("server signature");
    }
    client.publish("reauth/t", b"after", QOS1, false);
    assert_eq!(text(&client.expect_publish_acked()), "after");
}

#[test]
fn failed_reauthentication_disconnects() {
    let (broker, _config) = start("reauth-bad", true, &[("user", "pencil")], "");
    // Wrong password: DISCONNECT 0x87.
    let (mut client, _, _) = scram_connect(&broker, "reauth-wrong", "user", "pencil");
    let mut scram = ScramClient::new("user", "crayon", "xyz");
    client.send_auth(
        ReasonCode::ReAuthenticate,
        SCRAM,
        scram.client_first().as_bytes(),
    );
    let auth = client.expect_auth();
    let server_first =
        String::from_utf8(auth.properties.authentication_data.unwrap().to_vec()).unwrap();
    let client_final = scram.client_final(&server_first);
    client.send_auth(
        ReasonCode::ContinueAuthentication,
        SCRAM,
        client_final.as_bytes(),
    );
    let got = client.expect_closed(IO_TIMEOUT);
    assert_eq!(
        disconnect_reason(&got),
        Some(ReasonCode::NotAuthorized),
        "{got:?}"
    );

    // Another method: a protocol error (§4.12.1), DISCONNECT 0x82; DISCONNECT has no
    // 0x8C Bad authentication method (§3.14.2.1).
    let (mut client, _, _) = scram_connect(&broker, "reauth-method", "user", "pencil");
    client.send_auth(
        ReasonCode::ReAuthenticate,
        "SCRAM-SHA-1",
        b"n,,n=user,r=abc",
    );
    let got = client.expect_closed(IO_TIMEOUT);
    assert_eq!(
        disconnect_reason(&got),
        Some(ReasonCode::ProtocolError),
        "{got:?}"
    );

    // No enhanced authentication at CONNECT: AUTH is a protocol error (0x82).
    let (mut client, _) =
        Client::connect_with(&broker, V5, "reauth-plain", with_password("user", "pencil"));
    client.send_auth(ReasonCode::ReAuthenticate, SCRAM, b"n,,n=user,r=abc");
    let got = client.expect_closed(IO_TIMEOUT);
    assert_eq!(
        disconnect_reason(&got),
        Some(ReasonCode::ProtocolError),
        "{got:?}"
    );
}

#[test]
fn coremq_passwd_writes_lines_the_broker_reads() {
    let config = ConfigFile::new(
        "auth-passwd",
        "[auth]\nallow_anonymous = false\npassword_file = \"users\"\n",
    );
    let file = users_file(&config);
    // Without --file the line is printed: paste it into a file by hand.
    let out = coremq_passwd(&["alice"], "wonderland\n");
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("alice:SCRAM-SHA-256$4096:"), "{line}");
    assert!(!line.contains("wonderland"));
    std::fs::write(&file, format!("# written by hand\n\n{line}")).unwrap();
    // --file adds a user, then replaces one (the new password wins).
    for (user, password) in [("bob", "builder"), ("alice", "looking-glass")] {
        let out = coremq_passwd(
            &["--file", file.to_str().unwrap(), user],
            &format!("{password}\n"),
        );
        assert!(out.status.success(), "{out:?}");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# written by hand\n"), "{text}");
    assert_eq!(text.matches("alice:").count(), 1, "{text}");
    let broker = Broker::start(&["--config", config.arg()]);
    Client::connect_with(
        &broker,
        V3_1_1,
        "passwd-bob",
        with_password("bob", "builder"),
    );
    Client::connect_with(
        &broker,
        V5,
        "passwd-alice",
        with_password("alice", "looking-glass"),
    );
    let mut old = Client::open(&broker, V5, "passwd-old");
    let connack = old.handshake(with_password("alice", "wonderland"));
    assert_eq!(connack.reason_code, ReasonCode::BadUserNameOrPassword);
    // An empty password is refused.
    let out = coremq_passwd(&["carol"], "\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_bad_password_file_line_stops_the_start_with_file_and_line() {
    let config = ConfigFile::new("auth-badfile", "[auth]\npassword_file = \"users\"\n");
    let file = users_file(&config);
    let out = coremq_passwd(&["alice"], "wonderland\n");
    let line = String::from_utf8(out.stdout).unwrap();
    std::fs::write(&file, format!("{line}# comment\nbob:hunter2\n")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_coremq"))
        .args(["--config", config.arg(), "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected = format!(
        "{}:3: user \"bob\": the verifier must start with",
        file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("coremq passwd"), "{stderr}");
}

/// Runs a command to completion (bounded); returns its output whatever the status.
fn run(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    wait_bounded(child)
}

fn mosquitto_installed() -> bool {
    let found = Command::new("mosquitto_pub")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: mosquitto_pub is not installed; run scripts/install-deps.sh");
    }
    found
}

#[test]
fn mosquitto_clients_with_user_name_and_password() {
    if !mosquitto_installed() {
        return;
    }
    let (broker, _config) = start("mosquitto", false, &[("alice", "wonderland")], "");
    let port = broker.addr.port().to_string();
    let common = |program: &str, version: &str, password: &str| {
        let mut command = Command::new(program);
        command
            .args(["-h", "127.0.0.1", "-p", &port, "-V", version])
            .args(["-u", "alice", "-P", password]);
        command
    };
    let (mut sub, _) = Client::connect_with(
        &broker,
        V3_1_1,
        "cli-auth-sub",
        with_password("alice", "wonderland"),
    );
    sub.subscribe(&[("cli/auth/#", QOS1)]);
    for version in ["mqttv311", "mqttv5"] {
        let out = run(common("mosquitto_pub", version, "wonderland").args([
            "-q",
            "1",
            "-t",
            &format!("cli/auth/{version}"),
            "-m",
            "hello",
        ]));
        assert!(out.status.success(), "{version}: {out:?}");
        let publish = sub.expect_publish_acked();
        assert_eq!(publish.topic.as_str(), format!("cli/auth/{version}"));
        // mosquitto_sub reads a retained message with the same credentials.
        let topic = format!("cli/auth/kept/{version}");
        let out = run(common("mosquitto_pub", version, "wonderland")
            .args(["-q", "1", "-r", "-t", &topic, "-m", "kept"]));
        assert!(out.status.success(), "{version}: {out:?}");
        sub.expect_publish_acked();
        let out = run(common("mosquitto_sub", version, "wonderland")
            .args(["-t", &topic, "-C", "1", "-W", "10"]));
        assert!(out.status.success(), "{version}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "kept");
        // A wrong password is refused with the version's code.
        let out =
            run(common("mosquitto_pub", version, "wrong").args(["-t", "cli/auth/x", "-m", "no"]));
        assert!(!out.status.success(), "{version}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            stderr.contains("bad user name or password"),
            "{version}: {stderr}"
        );
    }
    sub.expect_nothing(support::client::QUIET);
}
