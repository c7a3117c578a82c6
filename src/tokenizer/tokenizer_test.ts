import assert from "node:assert/strict";
import type { GgufValue } from "../gguf/mod.ts";
import { PairQueue } from "./heap.ts";
import { createTokenizer, TokenizerError, type TokenizerSource } from "./mod.ts";
import { preTokenize, preTokenizerRegexes } from "./pretokenize.ts";

/** Builds a GGUF header that contains only the given metadata. */
function fakeGguf(metadata: Record<string, GgufValue>): TokenizerSource {
  return { source: "fake.gguf", metadata: new Map(Object.entries(metadata)) };
}

/** Builds a small SPM vocabulary: control tokens, all 256 byte tokens, then scored pieces. */
function spmVocab(pieces: [string, number][]): Record<string, GgufValue> {
  const tokens = ["<unk>", "<s>", "</s>"];
  const scores = [0, 0, 0];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    scores.push(0);
    types.push(6);
  }
  for (const [text, score] of pieces) {
    tokens.push(text);
    scores.push(score);
    types.push(1);
  }
  return {
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.scores": Float32Array.from(scores),
    "tokenizer.ggml.token_type": Int32Array.from(types),
  };
}

const PIECES: [string, number][] = [
  ["▁", -1],
  ["a", -2],
  ["b", -2],
  ["ab", -1.5],
  ["▁ab", -0.5],
  ["▁a", -3],
];

Deno.test("createTokenizer rejects unknown model", () => {
  const file = fakeGguf({ ...spmVocab([]), "tokenizer.ggml.model": "wordpiece-x" });
  assert.throws(
    () => createTokenizer(file),
    (e: unknown) =>
      e instanceof TokenizerError && e.found === "wordpiece-x" &&
      e.message.includes('"wordpiece-x"'),
  );
});

Deno.test("createTokenizer rejects bert model", () => {
  const file = fakeGguf({ ...spmVocab([]), "tokenizer.ggml.model": "bert" });
  assert.throws(() => createTokenizer(file), TokenizerError);
});

Deno.test("createTokenizer rejects unknown pre-tokenizer", () => {
  const file = fakeGguf({
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": "no-such-pre",
    "tokenizer.ggml.tokens": ["a", "b"],
    "tokenizer.ggml.merges": ["a b"],
  });
  assert.throws(
    () => createTokenizer(file),
    (e: unknown) =>
      e instanceof TokenizerError && e.key === "tokenizer.ggml.pre" &&
      e.found === "no-such-pre",
  );
});

Deno.test("createTokenizer rejects missing tokens", () => {
  const file = fakeGguf({ "tokenizer.ggml.model": "llama" });
  assert.throws(
    () => createTokenizer(file),
    (e: unknown) => e instanceof TokenizerError && e.key === "tokenizer.ggml.tokens",
  );
});

Deno.test("createTokenizer rejects short scores", () => {
  const vocab = spmVocab(PIECES);
  vocab["tokenizer.ggml.scores"] = new Float32Array(3);
  assert.throws(
    () => createTokenizer(fakeGguf(vocab)),
    (e: unknown) => e instanceof TokenizerError && e.key === "tokenizer.ggml.scores",
  );
});

Deno.test("createTokenizer ignores out-of-range special ids", () => {
  const warnings: string[] = [];
  const logger = { warn: (message: string) => warnings.push(message) };
  const tokenizer = createTokenizer(
    fakeGguf({ ...spmVocab(PIECES), "tokenizer.ggml.padding_token_id": 4294967295 }),
    { logger },
  );
  assert.equal(tokenizer.bos, 1);
  assert.equal(tokenizer.eos, 2);
  // 0xFFFFFFFF is llama.cpp's "none": silent. Other ids outside the vocabulary warn.
  assert.deepEqual(warnings, []);
  createTokenizer(fakeGguf({ ...spmVocab(PIECES), "tokenizer.ggml.eot_token_id": 9999 }), {
    logger,
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /ignoring key "tokenizer.ggml.eot_token_id".*found 9999/);
});

Deno.test("spm merges by score", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  const id = (t: string) => tokenizer.tokenId(t)!;
  // "▁ab" (score -0.5) wins over "▁a" (-3) once "ab" (-1.5) has merged.
  assert.deepEqual(tokenizer.encode("ab"), [1, id("▁ab")]);
  assert.deepEqual(tokenizer.encode("ab", { addSpecial: false }), [id("▁ab")]);
  assert.deepEqual(tokenizer.encode("a b", { addSpecial: false }), [id("▁a"), id("▁"), id("b")]);
});

