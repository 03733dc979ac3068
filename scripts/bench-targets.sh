#!/usr/bin/env bash
# Every performance target of issue 21 (SPEC "Targets": sending, the round
# trip, the 1,000,000-row import, the window while a 1,000,000-recipient
# campaign sends), measured in one run on one machine, each beside its peer:
#   1. scripts/bench-send.sh 20000   Mailroom, Nodemailer, smtp-source → smtp-sink
#   2. scripts/bench-import.sh 1000000   Mailroom's import and sqlite3's .import
#   3. scripts/bench-window.sh 1000000   the real window under Xvfb
# Builds first (release CLI, debug app, UI), so that no build overlaps a
# measurement. Prints Markdown for docs/BENCHMARKS.md; each part ends with
# its verdicts. Takes about 15 minutes on the 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
echo "# bench-targets.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
echo
cargo build --release -q -p mailroom-cli -p mailroom-e2e --bin mailroom --bin latency-proxy >&2
npm --prefix ui run build >/dev/null 2>&1
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
  cargo build -q --workspace --all-targets --features mailroom-e2e/window >&2
echo "## Sending"
echo
./scripts/bench-send.sh "${MESSAGES:-20000}"
echo
echo "## Import"
echo
echo '```'
./scripts/bench-import.sh "${ROWS:-1000000}"
echo '```'
echo
echo "## The window while it sends"
echo
echo '```'
./scripts/bench-window.sh "${RECIPIENTS:-1000000}"
echo '```'
