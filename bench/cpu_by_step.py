#!/usr/bin/env python3
"""Where a process tree's CPU time goes, by pipeline step, from `perf script` output (perf record -a -g, with
DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 so JIT-compiled frames have names).

  perf script -i perf.data -F comm,pid,ip,sym | bench/cpu_by_step.py HZ ITEMS SERVER_PID

Each sample goes to the first step whose pattern matches a frame, leaf first (so a memmove under a graph insert is the
insert's); the thread's name decides the JIT, the GC and idle; samples of other processes (the bench's client) are counted apart.
Prints a markdown table: each step's share of the busy samples, and its CPU milliseconds an item when ITEMS items
(chunks) were processed while perf recorded."""
import re, sys

STEPS = [  # (step, pattern over one frame's text), leaf first
    ("graph inserts (HNSW)", r"HnswIndex|VectorMath|MinHeap|MaxHeap|VisitedSet"),
    ("tokenising (WordPiece)", r"WordPieceTokenizer"),
    ("extraction and chunking", r"Chunker|DocumentChunks|ExtractedText|DocumentExtractor"),
    ("embedding (hashing encoder, batcher)", r"HashingEncoder|EmbeddingService|Embedder"),
    ("BM25 terms and postings", r"Bm25|TextAnalyzer|Lexical"),
    ("SQLite (registry and shard logs)", r"sqlite|Sqlite|SqlGrainLogStore|GroupCommit|PersistentLog"),
    ("tag index and shard bookkeeping", r"IndexShardGrain|ShardTagIndex|DocumentSlots|ChunkStore"),
    ("registry (collection grain)", r"CollectionGrain|BulkWrites|CollectionLog"),
    ("HTTP and JSON", r"System\.Text\.Json|Kestrel|AspNetCore|RagCluster\.Api"),
    ("Orleans messaging and serialisation", r"Orleans\."),
]
COMPILED = [(name, re.compile(p)) for name, p in STEPS]
VALUE_LINKS = re.compile(r"HnswIndex.{1,3}(LinkValues|LinkMember)")

def classify(comm, pid, frames, server):
    if comm == "swapper": return "idle"
    if pid != server: return "other processes (the bench's client, the kernel's threads)"
    if comm.startswith(".NET Tiered") or any("libclrjit" in f for f in frames[:3]): return "JIT (tiered compilation)"
    if comm.startswith(".NET BGC") or any(re.search(r"gc_heap|WKS::|SVR::|GCHeap", f) for f in frames[:6]): return "GC"
    # The links per value (issue 82) are HNSW inserts too: told apart by their caller, wherever it is on the stack.
    if any(VALUE_LINKS.search(f) for f in frames): return "links per value (HNSW, issue 82)"
    for f in frames:
        for name, rx in COMPILED:
            if rx.search(f): return name
    return "other (runtime, kernel, thread pool)"

def samples(lines):
    head, frames = None, []
    for line in lines:
        if not line.strip():
            if head is not None: yield head[0], head[1], frames
            head, frames = None, []
        elif not line[0].isspace():
            m = re.match(r"(.*?)\s+(\d+)\s*$", line.rstrip())
            head = (m.group(1).strip(), int(m.group(2))) if m else (line.strip(), -1)
        else:
            frames.append(line.strip())
    if head is not None: yield head[0], head[1], frames

def main():
    hz, items, server = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    counts = {}
    for comm, pid, frames in samples(sys.stdin):
        step = classify(comm, pid, frames, server)
        counts[step] = counts.get(step, 0) + 1
    busy = sum(v for k, v in counts.items() if k != "idle")
    print(f"| step | share of busy CPU | CPU ms a chunk |")
    print(f"|---|---:|---:|")
    for step, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if step == "idle": continue
        ms = n / hz * 1000 / items
        print(f"| {step} | {100 * n / busy:.1f} % | {ms:.3f} |")
    print(f"| **busy, all steps** | 100 % | {busy / hz * 1000 / items:.3f} |")
    print(f"\nidle: {counts.get('idle', 0) / (busy + counts.get('idle', 0)) * 100:.1f} % of samples; {busy} busy samples")

main()
