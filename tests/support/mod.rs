//! Starting the real `coremq` binary for end-to-end tests, and talking to it with exact
//! bytes over real sockets.
#![allow(dead_code)] // Each test binary uses part of this module.

pub mod client;
pub mod scram;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bound on any single wait in these tests; a hang fails instead of blocking CI.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Which broker the broker-feature tests (02 onwards) run against: coremq by default,
/// the reference broker (Debian's `mosquitto`) with `COREMQ_TEST_BROKER=mosquitto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerKind {
    /// The `coremq` binary of this package.
    Coremq,
    /// `mosquitto`, to check the tests themselves against a reference implementation.
    Mosquitto,
}

impl BrokerKind {
    /// The broker selected by `COREMQ_TEST_BROKER` (unset or `coremq`: coremq).
    pub fn selected() -> BrokerKind {
        match std::env::var("COREMQ_TEST_BROKER").as_deref() {
            Ok("mosquitto") => BrokerKind::Mosquitto,
            Ok("") | Ok("coremq") | Err(_) => BrokerKind::Coremq,
            Ok(other) => panic!("COREMQ_TEST_BROKER={other}: expected coremq or mosquitto"),
        }
    }
}

/// A running broker process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Broker {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    pub kind: BrokerKind,
    /// The reference broker's configuration directory, removed when dropped.
    scratch: Option<std::path::PathBuf>,
}

impl Broker {
    /// Starts the binary on an ephemeral loopback port with `extra` arguments.
    pub fn start(extra: &[&str]) -> Broker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coremq"))
            .args(["--listen", "127.0.0.1:0", "--log-level", "debug"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start coremq");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = addr_tx.send(addr.parse::<SocketAddr>().ok());
                }
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = addr_rx
            .recv_timeout(IO_TIMEOUT)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("coremq did not report its address"));
        Broker {
            child,
            addr,
            log,
            kind: BrokerKind::Coremq,
            scratch: None,
        }
    }

    /// The broker under test for the broker-feature tests: coremq started with `extra`
    /// (`Broker::start`), or the reference broker when `COREMQ_TEST_BROKER=mosquitto`
    /// (then `extra`, coremq's flags, is ignored).
    pub fn start_under_test(extra: &[&str]) -> Broker {
        match BrokerKind::selected() {
            BrokerKind::Coremq => Broker::start(extra),
            BrokerKind::Mosquitto => Broker::start_reference(),
        }
    }

    /// True when this is coremq: guards expectations where the specification leaves a
    /// choice to the server and the test pins coremq's documented one.
    pub fn is_coremq(&self) -> bool {
        self.kind == BrokerKind::Coremq
    }

    /// Starts the reference broker, `mosquitto -c <conf>`, on a free loopback port.
    /// mosquitto needs a fixed port: one is picked by binding 127.0.0.1:0 and closing it,
    /// retried if another process takes it in between.
    pub fn start_reference() -> Broker {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("coremq-ref-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("mosquitto scratch dir");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("pick a free port")
                .port();
            let conf = dir.join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n\
                     log_type all\npersistence false\nmax_queued_messages 10000\n"
                ),
            )
            .expect("write mosquitto.conf");
            // Debian installs it in /usr/sbin, which a user's PATH may lack.
            let program = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
                .into_iter()
                .find(|p| std::path::Path::new(p).exists())
                .unwrap_or("mosquitto");
            let mut child = match Command::new(program)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
            {
                Ok(child) => child,
                Err(err) => panic!(
                    "COREMQ_TEST_BROKER=mosquitto but mosquitto cannot be started ({err}); \
                     run scripts/install-deps.sh"
                ),
            };
            let stderr = child.stderr.take().expect("piped stderr");
            let log = Arc::new(Mutex::new(String::new()));
            let sink = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut log = sink.lock().expect("log lock");
                    log.push_str(&line);
                    log.push('\n');
                }
            });
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut broker = Broker {
                child,
                addr,
                log,
                kind: BrokerKind::Mosquitto,
                scratch: Some(dir),
            };
            for _ in 0..(IO_TIMEOUT.as_millis() / 10) {
                if let Ok(Some(_)) = broker.child.try_wait() {
                    break; // exited: port taken, try another
                }
                // Only mosquitto's own "listen socket" line proves the port is its.
                if broker
                    .log()
                    .contains(&format!("listen socket on port {port}"))
                    && TcpStream::connect(addr).is_ok()
                {
                    return broker;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            last_log = broker.log();
        }
        panic!("mosquitto did not start; last log:\n{last_log}");
    }

    /// Opens a TCP connection with read/write timeouts set.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect to coremq");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// Everything the broker logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits (bounded) until the broker has logged a line containing `needle`.
    pub fn log_contains(&self, needle: &str) -> bool {
        for _ in 0..(IO_TIMEOUT.as_millis() / 10) {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Waits (bounded) until the broker has logged one line containing every part.
    pub fn log_line_with(&self, parts: &[&str]) -> bool {
        for _ in 0..(IO_TIMEOUT.as_millis() / 10) {
            if self
                .log()
                .lines()
                .any(|line| parts.iter().all(|part| line.contains(part)))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Sends `signal` and waits (bounded) for the process to exit.
    pub fn stop_with(mut self, signal: i32) -> ExitStatus {
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        for _ in 0..(IO_TIMEOUT.as_millis() / 20) {
            if let Some(status) = self.child.try_wait().expect("wait for coremq") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "coremq did not exit after signal {signal}; log:\n{}",
            self.log()
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Sends `request` and reads until the broker closes the connection.
pub fn exchange(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read until close");
    answer
}

/// A configuration file in a scratch directory, removed when dropped.
pub struct ConfigFile {
    dir: std::path::PathBuf,
    /// The file's path.
    pub path: std::path::PathBuf,
}

impl ConfigFile {
    /// Writes `text` as `coremq.toml` in a directory unique to this process and `tag`.
    pub fn new(tag: &str, text: &str) -> ConfigFile {
        let dir = std::env::temp_dir().join(format!("coremq-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("config scratch dir");
        let path = dir.join("coremq.toml");
        std::fs::write(&path, text).expect("write coremq.toml");
        ConfigFile { dir, path }
    }

    /// The path as a command-line argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
