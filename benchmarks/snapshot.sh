#!/usr/bin/env bash
# Freeze the package as it is now into DIR (default /tmp/dualchecker-snapshot), so that a long
# benchmark keeps running the code it started with while the working tree changes:
#   snap=$(bash benchmarks/snapshot.sh); cd /tmp && PYTHONPATH=$snap REPO/.venv/bin/python \
#       REPO/benchmarks/teacher_quality.py --out REPO/benchmarks/results ...
# (run from outside the repository, or its own folder shadows the snapshot on sys.path)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/dualchecker-snapshot}
rm -rf "$out" && mkdir -p "$out"
cp -r dualchecker "$out/dualchecker"
for sub in agents graph training prompts; do cp -r "$sub" "$out/dualchecker/$sub"; done
echo "$out"
