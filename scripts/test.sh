#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine: installs what the
# tests need, builds once, runs every test. README.md's second command.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# Build everything once (tests and bench targets), then run the tests.
cargo build --workspace --all-targets --locked
cargo test --workspace --locked

# Coverage-guided fuzzing of the codec, bounded in time.
bash scripts/fuzz-smoke.sh
