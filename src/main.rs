//! The coremq broker binary: command line, logging, start-up, clean shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use coremq::auth::{Authenticator, UserStore};
use coremq::broker::connection::ConnectionSettings;
use coremq::broker::shard_main::{shard_main, MeshMessage};
use coremq::config::{is_valid_log_filter, Config, Listener};
use shard::{ListenerConfig, Runtime, RuntimeConfig, ShardContext, ShutdownSignals};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// coremq: a thread-per-core io_uring MQTT broker (MQTT 3.1, 3.1.1, 5.0).
///
/// Without --config it runs the embedded default: MQTT on 0.0.0.0:1883 and [::]:1883, one
/// shard per core. Flags override the file.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Address to accept MQTT connections on; repeat for several. Replaces the
    /// configured listeners.
    #[arg(long = "listen", value_name = "HOST:PORT")]
    listen: Vec<SocketAddr>,

    /// Number of shards (one pinned executor per core). Default: one per available core.
    #[arg(long, value_name = "N")]
    shards: Option<usize>,

    /// Log filter: error, warn, info, debug or trace, or directives like "info,coremq=debug".
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,

    /// Largest packet accepted from a client, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_packet_size: Option<u32>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Adds or replaces USER in a password file ([auth] password_file), reading the
    /// password from the first line of standard input. Only a salted SCRAM-SHA-256
    /// verifier is written, never the password. Without --file the line is printed.
    Passwd {
        /// Password file to update (created, mode 0600, if missing).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// PBKDF2 iterations (RFC 7677: at least 4096).
        #[arg(long, value_name = "N", default_value_t = coremq::limits::SCRAM_ITERATIONS_DEFAULT)]
        iterations: u32,
        /// The user name.
        username: String,
    },
}

/// stderr for the log, where a failed write drops the line: a broker whose stderr was
/// closed keeps serving (tracing-subscriber would otherwise report the failure with
/// `eprintln!`, which panics on the same closed stderr).
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// The configuration file (or the embedded default) with the flags applied.
fn configure(args: Args) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        config.listeners = args
            .listen
            .into_iter()
            .map(|address| Listener {
                address,
                backlog: None,
            })
            .collect();
    }
    if let Some(shards) = args.shards {
        if !(1..=shard::limits::SHARD_COUNT_MAX).contains(&shards) {
            return Err(format!(
                "--shards {shards} is out of range; use 1..={}",
                shard::limits::SHARD_COUNT_MAX
            ));
        }
        config.shards = Some(shards);
    }
    if let Some(level) = args.log_level {
        if !is_valid_log_filter(&level) {
            return Err(format!(
                "--log-level {level:?} is not valid; use error, warn, info, debug or trace, \
                 or directives like \"info,coremq=debug\""
            ));
        }
        config.log_level = level;
    }
    if let Some(size) = args.max_packet_size {
        if size < 2 {
            return Err(format!(
                "--max-packet-size {size} is too small; use 2 or more"
            ));
        }
        config.max_packet_size_bytes = size;
    }
    Ok(config)
}

