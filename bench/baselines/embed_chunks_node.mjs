// onnxruntime-node on the very model inputs ingest gives our encoder (bench `chunk-ids`: a default collection's chunks
// of the corpus), with the silo's default CPU settings mirrored: one intra-op thread per inference and as many
// inferences in flight as cores (our Embedding:Runners), one chunk each, in corpus order, pooled on the host.
// usage: node embed_chunks_node.mjs ORT_NODE_MODULE_DIR MODEL_ONNX IDS_JSON [IN_FLIGHT=cores] [INTRA_OP_THREADS=1]
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
const [moduleDir, modelPath, idsJson, inFlightArg, intraArg] = process.argv.slice(2);
const ort = createRequire(import.meta.url)(moduleDir);
const inFlight = Number(inFlightArg ?? availableParallelism());
const session = await ort.InferenceSession.create(modelPath, {
  graphOptimizationLevel: "all", interOpNumThreads: 1, intraOpNumThreads: Number(intraArg ?? 1), executionProviders: ["cpu"],
  extra: { session: { intra_op: { allow_spinning: "0" } } },
});
const sequences = JSON.parse(readFileSync(idsJson, "utf8"));
const run = async (ids) => {
  const n = ids.length;
  const tensor = (f) => new ort.Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i))), [1, n]);
  const out = await session.run({ input_ids: tensor(i => ids[i]), attention_mask: tensor(() => 1), token_type_ids: tensor(() => 0) });
  const h = out.last_hidden_state.data, hidden = out.last_hidden_state.dims[2], v = new Float32Array(hidden);
  for (let t = 0; t < n; t++) for (let d = 0; d < hidden; d++) v[d] += h[t * hidden + d];
  return v;
};
for (const s of sequences.slice(0, 8)) await run(s); // warm-up
let next = 0;
const start = performance.now();
await Promise.all(Array.from({ length: inFlight }, async () => { while (next < sequences.length) await run(sequences[next++]); }));
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ lib: "onnxruntime-node", chunks: sequences.length, in_flight: inFlight, intra_op_threads: Number(intraArg ?? 1), mean_tokens: sequences.reduce((a, s) => a + s.length, 0) / sequences.length, chunks_per_s: sequences.length / seconds }));
