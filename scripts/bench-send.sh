#!/usr/bin/env bash
# Sending throughput, side by side in one run, against a server nobody here
# wrote: Postfix's `smtp-sink` (C; accepts and discards; offers PIPELINING).
# Three clients send the same ~2 KB message:
#   - Mailroom: the release CLI with its durable defaults (every recipient's
#     state in SQLite, synchronous=FULL, one commit before each content);
#   - Nodemailer's pooled transport (bench/nodemailer-send.mjs), a release
#     that turns Nagle off (10.1.0 and later; see docs/BENCHMARKS.md for what
#     the 6.x the old figures used cost on every message);
#   - Postfix's `smtp-source`, the reference client (C, no state, no
#     pipelining).
# For each connection count the three run back to back (interleaved, so the
# machine's load hits all alike); then the same clients again through a relay
# that adds a round trip (tests/src/bin/latency-proxy.rs; this machine has no
# `tc netem`), with the limit that round trip implies (connections ÷ RTT).
# Wall time, CPU (user + sys of the client process) and peak RSS come from
# /usr/bin/time; the sink's own counter checks every message arrived.
# The machine's state (nproc, load before and after) is printed with the
# figures: on a shared machine the ratios are what counts.
#
# Usage: scripts/bench-send.sh [MESSAGES]          (default 20000)
#   CONNECTIONS="1 4 8"      pool sizes on the direct path
#   CLIENTS="mailroom nodemailer smtp-source"
#   ROUNDS=1                 repeat the whole interleaved set; tables show medians
#   RTT_MS=20                the relay's round trip; 0 skips the relay part
#   RTT_MESSAGES=500         messages per client and per connection through the
#                            relay (500 at 1 connection, 4,000 at 8): every run
#                            lasts about as long, so a process's start and its
#                            connections' greetings weigh alike at every size
#   RTT_CONNECTIONS="1 8"    pool sizes through the relay
#   NODEMAILER=10.6.1        the Nodemailer release (npm), installed into bench/
# Prints Markdown. The engine's own sink (tests/src/bin/smtp-sink.rs) stays
# for the fault tests; it is not used here (see docs/BENCHMARKS.md for why).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
messages=${1:-20000}
connections_list=${CONNECTIONS:-1 4 8}
clients=${CLIENTS:-mailroom nodemailer smtp-source}
rounds=${ROUNDS:-1}
rtt_ms=${RTT_MS:-20}
rtt_messages=${RTT_MESSAGES:-500}
rtt_connections_list=${RTT_CONNECTIONS:-1 8}
port=${SINK_PORT:-2625}
relay_port=$((port + 1))

