import assert from "node:assert/strict";
import { GgufValueType, readGguf } from "../gguf/mod.ts";
import { encodeHeader, type SynthValue } from "../synth/writer.ts";
import { ModelError } from "./errors.ts";
import { readLlamaHparams } from "./hparams.ts";

const u32 = (value: number): SynthValue => ({ type: GgufValueType.UINT32, value });
const f32 = (value: number): SynthValue => ({ type: GgufValueType.FLOAT32, value });

function base(): Map<string, SynthValue> {
  return new Map<string, SynthValue>([
    ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
    ["llama.context_length", u32(2048)],
    ["llama.embedding_length", u32(256)],
    ["llama.block_count", u32(2)],
    ["llama.feed_forward_length", u32(768)],
    ["llama.attention.head_count", u32(8)],
    ["llama.attention.head_count_kv", u32(2)],
    ["llama.vocab_size", u32(512)],
    ["llama.attention.layer_norm_rms_epsilon", f32(1e-5)],
  ]);
}

async function hparams(meta: Map<string, SynthValue>) {
  const file = await readGguf(encodeHeader([...meta], []), { name: "test.gguf" });
  return readLlamaHparams(file);
}

Deno.test("readLlamaHparams applies llama.cpp defaults", async () => {
  const hp = await hparams(base());
  assert.equal(hp.nEmbdHead, 32);
  assert.equal(hp.nEmbdKv, 64);
  assert.equal(hp.nRot, 32);
  assert.equal(hp.ropeFreqBase, 10000);
  assert.equal(hp.ropeFreqScale, 1);
  assert.equal(hp.fNormRmsEps, Math.fround(1e-5));
  assert.equal(hp.nVocab, 512);
  assert.equal(hp.nCtxTrain, 2048);
});

Deno.test("readLlamaHparams reads optional keys", async () => {
  const meta = base();
  meta.set("llama.rope.freq_base", f32(1e6));
  meta.set("llama.attention.layer_norm_rms_epsilon", f32(1e-6));
  meta.set("llama.rope.scaling.type", { type: GgufValueType.STRING, value: "linear" });
  meta.set("llama.rope.scaling.factor", f32(4));
  const hp = await hparams(meta);
  assert.equal(hp.ropeFreqBase, 1e6);
  assert.equal(hp.fNormRmsEps, Math.fround(1e-6));
  assert.equal(hp.ropeFreqScale, 0.25);
});

Deno.test("readLlamaHparams names a missing key", async () => {
  // llama.cpp requires layer_norm_rms_epsilon for llama; there is no default.
  for (const key of ["llama.embedding_length", "llama.attention.layer_norm_rms_epsilon"]) {
    const meta = base();
    meta.delete(key);
    await assert.rejects(
      hparams(meta),
      (e) => e instanceof ModelError && e.key === key && e.message.startsWith("missing"),
      key,
    );
  }
});

Deno.test("readLlamaHparams sets no scale when rope.scaling.type is none", async () => {
  const meta = base();
  meta.set("llama.rope.scaling.type", { type: GgufValueType.STRING, value: "none" });
  meta.set("llama.rope.scaling.factor", f32(4));
  assert.equal((await hparams(meta)).ropeFreqScale, 1);
});

Deno.test("readLlamaHparams rejects bad values", async () => {
  const cases: [string, SynthValue, string][] = [
    ["general.architecture", { type: GgufValueType.STRING, value: "gpt2" }, "general.architecture"],
    ["llama.attention.head_count_kv", u32(3), "llama.attention.head_count_kv"],
    ["llama.attention.head_count", u32(6), "llama.attention.head_count"],
    ["llama.rope.dimension_count", u32(31), "llama.rope.dimension_count"],
    ["llama.rope.dimension_count", u32(0), "llama.rope.dimension_count"],
    ["llama.attention.key_length", u32(64), "llama.attention.key_length"],
    ["llama.attention.value_length", u32(16), "llama.attention.value_length"],
    ["llama.attention.layer_norm_rms_epsilon", f32(0), "llama.attention.layer_norm_rms_epsilon"],
    [
      "llama.rope.scaling.type",
      { type: GgufValueType.STRING, value: "yarn" },
      "llama.rope.scaling.type",
    ],
  ];
  for (const [key, value, named] of cases) {
    const meta = base();
    meta.set(key, value);
    await assert.rejects(
      hparams(meta),
      (e) => e instanceof ModelError && e.key === named && e.message.includes("test.gguf"),
      key,
    );
  }
});
