#!/usr/bin/env bash
# Cold start, idle CPU and memory of the desktop app (docs/BENCHMARKS.md):
# runs the ignored benchmark in tests/tests/window.rs under Xvfb against APP
# (default: the installed /usr/bin/mailroom-app; install dist/mailroom_*.deb
# first, e.g. with scripts/package.sh and apt-get). As root the page cache is
# dropped before each start (a cold start); COLD=0 keeps it.
# Usage: scripts/bench-app.sh [APP]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
app=${1:-/usr/bin/mailroom-app}
[ -x "$app" ] || { echo "bench-app: $app is not there (install the .deb first)" >&2; exit 1; }
cold=${COLD:-$([ "$(id -u)" -eq 0 ] && echo 1 || echo 0)}
MAILROOM_BENCH_APP="$app" COLD="$cold" xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test -q -p mailroom-e2e --features window --test window -- --ignored --nocapture --exact \
    startup_and_idle_of_the_app 2>&1 | grep -E "^(start|cold start|idle|memory)|panicked|FAILED|test result"
