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
