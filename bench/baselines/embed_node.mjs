// onnxruntime-node baseline for the embedding benchmark: the same model and the same session settings as our
// encoder (which runs on the Microsoft.ML.OnnxRuntime NuGet package); 128-token inputs.
// usage: node embed_node.mjs ORT_NODE_MODULE_DIR MODEL_DIR SECONDS IDS_JSON
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
const [moduleDir, modelDir, seconds, idsJson] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const ort = require(moduleDir);
const session = await ort.InferenceSession.create(`${modelDir}/model.onnx`, {
  // Every core for the one inference, as our side's Runners = 1 sets (ORT's own default used fewer here).
  graphOptimizationLevel: "all", interOpNumThreads: 1, intraOpNumThreads: availableParallelism(), executionProviders: ["cpu"],
  extra: { session: { intra_op: { allow_spinning: "0" } } },
});
const ids = JSON.parse(readFileSync(idsJson, "utf8"));
for (const batch of [1, 32]) {
  const n = ids.length;
  const make = (f) => new ort.Tensor("int64", BigInt64Array.from({ length: batch * n }, (_, i) => BigInt(f(i % n))), [batch, n]);
  const feeds = { input_ids: make(i => ids[i]), attention_mask: make(() => 1), token_type_ids: make(() => 0) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const out = await session.run(feeds);
    // Pool like the C# side does, so both pay for reading the output.
    const h = out.last_hidden_state.data, hidden = 384, v = new Float32Array(hidden);
    for (let b = 0; b < batch; b++) { v.fill(0); for (let t = 0; t < n; t++) for (let d = 0; d < hidden; d++) v[d] += h[(b * n + t) * hidden + d]; }
    done += batch;
  }
  console.log(JSON.stringify({ lib: "onnxruntime-node", batch, tokens: n, sentences_per_s: done / ((performance.now() - start) / 1000) }));
}
