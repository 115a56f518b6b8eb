#!/usr/bin/env python3
"""hnswlib and faiss (Debian python3-hnswlib / python3-faiss) on the data from ann_data.py, one thread each:
build time, memory (RSS growth), then recall@10 and QPS over an ef sweep. Prints one JSON object per line.
hnswlib then builds again with THREADS threads (build time and recall at ef 64).
usage: ann_baselines.py DATA_DIR M EF_CONSTRUCTION EF1,EF2,... [THREADS]"""
import json, os, sys, time
import numpy as np

d, M, efc, efs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(x) for x in sys.argv[4].split(",")]
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
n, dim, q = map(int, open(os.path.join(d, "shape.txt")).read().split())
data = np.fromfile(os.path.join(d, "data.f32"), dtype=np.float32).reshape(n, dim)
queries = np.fromfile(os.path.join(d, "queries.f32"), dtype=np.float32).reshape(q, dim)
gt = np.fromfile(os.path.join(d, "gt.i32"), dtype=np.int32).reshape(q, 10)

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def recall(found):
    return float(np.mean([len(set(found[i][:10]) & set(gt[i])) / 10 for i in range(q)]))

PASSES = 5  # QPS is the median pass over all the queries, as the other ann scripts report it

def sweep(name, set_ef, search_one):
    for ef in efs:
        set_ef(ef)
        rates = []
        for _ in range(PASSES):
            found = []
            t = time.perf_counter()
            for i in range(q):
                found.append(search_one(queries[i:i + 1]))
            rates.append(q / (time.perf_counter() - t))
        print(json.dumps({"lib": name, "ef": ef, "recall": recall(found), "qps": sorted(rates)[PASSES // 2]}), flush=True)

import hnswlib
before = rss()
t = time.perf_counter()
h = hnswlib.Index(space="ip", dim=dim)
h.init_index(max_elements=n, M=M, ef_construction=efc, random_seed=42)
h.set_num_threads(1)
h.add_items(data, np.arange(n), num_threads=1)
print(json.dumps({"lib": "hnswlib", "build_s": time.perf_counter() - t, "memory_mb": (rss() - before) / 2**20}), flush=True)
sweep("hnswlib", h.set_ef, lambda x: h.knn_query(x, k=10, num_threads=1)[0][0])
del h
if threads > 1:
    t = time.perf_counter()
    h = hnswlib.Index(space="ip", dim=dim)
    h.init_index(max_elements=n, M=M, ef_construction=efc, random_seed=42)
    h.add_items(data, np.arange(n), num_threads=threads)
    build = time.perf_counter() - t
    h.set_ef(64)
    print(json.dumps({"lib": "hnswlib", "threads": threads, "build_s": build,
                      "recall_ef64": recall([h.knn_query(queries[i:i + 1], k=10, num_threads=1)[0][0] for i in range(q)])}), flush=True)
    del h

import faiss
faiss.omp_set_num_threads(1)
before = rss()
t = time.perf_counter()
f = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
f.hnsw.efConstruction = efc
f.add(data)
print(json.dumps({"lib": "faiss", "build_s": time.perf_counter() - t, "memory_mb": (rss() - before) / 2**20}), flush=True)
def set_faiss_ef(ef):
    f.hnsw.efSearch = ef
sweep("faiss", set_faiss_ef, lambda x: f.search(x, 10)[1][0])
