/**
 * Session behaviour on a real model (stories260K): streaming, stopping, cancelling,
 * prefix reuse, sampling options and errors.
 */
import assert from "node:assert/strict";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";
import { allocKvCache, ContextError, loadModel, type Model, ModelError } from "../src/model/mod.ts";
import type { GenerationChunk } from "../src/engine/types.ts";
import { GenerateOptionError } from "../src/engine/mod.ts";
import { GgmlType } from "../src/gguf/mod.ts";
import { llamaTensors, MIXES, SHAPES, syntheticVocab } from "../src/synth/mod.ts";
import { fillBlocks, FillRng } from "../src/synth/blocks.ts";
import { type SynthValue, writeGguf } from "../src/synth/writer.ts";
import { GgufValueType } from "../src/gguf/mod.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let shared: Model | undefined;
let golden: { tokens: number[]; greedy: { tokens: number[]; text: string } };

async function model(): Promise<Model> {
  if (!shared) {
    shared = await loadModel(testdataPath("models/stories260K.gguf"), {
      nCtx: 512,
      threads: 1,
      logger: quiet,
    });
    golden = JSON.parse(await Deno.readTextFile(testdataPath("golden/stories260K-greedy.json")));
  }
  return shared;
}

async function collect(stream: ReadableStream<GenerationChunk>): Promise<GenerationChunk[]> {
  const out: GenerationChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

const text = (chunks: GenerationChunk[]) => chunks.map((c) => c.text).join("");
const tokens = (chunks: GenerationChunk[]) =>
  chunks.filter((c) => c.token >= 0).map((c) => c.token);
const opts = { ignore: !HAVE_TESTDATA, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "generate streams one chunk per token",
  ...opts,
  async fn() {
    const m = await model();
    const s = m.createSession();
    const chunks = await collect(s.generate("Once upon a time", { temperature: 0, maxTokens: 10 }));
    assert.equal(chunks.length, 10);
    assert.deepEqual(tokens(chunks), golden.greedy.tokens.slice(0, 10));
    assert.equal(text(chunks), m.tokenizer.decode(golden.greedy.tokens.slice(0, 10)));
    assert.equal(chunks.at(-1)!.finishReason, "length");
    assert.deepEqual(chunks.at(-1)!.usage, { promptTokens: 5, completionTokens: 10 });
    assert.equal(chunks.slice(0, -1).some((c) => c.finishReason !== undefined), false);
  },
});

Deno.test({
  name: "stop string ends generation without its text",
  ...opts,
  async fn() {
    const m = await model();
    const full = golden.greedy.text;
    // A stop string from the middle of the known greedy continuation.
    const stop = full.slice(40, 46);
    const cut = full.indexOf(stop);
    const chunks = await collect(
      m.createSession().generate(golden.tokens, { temperature: 0, stop: [stop, "zzzz"] }),
    );
    assert.equal(text(chunks), full.slice(0, cut));
    assert.equal(chunks.at(-1)!.finishReason, "stop");
  },
});

Deno.test({
  name: "generation stops when the context is full",
  ...opts,
  async fn() {
    const m = await model();
    const s = m.createSession({ nCtx: 16 });
    const chunks = await collect(s.generate(golden.tokens, { temperature: 0 }));
    // Positions 5..15 hold evaluated tokens; the 12th token is sampled but has no position.
    assert.equal(tokens(chunks).length, 16 - 5 + 1);
    assert.equal(chunks.at(-1)!.finishReason, "length");
    assert.throws(
      () => s.generate(Array.from({ length: 17 }, () => 5)),
      (e) => e instanceof ContextError && /17 tokens/.test(e.message),
    );
  },
});

Deno.test({
  name: "EOS ends generation with finish reason stop",
  ...opts,
  async fn() {
    const m = await model();
    const chunks = await collect(
      m.createSession().generate(golden.tokens, {
        temperature: 0,
        logitBias: { [m.tokenizer.eos]: 100 },
      }),
    );
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0].token, -1);
    assert.equal(chunks[0].finishReason, "stop");
    assert.deepEqual(chunks[0].usage, { promptTokens: 5, completionTokens: 0 });
  },
});

