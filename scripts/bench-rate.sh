#!/usr/bin/env bash
# Rate accuracy on the wall clock: a campaign on an account limited to RATE
# messages a second (default 12) for about SECONDS (default 60), through the
# release CLI into the built-in sandbox, which records when each message
# arrived. Prints the achieved rate over the whole run and the busiest 1 s
# window, as a Markdown table row.
# Usage: scripts/bench-rate.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rate=${1:-12}
seconds=${2:-60}
messages=$((rate * seconds + 1))
port=${SANDBOX_PORT:-2727}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p mailroom-cli --bin mailroom
bin="$CARGO_TARGET_DIR/release/mailroom"
db="$work/rate.db"
{ echo "email,name"; for i in $(seq 0 $((messages - 1))); do echo "r$i@example.org,Person $i"; done; } > "$work/list.csv"
printf 'Dear {{ name }},\nthe rate test.\n' > "$work/body.txt"
"$bin" --db "$db" import "$work/list.csv" > /dev/null
"$bin" --db "$db" message 1 --subject 'Hello {{ name }}' --text "$work/body.txt" > /dev/null
MAILROOM_SECRETS=file "$bin" --db "$db" smtp add paced --preset sandbox --port "$port" --rate "$rate" > /dev/null
MAILROOM_SECRETS=file "$bin" --db "$db" send 1 --smtp paced > "$work/send.out" 2>&1
grep -q "completed: $messages sent" "$work/send.out" || { cat "$work/send.out" >&2; exit 1; }
"$bin" --db "$db" --json captured > "$work/captured.json"

python3 - "$work/captured.json" "$rate" "$messages" <<'EOF'
import json, sys
arrivals = sorted(m["received_at"] for m in json.load(open(sys.argv[1])))
rate, expected = float(sys.argv[2]), int(sys.argv[3])
assert len(arrivals) == expected, f"captured {len(arrivals)} of {expected}"
span = (arrivals[-1] - arrivals[0]) / 1000
achieved = (len(arrivals) - 1) / span
busiest, j = 0, 0
for i, t in enumerate(arrivals):  # the most arrivals in any 1 s window
    while arrivals[j] <= t - 1000:
        j += 1
    busiest = max(busiest, i - j + 1)
error = (achieved - rate) / rate * 100
print(f"| {rate:g}/s | {len(arrivals)} | {span:.2f} s | {achieved:.3f}/s | {error:+.2f} % | {busiest} |")
EOF
