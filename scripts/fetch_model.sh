#!/usr/bin/env bash
# Downloads all-MiniLM-L6-v2 (ONNX export by Xenova, Apache-2.0) into models/all-MiniLM-L6-v2 and checks its
# sha256 before keeping it. Needs internet access to huggingface.co; on a machine without it this says so and
# exits 1 (the random-weight test model from scripts/setup.sh is then the only one available).
# usage: scripts/fetch_model.sh [TARGET_DIR]
set -euo pipefail
target=${1:-models/all-MiniLM-L6-v2}
# The content is pinned by the sha256 below (from ../shared/models/README.md), whatever revision "main" serves.
base=https://huggingface.co/Xenova/all-MiniLM-L6-v2/resolve/main
model_sha=759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e   # onnx/model.onnx, 90,387,606 bytes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch() {
  curl -fsSL --retry 2 --connect-timeout 10 -o "$tmp/$2" "$base/$1" || {
    echo "fetch_model: cannot download $base/$1 (no internet access to huggingface.co?)" >&2
    exit 1
  }
}
fetch onnx/model.onnx model.onnx
echo "$model_sha  $tmp/model.onnx" | sha256sum -c --quiet - || { echo "fetch_model: model.onnx checksum mismatch; not installed" >&2; exit 1; }
for f in tokenizer.json tokenizer_config.json vocab.txt config.json special_tokens_map.json; do fetch "$f" "$f"; done
mkdir -p "$target"
mv "$tmp"/* "$target"/
echo "installed $target; run with --Embedding:ModelDirectory $target"
