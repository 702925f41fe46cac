//! A worker process (`--worker N`, started by the parent for `--procs`): runs its share of
//! the clients, merges its shards' events and writes them to stdout as JSON lines (one
//! event per line, histograms in HdrHistogram's compressed base64 form); reads commands
//! from stdin, one JSON line each. If stdin closes (the parent died), it aborts.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::Plan;
use crate::engine;
use crate::merger::Merger;
use crate::report::{Command, Event, FinalReport};

/// Runs worker `index` of the plan.
pub fn run(plan: Plan, index: usize) -> ExitCode {
    let plan = Arc::new(plan);
    let engine = match engine::start(Arc::clone(&plan), index) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("loadgen worker {index}: {e}");
            let report = FinalReport {
                errors: vec![format!("worker {index}: {e}")],
                errors_total: 1,
                ..FinalReport::default()
            };
            emit(&Event::Final(Box::new(report)));
            return ExitCode::FAILURE;
        }
    };
    let control = Arc::clone(&engine.control);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<Command>(&line) {
                Ok(c) => control.apply(c),
                Err(e) => eprintln!("loadgen worker {index}: bad command ({e}): {line:.200}"),
            }
        }
        control.apply(Command::Abort);
    });
    let mut merger = Merger::new(engine.shards);
    while let Ok((shard, event)) = engine.events.recv() {
        for merged in merger.push(shard, event) {
            emit(&merged);
        }
        if merger.all_finished() {
            break;
        }
    }
    match engine.runtime.join() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen worker {index}: a shard panicked: {e}");
            ExitCode::FAILURE
        }
    }
}

fn emit(event: &Event) {
    let line = serde_json::to_string(event).expect("an event serializes");
    let mut out = std::io::stdout().lock();
    // The parent gone means nobody to report to: nothing left to do but finish.
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
}
