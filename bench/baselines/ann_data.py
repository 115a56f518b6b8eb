#!/usr/bin/env python3
"""Writes the ANN benchmark data set: N unit vectors (float32, row-major) drawn around C random centres so that
neighbourhoods look like embedding clusters, Q held-out queries from the same distribution, and the exact top-10
by inner product. CENTRES (default N/50) draws a shard's own share of a larger collection: a collection of N in S shards
gives each shard N/S vectors around N/50 centres.   usage: ann_data.py OUT_DIR [N=100000] [DIM=384] [Q=1000] [CENTRES]"""
import os, sys
import numpy as np

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
dim = int(sys.argv[3]) if len(sys.argv) > 3 else 384
q = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
c = int(sys.argv[5]) if len(sys.argv) > 5 else n // 50
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(42)
centres = rng.standard_normal((c, dim)).astype(np.float32)

def sample(k):
    x = centres[rng.integers(0, len(centres), k)] + 1.0 * rng.standard_normal((k, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

data, queries = sample(n), sample(q)
gt = np.empty((q, 10), dtype=np.int32)
for s in range(0, q, 100):
    scores = queries[s:s + 100] @ data.T
    top = np.argpartition(-scores, 10, axis=1)[:, :10]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    gt[s:s + 100] = np.take_along_axis(top, order, axis=1)
data.tofile(os.path.join(out, "data.f32"))
queries.tofile(os.path.join(out, "queries.f32"))
gt.tofile(os.path.join(out, "gt.i32"))
with open(os.path.join(out, "shape.txt"), "w") as f:
    f.write(f"{n} {dim} {q}\n")
print(f"wrote {n}x{dim} data, {q} queries and exact top-10 to {out}")
