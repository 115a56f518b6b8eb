#!/usr/bin/env python3
"""Tabulates the JSON lines of run_rag_bench.sh. ANN: QPS at recall@10 = 0.90/0.95/0.99, interpolated linearly
between the two ef settings that bracket each target (the sweep is monotone in recall)."""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ann = [r for r in rows if "recall" in r]
builds = {r["lib"]: r for r in rows if "build_s" in r and "threads" not in r}
multi = [r for r in rows if "threads" in r]
if ann:
    print("| library | build s (1 thread) | memory MB | QPS @ 0.90 | QPS @ 0.95 | QPS @ 0.99 | recall at ef=64 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for lib in dict.fromkeys(r["lib"] for r in ann):
        pts = sorted(((r["recall"], r["qps"], r["ef"]) for r in ann if r["lib"] == lib), key=lambda p: p[2])
        def at(target):
            if pts[0][0] >= target:
                return pts[0][1]
            for (r0, q0, _), (r1, q1, _) in zip(pts, pts[1:]):
                if r0 < target <= r1:
                    return q0 + (q1 - q0) * (target - r0) / (r1 - r0)
            return float("nan")
        b = builds.get(lib, {})
        mem = b.get("index_mb", b.get("memory_mb", float("nan")))
        r64 = next((p[0] for p in pts if p[2] == 64), float("nan"))
        print(f"| {lib} | {b.get('build_s', float('nan')):.1f} | {mem:.0f} | {at(0.90):,.0f} | {at(0.95):,.0f} | {at(0.99):,.0f} | {r64:.4f} |")
def table(header, aligns, lines):
    """A markdown table, after a blank line, when there is anything to put in it."""
    if not lines:
        return
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(aligns) + "|")
    for cells in lines:
        print("| " + " | ".join(cells) + " |")

table(["library", "build threads", "build s", "speed-up over 1 thread", "recall at ef=64"], ["---"] + ["---:"] * 4,
      [[r["lib"], str(r["threads"]), f"{r['build_s']:.1f}", f"{builds.get(r['lib'], {}).get('build_s', float('nan')) / r['build_s']:.2f}x",
        f"{r['recall_ef64']:.4f}"] for r in multi])
table(["embedder", "batch", "tokens", "sentences/s"], ["---"] + ["---:"] * 3,
      [[r["lib"], str(r["batch"]), str(r["tokens"]), f"{r['sentences_per_s']:,.1f}"] for r in rows if "sentences_per_s" in r])
table(["encoder alone: rows per inference", "chunks/s"], ["---:"] * 2,
      [[str(r["batch"]), f"{r['chunks_per_s']:.1f}"] for r in rows if r.get("bench") == "encoder_sweep"])
table(["silos", "documents", "chunks", "ingest s", "docs/s", "chunks/s", "encoder limit chunks/s", "ratio", "mean rows per inference"], ["---:"] * 9,
      [[str(r["silos"]), f"{r['documents']:,}", f"{r['chunks']:,}", f"{r['seconds']:.1f}", f"{r['docs_per_s']:.1f}", f"{r['chunks_per_s']:.1f}",
        f"{r['encoder_limit_chunks_per_s']:.1f}", f"**{r['ratio']:.2f}**", f"{r['mean_embedding_batch']:.1f}"]
       for r in rows if r.get("bench") == "ingest_vs_encoder"])
for r in rows:
    if r.get("bench") == "bulk_paths":
        print(f"\nbackup {r['backup_s']:.1f} s ({r['archive_mb']:.0f} MB), restore {r['restore_s']:.1f} s "
              f"({r['restored_documents']:,} documents, {r['restored_chunks']:,} chunks)")
    if r.get("bench") == "shard_reload":
        print(f"shards back after kill -9: first search {r['first_search_s']:.2f} s ({r['chunks']:,} chunks, "
              f"{r['log_entries_replayed']} log entries replayed), next search {r['next_search_s'] * 1000:.0f} ms")
