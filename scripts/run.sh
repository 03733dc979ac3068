#!/usr/bin/env bash
# Sets up a fresh machine, builds the app and opens its window. The app keeps
# its data in your per-user data folder (see README); MAILROOM_DB overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
./scripts/setup.sh
npm --prefix ui run build
cargo build -p mailroom-app
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "Built $CARGO_TARGET_DIR/debug/mailroom-app, but there is no display to open it on." >&2
  exit 1
fi
exec "$CARGO_TARGET_DIR/debug/mailroom-app" "$@"
