#!/usr/bin/env bash
# Retakes the README's screenshots from the real window: runs the WebDriver
# test with MAILROOM_SCREENSHOT_DIR set, saving PNGs into docs/screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
./scripts/setup.sh
npm --prefix ui run build
# The same build as scripts/test.sh's (clippy's driver, the whole workspace),
# so that after the suite nothing compiles again.
export RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo build --workspace --all-targets
MAILROOM_APP="$CARGO_TARGET_DIR/debug/mailroom-app" MAILROOM_CLI="$CARGO_TARGET_DIR/debug/mailroom" \
MAILROOM_SCREENSHOT_DIR="$PWD/docs/screenshots" \
  xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --features mailroom-e2e/window --test window -- --test-threads=1
ls -l docs/screenshots
