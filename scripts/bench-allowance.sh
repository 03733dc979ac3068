#!/usr/bin/env bash
# Issue 19, "use the whole allowance, never more": campaigns through servers
# that throttle, against the ideal (every message at exactly the allowed
# rate). Runs the ignored test `bench_allowance` in tests/tests/allowance.rs:
# a real Postfix from Debian's packages allowing 15 messages a second
# (smtpd_client_message_rate_limit = 30 per anvil_rate_time_unit = 1s, a
# window of two whole seconds), 1,450 recipients twice on one account (the
# second run starts at the rate that held), then the scripted server's 454
# above N/s at several N. Prints a Markdown table for docs/BENCHMARKS.md,
# with the machine and its load (other work on it slows the figures).
# Needs root (Postfix's master) and Debian's postfix (scripts/setup.sh).
# The dev profile: these campaigns wait on the servers' limits, not on the
# CPU, and the release profile's fat LTO takes a quarter of an hour to link
# the test on the 2-core machine. PROFILE=release for the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
echo "Postfix: $(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?')"
echo "Load before: $(cut -d' ' -f1-3 /proc/loadavg)"
profile=()
[[ "${PROFILE:-dev}" == release ]] && profile=(--release)
cargo test "${profile[@]}" -q -p mailroom-e2e --test allowance --no-run
cargo test "${profile[@]}" -q -p mailroom-e2e --test allowance -- --ignored --nocapture --exact bench_allowance \
  | grep -E '^\|'
echo "Load after: $(cut -d' ' -f1-3 /proc/loadavg)"