Deno.test("spm falls back to byte tokens", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  // "é" is not a piece: its two UTF-8 bytes become <0xC3> <0xA9>.
  const ids = tokenizer.encode("é", { addSpecial: false });
  assert.deepEqual(ids, [tokenizer.tokenId("▁"), 3 + 0xc3, 3 + 0xa9]);
  assert.equal(tokenizer.decode(ids), "é");
});

Deno.test("spm honours add_bos_token and add_eos_token", () => {
  const tokenizer = createTokenizer(fakeGguf({
    ...spmVocab(PIECES),
    "tokenizer.ggml.add_bos_token": false,
    "tokenizer.ggml.add_eos_token": true,
  }));
  assert.deepEqual(tokenizer.encode("ab"), [tokenizer.tokenId("▁ab"), 2]);
  assert.deepEqual(tokenizer.encode(""), [2]);
});

Deno.test("spm empty text gives BOS only", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  assert.deepEqual(tokenizer.encode(""), [1]);
  assert.deepEqual(tokenizer.encode("", { addSpecial: false }), []);
});

Deno.test("spm parses control tokens only on request", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  const plain = tokenizer.encode("ab</s>", { addSpecial: false });
  assert.ok(!plain.includes(2));
  assert.equal(tokenizer.decode(plain), "ab</s>");
  const parsed = tokenizer.encode("ab</s>ab", { addSpecial: false, parseSpecial: true });
  // Text after a special token gets the space prefix again, as in llama.cpp.
  assert.deepEqual(parsed, [tokenizer.tokenId("▁ab"), 2, tokenizer.tokenId("▁ab")]);
});

Deno.test("decode renders control tokens only with special", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  const ids = [1, tokenizer.tokenId("▁ab")!, 2];
  assert.equal(tokenizer.decode(ids), "ab");
  assert.equal(tokenizer.decode(ids, { special: true }), "<s>ab</s>");
  assert.equal(tokenizer.decode(ids, { stripLeadingSpace: false }), " ab");
});

Deno.test("createDecoder holds back split characters", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  // "😀" is F0 9F 98 80: four byte tokens.
  const ids = [0xf0, 0x9f, 0x98, 0x80].map((b) => 3 + b);
  const decoder = tokenizer.createDecoder();
  assert.deepEqual(ids.map((id) => decoder.push(id)), ["", "", "", "😀"]);
  assert.equal(decoder.flush(), "");
});

Deno.test("createDecoder flushes an incomplete character", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  const decoder = tokenizer.createDecoder();
  assert.equal(decoder.push(3 + 0xe4), "");
  assert.equal(decoder.flush(), "\uFFFD");
  assert.equal(decoder.push(tokenizer.tokenId("ab")!), "ab");
});

Deno.test("tokenToBytes rejects ids outside the vocabulary", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab(PIECES)));
  assert.throws(() => tokenizer.tokenToBytes(-1), TokenizerError);
  assert.throws(() => tokenizer.tokenToBytes(tokenizer.vocabSize), TokenizerError);
  assert.throws(() => tokenizer.tokenToBytes(1.5), TokenizerError);
});

Deno.test("isEog covers EOS and end-of-turn tokens", () => {
  const tokenizer = createTokenizer(fakeGguf(spmVocab([...PIECES, ["<|im_end|>", 0]])));
  const imEnd = tokenizer.tokenId("<|im_end|>")!;
  assert.equal(tokenizer.isEog(2), true);
  assert.equal(tokenizer.isEog(imEnd), true);
  assert.equal(tokenizer.eot, imEnd);
  assert.equal(tokenizer.isEog(1), false);
  // The end-of-turn token becomes CONTROL, so plain text never produces it.
  assert.equal(tokenizer.isControl(imEnd), true);
});