Deno.test({
  name: "abort signal stops before the next token",
  ...opts,
  async fn() {
    const m = await model();
    const s = m.createSession();
    const controller = new AbortController();
    const reader = s.generate(golden.tokens, { temperature: 0, signal: controller.signal })
      .getReader();
    for (let i = 0; i < 3; i++) assert.equal((await reader.read()).done, false);
    controller.abort();
    await assert.rejects(reader.read(), (e) => (e as Error).name === "AbortError");
    assert.equal(s.stats.generated, 3);
    // The session still works. Its cache contains the prompt and the tokens evaluated
    // before the abort; the third token was emitted but never evaluated.
    assert.deepEqual(s.cachedTokens, [...golden.tokens, ...golden.greedy.tokens.slice(0, 2)]);
    const again = await collect(s.generate(golden.tokens, { temperature: 0, maxTokens: 2 }));
    assert.deepEqual(tokens(again), golden.greedy.tokens.slice(0, 2));
  },
});

Deno.test({
  name: "cancelling the stream stops the work",
  ...opts,
  async fn() {
    const m = await model();
    const s = m.createSession();
    const reader = s.generate(golden.tokens, { temperature: 0 }).getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.stats.generated, 2);
    assert.equal(s.cachedTokens.length, 5 + 1);
  },
});

Deno.test({
  name: "prompt prefix in the cache is reused",
  ...opts,
  async fn() {
    const m = await model();
    const s = m.createSession();
    const first = tokens(
      await collect(s.generate(golden.tokens, { temperature: 0, maxTokens: 6 })),
    );
    assert.equal(s.stats.promptEvaluated, 5);
    // Next turn: the old prompt, the reply and new text.
    const next = [...golden.tokens, ...first, 300, 301];
    const chunks = await collect(s.generate(next, { temperature: 0, maxTokens: 3 }));
    assert.equal(s.stats.promptReused, 5 + 5);
    assert.equal(s.stats.promptEvaluated, next.length - 10);
    assert.equal(s.cachedTokens.length, next.length + 2);
    // Same result as a fresh session.
    const fresh = await collect(m.createSession().generate(next, { temperature: 0, maxTokens: 3 }));
    assert.deepEqual(tokens(chunks), tokens(fresh));
    // The same prompt again evaluates only its last token.
    await collect(s.generate(next, { temperature: 0, maxTokens: 1 }));
    assert.equal(s.stats.promptEvaluated, 1);
  },
});

Deno.test({
  name: "same seed gives the same sample",
  ...opts,
  async fn() {
    const m = await model();
    const run = async (seed: number) =>
      tokens(
        await collect(
          m.createSession().generate(golden.tokens, { temperature: 1, seed, maxTokens: 30 }),
        ),
      );
    const a = await run(7);
    assert.deepEqual(await run(7), a);
    assert.notDeepEqual(await run(8), a);
  },
});

Deno.test({
  name: "logprobs report the token and alternatives",
  ...opts,
  async fn() {
    const m = await model();
    const chunks = await collect(
      m.createSession().generate(golden.tokens, { temperature: 0, maxTokens: 3, logprobs: 2 }),
    );
    for (const c of chunks) {
      assert.equal(c.topLogprobs!.length, 2);
      assert.equal(c.topLogprobs![0].token, c.token);
      assert.equal(c.topLogprobs![0].logprob, c.logprob);
      assert.ok(c.logprob! <= 0);
      assert.ok(c.topLogprobs![1].logprob <= c.logprob!);
    }
    const plain = await collect(m.createSession().generate(golden.tokens, { maxTokens: 1 }));
    assert.equal(plain[0].logprob, undefined);
  },
});

