#!/usr/bin/env bash
# Builds and runs every test, then prints one summary line "N passed, N failed".
# Arguments go to dotnet test: `scripts/test.sh -p:OnnxRuntimeGpu=true` runs the tests on the GPU build.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
dotnet test RagCluster.sln -c Release --nologo --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The console logger closes each test assembly with "Total tests: T", "Passed: P" and (if any) "Failed: F"
# lines; add them up over assemblies.
passed=$(grep -E '^[[:space:]]+Passed: [0-9]+$' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -E '^[[:space:]]+Failed: [0-9]+$' "$log" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # build or runner failure counts as a failure
if [ "$failed" -gt 0 ]; then
  # Repeat each failed test's name, message and stack at the end, where a reader of only the tail will see it.
  echo "=== failed tests ==="
  awk '/^  Failed [A-Za-z0-9_.]+.* \[[^]]+\]$/ { keep = 1; n = 0 }
       /^  Passed [A-Za-z]/ || /^\[xUnit/ || /^Test Run/ { keep = 0 }
       keep && n < 150 { print; n++ }' "$log"
  echo "=== end of failed tests ==="
fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
