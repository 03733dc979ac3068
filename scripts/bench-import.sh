#!/usr/bin/env bash
# Import benchmark: generates a CSV of N rows (default 1,000,000; 5 columns,
# a few percent invalid and duplicate addresses), imports it with the release
# CLI into a fresh database, and prints wall time, CPU time and peak RSS.
# In the same run (CSV only; SQLITE=0 skips it) the sqlite3 shell (Debian's
# package, installed if missing) imports the same file with its own `.import`
# twice: into a temporary table and from there into Mailroom's own
# `recipients` table (its schema, indexes and pragmas taken from the database
# Mailroom just wrote: WAL, synchronous=FULL, foreign keys on), which is the
# like-for-like figure; and into a plain five-column table with no index, the
# floor. It prints the ratios. Mailroom also checks every address, drops
# duplicates and encodes each row's values as JSON; the first SQLite run does
# the JSON too (json_array), neither SQLite run checks addresses.
# ROUNDS=3 (the default) repeats the Mailroom and SQLite imports into
# Mailroom's table back to back, so a burst of load hits both alike, and
# prints each round's ratio and their median.
# `FORMAT=xlsx scripts/bench-import.sh 100000` has LibreOffice (soffice)
# convert the list to XLSX first and imports that instead.
# Figures go in docs/BENCHMARKS.md with the machine they were taken on.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rows=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Built with the same packages as bench-send.sh and bench-million.sh: cargo
# unifies features over the packages named, so `-p mailroom-cli` alone is a
# different build and would relink the fat-LTO binary every time the scripts
# alternate.
cargo build --release -q -p mailroom-cli -p mailroom-e2e --bin mailroom
python3 - "$rows" "$work/list.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("first_name,last_name,email,city,customer_id\n")
    for i in range(rows):
        if i % 50 == 7:
            email = f"broken-{i}.example.com"          # invalid: no @
        elif i % 40 == 3 and i > 0:
            email = f"user{i - 1}@example.com".upper()  # duplicate of the row before
        else:
            email = f"user{i}@example.com"
        f.write(f"Name{i},Surname{i % 997},{email},City {i % 113},{i:08d}\n")
PY
list="$work/list.csv"
if [ "${FORMAT:-csv}" = xlsx ]; then
  soffice --headless -env:UserInstallation=file://"$work"/profile \
    --convert-to 'xlsx:Calc MS Excel 2007 XML' --outdir "$work" "$list" >/dev/null 2>&1
  list="$work/list.xlsx"
fi
size=$(du -h "$list" | cut -f1)
echo "rows: $rows ($size, ${FORMAT:-csv}); $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
echo "nproc: $(nproc); before: $(uptime)"
timed() { # label, command... (prints the label, wall, CPU and peak RSS; keeps the wall time)
  local label=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > "$work/out"
  read -r wall user sys rss < "$work/time"
  printf '%-44s wall %6.2f s, user %6.2f s, sys %5.2f s, peak RSS %4d MiB\n' "$label" "$wall" "$user" "$sys" $((rss / 1024))
  last_wall=$wall
}
rounds=${ROUNDS:-3}
sqlite_round() { # round → imports the list with the sqlite3 shell into an empty copy of Mailroom's table
  sqlite3 "$work/bench-1.db" ".backup '$work/sqlite-$1.db'"
  sqlite3 "$work/sqlite-$1.db" "DELETE FROM recipients; VACUUM;"
  timed "SQLite $(sqlite3 --version | cut -d' ' -f1) .import, Mailroom's table" sqlite3 -bail "$work/sqlite-$1.db" ".read '$work/import.sql'"
  echo "  rows in recipients: $(sqlite3 "$work/sqlite-$1.db" 'SELECT count(*) FROM recipients') ($(sqlite3 "$work/sqlite-$1.db" 'PRAGMA journal_mode') mode)"
  rm -f "$work/sqlite-$1.db"*
}
compare=0
if [ "${FORMAT:-csv}" = csv ] && [ "${SQLITE:-1}" != 0 ]; then
  compare=1
  if ! command -v sqlite3 >/dev/null; then
    echo "Installing Debian's sqlite3 shell" >&2
    sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends sqlite3 >/dev/null
  fi
  cat > "$work/import.sql" <<SQL
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA temp_store = MEMORY;
CREATE TEMP TABLE staging (first_name TEXT, last_name TEXT, email TEXT, city TEXT, customer_id TEXT);
.import --csv --skip 1 --schema temp '$list' staging
BEGIN;
INSERT INTO recipients (campaign_id, row_number, email, fields, status, created_at, updated_at)
  SELECT (SELECT max(id) FROM campaigns), rowid + 1, trim(email),
         json_array(first_name, last_name, email, city, customer_id), 'pending', unixepoch(), unixepoch()
  FROM staging;
COMMIT;
SQL
fi
ratios=()
for round in $(seq "$rounds"); do
  [ "$rounds" = 1 ] || echo "round $round:"
  timed "Mailroom (release CLI)" "$CARGO_TARGET_DIR/release/mailroom" --db "$work/bench-$round.db" --json import "$list"
  mailroom_wall=$last_wall
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  valid", r["valid"], "invalid", len(r["invalid"]), "duplicates", len(r["duplicates"]))' "$work/out"
  command -v sqlite3 >/dev/null && echo "  rows in recipients: $(sqlite3 "$work/bench-$round.db" 'SELECT count(*) FROM recipients')"
  if [ "$compare" = 1 ]; then
    sqlite_round "$round"
    ratios+=("$(awk -v a="$mailroom_wall" -v b="$last_wall" 'BEGIN { printf "%.2f", a / b }')")
    echo "  ratio, Mailroom's wall to SQLite's into Mailroom's table: ${ratios[-1]}×"
  fi
  [ "$round" = 1 ] || rm -f "$work/bench-$round.db"*
done
if [ "$compare" = 1 ]; then
  cat > "$work/plain.sql" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE list (first_name TEXT, last_name TEXT, email TEXT, city TEXT, customer_id TEXT);
.import --csv --skip 1 '$list' list
SQL
  timed "SQLite .import, plain table, no index" sqlite3 -bail "$work/plain.db" ".read '$work/plain.sql'"
  echo "ratio, Mailroom's wall to SQLite's into a plain table (last round): $(awk -v a="$mailroom_wall" -v b="$last_wall" 'BEGIN { printf "%.2f", a / b }')×"
  median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { print r[int((NR + 1) / 2)] }')
  verdict="**not met**"; awk -v m="$median" 'BEGIN { exit !(m <= 1.5) }' && verdict="met"
  echo "import target (≤ 1.5× SQLite's .import into the same table): median ${median}× of ${#ratios[@]} rounds (${ratios[*]}): $verdict"
fi
echo "after: $(uptime)"