# Debian's packages for the two Postfix tools and the sqlite3 shell, installed
# the way scripts/setup.sh installs its own.
install_debian() { # package...
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
find_postfix_tool() { # name
  local dir
  for dir in "" /usr/sbin /usr/lib/postfix/sbin; do
    if [ -z "$dir" ]; then command -v "$1" && return; elif [ -x "$dir/$1" ]; then echo "$dir/$1" && return; fi
  done
  return 1
}
if ! find_postfix_tool smtp-sink >/dev/null || ! find_postfix_tool smtp-source >/dev/null; then
  echo "Installing Debian's postfix for smtp-sink and smtp-source" >&2
  install_debian postfix
fi
smtp_sink=$(find_postfix_tool smtp-sink)
smtp_source=$(find_postfix_tool smtp-source)

work=$(mktemp -d)
sink= relay=
cleanup() {
  [ -n "$relay" ] && kill "$relay" 2>/dev/null
  [ -n "$sink" ] && kill "$sink" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p mailroom-cli -p mailroom-e2e --bin mailroom --bin latency-proxy
bin="$CARGO_TARGET_DIR/release"
nodemailer_wanted=${NODEMAILER:-10.6.1}
nodemailer_version() { node -p "require('./bench/node_modules/nodemailer/package.json').version" 2>/dev/null || true; }
if [ "$(nodemailer_version)" != "$nodemailer_wanted" ]; then
  (cd bench && npm install --no-save --no-audit --no-fund "nodemailer@$nodemailer_wanted" >/dev/null)
fi
nodemailer_version=$(nodemailer_version)

# smtp-sink must drop root; `nobody` exists everywhere. -c keeps a running
# count of messages received ("mesg=N"), read before and after each client.
sink_user=()
[ "$(id -u)" -ne 0 ] || sink_user=(-u nobody)
"$smtp_sink" "${sink_user[@]}" -c "127.0.0.1:$port" 1024 > "$work/sink.out" 2>&1 &
sink=$!
if [ "$rtt_ms" != 0 ]; then
  "$bin/latency-proxy" "$relay_port" "$port" $((rtt_ms / 2)) &
  relay=$!
fi
sleep 0.5
sink_count() { tail -c 200 "$work/sink.out" | tr '\r' '\n' | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 | sed 's/^$/0/'; }

# The message: a 1.9 KB body (34 sentences) plus headers, about 2 KB in all.
# Mailroom and Nodemailer build the headers themselves; smtp-source gets the
# same body under headers of the same kind, from a file.
lorem=$(for _ in $(seq 34); do printf 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '; done)
printf 'Dear {{ name }},\n\n%s\n' "$lorem" > "$work/body.txt"
{
  printf 'From: "News" <news@example.com>\nTo: r@example.org\nSubject: Hello Person 1\n'
  printf 'Date: Tue, 01 Dec 2026 12:00:00 +0000\nMessage-ID: <bench.1@example.com>\n'
  printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n'
  printf 'Dear Person 1,\n\n%s\n' "$lorem"
} > "$work/message.eml"
list_for() { # count → path of a list of that many recipients
  local file="$work/list-$1.csv"
  [ -f "$file" ] || { echo "email,name"; for i in $(seq 0 $(($1 - 1))); do echo "r$i@example.org,Person $i"; done; } > "$file"
  echo "$file"
}

# One client's run: sets up what it needs (not timed), times the send, checks
# that the sink received every message, appends a line to results.tsv.
run_client() { # phase client connections count target_port
  local phase=$1 client=$2 connections=$3 count=$4 target=$5 before after
  local cmd=()
  case $client in
    mailroom)
      local db="$work/mailroom-$phase-$connections-$RANDOM.db"
      "$bin/mailroom" --db "$db" import "$(list_for "$count")" > /dev/null
      "$bin/mailroom" --db "$db" message 1 --subject 'Hello {{ name }}' --text "$work/body.txt" > /dev/null
      MAILROOM_SECRETS=file "$bin/mailroom" --db "$db" smtp add sink --host 127.0.0.1 --port "$target" \
        --security none --auth none --from news@example.com --connections "$connections" \
        --per-connection 1000000 > /dev/null
      cmd=(env MAILROOM_SECRETS=file "$bin/mailroom" --db "$db" send 1 --smtp sink) ;;
    nodemailer)
      cmd=(node bench/nodemailer-send.mjs "$target" "$connections" "$count") ;;
    smtp-source)
      cmd=("$smtp_source" -d -s "$connections" -m "$count" -F "$work/message.eml"
           -f news@example.com -t r@example.org "127.0.0.1:$target") ;;
  esac
  before=$(sink_count)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "${cmd[@]}" > "$work/out" 2>&1 || true
  # The sink prints its counter as each message ends; give a loaded machine
  # up to 5 s to print the last one.
  for _ in $(seq 50); do
    after=$(sink_count)
    [ $((after - before)) -lt "$count" ] || break
    sleep 0.1
  done
  local wall user sys rss
  read -r wall user sys rss < <(tail -1 "$work/time")
  local received=$((after - before))
  if [ "$received" -ne "$count" ]; then
    echo "$client ($phase, $connections connections): the sink received $received of $count messages:" >&2
    cat "$work/out" >&2
    exit 1
  fi
  if [ "$client" = mailroom ] && ! grep -q "completed: $count sent" "$work/out"; then
    echo "Mailroom did not report every message sent:" >&2; cat "$work/out" >&2; exit 1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$connections" "$client" "$count" "$wall" "$user" "$sys" "$rss" >> "$work/results.tsv"
  printf '  %-6s %-11s %s conn: %6.2f s wall, %s s user, %s s sys, %s KiB\n' "$phase" "$client" "$connections" "$wall" "$user" "$sys" "$rss" >&2
}

