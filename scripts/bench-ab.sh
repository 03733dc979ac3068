#!/usr/bin/env bash
# Before and after in one run: several builds of the `mailroom` CLI send the
# same campaign to Postfix's `smtp-sink`, interleaved round by round (so a
# burst of load on the machine hits every build alike), and the medians are
# printed side by side. For measuring one change at a time, e.g. the release
# CLI before and after it, or the same code built with other profile
# settings (`cargo build --profile profiling`, another CARGO_TARGET_DIR).
#
# Usage: scripts/bench-ab.sh BINARY...
#   MESSAGES=20000   recipients per send
#   CONNECTIONS=8    the account's connections
#   ROUNDS=5         sends per binary
#   DIR=$TMPDIR      where the databases go (/dev/shm: a sync costs nothing,
#                    which leaves the engine's own CPU)
# Only what `mailroom send` does is timed (/usr/bin/time: wall, user + sys,
# peak RSS); importing the list, writing the message and adding the account
# are not. Every send must report every recipient sent.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
messages=${MESSAGES:-20000}
connections=${CONNECTIONS:-8}
rounds=${ROUNDS:-5}
port=${SINK_PORT:-2725}
smtp_sink=$(command -v smtp-sink || ls /usr/sbin/smtp-sink 2>/dev/null || true)
[ -n "$smtp_sink" ] || { echo "Postfix's smtp-sink is missing: scripts/bench-send.sh installs it" >&2; exit 1; }
work=$(mktemp -d "${DIR:-${TMPDIR:-/tmp}}/bench-ab.XXXXXX")
sink=
cleanup() { [ -z "$sink" ] || kill "$sink" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
sink_user=()
[ "$(id -u)" -ne 0 ] || sink_user=(-u nobody)
"$smtp_sink" "${sink_user[@]}" "127.0.0.1:$port" 1024 > /dev/null 2>&1 &
sink=$!
sleep 0.5

lorem=$(for _ in $(seq 34); do printf 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '; done)
printf 'Dear {{ name }},\n\n%s\n' "$lorem" > "$work/body.txt"
{ echo "email,name"; for i in $(seq 0 $((messages - 1))); do echo "r$i@example.org,Person $i"; done; } > "$work/list.csv"

echo "bench-ab.sh: $(date -u '+%Y-%m-%d %H:%M UTC'); $messages messages, $connections connections, $rounds rounds, databases in $(dirname "$work")"
echo "before: $(uptime)"
for round in $(seq "$rounds"); do
  for binary in "$@"; do
    db="$work/ab.db"
    rm -rf "$db"*
    "$binary" --db "$db" import "$work/list.csv" > /dev/null
    "$binary" --db "$db" message 1 --subject 'Hello {{ name }}' --text "$work/body.txt" > /dev/null
    MAILROOM_SECRETS=file "$binary" --db "$db" smtp add sink --host 127.0.0.1 --port "$port" \
      --security none --auth none --from news@example.com --connections "$connections" \
      --per-connection 1000000 > /dev/null
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" env MAILROOM_SECRETS=file "$binary" --db "$db" send 1 --smtp sink > "$work/out" 2>&1
    grep -q "completed: $messages sent" "$work/out" || { echo "$binary did not send every message:" >&2; cat "$work/out" >&2; exit 1; }
    printf '%s\t%s\n' "$binary" "$(cat "$work/time")" >> "$work/results.tsv"
  done
done
echo "after: $(uptime)"
python3 - "$work/results.tsv" "$messages" <<'PY'
import collections, statistics, sys
runs, count = collections.defaultdict(list), int(sys.argv[2])
for line in open(sys.argv[1]):
    binary, times = line.rstrip("\n").split("\t")
    wall, user, sys_, rss = times.split()
    runs[binary].append((float(wall), float(user) + float(sys_), int(rss)))
print("\n| binary | msg/s | CPU per message | peak RSS | every round (msg/s, µs) |")
print("|---|---|---|---|---|")
for binary, values in runs.items():
    wall = statistics.median(v[0] for v in values)
    cpu = statistics.median(v[1] for v in values)
    rss = statistics.median(v[2] for v in values)
    each = "; ".join(f"{count / w:,.0f}, {c * 1e6 / count:.0f}" for w, c, _ in values)
    print(f"| {binary} | {count / wall:,.0f} | {cpu * 1e6 / count:.1f} µs | {rss / 1024:.0f} MiB | {each} |")
PY
