#!/usr/bin/env bash
# How long scripts/setup.sh takes from a fresh clone (new .venv, empty build/ and install/) and
# when run again with nothing changed. Prints one line per case; the clone is removed afterwards.
# Usage: benchmarks/setup_time.sh [REPO]   (default: this checkout's committed HEAD)
# Note: pip's download cache (~/.cache/pip) is kept, as on a developer machine.
set -euo pipefail
repo=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/rsdfm"
cd "$work/rsdfm"
t0=$(date +%s.%N); bash scripts/setup.sh > "$work/fresh.log" 2>&1; t1=$(date +%s.%N)
bash scripts/setup.sh > "$work/warm.log" 2>&1; t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
    printf "setup from a fresh clone: %.1f s\nsetup again, nothing changed: %.2f s\n", b - a, c - b }'
