#!/usr/bin/env bash
# Issue 60, item 4: the image built from the repository's real Dockerfile with podman, and the cluster recipe run from
# it: PostgreSQL and Redis on loopback, the API silo and 3 plain silos as containers with the Helm chart's environment
# (TLS between silos included, read-only root, non-root user, every capability dropped), the README flow with the
# built-in model, the chart's probes, and a kill -9 of a silo container. Not part of CI; see docs/image.md for its
# figures and how long it takes. No registry is reachable here, so the Dockerfile's base images are made first:
# Debian bookworm (mmdebstrap --variant=minbase) with this machine's .NET, tagged mcr.microsoft.com/dotnet/{aspnet,sdk}:10.0
# and used with --pull=never. Run as root (podman with runc and cgroupfs, host networking).
# usage: bench/image_podman.sh   (OUT=/tmp/ragcluster-image: logs, containers.conf; REBUILD_BASE=1 makes the bases again;
#        BUILD=0 runs the image already built)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ragcluster-image}
mkdir -p "$OUT"
t0=$SECONDS
step() { echo "[$((SECONDS - t0)) s] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# 1. podman, runc and mmdebstrap from Debian, and this machine's settings for them (in our own containers.conf).
need=()
for p in podman runc mmdebstrap redis-server openssl curl; do command -v "$p" >/dev/null || need+=("$p"); done
[ "${need[*]}" = "" ] || { step "installing ${need[*]} from Debian"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }
cat > "$OUT/containers.conf" <<'CONF'
[containers]
default_ulimits = []
netns = "host"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
export CONTAINERS_CONF="$OUT/containers.conf"

# 2. The base images the Dockerfile starts from.
if [ "${REBUILD_BASE:-0}" = 1 ] || ! podman image exists localhost/ragcluster-debian:bookworm; then
  step "mmdebstrap bookworm (minbase + ca-certificates, libssl3, tzdata)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,libssl3,tzdata bookworm - http://deb.debian.org/debian | podman import - localhost/ragcluster-debian:bookworm >/dev/null
fi
for kind in aspnet sdk; do
  if [ "${REBUILD_BASE:-0}" = 1 ] || ! podman image exists "mcr.microsoft.com/dotnet/$kind:10.0"; then
    step "base image mcr.microsoft.com/dotnet/$kind:10.0 (this machine's .NET $(dotnet --version))"
    podman build -q --pull=never --build-arg KIND=$kind -v /usr/share/dotnet:/host-dotnet:ro -f bench/image/base.Containerfile -t "mcr.microsoft.com/dotnet/$kind:10.0" bench/image >/dev/null
  fi
done

# 3. The real Dockerfile, its CPU target. NuGet packages come from this machine's cache (a bind mount), else the network;
# the build sees this machine's CA certificates (an egress proxy here signs with its own), the image keeps Debian's.
build_start=$SECONDS
if [ "${BUILD:-1}" = 1 ]; then
step "podman build --target runtime (the repository's Dockerfile)"
podman build --pull=never --network host -v "$HOME/.nuget/packages:/root/.nuget/packages" -v /etc/ssl/certs:/etc/ssl/certs:ro --target runtime -t localhost/ragcluster:dev -f Dockerfile . > "$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log"; exit 1; }
fi
build_s=$([ "${BUILD:-1}" = 1 ] && echo "built in $((SECONDS - build_start)) s" || echo "not built (BUILD=0)")
size_mb=$(( $(podman image inspect localhost/ragcluster:dev --format '{{.Size}}') / 1048576 ))
step "${build_s}: localhost/ragcluster:dev, ${size_mb} MiB"

