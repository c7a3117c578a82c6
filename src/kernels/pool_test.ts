import assert from "node:assert/strict";
import { GGML_TYPES, GgmlType } from "../gguf/ggml_type.ts";
import { type Kernels, loadKernels } from "./runtime.ts";
import { type Dispatcher, Ops, ropeCache, SingleThread } from "./ops.ts";
import { KernelPool, KernelPoolError, partRange } from "./pool.ts";
import { activationRowBytes, quantizeRow } from "./quant.ts";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertSameBits(a: Float32Array, b: Float32Array, what: string) {
  assert.deepEqual(
    new Uint32Array(a.buffer, a.byteOffset, a.length),
    new Uint32Array(b.buffer, b.byteOffset, b.length),
    what,
  );
}

function fillRandom(k: Kernels, p: number, n: number, random: () => number, scale = 1) {
  const view = k.f32(p, n);
  for (let i = 0; i < n; i++) view[i] = (random() - 0.5) * 2 * scale;
}

/**
 * Runs every float op through `dispatcher` on fixed random inputs and returns the
 * outputs. Sizes exceed the element grain, so a pool splits every op.
 */
function runAllOps(k: Kernels, dispatcher: Dispatcher): Float32Array[] {
  const ops = new Ops(k, dispatcher);
  const random = rng(11);
  const n = 40000;
  const a = k.alloc(n * 4);
  const b = k.alloc(n * 4);
  const y = k.alloc(n * 4);
  fillRandom(k, a, n, random, 6);
  fillRandom(k, b, n, random, 6);
  const outputs: Float32Array[] = [];
  const keep = (p: number, count: number) => outputs.push(k.f32(p, count).slice());

  ops.swiglu(y, a, b, n);
  keep(y, n);
  ops.add(y, a, b, n);
  keep(y, n);
  ops.rmsNorm(y, a, b, 1000, n / 1000, 1e-5);
  keep(y, n);
  ops.softmax(y, a, 500, n / 500);
  keep(y, n);
  const f16 = k.alloc(n * 2);
  ops.f32ToF16(f16, a, n);
  ops.f16ToF32(y, f16, n);
  keep(y, n);

  const nHead = 8;
  const nHeadKv = 2;
  const headDim = 64;
  const positions = Array.from({ length: 5 }, (_, i) => 60 + i);
  const cache = k.alloc(positions.length * headDim * 4);
  k.f32(cache, positions.length * headDim).set(ropeCache(positions, headDim, 10000));
  const q = k.alloc(positions.length * nHead * headDim * 4);
  fillRandom(k, q, positions.length * nHead * headDim, random);
  ops.rope(q, q, cache, positions.length, nHead, headDim, headDim, false);
  keep(q, positions.length * nHead * headDim);

  for (const kvF16 of [false, true]) {
    const nCtx = 80;
    const kvElements = nCtx * nHeadKv * headDim;
    const kf = k.alloc(kvElements * 4);
    const vf = k.alloc(kvElements * 4);
    fillRandom(k, kf, kvElements, random);
    fillRandom(k, vf, kvElements, random);
    let kc = kf;
    let vc = vf;
    if (kvF16) {
      kc = k.alloc(kvElements * 2);
      vc = k.alloc(kvElements * 2);
      ops.f32ToF16(kc, kf, kvElements);
      ops.f32ToF16(vc, vf, kvElements);
    }
    const pos = k.alloc(positions.length * 4);
    new Int32Array(k.memory.buffer, pos, positions.length).set(positions);
    const out = k.alloc(positions.length * nHead * headDim * 4);
    ops.attention({
      out,
      q,
      k: kc,
      v: vc,
      kvF16,
      positions: pos,
      nTokens: positions.length,
      nHead,
      nHeadKv,
      headDim,
      scratch: k.alloc(nHead * nCtx * 4),
      scratchStride: nCtx,
    });
    keep(out, positions.length * nHead * headDim);
  }
  return outputs;
}

/** Offsets of the F16 scale fields inside one block, per weight type. */
const SCALE_OFFSETS: Partial<Record<GgmlType, number[]>> = {
  [GgmlType.Q8_0]: [0],
  [GgmlType.Q4_K]: [0, 2],
  [GgmlType.Q6_K]: [208],
};

/** Random weight blocks whose F16 scales are all 2^-8, so no block decodes to NaN. */
function randomWeights(k: Kernels, type: GgmlType, rows: number, cols: number, seed: number) {
  const info = GGML_TYPES[type];
  const rowBytes = cols / info.blockSize * info.typeSize;
  const p = k.alloc(rows * rowBytes);
  const bytes = k.u8(p, rows * rowBytes);
  const random = rng(seed);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (random() * 256) | 0;
  const view = new DataView(k.memory.buffer, p, rows * rowBytes);
  for (let block = 0; block < rows * cols / info.blockSize; block++) {
    for (const offset of SCALE_OFFSETS[type]!) {
      view.setUint16(block * info.typeSize + offset, 0x1c00, true);
    }
  }
  return { p, rowBytes };
}

Deno.test("partRange splits rows on grain boundaries", () => {
  assert.deepEqual(partRange(10, 1, 2, 0), [0, 5]);
  assert.deepEqual(partRange(10, 1, 2, 1), [5, 10]);
  assert.deepEqual(partRange(10, 4, 2, 0), [0, 4]);
  assert.deepEqual(partRange(10, 4, 2, 1), [4, 10]);
  assert.deepEqual(partRange(7, 1, 3, 2), [4, 7]);
  let covered = 0;
  for (let part = 0; part < 3; part++) {
    const [begin, end] = partRange(1001, 16, 3, part);
    assert.equal(begin, covered, `part ${part} starts where the previous ended`);
    assert.equal(begin % 16, 0, `part ${part} starts on the grain`);
    covered = end;
  }
  assert.equal(covered, 1001);
});

