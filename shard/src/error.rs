//! Errors of the runtime's public API.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why [`Runtime::start`](crate::Runtime::start) failed. No shard thread is left running.
#[derive(Debug)]
pub enum StartError {
    /// A configuration value is out of its bounds (see [`crate::limits`]).
    Config(String),
    /// A listener could not be created or bound.
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The shard whose socket failed (0 binds first and picks the port).
        shard: usize,
        /// The error from socket/setsockopt/bind/listen.
        source: io::Error,
    },
    /// io_uring could not be set up: usually locked memory or a disabled io_uring.
    IoUring {
        /// The shard that failed.
        shard: usize,
        /// What glommio reported.
        detail: String,
    },
    /// The executor could not be built for another reason (e.g. CPU placement).
    Executor {
        /// The shard that failed.
        shard: usize,
        /// What glommio reported.
        detail: String,
    },
    /// The OS refused to start a thread.
    Thread(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(what) => write!(f, "invalid runtime configuration: {what}"),
            StartError::Bind {
                addr,
                shard,
                source,
            } => write!(f, "cannot listen on {addr} (shard {shard}): {source}"),
            StartError::IoUring { shard, detail } => write!(
                f,
                "cannot set up io_uring on shard {shard}: {detail}. Fixes: raise the locked-memory \
                 limit (`ulimit -l`, systemd `LimitMEMLOCK=`, /etc/security/limits.conf) or lower \
                 io_memory_bytes/ring_depth; check that io_uring is enabled \
                 (`sysctl kernel.io_uring_disabled` must be 0) and not blocked by seccomp \
                 (containers: docker's default profile blocks io_uring)"
            ),
            StartError::Executor { shard, detail } => {
                write!(f, "cannot build the executor of shard {shard}: {detail}")
            }
            StartError::Thread(e) => write!(f, "cannot spawn a shard thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Bind { source, .. } | StartError::Thread(source) => Some(source),
            _ => None,
        }
    }
}

/// A shard thread panicked. Returned by [`RuntimeHandle::join`](crate::RuntimeHandle::join).
#[derive(Debug)]
pub struct JoinError {
    /// The shard whose thread panicked (the first one, when several did).
    pub shard: usize,
    /// The panic message, when it was a string.
    pub message: String,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} panicked: {}", self.shard, self.message)
    }
}

impl std::error::Error for JoinError {}

/// The target's outbox is at capacity: the message is handed back.
///
/// The caller keeps it and stops reading from the sockets that produce such messages
/// until [`MeshHandle::is_congested`](crate::MeshHandle::is_congested) turns false.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<M>(pub M);

impl<M> Full<M> {
    /// The rejected message.
    pub fn into_inner(self) -> M {
        self.0
    }
}

impl<M> fmt::Display for Full<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mesh outbox full")
    }
}

impl<M: fmt::Debug> std::error::Error for Full<M> {}

/// Classifies a glommio executor build error: io_uring/memlock problems get their own variant
/// because the fix is an operator's, not a code change.
pub(crate) fn classify_executor_error(shard: usize, err: glommio::GlommioError<()>) -> StartError {
    use glommio::{GlommioError, ReactorErrorKind};
    let detail = err.to_string();
    let io_uring = match &err {
        GlommioError::ReactorError(ReactorErrorKind::MemLockLimit(..)) => true,
        GlommioError::IoError(e) | GlommioError::EnhancedIoError { source: e, .. } => {
            matches!(
                e.raw_os_error(),
                Some(libc::ENOMEM | libc::EPERM | libc::ENOSYS | libc::EACCES)
            )
            // glommio 0.9 checks RLIMIT_MEMLOCK itself and wraps its MemLockLimit in an
            // io::Error without an OS error code; the text is all there is to match.
            || detail.contains("MemLockLimit")
        }
        _ => false,
    };
    if io_uring {
        StartError::IoUring { shard, detail }
    } else {
        StartError::Executor { shard, detail }
    }
}
