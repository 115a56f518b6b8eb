#!/usr/bin/env bash
# The HNSW walk of a pinned earlier build beside this checkout's, on the index alone (the bench's `ann`: one thread,
# M 16, efConstruction 200), in alternating rounds on the same data: a regression of the walk shows as a ratio in one
# run (the host's speed drifts by 15 % between runs), never as a comparison with an old figure (issue 73, item 1).
# The base is built in a worktree of its own under $TMPDIR (kept between runs, so only the first run builds it).
#   bench/walk_ab.sh DATA_DIR [BASE=53048ca] [EFS=16,24,32,48,64,96,128] [ROUNDS=3]
# DATA_DIR: ann-data's output (dotnet $B/RagCluster.Bench.Rag.dll ann-data /tmp/ann-30000 30000 384 1000).
# Prints each run's JSON lines tagged with its build, then per ef the median QPS and recall of each and the ratio; with
# hnswlib installed (python3-hnswlib) it runs in each round too, and the QPS at recall 0.95 and 0.99 and the build time
# of each build are given against hnswlib's.
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
    dotnet "$dir/$B/RagCluster.Bench.Rag.dll" ann "$data" 16 200 "$efs" | grep -E '"ef"|"build_s"' | sed "s/^{/{\"build\":\"$name\",\"round\":$round,/" | tee -a "$out"
  done
  # hnswlib in the same round (Debian's python3-hnswlib, as bench/run_rag_bench.sh installs it), when it is there.
  if /usr/bin/python3 -c "import hnswlib" 2> /dev/null; then
    /usr/bin/python3 "$here/bench/baselines/ann_baselines.py" "$data" 16 200 "$efs" 2> /dev/null | grep '"lib": "hnswlib"' | grep -v threads \
      | sed "s/^{/{\"build\":\"hnswlib\",\"round\":$round,/" | tee -a "$out" || true
  fi
done
python3 - "$out" "$base" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = sys.argv[2]
builds = [b for b in (base, "current", "hnswlib") if any(r["build"] == b for r in rows)]
def med(build, key, ef=None):
    vals = [r[key] for r in rows if r["build"] == build and key in r and r.get("ef") == ef]
    return statistics.median(vals) if vals else None
print(f"{'ef':>4} {base + ' QPS':>14} {'current QPS':>12} {'ratio':>6} {'recall base/current':>20}" + ("  hnswlib QPS/recall" if "hnswlib" in builds else ""))
for ef in sorted({r["ef"] for r in rows if "ef" in r}):
    b, c = med(base, "qps", ef), med("current", "qps", ef)
    line = f"{ef:>4} {b:>14,.0f} {c:>12,.0f} {c / b:>6.2f} {med(base, 'recall', ef):>10.3f}/{med('current', 'recall', ef):.3f}"
    if "hnswlib" in builds: line += f"  {med('hnswlib', 'qps', ef):>11,.0f}/{med('hnswlib', 'recall', ef):.3f}"
    print(line)
# QPS at a recall, read off each build's median curve between the two efs around it (linear in recall).
def qps_at(build, target):
    curve = sorted((med(build, "recall", ef), med(build, "qps", ef)) for ef in sorted({r["ef"] for r in rows if "ef" in r}))
    for (r0, q0), (r1, q1) in zip(curve, curve[1:]):
        if r0 <= target <= r1: return q0 if r1 == r0 else q0 + (q1 - q0) * (target - r0) / (r1 - r0)
    return None
if "hnswlib" in builds:
    for target in (0.95, 0.99):
        h = qps_at("hnswlib", target)
        for b in (base, "current"):
            q = qps_at(b, target)
            print(f"recall {target}: {b} {q:,.0f} QPS, hnswlib {h:,.0f}: {q / h:.2f}x" if q and h else f"recall {target}: {b}: outside the ef sweep")
    hb = med("hnswlib", "build_s")
    for b in (base, "current"):
        print(f"build: {b} {med(b, 'build_s'):.1f} s, hnswlib {hb:.1f} s: {med(b, 'build_s') / hb:.2f}x")
PY
rm -f "$out"
