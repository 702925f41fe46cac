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
