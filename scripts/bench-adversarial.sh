#!/usr/bin/env bash
# Peak RSS and outcome of importing the hostile files of issue 15
# (bench/adversarial.py) with a given CLI, each under an address-space cap so
# that a runaway allocation fails instead of taking the machine.
#   scripts/bench-adversarial.sh [CLI] [CAP]   (defaults: the debug CLI, 6G)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cli=${1:-$CARGO_TARGET_DIR/debug/mailroom}
cap=${2:-6G}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 bench/adversarial.py "$dir/files"
printf '%-14s %8s %10s %8s  %s\n' file size "peak RSS" wall outcome
for file in "$dir"/files/*; do
  for mode in import preview; do
    db="$dir/$mode.db"
    rm -f "$db"*
    args=(--db "$db" import "$file")
    [ "$mode" = preview ] && args+=(--preview)
    timeout 300 prlimit --as="$(numfmt --from=iec "$cap")" -- \
      /usr/bin/time -f '%M %e' -o "$dir/time" "$cli" "${args[@]}" >"$dir/out" 2>"$dir/err"
    rc=$?
    rss=$(tail -n1 "$dir/time" | cut -d" " -f1); wall=$(tail -n1 "$dir/time" | cut -d" " -f2); [[ "$rss" =~ ^[0-9]+$ ]] || rss=0
    outcome=$( (grep -m1 -E 'mailroom:|memory allocation|panicked' "$dir/err" || head -n1 "$dir/out") | cut -c1-110)
    printf '%-14s %8s %7d MiB %7ss  %s exit %s: %s\n' "$(basename "$file")" \
      "$(numfmt --to=iec "$(stat -c %s "$file")")" "$((rss / 1024))" "$wall" "$mode" "$rc" "$outcome"
  done
done
