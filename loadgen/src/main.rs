//! coremq's load generator. `cargo run --release -p loadgen -- <scenario> [flags]`; see
//! loadgen/README.md for the scenarios, the JSON schema and the one-million-connection
//! recipe.
//!
//! Map: `cli` (flags -> `Plan`), `engine` (the clients on the shard runtime: `client`
//! tasks, `conn` I/O, `publisher` / `subscriber` state, pure), `coordinator` (start, progress,
//! drain, result), `worker` (`--procs` child processes), `merger` and `report` (events and
//! their merge), `merge` (results of several hosts), `summary` (the JSON line), `hdrlog`, and the pure helpers `pacing`,
//! `payload`, `seq`, `iprange`, `hist`, `clock`, `limits`.

mod cli;
mod clock;
mod coordinator;
mod engine;
mod hdrlog;
mod hist;
mod iprange;
mod limits;
mod merge;
mod merger;
mod pacing;
mod payload;
mod report;
mod seq;
mod summary;
mod worker;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("merge") {
        return merge::run(std::env::args().skip(2));
    }
    let args = cli::Args::parse();
    let plan = match cli::Plan::from_args(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    clock::select(plan.clock);
    match plan.worker {
        Some(index) => worker::run(plan, index),
        None => coordinator::run(plan),
    }
}
