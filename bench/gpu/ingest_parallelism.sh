#!/usr/bin/env bash
# Issue 45, item 7: what bounds ingest through one silo's API on a GPU host. scifact-train with 4 clients, on a freshly
# started API each time: fused-fp16 at 4 and 16 shards, 16 shards with Ingest:BulkTextConcurrency 16, and the hashing
# encoder (no inference); the machine's CPU busy share over each client run. From the repository root, after
# bench/gpu/run_real_model.sh made /tmp/arctic-variants (STAGE as there):
#   bench/gpu/ingest_parallelism.sh STAGE OUT
set -uo pipefail
stage=$1 out=$2; mkdir -p "$out"
site=$(python3 -c "import site; print(site.getsitepackages()[0])")
export LD_LIBRARY_PATH=$(find "$site/nvidia" -name "lib*.so*" -printf "%h\n" | sort -u | paste -sd:)
M=/tmp/arctic-variants key=gpu-run-key-0123456789abcdef0123456789abcdef c=$stage/scifact-train/corpus.jsonl
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
run() { # NAME SHARDS, then the API's extra arguments
  local name=$1 shards=$2; shift 2; rm -rf /tmp/d
  $stage/app/RagCluster.Api --urls http://127.0.0.1:8080 --Storage:Path /tmp/d --Auth:BootstrapAdminKey $key \
    --RateLimit:PermitsPerSecond 100000 --RateLimit:Burst 100000 "$@" > "$out/api-$name.log" 2>&1 & local api=$!
  python3 -c "
import time, urllib.request
for _ in range(240):
    try: urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=2); break
    except Exception: time.sleep(0.5)"
  read b0 i0 < <(busy)
  CLIENTS=4 SHARDS=$shards timeout 120 python3 bench/gpu/ingest_client.py http://127.0.0.1:8080 $key $c $name x | python3 -c "
import json,sys; d=json.loads(sys.stdin.read()); s=d['embedding']['silos'][0]
print(json.dumps({k: d[k] for k in ('collection','clients','documents','chunks','acknowledged_s','indexed_s','documents_per_s','chunks_per_s')} | {'shards': $shards, 'inference_s': s['inferenceSeconds'], 'batches': s['batches']}))"
  read b1 i1 < <(busy); echo "  cpu busy over the run: $(( (b1-b0)*100/((b1-b0)+(i1-i0)) )) % of $(nproc) cores"
  kill $api; wait $api
}
run gpu-4 4 --Embedding:ModelDirectory $M/fused-fp16
run gpu-16 16 --Embedding:ModelDirectory $M/fused-fp16
run gpu-16-c16 16 --Embedding:ModelDirectory $M/fused-fp16 --Ingest:BulkTextConcurrency 16
run hash-16 16 --Embedding:ModelDirectory $M/fp32 --Embedding:Encoder hashing
