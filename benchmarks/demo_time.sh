#!/usr/bin/env bash
# Wall time of `dualchecker demo` for two versions of the code, side by side in one session,
# each from a fresh run directory with an empty LLM cache (nothing reused between them):
#   bash benchmarks/demo_time.sh OLD_COMMIT [NEW_COMMIT=HEAD] | tee benchmarks/results/demo_time.txt
# Each version is frozen into a temporary folder the way benchmarks/snapshot.sh does and run with
# this checkout's virtual environment.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=$repo/.venv/bin/python
old=$1
new=${2:-HEAD}
work=$(mktemp -d /tmp/demo-time.XXXX)
for rev in "$old" "$new"; do
    mkdir -p "$work/tree-$rev" "$work/snap-$rev"
    git -C "$repo" archive "$rev" | tar -x -C "$work/tree-$rev"
    cp -r "$work/tree-$rev/dualchecker" "$work/snap-$rev/dualchecker"
    for sub in agents graph training prompts; do
        cp -r "$work/tree-$rev/$sub" "$work/snap-$rev/dualchecker/$sub"
    done
done
echo "# dualchecker demo wall time, $(date -u +%F), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for rev in "$old" "$new"; do
    sha=$(git -C "$repo" rev-parse --short "$rev")
    start=$(date +%s)
    (cd "$work" && PYTHONPATH=$work/snap-$rev "$py" -m dualchecker.cli demo \
        --run-dir "$work/runs-$rev" >"$work/demo-$rev.log" 2>&1) || echo "demo at $sha failed: see $work/demo-$rev.log"
    secs=$(($(date +%s) - start))
    printf '%s\t%s\t%d s\t(%d min %02d s)\n' "$rev" "$sha" "$secs" $((secs / 60)) $((secs % 60))
done
echo "# logs in $work"