Deno.test({
  name: "chat applies the template",
  ...opts,
  async fn() {
    const m = await model();
    const chunks = await collect(
      m.createSession().chat([{ role: "user", content: "Hi" }], { temperature: 0, maxTokens: 2 }),
    );
    assert.equal(chunks.at(-1)!.usage!.completionTokens <= 2, true);
    assert.ok(chunks.at(-1)!.usage!.promptTokens > 3);
  },
});

Deno.test({
  name: "forward rejects positions past the cache",
  ...opts,
  async fn() {
    const m = await model();
    const cache = allocKvCache(m.kernels, m.hparams, 8, "f32");
    assert.throws(() => m.forward.eval(cache, [1, 2, 3], 6), ContextError);
    assert.throws(() => m.forward.eval(cache, [1], -1), ContextError);
    assert.equal(m.forward.eval(cache, [1, 2], 6).length, m.hparams.nVocab);
  },
});

Deno.test({
  name: "generate rejects invalid requests",
  ...opts,
  async fn() {
    const m = await model();
    const s = m.createSession();
    assert.throws(() => s.generate([]), GenerateOptionError);
    assert.throws(() => s.generate([1, 512]), /invalid token id 512/);
    assert.throws(() => s.generate([1], { maxTokens: -2 }), GenerateOptionError);
    assert.throws(() => s.generate([1], { logprobs: 21 }), GenerateOptionError);
    assert.throws(() => s.generate([1], { topP: 2 }), /topP/);
    await shared?.close();
    shared = undefined;
  },
});

async function writeMicro(path: string, edit: (t: ReturnType<typeof llamaTensors>) => void) {
  const shape = SHAPES.micro;
  const tensors = llamaTensors(shape, MIXES.F32);
  edit(tensors);
  const u32 = (value: number): SynthValue => ({ type: GgufValueType.UINT32, value });
  const metadata: [string, SynthValue][] = [
    ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
    ["llama.context_length", u32(256)],
    ["llama.embedding_length", u32(256)],
    ["llama.block_count", u32(2)],
    ["llama.feed_forward_length", u32(768)],
    ["llama.attention.head_count", u32(8)],
    ["llama.attention.head_count_kv", u32(2)],
    ["llama.attention.layer_norm_rms_epsilon", { type: GgufValueType.FLOAT32, value: 1e-5 }],
    ...syntheticVocab(512),
  ];
  const rng = new FillRng(3);
  await writeGguf(path, metadata, tensors, (t, dest) => {
    if (t.ne.length === 1) new Float32Array(dest.buffer, dest.byteOffset, dest.length / 4).fill(1);
    else fillBlocks(t.type, dest, rng);
  });
}

Deno.test("loadModel names a tensor with the wrong shape", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bad.gguf`;
    await writeMicro(path, (ts) => {
      ts.find((t) => t.name === "blk.1.attn_k.weight")!.ne = [256, 128];
    });
    await assert.rejects(
      loadModel(path, { threads: 1 }),
      (e) =>
        e instanceof ModelError && e.tensor === "blk.1.attn_k.weight" &&
        /\[256, 128\]/.test(e.message) && /\[256, 64\]/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadModel names a tensor with an unsupported type", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bad.gguf`;
    await writeMicro(path, (ts) => {
      ts.find((t) => t.name === "blk.0.ffn_norm.weight")!.type = GgmlType.F16;
    });
    await assert.rejects(
      loadModel(path, { threads: 1 }),
      (e) =>
        e instanceof ModelError && e.tensor === "blk.0.ffn_norm.weight" && e.found === "F16" &&
        e.expected === "F32",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadModel ties a missing output to token_embd", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tied.gguf`;
    await writeMicro(path, (ts) => {
      ts.splice(ts.findIndex((t) => t.name === "output.weight"), 1);
      ts[0].type = GgmlType.Q8_0;
    });
    const m = await loadModel(path, { threads: 1, logger: quiet });
    try {
      assert.equal(m.forward.weights.output, m.forward.weights.tokenEmbd);
      const chunks = await collect(m.createSession().generate([1, 5, 6], { maxTokens: 3 }));
      assert.equal(tokens(chunks).length, 3);
    } finally {
      await m.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
