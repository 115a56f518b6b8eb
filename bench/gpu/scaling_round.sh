#!/usr/bin/env bash
# There, on the lent 16-core machine: joins the parts make_scaling_stage.sh cut (carried to /tmp/parts a call each),
# unpacks them into /tmp/stage (the model rebuilt from its packed weights), puts PostgreSQL where its binaries look for
# their files, and runs the scaling bench: each silo on CORES cores of its own from core 0 up, the bench (the clients),
# PostgreSQL and Redis on the last 4 cores.
#   bench/gpu/scaling_round.sh OUT [SILOS=1,2,4] [CORES=3] [VECTORS=100000] [SHARDS=16] [DOCS=2000] [CLIENTS=32] [SECONDS=15]
set -uo pipefail
out=$1 silos=${2:-1,2,4} cores=${3:-3} vectors=${4:-100000} shards=${5:-16} docs=${6:-2000} clients=${7:-32} seconds=${8:-15}
S=/tmp/stage
mkdir -p "$out"
if [ ! -d $S/app ]; then
  if command -v xz > /dev/null; then cat /tmp/parts/scale.part-* | xz -d | tar xf - -C /tmp
  else cat /tmp/parts/scale.part-* | python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)" | tar xf - -C /tmp; fi
  python3 "$(dirname "$0")/model_pack.py" unpack $S/model $S/model/model.onnx || exit 1
fi
[ -d /usr/lib/postgresql/15 ] || { mkdir -p /usr/lib/postgresql /usr/share/postgresql; cp -a $S/pg/lib15 /usr/lib/postgresql/15; cp -a $S/pg/share15 /usr/share/postgresql/15; }
[ -d /usr/share/zoneinfo ] || tar xf $S/zoneinfo.tar -C /usr/share
id postgres > /dev/null 2>&1 || useradd -r -M -s /bin/sh postgres
chmod -R a+rX $S
export PATH=$S/dotnet:$S/bin:$PATH DOTNET_ROOT=$S/dotnet LD_LIBRARY_PATH=$S/libs DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
n=$(nproc)
{ echo "cores: $n"; lscpu | grep -E "Model name|^CPU\(s\)|Thread|NUMA node\(s\)"; free -g | head -2; } | tee "$out/machine.txt"
RAGCLUSTER_BENCH_LOGS=$out/logs taskset -c $((n > 8 ? n - 4 : 0))-$((n - 1)) dotnet $S/app/RagCluster.Bench.Rag.dll scaling $S/app $S/model $S/scifact \
  "$silos" "$cores" "$vectors" "$shards" "$docs" "$clients" "$seconds" 2>&1 | tee "$out/scaling.jsonl"