# The relay's real round trip: NOOP answered by the sink through it, timed.
measure_rtt() {
  python3 - "$relay_port" <<'PY'
import socket, statistics, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
f.readline()
times = []
for _ in range(30):
    start = time.perf_counter()
    s.sendall(b"NOOP\r\n")
    f.readline()
    times.append((time.perf_counter() - start) * 1000)
s.sendall(b"QUIT\r\n")
print(f"{statistics.median(times):.2f}")
PY
}

# What one commit's sync costs on this disk right now: Mailroom's rate on one
# connection is bounded by it (each message waits for its claim's
# fdatasync), and other work on the machine can make it 30 times slower.
# Three 4 KB pages (what a claim's commit writes to the WAL) then fdatasync,
# 200 times, in the folder the databases live in.
sync_probe() {
  python3 - "$work" <<'PY'
import os, statistics, sys, tempfile, time
fd, path = tempfile.mkstemp(dir=sys.argv[1])
os.write(fd, b"\0" * (4 << 20))
os.fsync(fd)
page, times = b"x" * 4120, []
for i in range(200):
    for j in range(3):
        os.pwrite(fd, page, (i * 3 + j) * 4120 % (4 << 20))
    start = time.perf_counter()
    os.fdatasync(fd)
    times.append((time.perf_counter() - start) * 1e6)
os.close(fd)
os.unlink(path)
times.sort()
print(f"median {statistics.median(times):,.0f} µs, p90 {times[180]:,.0f} µs")
PY
}
machine_state() {
  echo "- nproc: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "- uptime $1: $(uptime)"
  echo "- fdatasync of 3 pages $1: $(sync_probe)"
}

echo "## bench-send.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
echo
echo "Server: Postfix smtp-sink ($(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?')); clients: Mailroom (release CLI), Nodemailer $nodemailer_version pooled, Postfix smtp-source."
echo "$messages messages per client on the direct path; $rtt_messages per connection through the ${rtt_ms} ms relay; $rounds round(s)."
echo
machine_state before
for round in $(seq "$rounds"); do
  for connections in $connections_list; do
    for client in $clients; do run_client direct "$client" "$connections" "$messages" "$port"; done
  done
  if [ "$rtt_ms" != 0 ]; then
    for connections in $rtt_connections_list; do
      for client in $clients; do run_client rtt "$client" "$connections" $((rtt_messages * connections)) "$relay_port"; done
    done
  fi
done
rtt_measured=
[ "$rtt_ms" = 0 ] || rtt_measured=$(measure_rtt)
machine_state after
echo

python3 - "$work/results.tsv" "$nodemailer_version" "$rtt_ms" "${rtt_measured:-0}" <<'PY'
import collections, statistics, sys
path, nodemailer_version, rtt_ms, rtt_measured = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
names = {"mailroom": "Mailroom (CLI, SQLite state)", "nodemailer": f"Nodemailer {nodemailer_version} pooled",
         "smtp-source": "Postfix smtp-source"}
runs = collections.defaultdict(list)
for line in open(path):
    phase, conns, client, count, wall, user, sys_, rss = line.split("\t")
    runs[(phase, int(conns), client)].append(
        (int(count) / float(wall), (float(user) + float(sys_)) * 1e6 / int(count), int(rss) / 1024, float(wall)))
def median(key, i):
    return statistics.median(r[i] for r in runs[key])
def ratio(a, b):
    return f"{a / b:.2f}×" if b else "–"
