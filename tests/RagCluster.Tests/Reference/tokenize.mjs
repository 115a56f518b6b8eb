// Reference token ids from Hugging Face's tokenizers.js for the WordPiece tests.
// usage: node tokenize.mjs TOKENIZER_DIR MAX_LENGTH < texts.json > ids.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [dir, maxLength] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const modulePath = process.env.REFTOK_MODULE;
const { Tokenizer } = await import(pathToFileURL(modulePath).href);
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(`${dir}/tokenizer.json`, "utf8")),
  JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, "utf8")));
const texts = JSON.parse(readFileSync(0, "utf8"));
const out = texts.map(t => {
  const ids = tokenizer.encode(t).ids ?? tokenizer.encode(t);
  return Array.from(ids).slice(0, Number(maxLength));
});
process.stdout.write(JSON.stringify(out));
