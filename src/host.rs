//! The host's limits against what the configuration asks for: at start the broker raises
//! its soft open-files limit as far as the hard limit allows, then warns when the result
//! cannot hold `[limits] max_connections` (tuning/README.md says how to raise it). The
//! arithmetic is pure; reading and raising the limit is the one impure call.

/// Files a shard holds besides its connections: its listener sockets are counted apart;
/// this covers the io_uring rings, eventfds and timers glommio opens per executor, with
/// room to spare.
pub const FILES_PER_SHARD_OVERHEAD: u64 = 16;

/// Files the process holds besides its shards: stdio, the log, the signal pipe, a config
/// file being read.
pub const FILES_PROCESS_OVERHEAD: u64 = 64;

/// Open files the broker needs to hold `max_connections` with `listeners` listeners on
/// each of `shards` shards (SO_REUSEPORT: one socket per listener per shard).
pub fn open_files_needed(max_connections: usize, listeners: usize, shards: usize) -> u64 {
    let shards = shards as u64;
    max_connections as u64
        + listeners as u64 * shards
        + FILES_PER_SHARD_OVERHEAD * shards
        + FILES_PROCESS_OVERHEAD
}

/// Connections the broker can hold with `open_files`, the rest of the budget as in
/// [`open_files_needed`].
pub fn connections_possible(open_files: u64, listeners: usize, shards: usize) -> u64 {
    open_files.saturating_sub(open_files_needed(0, listeners, shards))
}

/// The warning for a start whose open-files limit cannot hold `max_connections`; `None`
/// when it can.
pub fn open_files_warning(
    open_files: u64,
    max_connections: usize,
    listeners: usize,
    shards: usize,
) -> Option<String> {
    let needed = open_files_needed(max_connections, listeners, shards);
    (open_files < needed).then(|| {
        format!(
            "the open-files limit ({open_files}) holds about {} connections, not [limits] \
             max_connections = {max_connections} (needs {needed}); past it new connections \
             fail to be accepted. Raise LimitNOFILE or `ulimit -n` (tuning/README.md, \
             `tuning/check --connections {max_connections}`) or lower max_connections",
            connections_possible(open_files, listeners, shards)
        )
    })
}

/// Raises the soft open-files limit towards `wanted`, up to the hard limit, and returns
/// the soft limit in force after.
pub fn raise_open_files(wanted: u64) -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: wanted.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass; raising the soft limit up to the
        // hard limit needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(raised.rlim_cur);
        }
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_files_count_connections_listeners_and_overheads() {
        // 2 listeners on 4 shards: 8 listener sockets, 64 per-shard files, 64 more.
        assert_eq!(open_files_needed(1000, 2, 4), 1000 + 8 + 64 + 64);
        assert_eq!(connections_possible(1000 + 8 + 64 + 64, 2, 4), 1000);
        assert_eq!(connections_possible(10, 2, 4), 0);
    }

    #[test]
    fn a_short_limit_warns_with_what_it_holds_and_the_fix() {
        assert_eq!(open_files_warning(1_100_000, 1_000_000, 2, 4), None);
        let warning = open_files_warning(20_000, 1_000_000, 2, 2).expect("too few files");
        assert!(warning.contains("open-files limit (20000)"), "{warning}");
        assert!(
            warning.contains("holds about 19900 connections"),
            "{warning}"
        );
        assert!(warning.contains("LimitNOFILE"), "{warning}");
        assert!(
            warning.contains("tuning/check --connections 1000000"),
            "{warning}"
        );
    }
}