Deno.test("bpe merges by rank with byte mapping", () => {
  // "Ġ" is the byte-level character for a space.
  const tokens = ["h", "i", "Ġ", "Ġh", "hi", "Ġhi", "!"];
  const tokenizer = createTokenizer(fakeGguf({
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": "gpt-2",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.merges": ["h i", "Ġ hi", "Ġ h"],
  }));
  assert.deepEqual(tokenizer.encode("hi hi!"), [4, 5, 6]);
  assert.equal(tokenizer.decode([4, 5, 6]), "hi hi!");
  assert.equal(tokenizer.addBos, false);
});

Deno.test("preTokenize gpt2 splits words, numbers and spaces", () => {
  const words = preTokenize("Hello  world's 123!?", preTokenizerRegexes("gpt2"));
  assert.deepEqual(words, ["Hello", " ", " world", "'s", " 123", "!?"]);
});

Deno.test("preTokenize llama3 groups three digits", () => {
  const words = preTokenize("12345 abc\n\n", preTokenizerRegexes("llama3"));
  assert.deepEqual(words, ["123", "45", " abc", "\n\n"]);
});

Deno.test("preTokenize keeps every character", () => {
  const text = "a\u0085b\uFEFFc  \u3000d 😀 ١٢٣";
  for (const name of ["default", "gpt2", "llama3", "qwen2", "deepseek-llm", "falcon"]) {
    assert.equal(preTokenize(text, preTokenizerRegexes(name)).join(""), text, name);
  }
});

Deno.test("PairQueue pops by priority then left index", () => {
  const queue = new PairQueue();
  const entries = [[1, 5], [3, 2], [3, 1], [-2, 0], [3, 7], [1, 1]];
  for (const [priority, left] of entries) queue.push(priority, left, left + 1, 2);
  const out = new Int32Array(3);
  const order: number[] = [];
  while (queue.length > 0) {
    queue.pop(out);
    order.push(out[0]);
  }
  assert.deepEqual(order, [1, 2, 7, 1, 5, 0]);
});

Deno.test("PairQueue grows past its initial capacity", () => {
  const queue = new PairQueue();
  for (let i = 0; i < 5000; i++) queue.push((i * 7919) % 1000, i, i + 1, 2);
  const out = new Int32Array(3);
  let last = Infinity;
  let count = 0;
  while (queue.length > 0) {
    queue.pop(out);
    const priority = (out[0] * 7919) % 1000;
    assert.ok(priority <= last);
    last = priority;
    count++;
  }
  assert.equal(count, 5000);
});

Deno.test("bpe llama3 skips merges for whole-word tokens", () => {
  // "abc" is a token, but no merge sequence reaches it; llama-bpe looks it up directly.
  const file = (pre: string) =>
    fakeGguf({
      "tokenizer.ggml.model": "gpt2",
      "tokenizer.ggml.pre": pre,
      "tokenizer.ggml.tokens": ["a", "b", "c", "ab", "abc"],
      "tokenizer.ggml.merges": ["a b"],
      "tokenizer.ggml.bos_token_id": 0,
    });
  assert.deepEqual(createTokenizer(file("llama-bpe")).encode("abc", { addSpecial: false }), [4]);
  assert.deepEqual(createTokenizer(file("gpt-2")).encode("abc", { addSpecial: false }), [3, 2]);
  // llama-bpe adds BOS by default; gpt-2 does not.
  assert.equal(createTokenizer(file("llama-bpe")).addBos, true);
  assert.equal(createTokenizer(file("gpt-2")).addBos, false);
});

Deno.test("preTokenize qwen2 splits single digits", () => {
  const words = preTokenize("abc 2024 I'M", preTokenizerRegexes("qwen2"));
  assert.deepEqual(words, ["abc", " ", "2", "0", "2", "4", " I", "'M"]);
});
