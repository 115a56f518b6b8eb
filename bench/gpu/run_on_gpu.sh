#!/usr/bin/env bash
# The GPU figures in bench/results, issue 36 ("Embedding on a GPU"), on a machine with an NVIDIA GPU, CUDA 13 and cuDNN 9 in
# Python's nvidia-* packages, and torch, onnx and onnxruntime (for its float16 and transformer optimiser) in python3.
#   publish here:  dotnet publish src/Api -c Release -r linux-x64 --self-contained -p:OnnxRuntimeGpu=true -o PUB
#                  dotnet publish bench/RagCluster.Bench.Rag -c Release -r linux-x64 --self-contained \
#                    -p:OnnxRuntimeGpu=true -p:ErrorOnDuplicatePublishOutputFiles=false -o PUB2   (then copy PUB2's extra files into PUB)
#   run there:     bench/gpu/run_on_gpu.sh PUB TOKENIZER_DIR OUT_DIR      (from the repository root)
set -uo pipefail
pub=$1 tokenizer=$2 out=$3 model=/tmp/ragcluster-gpu-model S=${SECONDS_PER:-4}
mkdir -p "$out"
site=$(python3 -c "import site; print(site.getsitepackages()[0])")
export LD_LIBRARY_PATH=$(find "$site/nvidia" -name "lib*.so*" -printf "%h\n" | sort -u | paste -sd:)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 bench/gpu/export_model.py "$tokenizer" $model
bench=$pub/RagCluster.Bench.Rag
for f in model.onnx model_fp16.onnx model_opt.onnx model_opt_fp16.onnx; do
  $bench embed $model $S cuda 1,32,64,128,256 $f 2>&1 | tee -a "$out/ort_cuda.jsonl"
done
python3 bench/gpu/torch_baseline.py $S 1,32,64,128,256 2>&1 | tee "$out/torch.jsonl"
$bench embed $model $S cpu 1,32 2>&1 | tee "$out/ort_cpu.jsonl"
key=gpu-run-key-0123456789abcdef0123456789abcdef
for p in cuda cpu; do
  rm -rf /tmp/ragcluster-gpu-data-$p
  $pub/RagCluster.Api --urls http://127.0.0.1:8080 --Storage:Path /tmp/ragcluster-gpu-data-$p --Auth:BootstrapAdminKey $key \
    --Embedding:ModelDirectory $model --Embedding:ExecutionProvider $p > "$out/api-$p.log" 2>&1 &
  api=$!
  timeout 240 python3 bench/gpu/ingest_client.py http://127.0.0.1:8080 $key ${DOCS:-20000} $p "$tokenizer/vocab.txt" 2>&1 | tee "$out/ingest-$p.json"
  kill $api; wait $api
done
