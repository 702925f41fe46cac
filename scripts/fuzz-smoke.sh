#!/usr/bin/env bash
# A bounded libFuzzer run of every fuzz target over its committed corpus.
# FUZZ_SECONDS (default 30) per target. New inputs go to a scratch dir, so the
# committed corpus only changes when someone copies a finding in on purpose.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-30}
if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz-smoke: cargo-fuzz missing, skipped (the stable corpus test still ran)"
  exit 0
fi
for target in $(cargo fuzz list); do
  scratch=$(mktemp -d)
  # cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1
  rm -rf "$scratch"
done
