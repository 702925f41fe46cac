//! The brokers a comparison runs: how each is started with an equivalent configuration
//! on a loopback port, found ready, measured from /proc, and stopped (by its PID only).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::procfs::{self, ProcSample};

/// Time a broker has to accept TCP connections after it is started.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// How to get a broker to measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerKind {
    /// coremq from this workspace (`target/release/coremq`), `shards` shards.
    Coremq { binary: PathBuf, shards: usize },
    /// Mosquitto (Debian's package: /usr/sbin/mosquitto).
    Mosquitto { binary: PathBuf },
    /// rumqttd (`cargo install rumqttd`).
    Rumqttd { binary: PathBuf },
    /// Any other broker: a shell command with `{port}` where its port goes.
    Command { command: String },
    /// A broker already running (EMQX, HiveMQ...): its address, and its PID to measure CPU
    /// and memory when it runs on this host.
    External { addr: SocketAddr, pid: Option<u32> },
}

/// A broker under comparison: its name in the report and how to get it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerSpec {
    /// Name in the report.
    pub name: String,
    /// How it is started (or found).
    pub kind: BrokerKind,
}

impl BrokerSpec {
    /// A short line for the report: what ran and how it was configured.
    pub fn describe(&self) -> String {
        match &self.kind {
            BrokerKind::Coremq { binary, shards } => {
                format!("{} --shards {shards} (defaults otherwise)", binary.display())
            }
            BrokerKind::Mosquitto { binary } => format!(
                "{} with persistence off, logging off, max_inflight_messages 32, max_queued_messages 1000",
                binary.display()
            ),
            BrokerKind::Rumqttd { binary } => {
                format!("{} (its default router settings)", binary.display())
            }
            BrokerKind::Command { command } => format!("`{command}`"),
            BrokerKind::External { addr, pid } => match pid {
                Some(pid) => format!("already running at {addr} (pid {pid})"),
                None => format!("already running at {addr} (CPU and memory not measured)"),
            },
        }
    }
}

/// A broker started (or found) for one run.
pub struct RunningBroker {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// The process measured, if any.
    pub pid: Option<u32>,
    child: Option<Child>,
    log_path: Option<PathBuf>,
}

impl RunningBroker {
    /// Starts `spec` on a free loopback port, its files under `dir`, and waits (bounded)
    /// until it accepts connections.
    pub fn start(spec: &BrokerSpec, dir: &Path) -> Result<RunningBroker, String> {
        if let BrokerKind::External { addr, pid } = &spec.kind {
            wait_ready(*addr, None)?;
            return Ok(RunningBroker {
                addr: *addr,
                pid: *pid,
                child: None,
                log_path: None,
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log_path = dir.join(format!("{}.log", spec.name));
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let mut command = match &spec.kind {
            BrokerKind::Coremq { binary, shards } => {
                let mut c = Command::new(binary);
                c.args([
                    "--listen",
                    &addr.to_string(),
                    "--shards",
                    &shards.to_string(),
                ]);
                c.args(["--log-level", "warn"]);
                c
            }
            BrokerKind::Mosquitto { binary } => {
                let config = dir.join(format!("{}.conf", spec.name));
                write_file(&config, &mosquitto_config(port))?;
                let mut c = Command::new(binary);
                c.arg("-c").arg(&config);
                c
            }
            BrokerKind::Rumqttd { binary } => {
                let config = dir.join(format!("{}.toml", spec.name));
                write_file(&config, &rumqttd_config(port))?;
                let mut c = Command::new(binary);
                c.arg("--config").arg(&config);
                c
            }
            BrokerKind::Command { command } => {
                let mut c = Command::new("sh");
                // exec: the PID measured is the broker's, not the shell's.
                c.args([
                    "-c",
                    &format!("exec {}", command.replace("{port}", &port.to_string())),
                ]);
                c
            }
            BrokerKind::External { .. } => unreachable!("handled above"),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: cannot start: {e}", spec.name))?;
        let pid = child.id();
        let mut running = RunningBroker {
            addr,
            pid: Some(pid),
            child: Some(child),
            log_path: Some(log_path),
        };
        if let Err(e) = wait_ready(addr, running.child.as_mut()) {
            let log = running.log_tail();
            running.stop();
            return Err(format!("{}: {e}; its log ends:\n{log}", spec.name));
        }
        Ok(running)
    }

    /// CPU time and memory of the broker's process now, if it is measured.
    pub fn sample(&self) -> Option<ProcSample> {
        self.pid.and_then(|pid| procfs::sample(pid).ok())
    }

    /// The end of the broker's log, for an error message.
    pub fn log_tail(&self) -> String {
        let Some(path) = &self.log_path else {
            return String::new();
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops a broker this harness started: SIGTERM to its PID, then SIGKILL after 5 s.
    /// A broker found running is left alone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Mosquitto with what the comparison needs: one loopback listener, anonymous clients, no
/// persistence or logging to disk, and coremq's default inflight and queue bounds.
pub fn mosquitto_config(port: u16) -> String {
    format!(
        "listener {port} 127.0.0.1\n\
         allow_anonymous true\n\
         persistence false\n\
         log_dest none\n\
         max_inflight_messages 32\n\
         max_queued_messages 1000\n\
         max_connections -1\n\
         sys_interval 10\n"
    )
}

/// rumqttd with one MQTT 3.1.1 and one 5.0 server on loopback ports (`port` and the next),
/// and router bounds generous enough not to be the bottleneck.
pub fn rumqttd_config(port: u16) -> String {
    format!(
        "id = 0\n\n\
         [router]\nid = 0\nmax_connections = 100010\nmax_outgoing_packet_count = 200\n\
         max_segment_size = 104857600\nmax_segment_count = 10\n\n\
         [v4.1]\nname = \"v4-1\"\nlisten = \"127.0.0.1:{port}\"\nnext_connection_delay_ms = 0\n\
         [v4.1.connections]\nconnection_timeout_ms = 60000\nmax_payload_size = 1048576\n\
         max_inflight_count = 100\ndynamic_filters = true\n"
    )
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A loopback port free now (the OS picks it; the broker binds it right after).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Waits until `addr` accepts a TCP connection, failing early if `child` exits.
fn wait_ready(addr: SocketAddr, mut child: Option<&mut Child>) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(child) = child.as_deref_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited before accepting connections ({status})"));
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not accepting connections on {addr} after {READY_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Finds a program: an explicit path, then each directory of PATH, then `extra` places.
pub fn find_program(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain(extra.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_listen_on_the_given_loopback_port() {
        assert!(mosquitto_config(18830).starts_with("listener 18830 127.0.0.1\n"));
        assert!(rumqttd_config(18831).contains("listen = \"127.0.0.1:18831\""));
    }

    #[test]
    fn a_command_broker_is_described_by_its_command() {
        let spec = BrokerSpec {
            name: "emqx".into(),
            kind: BrokerKind::Command {
                command: "emqx foreground --port {port}".into(),
            },
        };
        assert_eq!(spec.describe(), "`emqx foreground --port {port}`");
    }
}
