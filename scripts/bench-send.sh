#!/usr/bin/env bash
# Sending throughput, side by side against the same local sink
# (tests/src/bin/smtp-sink.rs, which accepts and discards): Mailroom's engine
# through the release CLI, with every recipient's state in SQLite, and
# Nodemailer's pooled transport, at 1, 4 and 8 connections.
# Usage: scripts/bench-send.sh [MESSAGES]   (default 20000). Prints a Markdown table.
# CONNECTIONS="8" measures only those pool sizes; CLIENTS=mailroom skips Nodemailer
# (both for quick runs while working; the recorded table uses the defaults).
# RTT_MS=20 puts a relay (tests/src/bin/latency-proxy.rs) with that round trip
# between the clients and the sink, as a distant server would be.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
messages=${1:-20000}
port=${SINK_PORT:-2626}
work=$(mktemp -d)
proxy=
trap 'kill "$sink" $proxy 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p mailroom-cli -p mailroom-e2e --bin mailroom --bin smtp-sink --bin latency-proxy
bin="$CARGO_TARGET_DIR/release"
if [ ! -d bench/node_modules/nodemailer ]; then
  (cd bench && npm install --no-save --no-audit --no-fund nodemailer@6 >/dev/null)
fi

"$bin/smtp-sink" "$port" > "$work/sink.out" &
sink=$!
if [ -n "${RTT_MS:-}" ]; then
  "$bin/latency-proxy" $((port + 1)) "$port" $((RTT_MS / 2)) &
  proxy=$!
  port=$((port + 1))
fi
sleep 0.5

# About 2 KB per message: a 1.9 KB body plus headers.
body=$(printf 'Dear {{ name }},\n\n%.0s' 1; for _ in $(seq 34); do printf 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '; done; printf '\n')
printf '%s\n' "$body" > "$work/body.txt"
{ echo "email,name"; for i in $(seq 0 $((messages - 1))); do echo "r$i@example.org,Person $i"; done; } > "$work/list.csv"

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > "$work/out" 2>&1 || true
  read -r wall user sys rss < "$work/time"
  local cpu; cpu=$(echo "$user + $sys" | bc)
  local rate; rate=$(echo "scale=0; $messages / $wall" | bc)
  local per; per=$(echo "scale=1; $cpu * 1000000 / $messages" | bc)
  printf '| %s | %s | %s s | %s | %s µs | %s MiB |\n' "$label" "$connections" "$wall" "$rate" "$per" "$((rss / 1024))"
}

echo "| client | connections | wall | msg/s | CPU per message | peak RSS |"
echo "|---|---|---|---|---|---|"
for connections in ${CONNECTIONS:-1 4 8}; do
  db="$work/mailroom-$connections.db"
  "$bin/mailroom" --db "$db" import "$work/list.csv" > /dev/null
  "$bin/mailroom" --db "$db" message 1 --subject 'Hello {{ name }}' --text "$work/body.txt" > /dev/null
  MAILROOM_SECRETS=file "$bin/mailroom" --db "$db" smtp add sink --host 127.0.0.1 --port "$port" \
    --security none --auth none --from news@example.com --connections "$connections" \
    --per-connection 1000000 > /dev/null
  MAILROOM_SECRETS=file measure "Mailroom (CLI, SQLite state)" "$bin/mailroom" --db "$db" send 1 --smtp sink
  grep -q "completed: $messages sent" "$work/out" || { echo "Mailroom did not send everything:" >&2; cat "$work/out" >&2; exit 1; }
  [ "${CLIENTS:-all}" = mailroom ] && continue
  measure "Nodemailer $(node -p "require('./bench/node_modules/nodemailer/package.json').version") pooled" \
    node bench/nodemailer-send.mjs "$port" "$connections" "$messages"
  grep -q "\"sent\":$messages" "$work/out" || { echo "Nodemailer did not send everything:" >&2; cat "$work/out" >&2; exit 1; }
done
