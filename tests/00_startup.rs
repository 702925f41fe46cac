//! Start-up of the real binary: what an operator sees when the host is not ready.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// A shard's io_uring needs locked memory; with none the broker must refuse to start and
/// say how to fix it. Needs root (to drop to `nobody`, whom RLIMIT_MEMLOCK binds) and
/// util-linux's `setpriv` and `prlimit`; elsewhere the test says so and checks nothing.
#[test]
fn without_locked_memory_start_fails_and_names_the_fix() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let tools = ["setpriv", "prlimit"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").output().is_ok());
    if !root || !tools {
        eprintln!("skipped: needs root, setpriv and prlimit");
        return;
    }
    // `nobody` must be able to execute the binary wherever the build tree lives.
    let dir = std::env::temp_dir().join(format!("coremq-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = dir.join("coremq");
    std::fs::copy(env!("CARGO_BIN_EXE_coremq"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = Command::new("prlimit")
        .args([
            "--memlock=0:0",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .arg(&binary)
        .args(["--listen", "127.0.0.1:0", "--shards", "1"])
        .output()
        .expect("run coremq as nobody");
    let _ = std::fs::remove_dir_all(&dir);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("cannot set up io_uring"),
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("LimitMEMLOCK"),
        "the fix is named; stderr:\n{stderr}"
    );
}

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("coremq-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("coremq.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A bad configuration value stops the start with the file, the line and what is valid.
#[test]
fn bad_config_value_names_file_line_and_fix() {
    let path = write_config("bad", "shards = 2\n\n[limits]\nconnect_timeout_secs = 0\n");
    let output = Command::new(env!("CARGO_BIN_EXE_coremq"))
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run coremq");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    let expected = format!(
        "{}:4:24: connect_timeout_secs = 0 is out of range; use 1..=3600",
        path.display()
    );
    assert!(stderr.contains(&expected), "stderr:\n{stderr}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// The listeners and shard count of a configuration file are the ones the broker uses.
/// The test stops reading stderr after the first line, as when a log pipe dies: the
/// broker must still shut down cleanly on SIGTERM, not panic on the closed pipe.
#[test]
fn config_file_listeners_are_used() {
    let path = write_config(
        "good",
        "shards = 2\nlog_level = \"info\"\n[[listener]]\naddress = \"127.0.0.1:0\"\nbacklog = 64\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_coremq"))
        .arg("--config")
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run coremq");
    let stderr = child.stderr.take().unwrap();
    let first = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .find(|line| line.contains("listening on"));
    // SAFETY: kill(2) on the PID of a child we started and have not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let line = first.expect("a listening line");
    assert!(line.contains("listening on 127.0.0.1:"), "{line}");
    assert!(line.contains("2 shards"), "{line}");
    assert_eq!(status.code(), Some(0));
}

/// The broker's log up to the line saying it listens (bounded), run under
/// `prlimit --nofile=500:500` with `[limits] max_connections = max_connections`.
fn start_log_with_500_files(max_connections: usize) -> String {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!(
        "coremq-nofile-{}-{max_connections}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("coremq.toml");
    std::fs::write(
        &config,
        format!("[limits]\nmax_connections = {max_connections}\n"),
    )
    .unwrap();
    let mut child = Command::new("prlimit")
        .arg("--nofile=500:500")
        .arg(env!("CARGO_BIN_EXE_coremq"))
        .args(["--listen", "127.0.0.1:0", "--shards", "1", "--config"])
        .arg(&config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run coremq under prlimit");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("listening on") {
                break;
            }
        }
        let _ = tx.send(log);
    });
    let log = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("coremq logs that it listens");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    log
}

/// Issue 5 (tuning): the broker warns at start when its open-files limit cannot hold
/// its configured maximum connections, and says what it holds and how to fix it.
#[test]
fn a_short_open_files_limit_is_warned_about_at_start() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: needs util-linux's prlimit");
        return;
    }
    // 500 files, 1 listener on 1 shard: room for about 419 connections.
    let log = start_log_with_500_files(1000);
    assert!(
        log.contains("open-files limit (500) holds about 419 connections"),
        "{log}"
    );
    assert!(log.contains("max_connections = 1000"), "{log}");
    let log = start_log_with_500_files(100);
    assert!(!log.contains("open-files limit"), "{log}");
}

/// `tuning/check` (issue 5): a count the host holds passes; a count no Linux host can
/// hold in one process (past fs.nr_open's ceiling of 1073741816) blocks, names the
/// setting, and exits 1.
#[test]
fn tuning_check_passes_what_the_host_holds_and_blocks_the_impossible() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tuning/check");
    let run = |connections: &str| {
        Command::new("bash")
            .args([script, "--connections", connections, "--shards", "1"])
            .output()
            .expect("run tuning/check")
    };
    let small = run("100");
    let stdout = String::from_utf8_lossy(&small.stdout);
    assert_eq!(small.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok: nothing blocks 100 connections"),
        "{stdout}"
    );
    let huge = run("2000000000");
    let stdout = String::from_utf8_lossy(&huge.stdout);
    assert_eq!(huge.status.code(), Some(1), "{stdout}");
    let nr_open = stdout
        .lines()
        .find(|l| l.starts_with("fs.nr_open"))
        .unwrap_or_else(|| panic!("no fs.nr_open row: {stdout}"));
    assert!(nr_open.ends_with("BLOCKS"), "{nr_open}");
    let bad = Command::new("bash")
        .args([script, "--connections", "many"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// Shards pin themselves inside the CPU mask the broker was started with (taskset,
/// systemd's CPUAffinity=), not to CPUs 0..N regardless: started on CPU 1 only, shard 0
/// runs on CPU 1.
#[test]
fn shards_pin_inside_the_cpu_mask_they_were_given() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 || Command::new("taskset").arg("--version").output().is_err() {
        eprintln!("skipped: needs 2 CPUs and util-linux's taskset");
        return;
    }
    let mut child = Command::new("taskset")
        .args(["-c", "1"])
        .arg(env!("CARGO_BIN_EXE_coremq"))
        .args(["--listen", "127.0.0.1:0", "--shards", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run coremq under taskset");
    // The shard thread is named after its shard; wait (bounded) for it to appear.
    let task_dir = format!("/proc/{}/task", child.id());
    let mut allowed = None;
    for _ in 0..500 {
        allowed = std::fs::read_dir(&task_dir).ok().and_then(|tasks| {
            tasks.flatten().find_map(|task| {
                let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
                if !comm.starts_with("shard-0") {
                    return None;
                }
                let status = std::fs::read_to_string(task.path().join("status")).ok()?;
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .map(|v| v.trim().to_string())
            })
        });
        if allowed.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(allowed.as_deref(), Some("1"), "shard-0's CPUs");
}
