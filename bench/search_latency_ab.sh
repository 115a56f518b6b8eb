#!/usr/bin/env bash
# Idle /search latency of several builds on the same data, one after another (the host's speed drifts by 15 % between
# runs, so builds are compared in alternation, never against an old figure). Each build: the API started on DATA,
# 300 warm-up queries, then scifact-train's 809 queries measured by search_latency.py, each with a salt of its own.
# usage: bench/search_latency_ab.sh DATA_DIR SALT REPO_CHECKOUT...   (each checkout built: dotnet build src/Api -c Release)
# EXTRA="--Some:Setting value" passes settings to every API started.
set -euo pipefail
data=$1 salt=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
queries=$here/../../shared/eval/scifact-train/queries.jsonl
key=latency-ab-key-0123456789abcdef0123456789
for checkout in "$@"; do
  dotnet "$checkout/src/Api/bin/Release/net10.0/RagCluster.Api.dll" --urls http://127.0.0.1:18112 --Storage:Path "$data" \
    --Auth:BootstrapAdminKey $key --RateLimit:PermitsPerSecond 100000 --RateLimit:Burst 100000 ${EXTRA:-} > /tmp/search_latency_ab.log 2>&1 &
  api=$!
  for _ in $(seq 120); do curl -sf -o /dev/null http://127.0.0.1:18112/health/ready && break; sleep 0.5; done
  python3 "$here/search_latency.py" 18112 $key scifact "$queries" 300 default "$salt" > /dev/null
  echo "$checkout $(python3 "$here/search_latency.py" 18112 $key scifact "$queries" 809 default $((salt + 1)))"
  kill $api; wait $api 2>/dev/null || true
  salt=$((salt + 2))
done
