//! The coremq broker binary: command line, logging, start-up, clean shutdown.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use coremq::broker::connection::ConnectionSettings;
use coremq::broker::shard_main::{shard_main, MeshMessage};
use coremq::limits::{CONNECT_TIMEOUT_SECS_DEFAULT, MAX_PACKET_SIZE_BYTES_DEFAULT};
use shard::{ListenerConfig, Runtime, RuntimeConfig, ShardContext, ShutdownSignals};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// coremq: a thread-per-core io_uring MQTT broker (MQTT 3.1, 3.1.1, 5.0).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to accept MQTT connections on; repeat for several.
    /// Default: 0.0.0.0:1883 and [::]:1883.
    #[arg(long = "listen", value_name = "HOST:PORT")]
    listen: Vec<SocketAddr>,

    /// Number of shards (one pinned executor per core). Default: one per available core.
    #[arg(long, value_name = "N")]
    shards: Option<usize>,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive list.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,

    /// Largest packet accepted from a client, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_PACKET_SIZE_BYTES_DEFAULT)]
    max_packet_size: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match tracing_subscriber::EnvFilter::try_new(&args.log_level) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!(
                "coremq: --log-level {:?} is not a valid filter: {e}",
                args.log_level
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let listen = if args.listen.is_empty() {
        vec![
            "0.0.0.0:1883".parse().expect("literal address"),
            "[::]:1883".parse().expect("literal address"),
        ]
    } else {
        args.listen
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shard_count = args.shards.unwrap_or(cores);
    let config = RuntimeConfig {
        shard_count,
        // Pinning more shards than cores would fail; run them unpinned instead.
        pin_cores: shard_count <= cores,
        listeners: listen.into_iter().map(ListenerConfig::new).collect(),
        ..RuntimeConfig::default()
    };
    let settings = ConnectionSettings {
        max_packet_size_bytes: args.max_packet_size,
        connect_timeout: Duration::from_secs(CONNECT_TIMEOUT_SECS_DEFAULT),
    };
    // Before the shards start, so that a SIGTERM during start-up still drains cleanly.
    let signals = match ShutdownSignals::install() {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!("cannot install SIGINT/SIGTERM handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match Runtime::start(config, move |ctx: ShardContext<MeshMessage>| {
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
