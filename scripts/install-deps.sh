#!/usr/bin/env bash
# Install what the tests need. Idempotent; safe on a fresh machine (run as root
# or with sudo available). Everything comes from the package registries.
set -euo pipefail

need_apt=()
# Linker/C toolchain for -sys crates (mimalloc builds C).
command -v cc >/dev/null || need_apt+=(build-essential)
# The end-to-end tests: mosquitto is the reference broker (COREMQ_TEST_BROKER=mosquitto),
# mosquitto_pub/mosquitto_sub and paho-mqtt are interop clients (tests/10_interop_clients.rs).
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_sub >/dev/null || need_apt+=(mosquitto-clients)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
# MQTT.js (tests/interop/mqttjs) runs on Node.js.
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi

# cargo-fuzz drives the libFuzzer smoke run (scripts/fuzz-smoke.sh).
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --version 0.13.2 || echo "warning: cargo-fuzz not installed; the libFuzzer smoke run will be skipped" >&2
fi

# paho-mqtt for tests/interop/*.py. Debian's system Python refuses a plain pip install
# (PEP 668): fall back to --break-system-packages, then to the distribution's package.
if ! python3 -c "import paho.mqtt.client" 2>/dev/null; then
  python3 -m pip install -q paho-mqtt \
    || python3 -m pip install -q --break-system-packages paho-mqtt \
    || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
         DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-paho-mqtt; }
fi

# MQTT.js at the version package-lock.json pins, into tests/interop/mqttjs/node_modules.
mqttjs="$(cd "$(dirname "$0")/.." && pwd)/tests/interop/mqttjs"
if [ ! -d "$mqttjs/node_modules/mqtt" ]; then
  npm ci --prefix "$mqttjs" --no-audit --no-fund --loglevel=error
fi

# Tells tests/10_interop_clients.rs that a missing tool is a failure, not a skip.
if command -v mosquitto_sub >/dev/null && python3 -c "import paho.mqtt.client" 2>/dev/null \
  && [ -d "$mqttjs/node_modules/mqtt" ]; then
  marker="${XDG_CACHE_HOME:-$HOME/.cache}/coremq/install-deps.done"
  mkdir -p "$(dirname "$marker")" && touch "$marker"
fi