for phase in ("direct", "rtt"):
    keys = sorted({k for k in runs if k[0] == phase}, key=lambda k: (k[1], list(names).index(k[2])))
    if not keys:
        continue
    if phase == "direct":
        print("### Direct to smtp-sink (loopback)\n")
        print("| connections | client | wall | msg/s | CPU per message | peak RSS | rate vs Nodemailer | rate vs smtp-source | CPU vs Nodemailer | CPU vs smtp-source |")
        print("|---|---|---|---|---|---|---|---|---|---|")
    else:
        print(f"\n### Through the relay: {rtt_ms:.0f} ms round trip (measured through the relay: {rtt_measured:.2f} ms, median of 30 NOOPs)\n")
        print("| connections | client | wall | msg/s | limit (connections ÷ RTT) | of the limit | of the limit at the measured RTT | rate vs Nodemailer | rate vs smtp-source |")
        print("|---|---|---|---|---|---|---|---|---|")
    for key in keys:
        _, conns, client = key
        rate, cpu, rss, wall = (median(key, i) for i in range(4))
        peers = {c: (median((phase, conns, c), 0), median((phase, conns, c), 1))
                 for c in names if (phase, conns, c) in runs}
        nm, ss = peers.get("nodemailer", (0, 0)), peers.get("smtp-source", (0, 0))
        if phase == "direct":
            print(f"| {conns} | {names[client]} | {wall:.2f} s | {rate:,.0f} | {cpu:,.1f} µs | {rss:.0f} MiB | "
                  f"{ratio(rate, nm[0])} | {ratio(rate, ss[0])} | {ratio(cpu, nm[1])} | {ratio(cpu, ss[1])} |")
        else:
            limit = conns * 1000 / rtt_ms
            measured_limit = conns * 1000 / rtt_measured if rtt_measured else 0
            print(f"| {conns} | {names[client]} | {wall:.2f} s | {rate:,.1f} | {limit:,.0f} msg/s | {rate / limit:.1%} | "
                  f"{(rate / measured_limit) if measured_limit else 0:.1%} | {ratio(rate, nm[0])} | {ratio(rate, ss[0])} |")
# SPEC's sending targets, from this run's figures (a target needs its peer in
# the same run; those whose runs were skipped are left out).
def have(*keys):
    return all(k in runs for k in keys)
verdicts = []
def verdict(target, measured, met):
    verdicts.append(f"| {target} | {measured} | {'met' if met else '**not met**'} |")
d8, n8, s8 = ("direct", 8, "mailroom"), ("direct", 8, "nodemailer"), ("direct", 8, "smtp-source")
if have(d8):
    rate, cpu = median(d8, 0), median(d8, 1)
    peer = f" (smtp-source {median(s8, 0):,.0f})" if have(s8) else ""
    verdict("8 connections: ≥ 20,000 msg/s", f"{rate:,.0f} msg/s{peer}", rate >= 20000)
    if have(n8):
        verdict("8 connections: ≥ 5× Nodemailer", f"{rate / median(n8, 0):.2f}× ({rate:,.0f} against {median(n8, 0):,.0f} msg/s)",
                rate >= 5 * median(n8, 0))
    peer = f" (Nodemailer {median(n8, 1):,.1f} µs, smtp-source {median(s8, 1):,.1f} µs)" if have(n8, s8) else ""
    verdict("8 connections: ≤ 50 µs CPU per message", f"{cpu:,.1f} µs{peer}", cpu <= 50)
d1, n1 = ("direct", 1, "mailroom"), ("direct", 1, "nodemailer")
if have(d1, n1):
    rate, peer = median(d1, 0), median(n1, 0)
    verdict("1 connection: at least Nodemailer's rate", f"{rate / peer:.2f}× ({rate:,.0f} against {peer:,.0f} msg/s)", rate >= peer)
for conns in sorted({k[1] for k in runs if k[0] == "rtt"}):
    key = ("rtt", conns, "mailroom")
    if have(key):
        rate, limit = median(key, 0), conns * 1000 / rtt_ms
        nm = ("rtt", conns, "nodemailer")
        peer = f"; Nodemailer {median(nm, 0) / limit:.1%}" if have(nm) else ""
        verdict(f"{rtt_ms:.0f} ms RTT, {conns} connection{'s' if conns > 1 else ''}: ≥ 95 % of {limit:,.0f} msg/s",
                f"{rate:,.1f} msg/s, {rate / limit:.1%} of the limit ({rate * rtt_measured / (conns * 1000):.1%} at the measured {rtt_measured:.2f} ms){peer}",
                rate >= 0.95 * limit)
if verdicts:
    print("\n### The sending targets, in this run\n")
    print("| target (SPEC) | measured | verdict |")
    print("|---|---|---|")
    print("\n".join(verdicts))
if any(len(v) > 1 for v in runs.values()):
    print("\nEach figure is the median of the rounds; every run:\n")
    for key, values in sorted(runs.items()):
        print(f"- {key[0]}, {key[1]} conn, {key[2]}: " + "; ".join(f"{r:,.0f} msg/s {c:.0f} µs" for r, c, _, _ in values))
PY
