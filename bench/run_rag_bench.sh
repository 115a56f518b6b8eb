#!/usr/bin/env bash
# RAG benchmarks, ours and the baselines side by side in one run:
#   ANN: our HNSW vs hnswlib and faiss (Debian python3-hnswlib / python3-faiss) and USearch f32 and i8 (npm usearch),
#        ANN_N (100k) x 384, one thread each, then our and hnswlib's build on 2 threads;
#   embedding: our encoder (Microsoft.ML.OnnxRuntime NuGet) vs onnxruntime-node on the same model and input;
#   ingest: SciFact-train (INGEST_DOCS documents, 0 = all) through 1 and 3 silos against the encoder-only limit,
#           then backup, restore and shard reload times.
# usage: bench/run_rag_bench.sh [ann|embed|ingest|all]   (results: markdown on stdout, raw JSON and bench.png in $OUT)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
OUT=${OUT:-/tmp/ragcluster-bench}
mkdir -p "$OUT"
bash scripts/setup.sh >/dev/null
if ! /usr/bin/python3 -c "import hnswlib, faiss, matplotlib" 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-hnswlib python3-faiss python3-matplotlib >/dev/null
fi
ANN_N=${ANN_N:-100000}
SCIFACT=${SCIFACT:-$PWD/../shared/eval/scifact-train}
dotnet build bench/RagCluster.Bench.Rag -c Release --nologo -v q >/dev/null
bench="dotnet bench/RagCluster.Bench.Rag/bin/Release/net10.0/RagCluster.Bench.Rag.dll"
efs=10,12,14,16,20,24,32,48,64,96,128
: > "$OUT/results.jsonl"
if [ "$what" = ann ] || [ "$what" = all ]; then
  ann="$OUT/ann-$ANN_N"
  [ -f "$ann/gt.i32" ] || /usr/bin/python3 bench/baselines/ann_data.py "$ann" "$ANN_N" >&2
  $bench ann "$ann" 16 200 $efs 2 | tee -a "$OUT/results.jsonl" >&2
  /usr/bin/python3 bench/baselines/ann_baselines.py "$ann" 16 200 $efs 2 | tee -a "$OUT/results.jsonl" >&2
  if [ ! -f .tools/usearch/node_modules/usearch/package.json ]; then
    mkdir -p .tools/usearch  # its prebuilt linux-x64 binary comes in the package: no build step to run
    npm install --prefix .tools/usearch --ignore-scripts --no-audit --no-fund --silent usearch@2.26.2 >/dev/null
  fi
  USEARCH_DIR=.tools/usearch node bench/baselines/ann_usearch.mjs "$ann" 16 200 $efs f32,i8 | tee -a "$OUT/results.jsonl" >&2
fi
if [ "$what" = embed ] || [ "$what" = all ]; then
  if [ ! -f .tools/ortnode/node_modules/onnxruntime-node/package.json ]; then
    mkdir -p .tools/ortnode
    npm install --prefix .tools/ortnode --ignore-scripts --no-audit --no-fund --silent onnxruntime-node@1.30.0 >/dev/null
  fi
  model=.tools/models/minilm-random
  $bench embed "$model" 10 | tee -a "$OUT/results.jsonl" >&2
  $bench ids "$model" 128 > "$OUT/ids.json"
  node bench/baselines/embed_node.mjs "$PWD/.tools/ortnode/node_modules/onnxruntime-node" "$model" 10 "$OUT/ids.json" | tee -a "$OUT/results.jsonl" >&2
fi
if [ "$what" = ingest ] || [ "$what" = all ]; then
  $bench ingest "$PWD/bench/RagCluster.Bench.Rag/bin/Release/net10.0" "$PWD/.tools/models/minilm-random" "$SCIFACT" "${INGEST_DOCS:-0}" 1,3 1,2,4,8,16,32 \
    | tee -a "$OUT/results.jsonl" >&2
fi
/usr/bin/python3 bench/baselines/summarize.py "$OUT/results.jsonl"
/usr/bin/python3 bench/plot.py "$OUT/results.jsonl" "$OUT/bench.png" >&2
