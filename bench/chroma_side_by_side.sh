#!/usr/bin/env bash
# Chroma's own server beside ours in one run (issue 59, item 2): the same 100,000 x 384 vectors, the same client.
# Installs Chroma's npm server (3.0.14 with the 1.0.5 bindings: later bindings need a newer glibc than Debian 12's) in
# .tools/chroma, writes the vectors with the bench's ann-data command, then runs the `chroma` bench.
#   bench/chroma_side_by_side.sh [N=100000] [BATCH=1000] [CLIENTS=4] [QUANTIZATIONS=float32,int8]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; BATCH=${2:-1000}; CLIENTS=${3:-4}; QUANT=${4:-float32,int8}
B=bench/RagCluster.Bench.Rag/bin/Release/net10.0
if [ ! -x .tools/chroma/node_modules/.bin/chroma ]; then
  mkdir -p .tools/chroma
  (cd .tools/chroma && npm init -y > /dev/null && npm install --no-audit --no-fund chromadb@3.0.14 chromadb-js-bindings-linux-x64-gnu@1.0.5 > /dev/null)
fi
dotnet build bench/RagCluster.Bench.Rag -c Release -v q -nologo > /dev/null
DATA=/tmp/ann-$N
[ -f $DATA/gt.i32 ] || dotnet $B/RagCluster.Bench.Rag.dll ann-data $DATA $N 384 1000
dotnet $B/RagCluster.Bench.Rag.dll chroma $PWD/$B $DATA $PWD/.tools/chroma $BATCH $CLIENTS $QUANT