# 4. PostgreSQL and Redis on loopback, certificates for the silos.
PG=$(free_port); REDIS=$(free_port); API=$(free_port)
PGDIR="$OUT/pg"; rm -rf "$PGDIR"; mkdir -p "$PGDIR"; chown postgres "$PGDIR"
CONTAINERS=(rc-api rc-silo1 rc-silo2 rc-silo3 rc-embedded)
# One name a call: podman 4.3's `rm -f` given a name that does not exist removes none of the others.
remove_containers() { for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done; }
remove_containers   # a run that was cut off left its containers
cleanup() {
  remove_containers
  redis-cli -p "$REDIS" shutdown nosave >/dev/null 2>&1 || true
  runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PGDIR/data" stop -m fast >/dev/null 2>&1 || true
}
trap cleanup EXIT
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$PGDIR/data" -A trust -U rag >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PGDIR/data" -l "$PGDIR/log" -o "-p $PG -k $PGDIR -c listen_addresses=127.0.0.1" -w start >/dev/null
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
TLS="$OUT/tls"; rm -rf "$TLS"; mkdir -p "$TLS"
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > "$TLS/silo.ext"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TLS/ca.key" -out "$TLS/ca.crt" -days 2 -subj /CN=image-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TLS/tls.key" -out "$TLS/tls.csr" -subj /CN=ragcluster-silo 2>/dev/null
openssl x509 -req -in "$TLS/tls.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial -out "$TLS/tls.crt" -days 2 -extfile "$TLS/silo.ext" 2>/dev/null
chmod 644 "$TLS"/tls.key "$TLS"/tls.crt "$TLS"/ca.crt   # the image's user (10001) reads them, as from a Secret volume

# 5. The containers, with the environment the Helm chart's ConfigMap and pods give them.
KEY="rck_image$(openssl rand -hex 16)"
chart_env=(-e Silo__ClusterId=image -e Silo__ServiceId=image -e Silo__Clustering=redis -e Silo__Kubernetes=false
  -e Silo__ListenAddress=0.0.0.0 -e Silo__AdvertisedHost=127.0.0.1 -e Storage__Path= -e HOME=/tmp
  -e "Silo__Storage=Host=127.0.0.1;Port=$PG;Username=rag;Database=postgres" -e "Silo__Redis=127.0.0.1:$REDIS"
  -e Silo__StoragePoolSize=6 -e Embedding__Model=arctic-xs -e Auth__BootstrapAdminKey="$KEY"
  -e Silo__Tls__Certificate=/etc/ragcluster/tls/tls.crt -e Silo__Tls__Key=/etc/ragcluster/tls/tls.key
  -e Silo__Tls__CertificateAuthority=/etc/ragcluster/tls/ca.crt -e DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0
  -v "$TLS:/etc/ragcluster/tls:ro" --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges)
now() { date +%s.%N; }
wait_ready() { # URL NAME STARTED: seconds from STARTED (now's) until URL answers 200
  local s=$SECONDS; until curl -sf -o /dev/null "$1"; do
    [ $((SECONDS - s)) -lt 180 ] || { echo "$2 not ready in 180 s" >&2; podman logs --tail 30 "$2" >&2; exit 1; }
    sleep 0.1; done; awk -v a="$3" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
step "starting the API silo and 3 silos"
start=$(now)
podman run -d --name rc-api "${chart_env[@]}" -e Silo__SiloPort=11111 -e Silo__GatewayPort=0 -e ASPNETCORE_URLS=http://127.0.0.1:$API localhost/ragcluster:dev >/dev/null
for i in 1 2 3; do
  podman run -d --name rc-silo$i "${chart_env[@]}" -e Silo__SiloPort=$((11111 + i)) -e Silo__GatewayPort=$((30000 + i)) -e Health__Port=$((18080 + i)) \
    localhost/ragcluster:dev dotnet RagCluster.Silo.dll >/dev/null
done
api_ready=$(wait_ready "http://127.0.0.1:$API/health/ready" rc-api "$start")
for i in 1 2 3; do all_ready=$(wait_ready "http://127.0.0.1:$((18080 + i))/health/ready" rc-silo$i "$start"); done
for i in 1 2 3; do curl -sf "http://127.0.0.1:$((18080 + i))/health/live" >/dev/null; done
user=$(podman exec rc-api id -u):$(podman exec rc-api id -g)
step "API silo ready ${api_ready} s after the first podman run, all four ${all_ready} s; user ${user}"
tls_peer=$(openssl s_client -connect 127.0.0.1:11112 -CAfile "$TLS/ca.crt" < /dev/null 2>/dev/null | grep -E '^subject=|Verify return code' | sort -u | tr '\n' ' ')
step "silo port 11112: $tls_peer"
echo "$tls_peer" | grep -q 'Verify return code: 0' || { echo "the silo port does not speak TLS with the cluster's certificate" >&2; exit 1; }

# 6. The README flow.
H=(-H "X-Api-Key: $KEY" -H 'content-type: application/json')
U="http://127.0.0.1:$API"
active() { curl -s "${H[@]}" "$U/v1/cluster" | python3 -c 'import json,sys; print(sum(m["status"]=="Active" for m in json.load(sys.stdin)["members"]))'; }
until [ "$(active)" = 4 ]; do sleep 0.5; done
curl -sf -X POST "$U/v1/collections" "${H[@]}" -d '{"name":"kb","shardCount":6,"replicationFactor":2}' >/dev/null
curl -sf -X POST "$U/v1/collections/kb/documents" "${H[@]}" -d '{"documents":[
  {"id":"tea","text":"Green tea is brewed at about 80 degrees Celsius; boiling water makes it bitter.","tags":{"lang":"en"}},
  {"id":"coffee","text":"Espresso is pressed through finely ground coffee at nine bars of pressure.","tags":{"lang":"en"}},
  {"id":"bread","text":"Sourdough bread rises slowly with wild yeast and lactic bacteria.","tags":{"lang":"en"}}]}' >/dev/null
