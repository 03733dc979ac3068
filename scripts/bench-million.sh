#!/usr/bin/env bash
# A 1,000,000-recipient campaign through the release CLI into the discarding
# sink (tests/src/bin/smtp-sink.rs) at 8 connections: the import's and the
# send's wall time and peak RSS. Usage: scripts/bench-million.sh [RECIPIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
recipients=${1:-1000000}
port=${SINK_PORT:-2628}
work=$(mktemp -d)
trap 'kill "$sink" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p mailroom-cli -p mailroom-e2e --bin mailroom --bin smtp-sink
bin="$CARGO_TARGET_DIR/release"
"$bin/smtp-sink" "$port" > "$work/sink.out" &
sink=$!
sleep 0.5

python3 - "$work/list.csv" "$recipients" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name\n")
    for i in range(int(sys.argv[2])):
        f.write(f"r{i}@example.org,Person {i}\n")
EOF
printf 'Dear {{ name }},\n\nA short note for a long list.\n' > "$work/body.txt"
db="$work/million.db"
export MAILROOM_SECRETS=file

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
  read -r wall user sys rss < "$work/time"
  printf '| %s | %s s | %s s | %s MiB |\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))"
}

echo "| step | wall | CPU | peak RSS |"
echo "|---|---|---|---|"
measure "import $recipients rows" "$bin/mailroom" --db "$db" import "$work/list.csv"
"$bin/mailroom" --db "$db" message 1 --subject 'Hello {{ name }}' --text "$work/body.txt" > /dev/null
"$bin/mailroom" --db "$db" smtp add sink --host 127.0.0.1 --port "$port" --security none --auth none \
  --from news@example.com --connections 8 --per-connection 1000000 > /dev/null
measure "send to $recipients (8 connections)" "$bin/mailroom" --db "$db" send 1 --smtp sink
grep -q "completed: $recipients sent" "$work/out" || { echo "not everything was sent:" >&2; cat "$work/out" >&2; exit 1; }
