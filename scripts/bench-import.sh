#!/usr/bin/env bash
# Import benchmark: generates a CSV of N rows (default 1,000,000; 5 columns,
# a few percent invalid and duplicate addresses), imports it with the release
# CLI into a fresh database, and prints wall time, CPU time and peak RSS.
# `FORMAT=xlsx scripts/bench-import.sh 100000` has LibreOffice (soffice)
# convert the list to XLSX first and imports that instead.
# Figures go in docs/BENCHMARKS.md with the machine they were taken on.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rows=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p mailroom-cli
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
echo "rows: $rows ($size, ${FORMAT:-csv})"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KiB" \
  "$CARGO_TARGET_DIR/release/mailroom" --db "$work/bench.db" --json import "$list" \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print("valid", r["valid"], "invalid", len(r["invalid"]), "duplicates", len(r["duplicates"]))'
