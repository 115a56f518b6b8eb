#!/usr/bin/env bash
# The HNSW walk of a pinned earlier build beside this checkout's, on the index alone (the bench's `ann`: one thread,
# M 16, efConstruction 200), in alternating rounds on the same data: a regression of the walk shows as a ratio in one
# run (the host's speed drifts by 15 % between runs), never as a comparison with an old figure (issue 73, item 1).
# The base is built in a worktree of its own under $TMPDIR (kept between runs, so only the first run builds it).
#   bench/walk_ab.sh DATA_DIR [BASE=53048ca] [EFS=16,24,32,48,64,96,128] [ROUNDS=3]
# DATA_DIR: ann-data's output (dotnet $B/RagCluster.Bench.Rag.dll ann-data /tmp/ann-30000 30000 384 1000).
# Prints each run's JSON lines tagged with its build, then per ef the median QPS and recall of each and the ratio.
set -euo pipefail
data=$1 base=${2:-53048ca} efs=${3:-16,24,32,48,64,96,128} rounds=${4:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
B=bench/RagCluster.Bench.Rag/bin/Release/net10.0
tree=${TMPDIR:-/tmp}/ragcluster-walk-ab-$base
if [ ! -d "$tree" ]; then git -C "$here" worktree add --detach "$tree" "$base" > /dev/null; fi
dotnet build "$tree/bench/RagCluster.Bench.Rag" -c Release -v q -nologo > /dev/null
dotnet build "$here/bench/RagCluster.Bench.Rag" -c Release -v q -nologo > /dev/null
out=$(mktemp)
for round in $(seq "$rounds"); do
  for build in "$base:$tree" "current:$here"; do
    name=${build%%:*} dir=${build#*:}
    dotnet "$dir/$B/RagCluster.Bench.Rag.dll" ann "$data" 16 200 "$efs" | grep '"ef"' | sed "s/^{/{\"build\":\"$name\",\"round\":$round,/" | tee -a "$out"
  done
done
python3 - "$out" "$base" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = sys.argv[2]
print(f"{'ef':>4} {base + ' QPS':>14} {'current QPS':>12} {'ratio':>6} {'recall base/current':>20}")
for ef in sorted({r["ef"] for r in rows}):
    def med(build, key): return statistics.median(r[key] for r in rows if r["build"] == build and r["ef"] == ef)
    b, c = med(base, "qps"), med("current", "qps")
    print(f"{ef:>4} {b:>14,.0f} {c:>12,.0f} {c / b:>6.2f} {med(base, 'recall'):>10.3f}/{med('current', 'recall'):.3f}")
PY
rm -f "$out"
