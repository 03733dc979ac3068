#!/usr/bin/env bash
# Refreshes `.sqlx/`, the query data that lets `sqlx::query!` check SQL at
# compile time without a database. Run after changing a migration or a query.
# Needs sqlx-cli (scripts/setup.sh installs it with --dev).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${MAILROOM_TOOLS:-$HOME/.cache/mailroom/tools}/bin:$PATH"
db_dir=$(mktemp -d)
trap 'rm -rf "$db_dir"' EXIT
export DATABASE_URL="sqlite://$db_dir/prepare.db"
export SQLX_OFFLINE=false
sqlx database create
sqlx migrate run --source crates/engine/migrations
cargo sqlx prepare --workspace -- --all-targets
