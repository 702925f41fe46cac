//! coremq's side-by-side broker comparison. Skeleton: the comparison runs
//! arrive with the load generator. The micro-benchmarks live in `benches/`
//! (`cargo bench -p bench-harness`).

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "bench-harness: broker comparisons are not implemented yet; \
         run `cargo bench -p bench-harness` for the codec micro-benchmarks"
    );
    ExitCode::from(2)
}
