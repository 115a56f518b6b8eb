#!/usr/bin/env bash
# Issue 45, item 7: the built-in arctic-embed-xs on a GPU (NVIDIA, CUDA 13 and cuDNN 9 in python3's nvidia-* packages,
# and onnx and onnxruntime in python3 for the float16 and transformer-optimiser rewrites). From the repository root:
#   bench/gpu/run_real_model.sh STAGE OUT [STEPS]      (STEPS: some of encoder,compare,eval,shapes,service,ingest; all by default)
# STAGE holds app/ (dotnet publish of src/Api, src/Cli and bench/RagCluster.Bench.Rag, -r linux-x64 --self-contained
# -p:OnnxRuntimeGpu=true, in one folder), app/models/arctic-xs/ (model.onnx, vocab.txt) and scifact-train/ (BEIR).
set -uo pipefail
stage=$1 out=$2 steps=${3:-encoder,compare,eval,shapes,service,ingest}
mkdir -p "$out"
app=$stage/app B=$stage/app/RagCluster.Bench.Rag M=/tmp/arctic-variants key=gpu-run-key-0123456789abcdef0123456789abcdef
site=$(python3 -c "import site; print(site.getsitepackages()[0])")
export LD_LIBRARY_PATH=$(find "$site/nvidia" -name "lib*.so*" -printf "%h\n" | sort -u | paste -sd:)${EXTRA_LIBS:+:$EXTRA_LIBS}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
step() { echo "== $* ($(date +%T))"; }
want() { [[ ",$steps," == *",$1,"* ]]; }

step "variants: fp32, fp16, fused, fused-fp16 (ONNX Runtime's own rewrites), each a model folder"
python3 scripts/optimize_model_for_gpu.py "$app/models/arctic-xs" $M cls 512 "Represent this sentence for searching relevant passages: " 2>&1 | grep -v Warning | tee "$out/convert.log"

if want encoder; then
step "encoder: sentences/s at 128 tokens, pooled inside the session (and fused-fp16 pooled on the host, for the difference)"
for v in fp32 fp16 fused fused-fp16; do timeout 60 $B embed $M/$v 3 cuda 1,32,128,256 model.onnx session; done 2>&1 | tee "$out/encoder.jsonl"
timeout 60 $B embed $M/fused-fp16 3 cuda 1,32,128,256 model.onnx host 2>&1 | tee -a "$out/encoder.jsonl"
fi

if want compare; then
step "vectors: each variant against fp32 on scifact-train chunks (first 1,000 documents) and its 809 queries"
timeout 120 $B compare "$stage/scifact-train" 1000 809 $M/fp32 $M/fp16 $M/fused $M/fused-fp16 2>&1 | tee "$out/compare.jsonl"
fi

if want eval; then
step "retrieval: ragcluster eval on scifact-train, fp32 and fused-fp16"
for v in ${EVAL_VARIANTS:-fused-fp16 fp32}; do
  timeout 200 $app/ragcluster eval "$stage/scifact-train" -c scifact --data /tmp/eval-$v --model $M/$v --plans auto,bm25,vector,hybrid,hybrid-k10 2>&1 | tee "$out/eval-$v.txt"
done
fi

if want shapes; then
step "shapes: scifact-train's chunks in batches of 64, sequence lengths padded to multiples of 1 (none), 16, 64, 128"
for v in fused-fp16 fp32; do timeout 120 $B shapes $M/$v "$stage/scifact-train" 0 64 1,16,64,128; done 2>&1 | grep -v onnxruntime | tee "$out/shapes.jsonl"
fi

# 20,000 documents of 180 words from the vocabulary (one chunk each), as a BEIR corpus, for the service and the API alike.
synth=/tmp/synthetic; mkdir -p $synth
python3 -c "
import json, random, sys
rnd = random.Random(1)
words = [w.strip() for w in open(sys.argv[1]) if w.strip().isalpha() and len(w.strip()) > 3][:8000]
with open(sys.argv[2], 'w') as f:
    for i in range(20000): f.write(json.dumps({'_id': f'd{i}', 'title': '', 'text': ' '.join(rnd.choice(words) for _ in range(180))}) + '\n')
" $app/models/arctic-xs/vocab.txt $synth/corpus.jsonl

if want service; then
step "the embedding service alone (one request a document), sequence lengths and rows padded (64, the CUDA default) or not (1)"
for corpus in "$stage/scifact-train" $synth; do for pad in 1 64; do
  timeout 60 $B embed-chunks $M/fused-fp16 $corpus 0 0 $pad; done; done 2>&1 | grep -v onnxruntime | tee "$out/service.jsonl"
fi

if want ingest; then
step "ingest through the API (fused-fp16): scifact-train's corpus, then the 20,000 synthetic documents"
$app/RagCluster.Api --urls http://127.0.0.1:8080 --Storage:Path /tmp/api-data --Auth:BootstrapAdminKey $key \
  --Embedding:ModelDirectory $M/fused-fp16 --RateLimit:PermitsPerSecond 100000 --RateLimit:Burst 100000 > "$out/api.log" 2>&1 &
api=$!
timeout 150 python3 bench/gpu/ingest_client.py http://127.0.0.1:8080 $key "$stage/scifact-train/corpus.jsonl" scifact $M/fp32/vocab.txt 2>&1 | tee "$out/ingest.json"
CLIENTS=4 timeout 150 python3 bench/gpu/ingest_client.py http://127.0.0.1:8080 $key "$stage/scifact-train/corpus.jsonl" scifact4 $M/fp32/vocab.txt 2>&1 | tee -a "$out/ingest.json"
timeout 150 python3 bench/gpu/ingest_client.py http://127.0.0.1:8080 $key $synth/corpus.jsonl synthetic $M/fp32/vocab.txt 2>&1 | tee -a "$out/ingest.json"
CLIENTS=4 timeout 150 python3 bench/gpu/ingest_client.py http://127.0.0.1:8080 $key $synth/corpus.jsonl synthetic4 $M/fp32/vocab.txt 2>&1 | tee -a "$out/ingest.json"
grep -h "input shapes" "$out/api.log"
kill $api; wait $api
fi
step done
