//! Starting the real `coremq` binary for end-to-end tests, and talking to it with exact
//! bytes over real sockets.
#![allow(dead_code)] // Each test binary uses part of this module.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bound on any single wait in these tests; a hang fails instead of blocking CI.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A running broker process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Broker {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
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
        Broker { child, addr, log }
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
    }
}

/// Sends `request` and reads until the broker closes the connection.
pub fn exchange(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read until close");
    answer
}
