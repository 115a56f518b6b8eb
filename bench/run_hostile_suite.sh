#!/usr/bin/env bash
# Issue 35's hostile-input suite (tests/RagCluster.Tests/Hostile) at full size: the embedded API silo as a real process,
# sent another tenant's requests, every per-request limit, decompression bombs, malformed and truncated uploads and
# restores, and the drop/re-create and double-restore races; each attack SCALE times (5 by default), bombs SCALE times
# larger. The test run (./scripts/test.sh) runs the same suite at scale 1.
# usage: bench/run_hostile_suite.sh [SCALE]   (the figures: on stdout; the whole log in $OUT/hostile.log)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ragcluster-hostile}
mkdir -p "$OUT"
bash scripts/setup.sh >/dev/null
dotnet build tests/RagCluster.Tests -c Release --nologo -v q >/dev/null
status=0
RAGCLUSTER_HOSTILE_SCALE=${1:-5} dotnet test tests/RagCluster.Tests -c Release --no-build --nologo \
  --filter "FullyQualifiedName~Hostile.HostileInputSuite" --logger "console;verbosity=detailed" > "$OUT/hostile.log" 2>&1 || status=$?
grep -E '^ *(tenant|limits|files|races|access): |^ *hostile suite|^ *memory high-water' "$OUT/hostile.log" | sed 's/^ *//' | awk '!seen[$0]++' || true
[ "$status" -eq 0 ] || { echo "the hostile suite failed (exit $status); the whole log: $OUT/hostile.log" >&2; exit "$status"; }
