//! coremq's load generator. Skeleton: the scenarios, open-loop rates and
//! hdrhistogram latency recording arrive with their own issue; this binary only
//! states that so a script calling it fails loudly instead of measuring nothing.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "loadgen: not implemented yet (see ARCHITECTURE.md, `loadgen/`); \
         no load was generated"
    );
    ExitCode::from(2)
}
