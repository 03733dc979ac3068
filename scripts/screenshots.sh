#!/usr/bin/env bash
# Retakes the README's screenshots from the real window: runs the WebDriver
# test with MAILROOM_SCREENSHOT_DIR set, saving PNGs into docs/screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
./scripts/setup.sh
npm --prefix ui run build
cargo build -p mailroom-app -p mailroom-cli
MAILROOM_APP="$CARGO_TARGET_DIR/debug/mailroom-app" MAILROOM_CLI="$CARGO_TARGET_DIR/debug/mailroom" \
MAILROOM_SCREENSHOT_DIR="$PWD/docs/screenshots" \
  xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test -p mailroom-e2e --features window --test window -- --test-threads=1
ls -l docs/screenshots
