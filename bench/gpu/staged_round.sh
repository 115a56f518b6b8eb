#!/usr/bin/env bash
# There, on the lent GPU machine: joins the parts make_stage.sh cut (carried to /tmp/parts a call each), unpacks them
# into /tmp/stage with the model rebuilt from its packed weights, and runs ingest_bounds.sh's RUNS into OUT.
#   bench/gpu/staged_round.sh OUT RUNS
set -uo pipefail
out=$1 runs=$2
mkdir -p "$out"
if [ ! -d /tmp/stage/app ]; then
  if command -v xz > /dev/null; then cat /tmp/parts/stage.part-* | xz -d | tar xf - -C /tmp
  else cat /tmp/parts/stage.part-* | python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)" | tar xf - -C /tmp; fi
  python3 "$(dirname "$0")/model_pack.py" unpack /tmp/stage/app/models/arctic-xs /tmp/stage/app/models/arctic-xs/model.onnx || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
echo "cores: $(nproc)" | tee -a "$out/gpu.txt"
"$(dirname "$0")/ingest_bounds.sh" /tmp/stage "$out" "$runs"
