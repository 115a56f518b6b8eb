#!/usr/bin/env bash
# Here: the stage for a lent GPU machine (the API and the bench published self-contained with ONNX Runtime's CUDA
# build, arctic-xs packed by model_pack.py, scifact-train), compressed and cut into parts that each fit one call's
# 64 MiB with the working tree, in .stage/ (which .git/info/exclude must list). About 280 MiB: five calls.
#   bench/gpu/make_stage.sh MODEL_DIR BEIR_DIR        (MODEL_DIR: model.onnx and vocab.txt, e.g. a test build's models/arctic-xs)
# Then a call each: carry .stage/stage.part-K and run `mkdir -p /tmp/parts && mv .stage/stage.part-* /tmp/parts/`;
# the last call runs bench/gpu/staged_round.sh.
set -euo pipefail
model=$1 beir=$2 pub=/tmp/pubgpu stage=/tmp/stage
rm -rf $pub $stage && mkdir -p $stage/app/models/arctic-xs $stage/scifact-train
for p in src/Api bench/RagCluster.Bench.Rag; do
  dotnet publish $p -c Release -r linux-x64 --self-contained -p:OnnxRuntimeGpu=true -p:BuiltInModels=false \
    -p:ErrorOnDuplicatePublishOutputFiles=false -o $pub/$(basename $p) | tail -1
  cp -rn $pub/$(basename $p)/. $stage/app/
done
rm -f $stage/app/libonnxruntime_providers_tensorrt.so
cp "$model/vocab.txt" $stage/app/models/arctic-xs/
/usr/bin/python3 bench/gpu/model_pack.py pack "$model/model.onnx" $stage/app/models/arctic-xs
cp -r "$beir"/. $stage/scifact-train/ && chmod -R u+w $stage
rm -rf .stage && mkdir .stage
tar cf - -C /tmp stage | xz -6 -T2 | split -b 57M -d -a 1 - .stage/stage.part-
ls -la .stage
