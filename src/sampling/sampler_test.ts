import assert from "node:assert/strict";
import {
  argmax,
  logSoftmax,
  resolveSamplerParams,
  Sampler,
  SamplerParamError,
  topLogprobs,
} from "./sampler.ts";
import { Rng } from "./rng.ts";

function sampler(options: Parameters<typeof resolveSamplerParams>[0], nCtx = 512) {
  return new Sampler(resolveSamplerParams(options), nCtx);
}

Deno.test("argmax prefers the lowest id on ties", () => {
  assert.equal(argmax(new Float32Array([1, 3, 3, 2])), 1);
  assert.equal(argmax(new Float32Array([-1, -1])), 0);
  assert.equal(argmax(new Float32Array([NaN, 2, NaN])), 1);
});

Deno.test("temperature 0 is greedy after bias", () => {
  const logits = new Float32Array([0.1, 2, 1.5, 2]);
  assert.equal(sampler({ temperature: 0 }).sample(logits), 1);
  assert.equal(sampler({ temperature: 0, logitBias: { 2: 1 } }).sample(logits), 2);
  assert.equal(sampler({ temperature: 0, logitBias: { 1: -Infinity } }).sample(logits), 3);
});

Deno.test("repeat penalty divides positive, multiplies negative", () => {
  const s = sampler({ temperature: 0, repeatPenalty: 2 });
  s.accept(0);
  s.accept(1);
  const z = s.adjustedLogits(new Float32Array([4, -1, 3]));
  assert.deepEqual(Array.from(z), [2, -2, 3]);
  assert.equal(s.sample(new Float32Array([4, -1, 3])), 2);
});

Deno.test("presence and frequency penalties count occurrences", () => {
  const s = sampler({ temperature: 0, presencePenalty: 0.5, frequencyPenalty: 0.25 });
  for (const t of [1, 1, 1, 2]) s.accept(t);
  const z = s.adjustedLogits(new Float32Array([0, 0, 0]));
  assert.deepEqual(Array.from(z), [0, -1.25, -0.75]);
});

Deno.test("repeatLastN limits the penalty window", () => {
  const s = sampler({ temperature: 0, repeatPenalty: 2, repeatLastN: 2 });
  for (const t of [0, 1, 2]) s.accept(t);
  const z = s.adjustedLogits(new Float32Array([4, 4, 4]));
  assert.deepEqual(Array.from(z), [4, 2, 2]);
  const off = sampler({ temperature: 0, repeatPenalty: 2, repeatLastN: 0 });
  off.accept(0);
  assert.deepEqual(Array.from(off.adjustedLogits(new Float32Array([4]))), [4]);
});

Deno.test("same seed gives the same tokens", () => {
  const logits = new Float32Array(100);
  for (let i = 0; i < logits.length; i++) logits[i] = Math.sin(i) * 2;
  const run = (seed: number) => {
    const s = sampler({ seed, topK: 0, topP: 1, minP: 0, temperature: 1.5 });
    return Array.from({ length: 50 }, () => s.sample(logits));
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
});

Deno.test("top-k keeps only the k best tokens", () => {
  const logits = new Float32Array([5, 4, 3, 2, 1, 0]);
  const seen = new Set<number>();
  const s = sampler({ seed: 1, topK: 2, topP: 1, minP: 0, temperature: 100 });
  for (let i = 0; i < 300; i++) seen.add(s.sample(logits));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

Deno.test("top-p keeps the smallest prefix reaching the mass", () => {
  // Probabilities ~0.665, 0.245, 0.09: p = 0.7 needs the first two.
  const logits = new Float32Array([2, 1, 0]);
  const seen = new Set<number>();
  const s = sampler({ seed: 3, topK: 0, topP: 0.7, minP: 0, temperature: 1 });
  for (let i = 0; i < 500; i++) seen.add(s.sample(logits));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

Deno.test("min-p drops tokens below the fraction", () => {
  // exp(-3) ≈ 0.05 of the top: with minP 0.1 only ids 0 and 1 (ratio 0.37) stay.
  const logits = new Float32Array([3, 2, 0, 0]);
  const seen = new Set<number>();
  const s = sampler({ seed: 5, topK: 0, topP: 1, minP: 0.1, temperature: 1 });
  for (let i = 0; i < 500; i++) seen.add(s.sample(logits));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

Deno.test("sampling follows the distribution", () => {
  const logits = new Float32Array([Math.log(3), 0]); // 75 % / 25 %
  const s = sampler({ seed: 9, topK: 0, topP: 1, minP: 0, temperature: 1 });
  let zeros = 0;
  for (let i = 0; i < 4000; i++) if (s.sample(logits) === 0) zeros++;
  assert.ok(Math.abs(zeros / 4000 - 0.75) < 0.03, `share of id 0: ${zeros / 4000}`);
});

Deno.test("resolveSamplerParams applies llama.cpp defaults", () => {
  const p = resolveSamplerParams({ seed: 7 });
  assert.equal(p.temperature, 0.8);
  assert.equal(p.topK, 40);
  assert.equal(p.topP, 0.95);
  assert.equal(p.minP, 0.05);
  assert.equal(p.repeatPenalty, 1);
  assert.equal(p.repeatLastN, 64);
  assert.equal(p.seed, 7);
});

Deno.test("resolveSamplerParams rejects bad values", () => {
  assert.throws(() => resolveSamplerParams({ topP: 1.5 }), SamplerParamError);
  assert.throws(() => resolveSamplerParams({ temperature: NaN }), SamplerParamError);
  assert.throws(() => resolveSamplerParams({ repeatLastN: -2 }), SamplerParamError);
  assert.throws(() => resolveSamplerParams({ logitBias: { [-1]: 1 } }), SamplerParamError);
  assert.throws(() => resolveSamplerParams({ repeatPenalty: 0 }), /repeatPenalty/);
});

Deno.test("logSoftmax and topLogprobs", () => {
  const lp = logSoftmax(new Float32Array([0, Math.log(3)]));
  assert.ok(Math.abs(Math.exp(lp[0]) - 0.25) < 1e-7);
  const top = topLogprobs(lp, 1);
  assert.equal(top.length, 1);
  assert.equal(top[0].token, 1);
});

Deno.test("Rng is deterministic and in range", () => {
  const a = new Rng(123);
  const b = new Rng(123);
  for (let i = 0; i < 100; i++) {
    const x = a.nextFloat();
    assert.equal(x, b.nextFloat());
    assert.ok(x >= 0 && x < 1);
  }
});
