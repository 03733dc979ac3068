#!/usr/bin/env bash
# Regenerates the platform icon set in icons/ from icons/mailroom.svg (the one
# source). Needs rsvg-convert (librsvg2-bin) and npm (it runs the Tauri CLI with npx).
set -euo pipefail
cd "$(dirname "$0")/.."
png=$(mktemp --suffix=.png)
trap 'rm -f "$png"' EXIT
rsvg-convert -w 1024 -h 1024 icons/mailroom.svg -o "$png"
(cd ui && npx --yes @tauri-apps/cli@2 icon "$png" -o ../icons)
rm -rf icons/android icons/ios   # desktop only
cp icons/mailroom.svg ui/public/icon.svg