for (const target of ["wasm32", "wasm64"] as const) {
  Deno.test(`pool ops match one thread (${target})`, async () => {
    const k = await loadKernels({ target, initialBytes: 32 << 20 });
    const single = runAllOps(k, new SingleThread(k));
    using pool = await KernelPool.create(k, { threads: 2 });
    assert.equal(pool.threads, 2);
    const pooled = runAllOps(k, pool);
    // Threads claim chunks as they come, so make sure the worker took part.
    const big = k.alloc(1 << 22);
    for (let i = 0; i < 1000 && pool.workerChunks === 0; i++) {
      pool.run("flint_add", [k.ptr(big), k.ptr(big), k.ptr(big)], 1 << 20, 1024);
    }
    assert.ok(pool.workerChunks > 0, "the worker ran chunks");
    assert.equal(pooled.length, single.length);
    for (let i = 0; i < single.length; i++) assertSameBits(pooled[i], single[i], `op ${i}`);
  });

  Deno.test(`pool matvec matches one thread (${target})`, async () => {
    const k = await loadKernels({ target, initialBytes: 32 << 20 });
    using pool = await KernelPool.create(k, { threads: 2 });
    const cols = 512;
    const rows = 301;
    for (const type of [GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K]) {
      const name = GGML_TYPES[type].name;
      const { p: w, rowBytes } = randomWeights(k, type, rows, cols, type);
      const x = k.alloc(cols * 4);
      fillRandom(k, x, cols, rng(type + 100));
      const xq = k.alloc(activationRowBytes(type, cols));
      quantizeRow(k, type, x, xq, cols);
      const y1 = k.alloc(rows * 4);
      const y2 = k.alloc(rows * 4);
      const args = (y: number) => [type, k.ptr(w), k.ptr(rowBytes), k.ptr(xq), k.ptr(y), cols];
      assert.equal(
        new SingleThread(k).run("flint_matvec", args(y1), rows),
        0,
        `${name} one thread`,
      );
      assert.equal(pool.run("flint_matvec", args(y2), rows), 0, `${name} two threads`);
      const single = k.f32(y1, rows).slice();
      assert.ok(single.every(Number.isFinite), `${name} outputs are finite`);
      assert.ok(single.some((v) => v !== 0), `${name} outputs are not all zero`);
      assertSameBits(k.f32(y2, rows).slice(), single, `${name} matvec, 2 threads vs 1`);
    }
  });
}

Deno.test("pool returns a kernel's error code", async () => {
  const k = await loadKernels({ target: "wasm32" });
  using pool = await KernelPool.create(k, { threads: 2 });
  const y = k.alloc(64 * 4);
  // Type 4 (removed Q4_2) has no kernels: both parts return FLINT_E_TYPE (-1).
  const code = pool.run("flint_matvec", [4, 0, 0, 0, y, 32], 64);
  assert.equal(code, -1);
});

Deno.test("pool reports a trapping kernel", async () => {
  const k = await loadKernels({ target: "wasm32" });
  using pool = await KernelPool.create(k, { threads: 2 });
  const n = 256;
  const rows = 64;
  const y = k.alloc(rows * n * 4);
  // The last rows of x lie past the end of memory, so whichever thread runs them traps.
  const x = k.memory.buffer.byteLength - (rows - 4) * n * 4;
  assert.throws(
    () => pool.run("flint_rms_norm", [y, x, 0, n, 1e-5], rows),
    (error: unknown) =>
      error instanceof KernelPoolError && /flint_rms_norm threw on/.test(error.message),
  );
  // After a trap the pool still runs jobs.
  const z = k.alloc(40000 * 4);
  k.f32(z, 40000).fill(2);
  assert.equal(pool.run("flint_add", [z, z, z], 40000, 1024), 0);
  assert.equal(k.f32(z, 40000)[39999], 4);
});

Deno.test("pool with one thread starts no workers", async () => {
  const k = await loadKernels({ target: "wasm32" });
  const pool = await KernelPool.create(k, { threads: 1 });
  assert.equal(pool.threads, 1);
  const x = k.alloc(16);
  k.f32(x, 4).set([1, 2, 3, 4]);
  pool.run("flint_add", [x, x, x], 4);
  assert.deepEqual([...k.f32(x, 4)], [2, 4, 6, 8]);
  pool.close();
  assert.throws(() => pool.run("flint_add", [x, x, x], 4), KernelPoolError);
});

Deno.test("pool rejects unknown export and bad threads", async () => {
  const k = await loadKernels({ target: "wasm32" });
  await assert.rejects(() => KernelPool.create(k, { threads: 0 }), RangeError);
  using pool = await KernelPool.create(k, { threads: 2 });
  assert.throws(
    () => pool.run("flint_no_such_kernel", [], 4),
    /export no function flint_no_such_kernel/,
  );
});

Deno.test("pool without Worker runs on one thread", async () => {
  const k = await loadKernels({ target: "wasm32" });
  const saved = globalThis.Worker;
  // deno-lint-ignore no-explicit-any
  delete (globalThis as any).Worker;
  let pool: KernelPool;
  try {
    pool = await KernelPool.create(k, { threads: 2 });
  } finally {
    globalThis.Worker = saved;
  }
  assert.equal(pool.threads, 1);
  const x = k.alloc(40000 * 4);
  k.f32(x, 40000).fill(1.5);
  assert.equal(pool.run("flint_add", [x, x, x], 40000, 16384), 0);
  assert.equal(k.f32(x, 40000)[39999], 3);
  assert.equal(pool.workerChunks, 0);
  pool.close();
});
