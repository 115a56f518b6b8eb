// USearch (npm `usearch`, its prebuilt linux-x64 binary) on the data from ann_data.py, one thread, beside
// ann_baselines.py's hnswlib and faiss: build time, memory (RSS growth), then recall@10 and QPS over an ef sweep, for
// each scalar kind asked (f32, i8). Prints one JSON object per line, as ann_baselines.py does.
// usage: node ann_usearch.mjs DATA_DIR M EF_CONSTRUCTION EF1,EF2,... [KINDS=f32,i8]
// (USEARCH_DIR: where `npm install usearch` put it; bench/run_rag_bench.sh installs it under .tools/usearch.)
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";

const [dir, m, efc, efList, kindList = "f32,i8"] = process.argv.slice(2);
const require = createRequire(join(resolve(process.env.USEARCH_DIR ?? ".tools/usearch"), "node_modules", "x.js"));
const usearch = require("usearch");

const [n, dim, q] = readFileSync(join(dir, "shape.txt"), "utf8").trim().split(/\s+/).map(Number);
const floats = (file) => { const b = readFileSync(join(dir, file)); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const data = floats("data.f32");
const queries = floats("queries.f32");
const gtBytes = readFileSync(join(dir, "gt.i32"));
const gt = new Int32Array(gtBytes.buffer, gtBytes.byteOffset, gtBytes.byteLength / 4);
const rss = () => process.memoryUsage().rss;
const work = mkdtempSync(join(tmpdir(), "usearch-"));

// The vectors are unit length, so cosine ranks as the inner product does (our HNSW and hnswlib use "ip").
const make = (kind, ef) => new usearch.Index({
  dimensions: dim, metric: "cos", quantization: kind, connectivity: Number(m), expansion_add: Number(efc), expansion_search: ef, multi: false,
});

for (const kind of kindList.split(",")) {
  global.gc?.();
  const before = rss();
  const started = performance.now();
  const index = make(kind, 64);
  const keys = new BigUint64Array(n);
  for (let i = 0; i < n; i++) keys[i] = BigInt(i);
  index.add(keys, data, 1);
  const build = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ lib: `usearch-${kind}`, build_s: build, memory_mb: (rss() - before) / 2 ** 20, size: index.size() }));
  const file = join(work, `${kind}.usearch`);
  index.save(file);
  for (const ef of efList.split(",").map(Number)) {
    // expansion_search is fixed when an index is made: load the same graph into one made with this ef.
    const searcher = make(kind, ef);
    searcher.load(file);
    // All queries in one call on one thread: a call per query would time the JavaScript binding, not the index
    // (one call a query measured 1.3x lower QPS at ef 16).
    // QPS is the median of 5 passes over all the queries, as the other ann scripts report it.
    let hits = 0, batch;
    const rates = [];
    for (let pass = 0; pass < 5; pass++) {
      const t = performance.now();
      batch = searcher.search(queries, 10, 1);
      rates.push(q / ((performance.now() - t) / 1000));
    }
    for (let i = 0; i < q; i++) {
      const truth = new Set(gt.subarray(i * 10, i * 10 + 10));
      for (let j = 0; j < Number(batch.counts[i]); j++) if (truth.has(Number(batch.keys[i * 10 + j]))) hits++;
    }
    console.log(JSON.stringify({ lib: `usearch-${kind}`, ef, recall: hits / (q * 10), qps: rates.sort((a, b) => a - b)[2] }));
  }
}
rmSync(work, { recursive: true, force: true });
