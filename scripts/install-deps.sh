#!/usr/bin/env bash
# Install what the tests need. Idempotent; safe on a fresh machine (run as root
# or with sudo available). Everything comes from the package registries.
set -euo pipefail

need_apt=()
# Linker/C toolchain for -sys crates (mimalloc builds C).
command -v cc >/dev/null || need_apt+=(build-essential)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi

# cargo-fuzz drives the libFuzzer smoke run (scripts/fuzz-smoke.sh).
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --version 0.13.2 || echo "warning: cargo-fuzz not installed; the libFuzzer smoke run will be skipped" >&2
fi
