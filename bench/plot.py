#!/usr/bin/env python3
"""Plots a run_rag_bench.sh results file: (left) ingest chunks/s against batch size, the encoder alone beside the whole
pipeline; (right) single-thread QPS against recall@10, our HNSW beside hnswlib and faiss.
usage: plot.py RESULTS_JSONL OUT_PNG"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))

sweep = sorted((r["batch"], r["chunks_per_s"]) for r in rows if r.get("bench") == "encoder_sweep")
if sweep:
    left.plot([b for b, _ in sweep], [c for _, c in sweep], "o-", label="encoder alone (sorted by length)")
for r in rows:
    if r.get("bench") == "encoder_limit":
        left.axhline(r["chunks_per_s"], color="grey", ls="--", lw=1, label=f"encoder limit, all chunks at batch {r['batch']}")
for r, marker in zip([r for r in rows if r.get("bench") == "ingest_vs_encoder"], "s^Dv"):
    left.plot([r["mean_embedding_batch"]], [r["chunks_per_s"]], marker, ms=9,
              label=f"whole ingest, {r['silos']} silo{'s' if r['silos'] > 1 else ''} ({r['ratio']:.2f}x limit)")
left.set_xscale("log", base=2)
left.set_xlabel("rows per inference (pipeline: mean observed)")
left.set_ylabel("chunks/s")
left.set_title("Ingest against the encoder, SciFact-train, random-weight MiniLM")
left.set_ylim(bottom=0)
left.legend(fontsize=8, loc="lower left")

for lib in dict.fromkeys(r["lib"] for r in rows if "recall" in r and "qps" in r):
    pts = sorted((r["recall"], r["qps"]) for r in rows if r.get("lib") == lib and "recall" in r and "qps" in r)
    right.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, label=lib)
right.set_xlabel("recall@10")
right.set_ylabel("queries/s (1 thread)")
right.set_yscale("log")
right.set_title("HNSW search, M=16, efConstruction=200")
right.axvline(0.95, color="grey", ls=":", lw=1)
right.axvline(0.99, color="grey", ls=":", lw=1)
right.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
print(f"wrote {sys.argv[2]}")
