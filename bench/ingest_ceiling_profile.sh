#!/usr/bin/env bash
# Where a chunk's CPU time goes in the text pipeline without inference (issue 59, item 2): `ingest-ceiling` runs, perf
# records the whole machine from the warm-up's end for SECONDS (long enough to cover the measured load), and
# bench/cpu_by_step.py sorts the samples by pipeline step. JIT-compiled frames get names from the runtime's perf map
# (DOTNET_PerfMapEnabled=1; DOTNET_EnableWriteXorExecute=0, or perf cannot match them to the map). Needs perf and root.
#   bench/ingest_ceiling_profile.sh [SECONDS=9]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RECORD=${1:-9}
B=bench/RagCluster.Bench.Rag/bin/Release/net10.0
OUT=$(mktemp -d)
dotnet build bench/RagCluster.Bench.Rag -c Release -v q -nologo > /dev/null
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet $B/RagCluster.Bench.Rag.dll ingest-ceiling $PWD/$B \
  ../shared/models/all-MiniLM-L6-v2 ../shared/eval/scifact-train > $OUT/bench.log 2>&1 &
BENCH=$!
until grep -q "warm-up:" $OUT/bench.log 2>/dev/null; do kill -0 $BENCH 2>/dev/null || { cat $OUT/bench.log; exit 1; }; sleep 0.1; done
SILO=$(pgrep -f "$PWD/$B/RagCluster.Api.dll" | head -1)
perf record -a -g -F 999 -o $OUT/perf.data -- sleep "$SECONDS_TO_RECORD" 2> /dev/null
wait $BENCH
tail -1 $OUT/bench.log
CHUNKS=$(tail -1 $OUT/bench.log | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])')
perf script -i $OUT/perf.data -F comm,pid,ip,sym 2> /dev/null | python3 bench/cpu_by_step.py 999 "$CHUNKS" "$SILO"
rm -rf $OUT
