# RagCluster silo image: the API silo by default; the same image runs a plain silo or the CLI.
#   docker build -t ragcluster .
#   docker run -p 8080:8080 ragcluster                       (embedded SQLite under /data, BM25 until a model is mounted)
#   docker run ragcluster dotnet RagCluster.Silo.dll ...      (a plain silo; CMD is replaceable)
# Multi-stage: the SDK image builds; the runtime image holds only the app, ICU, poppler-utils and libonnxruntime.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
# The API is published last so its appsettings.json is the one in /app (the silo reads the same file).
RUN dotnet publish src/Silo -c Release -o /app --nologo \
 && dotnet publish src/Cli -c Release -o /app --nologo \
 && dotnet publish src/Api -c Release -o /app --nologo

# libonnxruntime.so.1 from the same npm package the setup script uses, checked against the same sha256.
FROM node:20-bookworm-slim AS onnxruntime
WORKDIR /ort
RUN npm pack onnxruntime-node@1.30.0 --silent \
 && tar xzf onnxruntime-node-1.30.0.tgz package/bin/napi-v6/linux/x64/libonnxruntime.so.1 \
 && echo "ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23  package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c -

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils libicu72 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ragcluster \
 && useradd --system --uid 10001 --gid ragcluster --home-dir /data ragcluster \
 && mkdir -p /data /models && chown ragcluster:ragcluster /data
WORKDIR /app
COPY --from=build /app .
COPY --from=onnxruntime /ort/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 /opt/onnxruntime/libonnxruntime.so.1
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    Storage__Path=/data \
    Silo__ListenAddress=0.0.0.0 \
    Silo__SiloPort=11111 \
    Embedding__OnnxRuntimePath=/opt/onnxruntime/libonnxruntime.so.1 \
    DOTNET_gcServer=0
USER 10001:10001
VOLUME ["/data"]
# 8080: the HTTP API; 11111: silo-to-silo (h2c); 8081: a plain silo's health probes (Health:Port, as the Helm chart sets it).
EXPOSE 8080 11111 30000 8081
# SIGTERM makes the silo leave the cluster gracefully (deactivate and persist grains) before exiting.
STOPSIGNAL SIGTERM
# Orchestrators probe /health/live and /health/ready over HTTP (the image has no curl for a HEALTHCHECK).
CMD ["dotnet", "RagCluster.Api.dll"]
