#!/usr/bin/env bash
# Installs what the build and tests need on a fresh machine (the .NET SDK is assumed present).
# Idempotent: does nothing when everything is already there.
set -euo pipefail

have_pg() {
  [ -n "${RAGCLUSTER_PG_BIN:-}" ] && [ -x "$RAGCLUSTER_PG_BIN/initdb" ] && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  command -v initdb >/dev/null 2>&1
}

if ! have_pg; then
  # Multi-silo tests start a real PostgreSQL from its binaries; no server needs to be running.
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing PostgreSQL server binaries (postgresql-15)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  else
    echo "setup: PostgreSQL server binaries (initdb, pg_ctl) are missing; install postgresql-15 or set RAGCLUSTER_PG_BIN" >&2
    exit 1
  fi
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "setup: PostgreSQL refuses to run as root and there is no 'postgres' user; install postgresql-15" >&2
  exit 1
fi
dotnet restore RagCluster.sln --nologo -v q
