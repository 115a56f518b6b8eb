// An embedding path independent of ours, for checking the built-in models' vectors: Hugging Face's tokenizers.js
// (from tokenizer.json) and onnxruntime-node (its own native ONNX Runtime build), one text per inference.
// usage: node embed.mjs ORT_NODE_MODULE TOKENIZER_DIR MODEL_ONNX POOLING(mean|cls) MAX_TOKENS PREFIX < texts.json > vectors.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [ortModule, tokenizerDir, modelPath, pooling, maxTokens, prefix] = process.argv.slice(2);
const ort = createRequire(import.meta.url)(ortModule);
const { Tokenizer } = await import(pathToFileURL(process.env.REFTOK_MODULE).href);
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(`${tokenizerDir}/tokenizer.json`, "utf8")),
  JSON.parse(readFileSync(`${tokenizerDir}/tokenizer_config.json`, "utf8")));
const session = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"], graphOptimizationLevel: "all" });
const max = Number(maxTokens);
const texts = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const text of texts) {
  let ids = Array.from(tokenizer.encode(prefix + text).ids);
  // Truncate as sentence-transformers does: keep [CLS], the first pieces and the closing [SEP].
  if (ids.length > max) ids = ids.slice(0, max - 1).concat(ids[ids.length - 1]);
  const n = ids.length;
  const tensor = (f) => new ort.Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i))), [1, n]);
  const result = await session.run({ input_ids: tensor(i => ids[i]), attention_mask: tensor(() => 1), token_type_ids: tensor(() => 0) });
  const h = result.last_hidden_state.data, hidden = result.last_hidden_state.dims[2];
  const v = new Float64Array(hidden);
  if (pooling === "cls") for (let d = 0; d < hidden; d++) v[d] = h[d];
  else { for (let t = 0; t < n; t++) for (let d = 0; d < hidden; d++) v[d] += h[t * hidden + d]; for (let d = 0; d < hidden; d++) v[d] /= n; }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  out.push(Array.from(v, x => x / norm));
}
process.stdout.write(JSON.stringify(out));
