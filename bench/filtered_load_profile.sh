#!/usr/bin/env bash
# Where a load of own vectors with access groups and a linked keyword spends its CPU (issue 82: "say where the load time
# goes"): `filtered-walks-api` loads VECTORS documents, perf records the whole machine for SECONDS from START seconds
# after the bench starts (inside the load), and bench/cpu_by_step.py sorts the samples by step, the links per value apart
# from the main graph's inserts. --no-links loads the same documents without an access field or graphLinks, to compare.
# Needs perf and root (see bench/ingest_ceiling_profile.sh for the perf map settings).
#   bench/filtered_load_profile.sh [VECTORS=100000] [START=20] [SECONDS=30] [--no-links]
set -euo pipefail
cd "$(dirname "$0")/.."
VECTORS=${1:-100000}; START=${2:-20}; SECONDS_TO_RECORD=${3:-30}; EXTRA=${4:-}
B=bench/RagCluster.Bench.Rag/bin/Release/net10.0
OUT=$(mktemp -d)
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet $B/RagCluster.Bench.Rag.dll filtered-walks-api $PWD/$B "$VECTORS" 4 20 $EXTRA \
  > $OUT/bench.log 2>&1 &
BENCH=$!
sleep "$START" # the cluster starts and the documents are generated first; the load runs a minute or more at 100,000
SILO=$(pgrep -f "$PWD/$B/RagCluster.Api.dll" | head -1)
perf record -a -g -F 999 -o $OUT/perf.data -- sleep "$SECONDS_TO_RECORD" 2> /dev/null
wait $BENCH
grep filtered-walks-api-load $OUT/bench.log
RATE=$(grep filtered-walks-api-load $OUT/bench.log | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["per_second"] * '"$SECONDS_TO_RECORD"'))')
perf script -i $OUT/perf.data -F comm,pid,ip,sym 2> /dev/null | python3 bench/cpu_by_step.py 999 "$RATE" "$SILO" | sed 's/CPU ms a chunk/CPU ms a vector/'
rm -rf $OUT
