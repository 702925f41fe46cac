//! The broker's configuration: an embedded default, a TOML file (`--config FILE`), and
//! command-line flags over both. A bad value is refused at start with the file, the line
//! and what would be valid. Read once, on the main thread, before any shard starts.

use std::fmt;
use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::broker::delayed::{DelayedLimits, DELAY_SECS_MAX};
use crate::broker::session::SessionLimits;
use crate::broker::shared_strategy::SharedStrategy;
use crate::broker::topic_alias::OutboundAliasPolicy;
use crate::limits::{
    CONNECT_TIMEOUT_SECS_DEFAULT, MAX_CONNECTIONS_DEFAULT, MAX_PACKET_SIZE_BYTES_DEFAULT,
    TOPIC_ALIAS_MAXIMUM_DEFAULT, TOPIC_ALIAS_OUTBOUND_MAX_DEFAULT, TOPIC_LEVELS_MAX_DEFAULT,
};

/// Shards one process may run (`shard::limits::SHARD_COUNT_MAX`).
const SHARDS_VALID: RangeInclusive<usize> = 1..=shard::limits::SHARD_COUNT_MAX;
/// MQTT's largest packet: 268,435,455 bytes of body plus a 5-byte fixed header; the
/// smallest useful limit fits a PINGREQ.
const MAX_PACKET_SIZE_BYTES_VALID: RangeInclusive<u32> = 2..=268_435_460;
const CONNECT_TIMEOUT_SECS_VALID: RangeInclusive<u64> = 1..=3600;
const BACKLOG_VALID: RangeInclusive<u32> = 1..=shard::limits::LISTEN_BACKLOG_MAX;
const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];
/// `$SYS` publication interval: 0 (off) up to a day.
const SYS_INTERVAL_SECS_VALID: RangeInclusive<u64> = 0..=86_400;
/// `$SYS` publication interval when the file says nothing (Mosquitto's default).
const SYS_INTERVAL_SECS_DEFAULT: u64 = 10;

/// The configuration the broker runs with, after defaults, file and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where MQTT clients connect.
    pub listeners: Vec<Listener>,
    /// Shards to run; `None`: one per available core.
    pub shards: Option<usize>,
    /// `tracing` filter for the log on stderr.
    pub log_level: String,
    /// Largest packet accepted from a client, bytes, fixed header included.
    pub max_packet_size_bytes: u32,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// Bounds of every session.
    pub session_limits: SessionLimits,
    /// Connections at once, all shards together.
    pub max_connections: usize,
    /// Levels a Topic Name or Topic Filter may have.
    pub topic_levels_max: usize,
    /// Topic Aliases a 5.0 client may set per connection (0: none).
    pub topic_alias_maximum: u16,
    /// How the broker gives Topic Aliases to the topics it sends 5.0 clients.
    pub topic_alias_outbound: OutboundAliasPolicy,
    /// Topic Aliases the broker gives per connection at most (the client's maximum caps it).
    pub topic_alias_outbound_max: u16,
    /// Server Keep Alive imposed on 5.0 clients; `None`: their own.
    pub server_keep_alive_secs: Option<u16>,
    /// Sends clients to another server (MQTT 5.0 §4.11); `None`: never.
    pub redirect: Option<Redirect>,
    /// Bounds of delayed publish (`[delayed]`).
    pub delayed: DelayedLimits,
    /// Response Information for 5.0 clients that request it.
    pub response_information: Option<String>,
    /// Seconds between publications of the `$SYS` tree (0: never).
    pub sys_interval_secs: u64,
    /// How a shared subscription group chooses the member for a message.
    pub shared_strategy: SharedStrategy,
    /// Who may connect (`[auth]`).
    pub auth: AuthConfig,
}

/// Where and when clients are told to use another server (MQTT 5.0 §4.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The Server Reference sent, e.g. `"broker2.example.com:1883"`.
    pub server_reference: String,
    /// Every new CONNECT is refused with this reason: 0x9C Use another server (for a
    /// while) or 0x9D Server moved (for good); 3.x clients get 0x03 Server unavailable.
    /// `None`: connections are accepted.
    pub connect: Option<RedirectReason>,
    /// At shutdown, 5.0 clients get DISCONNECT 0x9C with the reference instead of 0x8B.
    pub on_shutdown: bool,
}

