/**
 * Tokenizer throughput on 1 MB of English and 1 MB of mixed CJK/emoji text, with the
 * llama-spm vocabulary (32000 tokens) from the shared test data. The text is generated
 * from a fixed seed, so every run tokenizes the same input.
 *
 *   deno run --allow-read bench/tokenizer_bench.ts [path/to/vocab.gguf]
 */
import { readGguf } from "../src/gguf/mod.ts";
import { createTokenizer } from "../src/tokenizer/mod.ts";
import { testdataPath } from "../tests/testdata.ts";

const TARGET_BYTES = 1 << 20;

/** Deterministic 32-bit generator (mulberry32), so the input never changes. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ("the of and to in a is that for it as was with be by on not he i this are or his " +
  "from at which but have an they you were her she there been one all we their has would " +
  "when if so what no out up into more can time some could them other than then now only " +
  "model token language generation running quickly beautiful understanding").split(" ");
const CJK =
  "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从";
const EMOJI = ["😀", "🎉", "👍🏽", "🚀", "❤️", "🇯🇵", "👨‍👩‍👧", "🌸", "🍣", "✨"];
const PUNCT = ["。", "，", "！", "？", "、", " "];

function generate(kind: "english" | "cjk", next: () => number): string {
  const encoder = new TextEncoder();
  const parts: string[] = [];
  let bytes = 0;
  while (bytes < TARGET_BYTES) {
    let part: string;
    if (kind === "english") {
      part = WORDS[Math.floor(next() * WORDS.length)];
      part += next() < 0.08 ? ". " : next() < 0.05 ? ",\n" : " ";
    } else {
      const r = next();
      if (r < 0.7) part = CJK[Math.floor(next() * CJK.length)];
      else if (r < 0.85) part = EMOJI[Math.floor(next() * EMOJI.length)];
      else part = PUNCT[Math.floor(next() * PUNCT.length)];
    }
    parts.push(part);
    bytes += encoder.encode(part).length;
  }
  return parts.join("");
}

const vocabPath = Deno.args[0] ?? testdataPath("vocab/ggml-vocab-llama-spm.gguf");
const tokenizer = createTokenizer(await readGguf(vocabPath));
const next = random(42);

for (const kind of ["english", "cjk"] as const) {
  const text = generate(kind, next);
  const bytes = new TextEncoder().encode(text).length;
  // One warm-up run so the timing excludes JIT compilation.
  tokenizer.encode(text.slice(0, 20000));
  const start = performance.now();
  const ids = tokenizer.encode(text, { addSpecial: false });
  const encodeMs = performance.now() - start;
  const decodeStart = performance.now();
  const decoded = tokenizer.decode(ids);
  const decodeMs = performance.now() - decodeStart;
  if (decoded !== text) throw new Error(`${kind}: decode(encode(text)) differs from text`);
  const line = `${kind}: ${(bytes / 1e6).toFixed(2)} MB -> ${ids.length} tokens, ` +
    `encode ${(encodeMs / 1000).toFixed(2)} s (${
      Math.round(ids.length / (encodeMs / 1000))
    } tokens/s, ` +
    `${(bytes / 1e6 / (encodeMs / 1000)).toFixed(2)} MB/s), decode ${
      (decodeMs / 1000).toFixed(2)
    } s`;
  // deno-lint-ignore no-console
  console.log(line);
}
