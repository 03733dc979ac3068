#!/usr/bin/env bash
# The Results table on a 1,000,000-recipient campaign (issue 18): a finished
# campaign made by the release CLI's import, its outcomes written with SQL
# (95% sent, 2.5% failed "550 5.1.1 user unknown", 2.5% failed "554 5.7.1"),
# then the engine's queries timed (crates/engine/examples/results-paging.rs),
# the CLI's first and filtered page timed whole (process start included), and
# the same SQL in the sqlite3 shell, the peer. Usage: scripts/bench-results.sh [RECIPIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
recipients=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p mailroom-cli --bin mailroom -p mailroom-engine --example results-paging
bin="$CARGO_TARGET_DIR/release"
db="$work/million.db"

python3 - "$work/list.csv" "$recipients" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name\n")
    for i in range(int(sys.argv[2])):
        f.write(f"r{i}@example.org,Person {i}\n")
PY
"$bin/mailroom" --db "$db" import "$work/list.csv" --name million > /dev/null
unknown='{"kind":"smtp","failure":{"stage":"rcpt","problem":"rejected","code":550,"enhanced_code":"5.1.1","text":"<x>: Recipient address rejected: User unknown","after_content":false},"unanswered_before":false}'
refused='{"kind":"smtp","failure":{"stage":"rcpt","problem":"rejected","code":554,"enhanced_code":"5.7.1","text":"Message refused by policy","after_content":false},"unanswered_before":false}'
sqlite3 "$db" <<SQL
UPDATE campaigns SET status = 'completed';
UPDATE recipients SET status = 'sent', attempts = 1, sent_at = 1, sent_reply = '250 2.0.0 Ok: queued as 4Bx9' WHERE id % 40 NOT IN (0, 20);
UPDATE recipients SET status = 'failed', attempts = 1, reason = '$unknown' WHERE id % 40 = 0;
UPDATE recipients SET status = 'failed', attempts = 1, reason = '$refused' WHERE id % 40 = 20;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
echo "database: $(du -h "$db" | cut -f1), $recipients recipients"
echo
echo "== engine (median of 5)"
"$bin/examples/results-paging" "$db" 1
echo
echo "== mailroom CLI, whole process (median of 5)"
cli() { # label, args...
  local label=$1; shift
  local times=()
  for _ in 1 2 3 4 5; do
    local start end
    start=$(date +%s%N)
    "$bin/mailroom" --db "$db" --json "$@" > /dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 100000 )))
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  printf '%-48s %6d.%d ms\n' "$label" $((median / 10)) $((median % 10))
}
cli "recipients --limit 100" recipients 1 --limit 100
cli "recipients --state failed --reason no_such_user" recipients 1 --state failed --reason no_such_user --limit 100
echo
echo "== sqlite3 shell, the same SQL (.timer, real; median of 5)"
peer() { # label, sql
  local label=$1 sql=$2
  local times
  times=$(for _ in 1 2 3 4 5; do
    printf '.timer on\n%s\n' "$sql" | sqlite3 "$db" | grep '^Run Time' | sed 's/.*real \([0-9.]*\).*/\1/'
  done | sort -n | sed -n 3p)
  printf '%-48s %9.1f ms\n' "$label" "$(echo "$times * 1000" | bc -l)"
}
cols='id, row_number, email, status, reason, sent_reply, attempts, unanswered, message_version, fields, bounce'
peer "first page (100 rows)" "SELECT $cols FROM recipients WHERE campaign_id = 1 ORDER BY id LIMIT 101;"
last=$(sqlite3 "$db" "SELECT id FROM recipients WHERE campaign_id = 1 ORDER BY id LIMIT 1 OFFSET 999800;")
peer "page at row 999,800, by cursor" "SELECT $cols FROM recipients WHERE campaign_id = 1 AND id > $last ORDER BY id LIMIT 101;"
peer "page at row 999,800, by OFFSET" "SELECT $cols FROM recipients WHERE campaign_id = 1 ORDER BY id LIMIT 101 OFFSET 999800;"
peer "failed, first page" "SELECT $cols FROM recipients WHERE campaign_id = 1 AND status = 'failed' ORDER BY id LIMIT 101;"
peer "failed + no such user, first page" "SELECT $cols FROM recipients WHERE campaign_id = 1 AND status = 'failed' AND reason IS NOT NULL AND reason_class = 'no_such_user' ORDER BY id LIMIT 101;"
peer "search \"person 999999\"" "SELECT $cols FROM recipients WHERE campaign_id = 1 AND (email LIKE '%Person 999999%' OR fields LIKE '%Person 999999%') ORDER BY id LIMIT 101;"
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
