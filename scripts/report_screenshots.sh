#!/usr/bin/env bash
# Build the demo's dedupe and selection, write their HTML reports, and screenshot both pages in headless
# Chromium (Debian: apt-get install chromium). The pages are self-contained: Chromium runs with the network
# off, so a page that fetched anything would show it broken.
#
# Usage: scripts/report_screenshots.sh [WORK_DIR]     (default: a fresh temporary directory)
# Writes docs/report-selection.png and docs/report-dedupe.png; set PYTHON or CHROMIUM to use others.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CHROMIUM=${CHROMIUM:-chromium}
OUT=${1:-$(mktemp -d)}
sievekit() { "$PYTHON" -m sievekit "$@"; }

rm -rf "$OUT/deduped" "$OUT/selected"
sievekit dedupe sievekit/demo/pool -o "$OUT/deduped" -q
sievekit select "$OUT/deduped" --target sievekit/demo/target.jsonl --top-k 200 -o "$OUT/selected" -q
sievekit report "$OUT/selected" --by domain --target sievekit/demo/target.jsonl --html "$OUT/report.html" -q
sievekit report "$OUT/deduped" --by domain --html "$OUT/dedupe.html" -q

sandbox=()
[ "$(id -u)" = 0 ] && sandbox=(--no-sandbox)  # Chromium refuses to run as root with its sandbox
shot() {  # page, png, height in pixels
  "$CHROMIUM" --headless "${sandbox[@]}" --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' --window-size="1240,$3" \
    --screenshot="$2" "file://$(realpath "$1")" 2>/dev/null
  echo "wrote $2"
}
mkdir -p docs
shot "$OUT/report.html" docs/report-selection.png 1330
shot "$OUT/dedupe.html" docs/report-dedupe.png 1250
