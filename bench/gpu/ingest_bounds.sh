#!/usr/bin/env bash
# Issue 45, item 7: what bounds ingest through one silo's API on a GPU host. scifact-train (fused-fp16 arctic-xs) on the
# embedded store (SQLite) and on the memory store (no database: the bound of everything but storage), with 1 and 4
# clients, 4 shards (the default) and 16, and with server GC (the hosts use workstation GC: one thread collects while
# every other waits); a fresh API a run and two passes on it (a new collection each). Each pass
# prints documents/s, the CPU's busy share, and where its time went (bench/gpu/metrics_diff.py: the SQLite writer by
# site, the bulk path's steps, the ingest grain calls). The embedding service alone on the same chunks first, for the ratio.
#   bench/gpu/ingest_bounds.sh STAGE OUT [RUNS] [ROUNDS]   (STAGE as for run_real_model.sh; RUNS: some of sqlite-1c,
#   memory-1c, sqlite-4c, memory-4c, sqlite-4c-servergc, memory-4c-servergc, sqlite-4c-x4, sqlite-4c-servergc-x4,
#   memory-4c-x4, memory-4c-servergc-x4 (the corpus 4 times: a steady rate), memory-4c-16s, sqlite-4c-16s, all by default;
#   ROUNDS: times through RUNS, 1 by default)
set -uo pipefail
stage=$1 out=$2 rounds=${4:-1}
runs=${3:-sqlite-1c,memory-1c,sqlite-4c,memory-4c,sqlite-4c-servergc,memory-4c-servergc,sqlite-4c-x4,sqlite-4c-servergc-x4,memory-4c-x4,memory-4c-servergc-x4,memory-4c-16s,sqlite-4c-16s}
mkdir -p "$out"
app=$stage/app M=/tmp/arctic-variants key=gpu-run-key-0123456789abcdef0123456789abcdef
corpus=$stage/scifact-train/corpus.jsonl
here=$(cd "$(dirname "$0")" && pwd)
site=$(python3 -c "import site; print(site.getsitepackages()[0])")
export LD_LIBRARY_PATH=$(find "$site/nvidia" -name "lib*.so*" -printf "%h\n" | sort -u | paste -sd:)
[ -f $M/fused-fp16/model.onnx ] || python3 "$here/../../scripts/optimize_model_for_gpu.py" "$app/models/arctic-xs" $M cls 512 \
  "Represent this sentence for searching relevant passages: " > "$out/convert.log" 2>&1
echo "== the embedding service alone on scifact-train's chunks ($(date +%T))"
timeout 90 "$app/RagCluster.Bench.Rag" embed-chunks $M/fused-fp16 "$stage/scifact-train" 0 0 64 2>&1 | grep -v onnxruntime | tee -a "$out/service.jsonl"

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
get() { python3 -c "import sys, urllib.request as u; sys.stdout.write(u.urlopen(u.Request(sys.argv[1], headers={'X-Api-Key': sys.argv[2]}), timeout=5).read().decode())" "$@"; }
run() { # NAME STORE CLIENTS SHARDS [VAR=VALUE...]: the API and the client under those variables
  local name=$1 store=$2 clients=$3 shards=$4; shift 4
  [[ ",$runs," == *",$name,"* ]] || return 0
  rm -rf /tmp/ingest-data
  local where=(--Storage:Path /tmp/ingest-data); [ "$store" = memory ] && where=(--Silo:Storage memory)
  env "$@" "$app/RagCluster.Api" --urls http://127.0.0.1:8080 "${where[@]}" --Auth:BootstrapAdminKey $key \
    --Embedding:ModelDirectory $M/fused-fp16 --RateLimit:PermitsPerSecond 100000 --RateLimit:Burst 100000 > "$out/api-$name.log" 2>&1 &
  local api=$!
  for _ in $(seq 240); do get http://127.0.0.1:8080/health/ready x > /dev/null 2>&1 && break; sleep 0.25; done
  for pass in 1 2; do
    get http://127.0.0.1:8080/metrics $key > /tmp/m0; read b0 i0 < <(busy)
    env "$@" CLIENTS=$clients SHARDS=$shards timeout 120 python3 "$here/ingest_client.py" http://127.0.0.1:8080 $key "$corpus" "$name-$pass" x > /tmp/ingest.json
    read b1 i1 < <(busy); get http://127.0.0.1:8080/metrics $key > /tmp/m1
    python3 - "$name" $pass $(( (b1 - b0) * 100 / ((b1 - b0) + (i1 - i0) + 1) )) "$(python3 "$here/metrics_diff.py" /tmp/m0 /tmp/m1)" <<'PY' | tee -a "$out/ingest.jsonl"
import json, sys
name, run, cpu, spent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
d = json.load(open("/tmp/ingest.json"))
print(json.dumps({"run": name, "pass": run, **{k: d[k] for k in ("clients", "documents", "chunks", "acknowledged_s", "indexed_s",
      "documents_per_s", "chunks_per_s")}, "cpu_busy_percent": cpu, **spent}))
PY
  done
  kill $api; wait $api 2>/dev/null
}
echo "== ingest through the API, scifact-train, fused-fp16 ($(date +%T))"
for round in $(seq "$rounds"); do
  run sqlite-1c sqlite 1 4
  run memory-1c memory 1 4
  run sqlite-4c sqlite 4 4
  run memory-4c memory 4 4
  run sqlite-4c-servergc sqlite 4 4 DOTNET_gcServer=1
  run memory-4c-servergc memory 4 4 DOTNET_gcServer=1
  run sqlite-4c-x4 sqlite 4 4 REPEAT=4
  run sqlite-4c-servergc-x4 sqlite 4 4 REPEAT=4 DOTNET_gcServer=1
  run memory-4c-x4 memory 4 4 REPEAT=4
  run memory-4c-servergc-x4 memory 4 4 REPEAT=4 DOTNET_gcServer=1
  run memory-4c-16s memory 4 16
  run sqlite-4c-16s sqlite 4 16
done
echo "== done ($(date +%T))"
