#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine: installs what the
# tests need, builds once, runs every test. README.md's second command.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# Build everything once (tests and bench targets), then run the tests.
cargo build --workspace --all-targets --locked
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked 2>&1 | tee "$log" || status=$?

# Coverage-guided fuzzing of the codec, bounded in time.
if [ "$status" -eq 0 ]; then
  bash scripts/fuzz-smoke.sh || status=$?
fi

# One closing line over every cargo test binary above.
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$(NF-1)} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
