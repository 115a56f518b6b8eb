#!/usr/bin/env bash
# Issue 45, item 7: scifact-train through one silo's API on a GPU host (fused-fp16 arctic-xs), under three JIT settings:
# the default (methods with loops compiled optimised at once), tier 0 first for them as .NET does by default
# (DOTNET_TC_QuickJitForLoops=1), and everything optimised at once (DOTNET_TC_QuickJit=0). Two passes each on one API
# (a fresh collection each: the first pass is a user's first load), with the CPU's busy share and the seconds the SQLite
# writer was held, by site. The embedding service alone on the same chunks first, for the ratio.
#   bench/gpu/ingest_tiering.sh STAGE OUT [RUNS]   (STAGE as for run_real_model.sh; RUNS: some of loops-optimised,
#   tier0-first, all-optimised, loops-optimised-1client, all by default)
set -uo pipefail
stage=$1 out=$2 runs=${3:-loops-optimised,tier0-first,all-optimised,loops-optimised-1client}
mkdir -p "$out"
app=$stage/app M=/tmp/arctic-variants key=gpu-run-key-0123456789abcdef0123456789abcdef
corpus=$stage/scifact-train/corpus.jsonl
site=$(python3 -c "import site; print(site.getsitepackages()[0])")
export LD_LIBRARY_PATH=$(find "$site/nvidia" -name "lib*.so*" -printf "%h\n" | sort -u | paste -sd:)
[ -f $M/fused-fp16/model.onnx ] || python3 scripts/optimize_model_for_gpu.py "$app/models/arctic-xs" $M cls 512 \
  "Represent this sentence for searching relevant passages: " > "$out/convert.log" 2>&1
echo "== the embedding service alone on scifact-train's chunks ($(date +%T))"
timeout 90 "$app/RagCluster.Bench.Rag" embed-chunks $M/fused-fp16 "$stage/scifact-train" 0 0 64 2>&1 | grep -v onnxruntime | tee "$out/service.jsonl"

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
get() { python3 -c "import sys, urllib.request as u; sys.stdout.write(u.urlopen(u.Request(sys.argv[1], headers={'X-Api-Key': sys.argv[2]}), timeout=5).read().decode())" "$@"; }
metrics() { get http://127.0.0.1:8080/metrics $key > "$1"; }
run() { # NAME CLIENTS [VAR=VALUE...]: one API under those variables, two passes
  local name=$1 clients=$2; shift 2
  [[ ",$runs," == *",$name,"* ]] || return 0
  rm -rf /tmp/ingest-data
  env "$@" "$app/RagCluster.Api" --urls http://127.0.0.1:8080 --Storage:Path /tmp/ingest-data --Auth:BootstrapAdminKey $key \
    --Embedding:ModelDirectory $M/fused-fp16 --RateLimit:PermitsPerSecond 100000 --RateLimit:Burst 100000 > "$out/api-$name.log" 2>&1 &
  local api=$!
  for _ in $(seq 240); do get http://127.0.0.1:8080/health/ready x > /dev/null 2>&1 && break; sleep 0.25; done
  for pass in 1 2; do
    metrics /tmp/m0; read b0 i0 < <(busy)
    CLIENTS=$clients timeout 120 python3 bench/gpu/ingest_client.py http://127.0.0.1:8080 $key "$corpus" "$name-$pass" x > /tmp/ingest.json
    read b1 i1 < <(busy); metrics /tmp/m1
    python3 - "$name" $pass "$*" $(( (b1 - b0) * 100 / ((b1 - b0) + (i1 - i0)) )) <<'EOF' | tee -a "$out/ingest.jsonl"
import json, re, sys
name, run, env, cpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def held(path):
    try: text = open(path).read()
    except OSError: return {}
    return {m[1]: float(m[2]) for m in re.finditer(r'^rc_store_sqlite_write_held_seconds_total\{[^}]*site="([^"]+)"[^}]*\} (\S+)', text, re.M)}
before, after = held("/tmp/m0"), held("/tmp/m1")
by_site = {k: round(v - before.get(k, 0.0), 3) for k, v in after.items() if v - before.get(k, 0.0) > 0.001}
d = json.load(open("/tmp/ingest.json"))
print(json.dumps({"run": name, "pass": run, "env": env, **{k: d[k] for k in ("clients", "documents", "chunks", "acknowledged_s", "indexed_s",
      "documents_per_s", "chunks_per_s")}, "cpu_busy_percent": cpu, "writer_held_s": round(sum(by_site.values()), 3), "held_by_site": by_site,
      "inference_s_cumulative": d["embedding"]["silos"][0]["inferenceSeconds"]}))
EOF
  done
  kill $api; wait $api 2>/dev/null
}
echo "== ingest through the API, scifact-train, fused-fp16 ($(date +%T))"
run loops-optimised 4
run tier0-first 4 DOTNET_TC_QuickJitForLoops=1
run all-optimised 4 DOTNET_TC_QuickJit=0
run loops-optimised-1client 1
echo "== done ($(date +%T))"
