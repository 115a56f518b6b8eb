#!/usr/bin/env bash
# Here: the stage for issue 84's item 5 on a lent 16-core machine, which has no .NET, PostgreSQL or Redis: the .NET
# runtime, the bench's build (API, silo, bench; linux-x64 native parts only), arctic-xs packed by model_pack.py,
# PostgreSQL 15 and redis-server with the shared libraries they and .NET need that are not glibc's, and SciFact's corpus;
# compressed and cut into parts that each fit one call's 64 MiB with the working tree, in .stage/ (ignored).
#   bench/gpu/make_scaling_stage.sh MODEL_DIR BEIR_DIR      (after dotnet build bench/RagCluster.Bench.Rag -c Release)
# Then a call each: carry .stage/scale.part-K and run `mkdir -p /tmp/parts && mv .stage/scale.part-* /tmp/parts/`;
# the last call runs bench/gpu/scaling_round.sh.
set -euo pipefail
model=$1 beir=$2 bin=bench/RagCluster.Bench.Rag/bin/Release/net10.0 stage=/tmp/scale-stage/stage
rm -rf /tmp/scale-stage && mkdir -p $stage/{app,model,scifact,libs,bin,pg}
dotnet=$(dirname "$(readlink -f "$(command -v dotnet)")")
mkdir -p $stage/dotnet/shared && cp -a "$dotnet/dotnet" "$dotnet/host" $stage/dotnet/
cp -a "$dotnet/shared/Microsoft.NETCore.App" "$dotnet/shared/Microsoft.AspNetCore.App" $stage/dotnet/shared/
tar cf - -C $bin --exclude=./models --exclude=./runtimes . | tar xf - -C $stage/app
mkdir -p $stage/app/runtimes && cp -a $bin/runtimes/linux-x64 $stage/app/runtimes/
cp "$model/vocab.txt" $stage/model/
/usr/bin/python3 bench/gpu/model_pack.py pack "$model/model.onnx" $stage/model
cp "$beir/corpus.jsonl" $stage/scifact/
cp -a /usr/lib/postgresql/15 $stage/pg/lib15 && cp -a /usr/share/postgresql/15 $stage/pg/share15
cp /usr/bin/redis-check-rdb $stage/bin/redis-server
tar cf $stage/zoneinfo.tar -C /usr/share zoneinfo
# Every shared library those need, but glibc's and the C++ runtime's (the machine's own, newer, serve).
find /usr/lib/postgresql/15/bin /usr/bin/redis-check-rdb $stage/dotnet/shared -type f \( -perm -u+x -o -name '*.so' \) -print0 \
  | xargs -0 ldd 2>/dev/null | awk '$3 ~ /^\// {print $3}' | sort -u \
  | grep -vE '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so' | xargs -I{} cp -L {} $stage/libs/
ls /usr/lib/x86_64-linux-gnu/libicu*.so.72 | xargs -I{} cp -L {} $stage/libs/   # .NET opens ICU by name, not by a link
rm -rf .stage && mkdir .stage
tar cf - -C /tmp/scale-stage stage | xz -7 -T2 | split -b 57M -d -a 1 - .stage/scale.part-
du -sh $stage; ls -la .stage