until curl -s -X POST "$U/v1/collections/kb/documents/statuses" "${H[@]}" -d '{"ids":["tea","coffee","bread"]}' | grep -q '"indexed".*"indexed".*"indexed"'; do sleep 0.3; done
search() { curl -sf -X POST "$U/v1/collections/kb/search" "${H[@]}" -d '{"query":"how hot should the water be for a cuppa","topK":3}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["hits"][0]["documentId"])'; }
first=$(search)
answer=$(curl -sf -X POST "$U/v1/collections/kb/ask" "${H[@]}" -d '{"question":"How hot should green tea water be?"}')
step "search ranked '$first' first; ask: $(echo "$answer" | head -c 160)"
[ "$first" = tea ] || { echo "the search did not rank tea first" >&2; exit 1; }

# 7. kill -9 of a silo container under searches: the survivors declare it dead; searches go on.
step "podman kill -s KILL rc-silo2"
killed=$SECONDS
podman kill -s KILL rc-silo2 >/dev/null
failed=0; n=0
until [ "$(active)" = 3 ]; do [ "$(search 2>/dev/null)" = tea ] || failed=$((failed + 1)); n=$((n + 1)); done
dead_s=$((SECONDS - killed))
for i in 1 3; do curl -sf "http://127.0.0.1:$((18080 + i))/health/ready" >/dev/null; done
for i in $(seq 20); do [ "$(search 2>/dev/null)" = tea ] || failed=$((failed + 1)); n=$((n + 1)); done
step "declared dead after ${dead_s} s; ${n} searches meanwhile and after, ${failed} failed; the other silos stay ready"
podman logs rc-api > "$OUT/api.log" 2>&1; for i in 1 2 3; do podman logs rc-silo$i > "$OUT/silo$i.log" 2>&1; done

# 8. The image's default command alone: the embedded default (SQLite in the /data volume, the built-in model).
EMB=$(free_port)
embedded_start=$(now)
podman run -d --name rc-embedded -e ASPNETCORE_URLS=http://127.0.0.1:$EMB -e Silo__SiloPort=$(free_port) -e Silo__GatewayPort=0 localhost/ragcluster:dev >/dev/null
embedded_ready=$(wait_ready "http://127.0.0.1:$EMB/health/ready" rc-embedded "$embedded_start")
podman logs rc-embedded 2>&1 | grep -q "Bootstrap operator key" || { echo "the embedded container printed no key" >&2; exit 1; }
podman rm -f -t 0 rc-embedded >/dev/null
step "the embedded default ready ${embedded_ready} s after podman run"
echo "image localhost/ragcluster:dev: ${size_mb} MiB, ${build_s}; user ${user}; API silo ready in ${api_ready} s, 4 silos in ${all_ready} s; embedded default ready in ${embedded_ready} s; search ranked ${first} first; a killed silo declared dead in ${dead_s} s, ${failed} of ${n} searches failed; whole run $((SECONDS - t0)) s"
