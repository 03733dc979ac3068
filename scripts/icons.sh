#!/usr/bin/env bash
# Regenerates the platform icon set in icons/ from icons/mailroom.svg (the one
# source): the Tauri CLI's set (Windows .ico with 16–256 px, macOS .icns with
# 16–1024 px, PNGs), plus the sizes Linux desktops look up in the hicolor
# theme that it does not make (16, 24, 48, 256 px). Needs rsvg-convert
# (librsvg2-bin) and npm (it runs the Tauri CLI pinned in ui/package.json).
set -euo pipefail
cd "$(dirname "$0")/.."
png=$(mktemp --suffix=.png)
trap 'rm -f "$png"' EXIT
rsvg-convert -w 1024 -h 1024 icons/mailroom.svg -o "$png"
(cd ui && npx tauri icon "$png" -o ../icons)
rm -rf icons/android icons/ios   # desktop only
for size in 16 24 48 256; do
  rsvg-convert -w "$size" -h "$size" icons/mailroom.svg -o "icons/${size}x${size}.png"
done
cp icons/mailroom.svg ui/public/icon.svg
