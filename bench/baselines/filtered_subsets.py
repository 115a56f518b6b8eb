#!/usr/bin/env python3
"""What a graph can find in a random subset of ann_data.py's vectors (issue 82): hnswlib (Debian python3-hnswlib, one
thread, M 16, efConstruction 200, inner product) on the whole data (recall@10 against gt.i32), then for each share a
graph of a random subset alone ("members alone": the best any per-value graph of that share can be), against the exact
top 10 of the subset, at several ef; with the similarities of the subset's 1st, 10th, 11th and 100th nearest (how far
the 10th stands from the rest). Prints one JSON object per line.
usage: filtered_subsets.py DATA_DIR [QUERIES=200] [SHARES=0.01,0.1,0.3] [EFS=64,256,1024]"""
import json, os, sys, time
import numpy as np
import hnswlib

d = sys.argv[1]
nq = int(sys.argv[2]) if len(sys.argv) > 2 else 200
shares = [float(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "0.01,0.1,0.3").split(",")]
efs = [int(x) for x in (sys.argv[4] if len(sys.argv) > 4 else "64,256,1024").split(",")]
n, dim, q = map(int, open(os.path.join(d, "shape.txt")).read().split())
X = np.fromfile(os.path.join(d, "data.f32"), dtype=np.float32).reshape(n, dim)
Q = np.fromfile(os.path.join(d, "queries.f32"), dtype=np.float32).reshape(q, dim)[:nq]
gt = np.fromfile(os.path.join(d, "gt.i32"), dtype=np.int32).reshape(q, 10)[:nq]
rng = np.random.default_rng(82)

def recall(found, truth):
    return float(np.mean([len(set(f[:10]) & set(t)) / 10 for f, t in zip(found, truth)]))

def graph(rows, ids):
    g = hnswlib.Index(space="ip", dim=dim)
    g.init_index(max_elements=len(ids), M=16, ef_construction=200)
    g.set_num_threads(1)
    g.add_items(rows, ids)
    return g

t = time.time()
full = graph(X, np.arange(n))
print(json.dumps({"what": "whole data", "vectors": n, "build_s": round(time.time() - t, 1)}), flush=True)
for ef in efs:
    full.set_ef(ef)
    found, _ = full.knn_query(Q, k=10)
    print(json.dumps({"what": "whole data", "ef": ef, "recall_at_10": recall(found, gt)}), flush=True)
S = Q @ X.T
for share in shares:
    idx = np.nonzero(rng.random(n) < share)[0]
    truth = [idx[np.argsort(-S[i, idx])[:10]] for i in range(len(Q))]
    ranked = np.sort(S[:, idx], axis=1)[:, ::-1]
    sims = {f"sim_{r}": round(float(np.mean(ranked[:, r - 1])), 4) for r in (1, 10, 11, 100)}
    alone = graph(X[idx], idx)
    for ef in efs:
        alone.set_ef(ef)
        found, _ = alone.knn_query(Q, k=10)
        print(json.dumps({"what": "members alone", "share": share, "members": len(idx), "ef": ef, "recall_at_10": recall(found, truth), **sims}), flush=True)
