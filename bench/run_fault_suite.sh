#!/usr/bin/env bash
# Issue 21's fault suite (tests/RagCluster.Tests/Faults) at full size: the API silo and 3 silos as real processes on
# PostgreSQL (max_connections 40) and Redis; a bulk ingest of 2,000 SciFact documents, then kill -9 of one silo
# mid-ingest, of each silo in turn under search load, a PostgreSQL restart, a Redis restart, kill -9 of every process mid-ingest.
# The test run (./scripts/test.sh) runs the same suite at a reduced size, once with 1 copy a shard and once with 2.
# usage: bench/run_fault_suite.sh [full|reduced] [COPIES=1]   (the results table: on stdout and in $OUT/faults.md)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ragcluster-faults}
mkdir -p "$OUT"
bash scripts/setup.sh >/dev/null
dotnet build tests/RagCluster.Tests -c Release --nologo -v q >/dev/null
status=0
RAGCLUSTER_FAULT_SUITE_SIZE=${1:-full} RAGCLUSTER_FAULT_SUITE_COPIES=${2:-1} RAGCLUSTER_FAULT_SUITE_REPORT="$OUT/faults.md" \
  dotnet test tests/RagCluster.Tests -c Release --no-build --nologo --filter "FullyQualifiedName~Faults.FaultSuiteTests" \
  --logger "console;verbosity=detailed" > "$OUT/faults.log" 2>&1 || status=$?
grep -E '^ *(cluster up|phase 6|[1-6]\. )' "$OUT/faults.log" | sed 's/^ *//' | awk '!seen[$0]++' >&2 || true
cat "$OUT/faults.md"
[ "$status" -eq 0 ] || { echo "the fault suite failed (exit $status); the whole log: $OUT/faults.log" >&2; exit "$status"; }
