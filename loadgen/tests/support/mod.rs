//! Starting the real `coremq` broker and running the real `loadgen` binary against it.
//!
//! The broker binary belongs to another package, so Cargo gives these tests no
//! `CARGO_BIN_EXE_coremq`: it is found as `target/<profile>/coremq` beside this test's own
//! executable (`target/<profile>/deps/<test>`), which `cargo build --workspace` (and
//! scripts/test.sh) builds; `COREMQ_BIN` overrides the path. If it is missing, the test
//! builds it with the same cargo and profile.
#![allow(dead_code)] // Each test binary uses part of this module.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest wait for the broker to start.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest a loadgen run may take in these tests before it is killed (they bound
/// themselves in time; this only turns a hang into a failure).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// The coremq binary: `COREMQ_BIN`, or `target/<profile>/coremq` (built if missing).
pub fn coremq_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("COREMQ_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable in target/<profile>/deps")
        .to_path_buf();
    let bin = profile_dir.join("coremq");
    if !bin.exists() {
        let target_dir = profile_dir.parent().expect("target dir");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--bin", "coremq", "--target-dir"])
            .arg(target_dir)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build --bin coremq");
        assert!(status.success(), "cargo build --bin coremq failed");
    }
    assert!(bin.exists(), "no coremq binary at {}", bin.display());
    bin
}

/// A running broker, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Broker {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Broker {
    /// Starts coremq with 2 shards on an ephemeral loopback port, logging at debug level
    /// (accepted peers are logged).
    pub fn start() -> Broker {
        let mut child = Command::new(coremq_bin())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--shards",
                "2",
                "--log-level",
                "debug",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start coremq");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.parse::<SocketAddr>().ok());
                }
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(START_TIMEOUT)
            .ok()
            .flatten()
            .expect("coremq reported its address");
        Broker { child, addr, log }
    }

    /// The broker's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the broker logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished loadgen run.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stderr: String,
    /// The JSON line (stdout's last line), parsed; `Null` if there was none.
    pub json: serde_json::Value,
}

/// Runs `loadgen <args> --port <broker port> --quiet` to its end (killed after
/// [`RUN_TIMEOUT`]).
pub fn loadgen(broker: &Broker, args: &[&str]) -> Run {
    let port = broker.addr.port().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .args(["--host", "127.0.0.1", "--port", &port, "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loadgen");
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if rx.recv_timeout(RUN_TIMEOUT).is_err() {
            // SAFETY: killing our own child, which has not been reaped (we hold it).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    });
    let output: Output = child.wait_with_output().expect("loadgen output");
    let _ = tx.send(());
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let json = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    Run {
        status: output.status,
        stderr,
        json,
    }
}

impl Run {
    /// A numeric field of the JSON line, by path (`"connections.established"`).
    pub fn n(&self, path: &str) -> u64 {
        let mut v = &self.json;
        for key in path.split('.') {
            v = &v[key];
        }
        v.as_u64()
            .unwrap_or_else(|| panic!("{path} is not a number in {}\n{}", self.json, self.stderr))
    }

    /// Asserts the run completed cleanly, showing its stderr otherwise.
    pub fn assert_ok(&self) {
        assert!(
            self.status.success() && self.json["status"] == "ok",
            "loadgen failed ({}):\n{}\n{}",
            self.status,
            self.stderr,
            self.json
        );
    }

    /// Asserts every expected message arrived exactly once, in order, and every
    /// acknowledged one among them.
    pub fn assert_every_message_delivered(&self, expected: u64) {
        self.assert_ok();
        assert_eq!(self.n("expected"), expected, "{}", self.stderr);
        assert_eq!(self.n("lost"), 0, "{}", self.stderr);
        assert_eq!(self.n("duplicates"), 0, "{}", self.stderr);
        assert_eq!(self.n("reordered"), 0, "{}", self.stderr);
        assert_eq!(self.n("acked_lost"), 0, "{}", self.stderr);
        assert_eq!(self.n("unexpected"), 0, "{}", self.stderr);
        assert_eq!(self.n("foreign"), 0, "{}", self.stderr);
        assert_eq!(self.n("received"), expected, "{}", self.stderr);
        assert_eq!(self.n("latency_us.count"), expected, "{}", self.stderr);
    }
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new empty directory under the system temp dir.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("loadgen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
