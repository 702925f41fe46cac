//! A process's CPU time and memory from /proc, for the broker under test. Parsing is pure;
//! `sample` is the one read.

/// CPU time and memory of a process at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU time of all its threads since it started, seconds.
    pub cpu_secs: f64,
    /// Resident memory now, bytes.
    pub rss_bytes: u64,
    /// Peak resident memory since it started, bytes.
    pub rss_peak_bytes: u64,
}

/// Reads `/proc/{pid}/stat` and `/proc/{pid}/status`.
pub fn sample(pid: u32) -> std::io::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "unreadable /proc entry");
    let cpu_ticks = cpu_ticks(&stat).ok_or_else(bad)?;
    Ok(ProcSample {
        cpu_secs: cpu_ticks as f64 / ticks,
        rss_bytes: status_kib(&status, "VmRSS:").ok_or_else(bad)? * 1024,
        rss_peak_bytes: status_kib(&status, "VmHWM:").ok_or_else(bad)? * 1024,
    })
}

/// utime + stime (fields 14 and 15) of a `/proc/{pid}/stat` line, in clock ticks. The
/// command name (field 2) may hold spaces and parentheses: fields are counted after its
/// last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): field n is at index n - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   123 kB` value of `/proc/{pid}/status`, in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_name_with_spaces() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_values_are_read_in_kib() {
        let status = "Name:\tcoremq\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = sample(std::process::id()).unwrap();
        assert!(sample.rss_bytes > 0 && sample.rss_peak_bytes >= sample.rss_bytes);
    }
}