/// The reason a redirect gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectReason {
    /// 0x9C Use another server: temporary.
    UseAnotherServer,
    /// 0x9D Server moved: permanent.
    ServerMoved,
}

impl RedirectReason {
    /// The configuration words.
    pub const NAMES: [&'static str; 2] = ["use-another-server", "server-moved"];
}

/// The `[auth]` section: who may connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Whether a client without a user name may connect.
    pub allow_anonymous: bool,
    /// The password file (SCRAM verifiers), relative paths resolved against the
    /// configuration file's directory; `None`: user names are not checked.
    pub password_file: Option<PathBuf>,
}

impl Default for AuthConfig {
    /// Everyone may connect, as without an `[auth]` section.
    fn default() -> Self {
        AuthConfig {
            allow_anonymous: true,
            password_file: None,
        }
    }
}

/// One MQTT listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// Address to bind; port 0 picks a free port.
    pub address: SocketAddr,
    /// `listen(2)` backlog per shard; `None`: the runtime's default.
    pub backlog: Option<u32>,
}

impl Default for Config {
    /// The embedded default: MQTT on `0.0.0.0:1883` and `[::]:1883`, one shard per core.
    fn default() -> Self {
        Config {
            listeners: ["0.0.0.0:1883", "[::]:1883"]
                .iter()
                .map(|a| Listener {
                    address: a.parse().expect("literal address"),
                    backlog: None,
                })
                .collect(),
            shards: None,
            log_level: "info".to_string(),
            max_packet_size_bytes: MAX_PACKET_SIZE_BYTES_DEFAULT,
            connect_timeout: Duration::from_secs(CONNECT_TIMEOUT_SECS_DEFAULT),
            session_limits: SessionLimits::default(),
            max_connections: MAX_CONNECTIONS_DEFAULT,
            topic_levels_max: TOPIC_LEVELS_MAX_DEFAULT,
            topic_alias_maximum: TOPIC_ALIAS_MAXIMUM_DEFAULT,
            sys_interval_secs: SYS_INTERVAL_SECS_DEFAULT,
            server_keep_alive_secs: None,
            response_information: None,
            topic_alias_outbound: OutboundAliasPolicy::default(),
            topic_alias_outbound_max: TOPIC_ALIAS_OUTBOUND_MAX_DEFAULT,
            redirect: None,
            delayed: DelayedLimits::default(),
            shared_strategy: SharedStrategy::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// A configuration file that cannot be used: where, and what would be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column of the offending value, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}: ", self.path.display())?,
            None => write!(f, "{}: ", self.path.display())?,
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The file as written. Every field is optional: the embedded default fills the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    shards: Option<Spanned<usize>>,
    log_level: Option<Spanned<String>>,
    #[serde(default, rename = "listener")]
    listeners: Vec<FileListener>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    sys: FileSys,
    #[serde(default)]
    shared_subscriptions: FileSharedSubscriptions,
    #[serde(default)]
    auth: FileAuth,
    response_information: Option<Spanned<String>>,
    topic_alias_outbound: Option<Spanned<String>>,
    redirect: Option<Spanned<FileRedirect>>,
    #[serde(default)]
    delayed: FileDelayed,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDelayed {
    max_delay_secs: Option<Spanned<u32>>,
    max_messages_per_shard: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRedirect {
    server_reference: Option<Spanned<String>>,
    connect: Option<Spanned<String>>,
    #[serde(default)]
    on_shutdown: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSys {
    interval_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSharedSubscriptions {
    strategy: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    allow_anonymous: Option<Spanned<bool>>,
    password_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListener {
    address: Spanned<String>,
    backlog: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_packet_size_bytes: Option<Spanned<u32>>,
    connect_timeout_secs: Option<Spanned<u64>>,
    inflight_max: Option<Spanned<u16>>,
    receive_maximum: Option<Spanned<u16>>,
    queued_messages_max: Option<Spanned<usize>>,
    queued_bytes_max: Option<Spanned<usize>>,
    subscriptions_max: Option<Spanned<usize>>,
    queue_qos0_offline: Option<bool>,
    max_connections: Option<Spanned<usize>>,
    topic_levels_max: Option<Spanned<usize>>,
    topic_alias_maximum: Option<u16>,
    topic_alias_outbound_max: Option<u16>,
    server_keep_alive_secs: Option<u16>,
}

impl Config {
    /// Reads `path` over the embedded default.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            position: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::parse(path, &text)
    }

    /// Parses `text` (the contents of `path`) over the embedded default.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let error = |span: Option<Range<usize>>, message: String| ConfigError {
            path: path.to_path_buf(),
            position: span.map(|s| line_column(text, s.start)),
            message,
        };
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end().replace('\n', "; ");
            error(e.span(), format!("{message} (see docs/configuration.md)"))
        })?;

        let mut config = Config::default();
        if let Some(shards) = file.shards {
            let n = *shards.get_ref();
            if !SHARDS_VALID.contains(&n) {
                return Err(error(
                    Some(shards.span()),
                    format!("shards = {n} is out of range; use {SHARDS_VALID:?}, or leave it out for one per core"),
                ));
            }
            config.shards = Some(n);
        }
        if let Some(level) = file.log_level {
            let value = level.get_ref();
            if !is_valid_log_filter(value) {
                return Err(error(
                    Some(level.span()),
                    format!("log_level = {value:?} is not a valid filter; use one of {LOG_LEVELS:?} or a tracing directive such as \"info,coremq=debug\""),
                ));
            }
            config.log_level = level.into_inner();
        }
        if !file.listeners.is_empty() {
            config.listeners = file
                .listeners
                .into_iter()
                .map(|l| {
                    let address = l.address.get_ref().parse().map_err(|_| {
                        error(
                            Some(l.address.span()),
                            format!(
                                "address = {:?} is not an IP address and port; write \"0.0.0.0:1883\" or \"[::1]:1883\"",
                                l.address.get_ref()
                            ),
                        )
                    })?;
                    let backlog = match l.backlog {
                        Some(b) if !BACKLOG_VALID.contains(b.get_ref()) => {
                            return Err(error(
                                Some(b.span()),
                                format!("backlog = {} is out of range; use {BACKLOG_VALID:?}", b.get_ref()),
                            ))
                        }
                        b => b.map(Spanned::into_inner),
                    };
                    Ok(Listener { address, backlog })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(size) = file.limits.max_packet_size_bytes {
            if !MAX_PACKET_SIZE_BYTES_VALID.contains(size.get_ref()) {
                return Err(error(
                    Some(size.span()),
                    format!("max_packet_size_bytes = {} is out of range; use {MAX_PACKET_SIZE_BYTES_VALID:?} (MQTT's largest packet is 268435460 bytes)", size.get_ref()),
                ));
            }
            config.max_packet_size_bytes = size.into_inner();
        }
        if let Some(secs) = file.limits.connect_timeout_secs {
            if !CONNECT_TIMEOUT_SECS_VALID.contains(secs.get_ref()) {
                return Err(error(
                    Some(secs.span()),
                    format!("connect_timeout_secs = {} is out of range; use {CONNECT_TIMEOUT_SECS_VALID:?}", secs.get_ref()),
                ));
            }
            config.connect_timeout = Duration::from_secs(secs.into_inner());
        }
        let limits = &mut config.session_limits;
        let at_least_one = |value: Option<Spanned<usize>>, key: &str| match value {
            Some(v) if *v.get_ref() == 0 => Err(error(
                Some(v.span()),
                format!("{key} = 0 is out of range; use 1 or more"),
            )),
            v => Ok(v.map(Spanned::into_inner)),
        };
        let as_usize = |v: Option<Spanned<u16>>| {
            v.map(|v| {
                let span = v.span();
                Spanned::new(span, usize::from(v.into_inner()))
            })
        };
        if let Some(n) = at_least_one(as_usize(file.limits.inflight_max), "inflight_max")? {
            limits.inflight_max = n as u16;
        }
        if let Some(n) = at_least_one(as_usize(file.limits.receive_maximum), "receive_maximum")? {
            limits.inbound_receive_maximum = n as u16;
        }
        if let Some(n) = at_least_one(file.limits.queued_messages_max, "queued_messages_max")? {
            limits.queued_messages_max = n;
        }
        if let Some(n) = at_least_one(file.limits.queued_bytes_max, "queued_bytes_max")? {
            limits.queued_bytes_max = n;
        }
        if let Some(n) = at_least_one(file.limits.subscriptions_max, "subscriptions_max")? {
            limits.subscriptions_max = n;
        }
        if let Some(queue) = file.limits.queue_qos0_offline {
            limits.queue_qos0_offline = queue;
        }
        if let Some(n) = at_least_one(file.limits.max_connections, "max_connections")? {
            config.max_connections = n;
        }
        if let Some(n) = at_least_one(file.limits.topic_levels_max, "topic_levels_max")? {
            config.topic_levels_max = n;
        }
        if let Some(n) = file.limits.topic_alias_maximum {
            config.topic_alias_maximum = n;
        }
        if let Some(n) = file.limits.topic_alias_outbound_max {
            config.topic_alias_outbound_max = n;
        }
        if let Some(policy) = file.topic_alias_outbound {
            config.topic_alias_outbound = OutboundAliasPolicy::from_name(policy.get_ref())
                .ok_or_else(|| {
                    error(
                        Some(policy.span()),
                        format!(
                            "topic_alias_outbound = {:?} is not a policy; use one of {:?}",
                            policy.get_ref(),
                            OutboundAliasPolicy::NAMES
                        ),
                    )
                })?;
        }
        if let Some(redirect) = file.redirect {
            let span = redirect.span();
            let redirect = redirect.into_inner();
            let Some(reference) = redirect.server_reference else {
                return Err(error(
                    Some(span),
                    "[redirect] needs server_reference = \"host:port\", the server clients are sent to".to_string(),
                ));
            };
            if reference.get_ref().is_empty()
                || crate::protocol::MqttString::new(reference.get_ref()).is_err()
            {
                return Err(error(
                    Some(reference.span()),
                    "server_reference must be a non-empty UTF-8 string such as \"broker2.example.com:1883\"".to_string(),
                ));
            }
            let connect = match redirect.connect {
                None => None,
                Some(word) => Some(match word.get_ref().as_str() {
                    "use-another-server" => RedirectReason::UseAnotherServer,
                    "server-moved" => RedirectReason::ServerMoved,
                    other => {
                        return Err(error(
                            Some(word.span()),
                            format!(
                                "connect = {other:?} is not a redirect; use one of {:?}, or leave it out to accept connections",
                                RedirectReason::NAMES
                            ),
                        ))
                    }
                }),
            };
            if connect.is_none() && !redirect.on_shutdown {
                return Err(error(
                    Some(span),
                    "[redirect] does nothing: set connect = \"use-another-server\" or \"server-moved\", or on_shutdown = true".to_string(),
                ));
            }
            config.redirect = Some(Redirect {
                server_reference: reference.into_inner(),
                connect,
                on_shutdown: redirect.on_shutdown,
            });
        }
        if let Some(secs) = file.delayed.max_delay_secs {
            if !(1..=DELAY_SECS_MAX).contains(secs.get_ref()) {
                return Err(error(
                    Some(secs.span()),
                    format!(
                        "max_delay_secs = {} is out of range; use 1..={DELAY_SECS_MAX} (about 49.7 days, EMQX's limit)",
                        secs.get_ref()
                    ),
                ));
            }
            config.delayed.max_delay_secs = secs.into_inner();
        }
        if let Some(n) = file.delayed.max_messages_per_shard {
            // 0 is allowed: it turns delayed publish off (every one is refused with 0x97).
            config.delayed.shard_messages_max = n.into_inner();
        }
        config.server_keep_alive_secs = file.limits.server_keep_alive_secs;
        if let Some(info) = file.response_information {
            if crate::protocol::MqttString::new(info.get_ref()).is_err() {
                return Err(error(
                    Some(info.span()),
                    "response_information must be UTF-8 without U+0000, at most 65535 bytes"
                        .to_string(),
                ));
            }
            config.response_information = Some(info.into_inner());
        }
        if let Some(secs) = file.sys.interval_secs {
            if !SYS_INTERVAL_SECS_VALID.contains(secs.get_ref()) {
                return Err(error(
                    Some(secs.span()),
                    format!("interval_secs = {} is out of range; use {SYS_INTERVAL_SECS_VALID:?} (0: no $SYS tree)", secs.get_ref()),
                ));
            }
            config.sys_interval_secs = secs.into_inner();
        }
        if let Some(strategy) = file.shared_subscriptions.strategy {
            let name = strategy.get_ref();
            config.shared_strategy = SharedStrategy::from_name(name).ok_or_else(|| {
                error(
                    Some(strategy.span()),
                    format!(
                        "strategy = {name:?} is not a shared subscription strategy; use one of {:?}",
                        SharedStrategy::names()
                    ),
                )
            })?;
        }
        if let Some(file_path) = file.auth.password_file {
            if file_path.get_ref().trim().is_empty() {
                return Err(error(
                    Some(file_path.span()),
                    "password_file is empty; give the path of a file written by `coremq passwd`, or leave it out".to_string(),
                ));
            }
            // Relative to the configuration file, so the broker finds it from any directory.
            let dir = path.parent().unwrap_or(Path::new(""));
            config.auth.password_file = Some(dir.join(file_path.get_ref()));
        }
        if let Some(allow) = file.auth.allow_anonymous {
            if !*allow.get_ref() && config.auth.password_file.is_none() {
                return Err(error(
                    Some(allow.span()),
                    "allow_anonymous = false needs password_file: without users no client could connect".to_string(),
                ));
            }
            config.auth.allow_anonymous = allow.into_inner();
        }
        Ok(config)
    }
}

/// Whether `filter` is a log level, or comma-separated `target=level` directives with at
/// most one bare level. Stricter than `tracing`'s own parser, which reads a misspelt level
/// such as `inof` as a target name and then logs nothing.
pub fn is_valid_log_filter(filter: &str) -> bool {
    let mut bare_levels = 0;
    !filter.trim().is_empty()
        && filter
            .split(',')
            .all(|directive| match directive.trim().split_once('=') {
                None => {
                    bare_levels += 1;
                    LOG_LEVELS.contains(&directive.trim())
                }
                Some((target, level)) => {
                    !target.trim().is_empty()
                        && !target.contains(char::is_whitespace)
                        && LOG_LEVELS.contains(&level.trim())
                }
            })
        && bare_levels <= 1
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("coremq.toml"), text)
    }

    fn error_of(text: &str) -> String {
        parse(text).expect_err("must be refused").to_string()
    }

    #[test]
    fn empty_file_is_the_embedded_default() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn every_key_is_read() {
        let config = parse(
            "shards = 3\nlog_level = \"debug\"\n\n[[listener]]\naddress = \"127.0.0.1:1884\"\nbacklog = 128\n\n[limits]\nmax_packet_size_bytes = 4096\nconnect_timeout_secs = 5\n",
        )
        .unwrap();
        assert_eq!(config.shards, Some(3));
        assert_eq!(config.log_level, "debug");
        assert_eq!(
            config.listeners,
            [Listener {
                address: "127.0.0.1:1884".parse().unwrap(),
                backlog: Some(128)
            }]
        );
        assert_eq!(config.max_packet_size_bytes, 4096);
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
    }

    #[test]
    fn out_of_range_value_names_file_line_and_range() {
        let e = error_of("log_level = \"info\"\n[limits]\nmax_packet_size_bytes = 1\n");
        assert!(
            e.starts_with(
                "coremq.toml:3:25: max_packet_size_bytes = 1 is out of range; use 2..=268435460"
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_address_says_what_to_write() {
        let e = error_of("[[listener]]\naddress = \"localhost\"\n");
        assert!(
            e.starts_with("coremq.toml:2:11: address = \"localhost\""),
            "{e}"
        );
        assert!(e.contains("\"0.0.0.0:1883\""), "{e}");
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let e = error_of("shards = 2\nshard_count = 2\n");
        assert!(e.starts_with("coremq.toml:2:1: "), "{e}");
        assert!(e.contains("shard_count"), "{e}");
    }

    #[test]
    fn wrong_type_is_refused_with_its_line() {
        let e = error_of("\nshards = \"two\"\n");
        assert!(e.starts_with("coremq.toml:2:10: "), "{e}");
    }

    #[test]
    fn session_limits_are_read_and_zero_is_refused() {
        let config = parse(
            "[limits]\ninflight_max = 4\nreceive_maximum = 8\nqueued_messages_max = 10\nqueued_bytes_max = 2048\nsubscriptions_max = 3\nqueue_qos0_offline = true\n",
        )
        .unwrap();
        let limits = config.session_limits;
        assert_eq!(limits.inflight_max, 4);
        assert_eq!(limits.inbound_receive_maximum, 8);
        assert_eq!(limits.queued_messages_max, 10);
        assert_eq!(limits.queued_bytes_max, 2048);
        assert_eq!(limits.subscriptions_max, 3);
        let config = parse(
            "[limits]\nmax_connections = 10\ntopic_levels_max = 4\ntopic_alias_maximum = 0\n",
        )
        .unwrap();
        assert_eq!((config.max_connections, config.topic_levels_max), (10, 4));
        assert_eq!(config.topic_alias_maximum, 0);
        let config =
            parse("response_information = \"replies/\"\n[limits]\nserver_keep_alive_secs = 30\n")
                .unwrap();
        assert_eq!(config.server_keep_alive_secs, Some(30));
        assert_eq!(config.response_information.as_deref(), Some("replies/"));
        assert!(limits.queue_qos0_offline);
        let e = error_of("[limits]\nqueued_messages_max = 0\n");
        assert!(
            e.starts_with("coremq.toml:2:23: queued_messages_max = 0 is out of range"),
            "{e}"
        );
        let e = error_of("[limits]\ninflight_max = 70000\n");
        assert!(e.starts_with("coremq.toml:2:16: "), "{e}");
    }

    #[test]
    fn sys_interval_is_read_and_bounded() {
        assert_eq!(Config::default().sys_interval_secs, 10);
        let interval = |text| parse(text).unwrap().sys_interval_secs;
        assert_eq!(interval("[sys]\ninterval_secs = 0\n"), 0);
        assert_eq!(interval("[sys]\ninterval_secs = 1\n"), 1);
        let e = error_of("[sys]\ninterval_secs = 100000\n");
        assert!(
            e.starts_with("coremq.toml:2:17: interval_secs = 100000 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn outbound_topic_aliases_are_read_and_checked() {
        let config =
            parse("topic_alias_outbound = \"first\"\n[limits]\ntopic_alias_outbound_max = 4\n")
                .unwrap();
        assert_eq!(config.topic_alias_outbound, OutboundAliasPolicy::First);
        assert_eq!(config.topic_alias_outbound_max, 4);
        let e = error_of("topic_alias_outbound = \"always\"\n");
        assert!(
            e.starts_with("coremq.toml:1:24: topic_alias_outbound = \"always\" is not a policy; use one of [\"lru\", \"first\", \"off\"]"),
            "{e}"
        );
    }

    #[test]
    fn redirect_is_read_and_must_do_something() {
        let config = parse(
            "[redirect]\nserver_reference = \"b:1883\"\nconnect = \"server-moved\"\non_shutdown = true\n",
        )
        .unwrap();
        assert_eq!(
            config.redirect,
            Some(Redirect {
                server_reference: "b:1883".to_string(),
                connect: Some(RedirectReason::ServerMoved),
                on_shutdown: true,
            })
        );
        let e = error_of("[redirect]\nconnect = \"server-moved\"\n");
        assert!(e.contains("needs server_reference"), "{e}");
        let e = error_of("[redirect]\nserver_reference = \"b:1883\"\n");
        assert!(e.contains("[redirect] does nothing"), "{e}");
        let e = error_of("[redirect]\nserver_reference = \"b\"\nconnect = \"moved\"\n");
        assert!(
            e.starts_with("coremq.toml:3:11: connect = \"moved\" is not a redirect"),
            "{e}"
        );
    }

    #[test]
    fn shared_subscription_strategy_is_read_and_checked() {
        assert_eq!(
            Config::default().shared_strategy,
            SharedStrategy::RoundRobin
        );
        for strategy in SharedStrategy::ALL {
            let text = format!("[shared_subscriptions]\nstrategy = \"{strategy}\"\n");
            assert_eq!(parse(&text).unwrap().shared_strategy, strategy);
        }
        let e = error_of("shards = 2\n[shared_subscriptions]\nstrategy = \"hash\"\n");
        assert!(
            e.starts_with("coremq.toml:3:12: strategy = \"hash\" is not a shared subscription strategy; use one of [\"round_robin\", \"random\", \"hash_clientid\", \"hash_topic\", \"sticky\"]"),
            "{e}"
        );
    }

    #[test]
    fn auth_section_is_read_and_checked() {
        assert_eq!(parse("").unwrap().auth, AuthConfig::default());
        assert!(AuthConfig::default().allow_anonymous);
        let config = Config::parse(
            Path::new("/etc/coremq/coremq.toml"),
            "[auth]\nallow_anonymous = false\npassword_file = \"users\"\n",
        )
        .unwrap();
        assert!(!config.auth.allow_anonymous);
        assert_eq!(
            config.auth.password_file.as_deref(),
            Some(Path::new("/etc/coremq/users"))
        );
        let config = parse("[auth]\npassword_file = \"/var/lib/users\"\n").unwrap();
        assert_eq!(
            config.auth.password_file.as_deref(),
            Some(Path::new("/var/lib/users"))
        );
        let e = error_of("[auth]\nallow_anonymous = false\n");
        assert!(
            e.starts_with("coremq.toml:2:19: allow_anonymous = false needs password_file"),
            "{e}"
        );
        let e = error_of("[auth]\npassword_file = \"\"\n");
        assert!(
            e.starts_with("coremq.toml:2:17: password_file is empty"),
            "{e}"
        );
        let e = error_of("[auth]\nallow_anonymous = \"no\"\n");
        assert!(e.starts_with("coremq.toml:2:19: "), "{e}");
    }

    #[test]
    fn delayed_bounds_are_read_and_checked() {
        let config =
            parse("[delayed]\nmax_delay_secs = 3600\nmax_messages_per_shard = 10\n").unwrap();
        assert_eq!(
            config.delayed,
            DelayedLimits {
                max_delay_secs: 3600,
                shard_messages_max: 10
            }
        );
        let e = error_of("[delayed]\nmax_delay_secs = 0\n");
        assert!(
            e.starts_with("coremq.toml:2:18: max_delay_secs = 0 is out of range; use 1..=4294967"),
            "{e}"
        );
    }

    #[test]
    fn zero_shards_is_refused() {
        let e = error_of("shards = 0\n");
        assert!(e.contains("shards = 0 is out of range"), "{e}");
    }

    #[test]
    fn bad_log_level_lists_the_levels() {
        let e = error_of("log_level = \"inof\"\n");
        assert!(e.contains("\"error\", \"warn\", \"info\""), "{e}");
    }

    #[test]
    fn log_filters() {
        for good in [
            "info",
            "debug",
            "warn,coremq=debug",
            "coremq::broker=trace,shard=info",
        ] {
            assert!(is_valid_log_filter(good), "{good}");
        }
        for bad in ["", "inof", "loud=", "coremq=loud", "info,debug", "a b=info"] {
            assert!(!is_valid_log_filter(bad), "{bad}");
        }
    }
}