/// The `[auth]` section made real: the password file read (a bad line stops the start).
fn authenticator(config: &Config) -> Result<Arc<Authenticator>, String> {
    let users = match &config.auth.password_file {
        Some(path) => {
            let mock_key = coremq::auth::random_bytes()
                .map_err(|e| format!("no randomness from the operating system: {e}"))?;
            Some(UserStore::load(path, mock_key).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    Ok(Arc::new(Authenticator::new(
        config.auth.allow_anonymous,
        users,
    )))
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if let Some(Command::Passwd {
        file,
        iterations,
        username,
    }) = args.command.take()
    {
        return match passwd::run(file.as_deref(), iterations, &username) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("coremq passwd: {e}");
                ExitCode::from(2)
            }
        };
    }
    let (config, auth) = match configure(args).and_then(|config| {
        let auth = authenticator(&config)?;
        Ok((config, auth))
    }) {
        Ok(configured) => configured,
        Err(e) => {
            eprintln!("coremq: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_level))
        .with_writer(|| LossyStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    tracing::info!(
        allow_anonymous = config.auth.allow_anonymous,
        users = auth.users().len(),
        scram_sha_256 = auth.offers(coremq::auth::SCRAM_SHA_256),
        "authentication"
    );

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shard_count = config.shards.unwrap_or(cores);
    let listener_count = config.listeners.len();
    let files_needed =
        coremq::host::open_files_needed(config.max_connections, listener_count, shard_count);
    match coremq::host::raise_open_files(files_needed) {
        Ok(open_files) => {
            if let Some(warning) = coremq::host::open_files_warning(
                open_files,
                config.max_connections,
                listener_count,
                shard_count,
            ) {
                tracing::warn!("{warning}");
            }
        }
        Err(e) => tracing::warn!("cannot read or raise the open-files limit: {e}"),
    }
    let runtime_config = RuntimeConfig {
        shard_count,
        // Pinning more shards than cores would fail; run them unpinned instead.
        pin_cores: shard_count <= cores,
        listeners: config
            .listeners
            .iter()
            .map(|l| {
                let mut listener = ListenerConfig::new(l.address);
                if let Some(backlog) = l.backlog {
                    listener.backlog = backlog;
                }
                listener
            })
            .collect(),
        ..RuntimeConfig::default()
    };
    let settings = ConnectionSettings {
        max_packet_size_bytes: config.max_packet_size_bytes,
        connect_timeout: config.connect_timeout,
        session_limits: config.session_limits,
        // Each shard takes an equal share; SO_REUSEPORT spreads connections evenly.
        shard_connections_max: config.max_connections.div_ceil(shard_count),
        topic_levels_max: config.topic_levels_max,
        topic_alias_maximum: config.topic_alias_maximum,
        server_keep_alive_secs: config.server_keep_alive_secs,
        topic_alias_outbound: config.topic_alias_outbound,
        topic_alias_outbound_max: config.topic_alias_outbound_max,
        redirect: config.redirect.clone(),
        delayed: config.delayed,
        response_information: config
            .response_information
            .as_deref()
            .and_then(|s| coremq::protocol::MqttString::new(s).ok()),
        sys_interval: (config.sys_interval_secs > 0)
            .then(|| std::time::Duration::from_secs(config.sys_interval_secs)),
        shared_strategy: config.shared_strategy,
        auth,
    };
    // Before the shards start, so that a SIGTERM during start-up still drains cleanly.
    let signals = match ShutdownSignals::install() {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!("cannot install SIGINT/SIGTERM handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match Runtime::start(runtime_config, move |ctx: ShardContext<MeshMessage>| {
        shard_main(ctx, settings.clone())
    }) {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    for addr in runtime.listen_addrs() {
        tracing::info!("listening on {addr} (MQTT, {shard_count} shards)");
    }
    match runtime.wait_for_signal_then_shutdown(signals) {
        Ok(signal) => {
            tracing::info!(?signal, "stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("shutdown failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `coremq passwd`: writes a user's SCRAM-SHA-256 verifier.
mod passwd {
    use std::io::{BufRead, IsTerminal, Write};
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    use coremq::auth::{check_username, random_bytes, set_user, ScramVerifier, UserStore};
    use coremq::limits::{SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN, SCRAM_SALT_BYTES};

    /// Reads the password from stdin and adds `username` to `file` (or prints the line).
    pub fn run(file: Option<&Path>, iterations: u32, username: &str) -> Result<(), String> {
        check_username(username)?;
        if !(SCRAM_ITERATIONS_MIN..=SCRAM_ITERATIONS_MAX).contains(&iterations) {
            return Err(format!(
                "--iterations {iterations} is out of range; use {SCRAM_ITERATIONS_MIN}..={SCRAM_ITERATIONS_MAX}"
            ));
        }
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("password for {username} (shown as typed): ");
        }
        let mut password = String::new();
        stdin
            .lock()
            .read_line(&mut password)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        let password = password.strip_suffix('\n').unwrap_or(&password);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() {
            return Err("empty password: give it on the first line of stdin".into());
        }
        let salt: [u8; SCRAM_SALT_BYTES] =
            random_bytes().map_err(|e| format!("no randomness for the salt: {e}"))?;
        let verifier = ScramVerifier::new(password.as_bytes(), &salt, iterations);
        let Some(file) = file else {
            println!("{username}:{verifier}");
            return Ok(());
        };
        let old = match std::fs::read_to_string(file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: cannot read: {e}", file.display())),
        };
        let text = set_user(old.as_deref().unwrap_or_default(), username, &verifier);
        // What the broker will read must parse: a broken line elsewhere is named now.
        UserStore::parse(file, &text, [0; 32]).map_err(|e| e.to_string())?;
        write_replacing(file, &text)
            .map_err(|e| format!("{}: cannot write: {e}", file.display()))?;
        eprintln!(
            "{}: {} user {username}",
            file.display(),
            if old.is_some_and(|o| o
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{username}:"))))
            {
                "replaced"
            } else {
                "added"
            }
        );
        Ok(())
    }

    /// Writes `text` to a temporary file beside `file` and renames it over `file`, so a
    /// broker starting meanwhile reads the old file or the new, never half of one. A new
    /// file is readable by its owner only; an existing one keeps its permissions.
    fn write_replacing(file: &Path, text: &str) -> std::io::Result<()> {
        let mut tmp_name = file.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = Path::new(&tmp_name);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(tmp)?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        if let Ok(meta) = std::fs::metadata(file) {
            std::fs::set_permissions(
                tmp,
                std::fs::Permissions::from_mode(meta.permissions().mode()),
            )?;
        }
        std::fs::rename(tmp, file)
    }
}
