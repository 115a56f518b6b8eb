#!/usr/bin/env bash
# Builds and runs every test, then prints one summary line "N passed, N failed".
# Arguments go to dotnet test: `scripts/test.sh -p:OnnxRuntimeGpu=true` runs the tests on the GPU build.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp) session=$(mktemp) exitcode=$(mktemp)
export RAGCLUSTER_TEST_RUN=run$$
# The tests run in a session of their own, so whatever they start (silos, API processes, PostgreSQL, Redis) can be found
# afterwards: nothing may outlive the run.
# A cancelled run (Ctrl-C, a CI timeout) ends that session too, since a signal to this script does not reach it. The
# run goes in the background and the script waits for it: bash runs a trap only once a foreground command has ended.
trap 'pkill -KILL -s "$(cat "$session")" 2>/dev/null; exit 130' INT TERM
# Built first (projects in parallel), then the three test projects run one after the other (-m:1): the unit tests beside
# the cluster tests would take the cores those clusters' failure detection is tuned to.
# The build takes the arguments' MSBuild properties (-p:…); dotnet test takes them all (a --filter too).
{ setsid --wait bash -c 'echo $$ > "$0"; props=(); for a in "$@"; do case $a in -p:*|/p:*) props+=("$a");; esac; done
    dotnet build RagCluster.sln -c Release --nologo -v q "${props[@]}" &&
    exec dotnet test RagCluster.sln -c Release --no-build -m:1 --nologo --logger "console;verbosity=normal" "$@"' \
    "$session" "$@"; echo $? > "$exitcode"; } 2>&1 | tee "$log" &
wait $!
status=$(cat "$exitcode")
# MSBuild's reused nodes and the compiler and Razor servers belong to the build, not to a test; a zombie (state Z) has
# already ended and waits only to be reaped. PostgreSQL's postmaster has a session of its own (pg_ctl detaches it): it
# is found by this run's data folders.
# A process still exiting when dotnet test returns (shown as "[dotnet]": its command line is already gone) is given up
# to 10 s to end: one fresh-clone run (e4eace1, all 275 tests passed) counted such a process, caught mid-exit, as left running.
leftover() { (ps -eo pid=,sid=,stat=,args= | awk -v s="$(cat "$session")" '$2 == s && $3 !~ /^Z/' | grep -vE 'MSBuild\.dll|VBCSCompiler|rzc\.dll|Razor'
              ps -eo pid=,sid=,stat=,args= | awk '$3 !~ /^Z/' | grep -F "ragcluster-pg-$RAGCLUSTER_TEST_RUN-" | grep -v grep) || true; }
left=$(leftover)
for _ in $(seq 20); do [ -z "$left" ] && break; sleep 0.5; left=$(leftover); done
if [ -n "$left" ]; then
  echo "=== processes the tests left running (now killed) ==="
  echo "$left"
  echo "$left" | awk '{print $1}' | xargs -r kill -9 2>/dev/null
  echo "=== end of processes left running ==="
fi
rm -f "$session" "$exitcode"

# The console logger closes each test assembly with "Total tests: T", "Passed: P" and (if any) "Failed: F"
# lines; add them up over assemblies.
passed=$(grep -E '^[[:space:]]+Passed: [0-9]+$' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -E '^[[:space:]]+Failed: [0-9]+$' "$log" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # build or runner failure counts as a failure
if [ -n "$left" ]; then failed=$((failed + 1)); status=1; fi  # a process left running counts as one failure
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
