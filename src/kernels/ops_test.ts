import assert from "node:assert/strict";
import { type Kernels, loadKernels } from "./runtime.ts";
import { Ops, ropeCache, SingleThread } from "./ops.ts";

/*
 * Tolerances, named per op family:
 * - SIMD and scalar versions of element-wise ops and RoPE perform the same float
 *   operations in the same order: they must agree bit for bit.
 * - RMSNorm and softmax sum in double in a different order (SIMD lanes vs sequential),
 *   which can move the float result by 1 ULP: SUM_ORDER_ULP.
 * - Attention dots sum float products in lanes vs sequentially: ATTN_SIMD_REL.
 * - Against float64 JavaScript references, float32 rounding of a few operations:
 *   F32_REL (relative to the row's largest magnitude).
 */
const SUM_ORDER_ULP = 1;
const ATTN_SIMD_REL = 1e-5;
const F32_REL = 2e-6;
const ATTN_F64_REL = 2e-5;

const f = Math.fround;

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

function randn(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Number of representable floats between a and b (0 when bit-identical). */
function ulpDistance(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(8));
  const ordered = (x: number) => {
    view.setFloat32(0, x);
    const i = view.getInt32(0);
    return i < 0 ? -(i & 0x7fffffff) : i;
  };
  return Math.abs(ordered(a) - ordered(b));
}

function maxUlp(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, ulpDistance(a[i], b[i]));
  return max;
}

/** Asserts equal float bits, except that any NaN matches any NaN. */
function assertBitEqual(actual: Float32Array, expected: Float32Array, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} bit for bit`);
    }
  }
}

/** Asserts |actual - expected| <= rel * max|expected| element-wise. */
function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  what: string,
) {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= rel * scale)) {
      assert.fail(
        `${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (diff ${diff}, allowed ${
          rel * scale
        })`,
      );
    }
  }
}

/** Decodes an IEEE half (exact). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function roundHalfEven(v: number): number {
  const r = Math.floor(v);
  const d = v - r;
  if (d > 0.5) return r + 1;
  if (d < 0.5) return r;
  return r % 2 === 0 ? r : r + 1;
}

/** Encodes a float as IEEE half with round-to-nearest-even, computed on values. */
function numberToHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const m = roundHalfEven(a / 2 ** (e - 10)); // in [1024, 2048]
  return sign | (((e + 15) << 10) + (m - 1024));
}

/** A scratch arena in kernel memory that tests allocate from. */
class Arena {
  constructor(readonly k: Kernels) {}
  f32(data: ArrayLike<number> | number): number {
    const n = typeof data === "number" ? data : data.length;
    const p = this.k.alloc(n * 4, 64);
    if (typeof data !== "number") this.k.f32(p, n).set(data);
    return p;
  }
  u16(data: ArrayLike<number> | number): number {
    const n = typeof data === "number" ? data : data.length;
    const p = this.k.alloc(n * 2, 64);
    if (typeof data !== "number") new Uint16Array(this.k.memory.buffer, p, n).set(data);
    return p;
  }
  i32(data: ArrayLike<number>): number {
    const p = this.k.alloc(data.length * 4, 64);
    new Int32Array(this.k.memory.buffer, p, data.length).set(data);
    return p;
  }
  read(p: number, n: number): Float32Array {
    return this.k.f32(p, n).slice();
  }
  readU16(p: number, n: number): Uint16Array {
    return new Uint16Array(this.k.memory.buffer, p, n).slice();
  }
}

function call(k: Kernels, name: string, ...args: (number | bigint)[]) {
  k.exports[name](...args);
}

for (const target of ["wasm32", "wasm64"] as const) {
  const load = () => loadKernels({ target, initialBytes: 64 << 20 });

  Deno.test(`expf matches Math.exp (${target})`, async () => {
    const k = await load();
    const mem = new Arena(k);
    const random = rng(1);
    const xs: number[] = [
      0,
      -0,
      1,
      -1,
      88.72283,
      88.72284,
      89,
      1000,
      -87.33654,
      -100,
      -103.97,
      -103.98,
      -104,
      -1e9,
      Infinity,
      -Infinity,
      NaN,
      1e-10,
      -1e-10,
    ];
    while (xs.length < 200000) xs.push(f((random() - 0.5) * 210));
    const n = xs.length;
    const x = mem.f32(xs);
    const ySimd = mem.f32(n);
    const yRef = mem.f32(n);
    call(k, "flint_expf", k.ptr(ySimd), k.ptr(x), 0, n);
    call(k, "flint_expf_ref", k.ptr(yRef), k.ptr(x), 0, n);
    const simd = mem.read(ySimd, n);
    const ref = mem.read(yRef, n);
    assertBitEqual(simd, ref, "flint_expf vs flint_expf_ref");

    let exact = 0;
    let worst = 0;
    const xsF = mem.read(x, n);
    for (let i = 0; i < n; i++) {
      const expected = f(Math.exp(xsF[i]));
      if (Number.isNaN(expected)) {
        assert.ok(Number.isNaN(simd[i]), `expf(NaN) is ${simd[i]}`);
        continue;
      }
      const d = ulpDistance(simd[i], expected);
      worst = Math.max(worst, d);
      if (d === 0) exact++;
    }
    assert.ok(worst <= 1, `expf is ${worst} ULP from Math.exp at worst, expected <= 1`);
    assert.ok(exact / n > 0.9999, `expf matches Math.exp bit for bit in ${exact} of ${n}`);
    assert.equal(simd[xs.indexOf(1000)], Infinity);
    assert.equal(simd[xs.indexOf(-1e9)], 0);
    assert.equal(simd[xs.indexOf(0)], 1);
  });

  Deno.test(`f16 conversion round trip (${target})`, async () => {
    const k = await load();
    const mem = new Arena(k);
    // Every half decodes exactly.
    const all = new Uint16Array(65536).map((_, i) => i);
    const h = mem.u16(all);
    const out = mem.f32(65536);
    const outRef = mem.f32(65536);
    call(k, "flint_f16_to_f32", k.ptr(out), k.ptr(h), 0, 65536);
    call(k, "flint_f16_to_f32_ref", k.ptr(outRef), k.ptr(h), 0, 65536);
    const decoded = mem.read(out, 65536);
    assertBitEqual(decoded, mem.read(outRef, 65536), "flint_f16_to_f32 vs _ref");
    for (let i = 0; i < 65536; i++) {
      const expected = halfToNumber(i);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(decoded[i]), `half 0x${i.toString(16)}`);
      else assert.ok(Object.is(decoded[i], expected), `half 0x${i.toString(16)} -> ${decoded[i]}`);
    }

    // f32 -> f16: every half, the midpoints between neighbours (ties to even), values
    // just off the midpoints, random floats and the overflow/underflow edges.
    const random = rng(2);
    const xs: number[] = [
      65504,
      65519.99,
      65520,
      65536,
      1e10,
      2 ** -25,
      2 ** -25 * 1.0001,
      2 ** -26,
    ];
    for (let i = 0; i < 0x7c00; i++) {
      const a = halfToNumber(i);
      const b = halfToNumber(i + 1);
      const mid = (a + b) / 2;
      xs.push(a, -a, f(mid), -f(mid), f(mid * (1 + 2 ** -20)), f(mid * (1 - 2 ** -20)));
    }
    for (let i = 0; i < 50000; i++) xs.push(f(randn(random) * 2 ** (random() * 40 - 25)));
    const n = xs.length;
    const x = mem.f32(xs);
    const y = mem.u16(n);
    const yRef = mem.u16(n);
    call(k, "flint_f32_to_f16", k.ptr(y), k.ptr(x), 0, n);
    call(k, "flint_f32_to_f16_ref", k.ptr(yRef), k.ptr(x), 0, n);
    const got = mem.readU16(y, n);
    assert.deepEqual(got, mem.readU16(yRef, n), "flint_f32_to_f16 vs _ref");
    const xsF = mem.read(x, n);
    for (let i = 0; i < n; i++) {
      const expected = numberToHalf(xsF[i]);
      if (got[i] !== expected) {
        assert.fail(
          `f32_to_f16(${xsF[i]}) = 0x${got[i].toString(16)}, expected 0x${expected.toString(16)}`,
        );
      }
    }
    // Infinity and NaN.
    const special = mem.f32([Infinity, -Infinity, NaN]);
    const sOut = mem.u16(8);
    call(k, "flint_f32_to_f16", k.ptr(sOut), k.ptr(special), 0, 3);
    const s = mem.readU16(sOut, 3);
    assert.equal(s[0], 0x7c00);
    assert.equal(s[1], 0xfc00);
    assert.equal(s[2] & 0x7c00, 0x7c00, "NaN keeps the all-ones exponent");
    assert.notEqual(s[2] & 0x3ff, 0, "NaN keeps a nonzero mantissa");
  });

  Deno.test(`element-wise ops (${target})`, async () => {
    const k = await load();
    const mem = new Arena(k);
    const ops = new Ops(k);
    const random = rng(3);
    const n = 1003; // not a multiple of 4: exercises the scalar tail
    const a = Array.from({ length: n }, () => f(randn(random) * 4));
    const b = Array.from({ length: n }, () => f(randn(random) * 4));
    const pa = mem.f32(a);
    const pb = mem.f32(b);
    const y = mem.f32(n);
    const yRef = mem.f32(n);

    ops.add(y, pa, pb, n);
    assertBitEqual(mem.read(y, n), Float32Array.from(a, (v, i) => v + b[i]), "add");
    ops.mul(y, pa, pb, n);
    assertBitEqual(mem.read(y, n), Float32Array.from(a, (v, i) => v * b[i]), "mul");
    ops.scale(y, pa, 0.125, n);
    assertBitEqual(mem.read(y, n), Float32Array.from(a, (v) => v * 0.125), "scale");

    ops.silu(y, pa, n);
    call(k, "flint_silu_ref", k.ptr(yRef), k.ptr(pa), 0, n);
    assertBitEqual(mem.read(y, n), mem.read(yRef, n), "silu vs silu_ref");
    const silu = (x: number) => x / (1 + Math.exp(-x));
    assertClose(mem.read(y, n), a.map(silu), F32_REL, "silu vs float64");

    ops.swiglu(y, pa, pb, n);
    call(k, "flint_swiglu_ref", k.ptr(yRef), k.ptr(pa), k.ptr(pb), 0, n);
    assertBitEqual(mem.read(y, n), mem.read(yRef, n), "swiglu vs swiglu_ref");
    assertClose(mem.read(y, n), a.map((v, i) => silu(v) * b[i]), F32_REL, "swiglu vs float64");

    // A split range writes only its own elements.
    mem.k.f32(y, n).fill(-7);
    call(k, "flint_add", k.ptr(y), k.ptr(pa), k.ptr(pb), 5, 9);
    const part = mem.read(y, n);
    assert.equal(part[4], -7);
    assert.equal(part[9], -7);
    assert.equal(part[5], f(a[5] + b[5]));
  });

  Deno.test(`rms_norm and softmax (${target})`, async () => {
    const k = await load();
    const mem = new Arena(k);
    const ops = new Ops(k);
    const random = rng(4);
    const n = 4099;
    const rows = 3;
    const x = Array.from({ length: n * rows }, () => f(randn(random) * 3));
    const w = Array.from({ length: n }, () => f(1 + randn(random) * 0.1));
    const px = mem.f32(x);
    const pw = mem.f32(w);
    const y = mem.f32(n * rows);
    const yRef = mem.f32(n * rows);
    const eps = 1e-5;

    ops.rmsNorm(y, px, pw, n, rows, eps);
    call(k, "flint_rms_norm_ref", k.ptr(yRef), k.ptr(px), k.ptr(pw), n, eps, 0, rows);
    const got = mem.read(y, n * rows);
    assert.ok(maxUlp(got, mem.read(yRef, n * rows)) <= SUM_ORDER_ULP, "rms_norm vs _ref");
    for (let r = 0; r < rows; r++) {
      const row = x.slice(r * n, (r + 1) * n);
      const ms = row.reduce((s, v) => s + v * v, 0) / n;
      const expected = row.map((v, i) => v / Math.sqrt(ms + eps) * w[i]);
      assertClose(got.subarray(r * n, (r + 1) * n), expected, F32_REL, `rms_norm row ${r}`);
    }
    ops.rmsNorm(y, px, 0, n, rows, eps);
    const unweighted = mem.read(y, n);
    const ms0 = x.slice(0, n).reduce((s, v) => s + v * v, 0) / n;
    assertClose(
      unweighted,
      x.slice(0, n).map((v) => v / Math.sqrt(ms0 + eps)),
      F32_REL,
      "rms_norm without weight",
    );

    ops.softmax(y, px, n, rows);
    call(k, "flint_softmax_ref", k.ptr(yRef), k.ptr(px), n, 0, rows);
    const sm = mem.read(y, n * rows);
    assert.ok(maxUlp(sm, mem.read(yRef, n * rows)) <= SUM_ORDER_ULP, "softmax vs _ref");
    for (let r = 0; r < rows; r++) {
      const row = x.slice(r * n, (r + 1) * n);
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const sum = e.reduce((s, v) => s + v, 0);
      assertClose(
        sm.subarray(r * n, (r + 1) * n),
        e.map((v) => v / sum),
        F32_REL,
        `softmax row ${r}`,
      );
    }
    // Large inputs stay finite: the row maximum is subtracted first.
    const big = mem.f32([1000, 999, -1000, 1000]);
    ops.softmax(big, big, 4, 1);
    const bs = mem.read(big, 4);
    assertClose(
      bs,
      [1 / (2 + Math.exp(-1)), Math.exp(-1) / (2 + Math.exp(-1)), 0, 1 / (2 + Math.exp(-1))],
      F32_REL,
      "softmax of large values",
    );
  });

  Deno.test(`rope normal and neox pairing (${target})`, async () => {
    const k = await load();
    const mem = new Arena(k);
    const ops = new Ops(k);
    const random = rng(5);
    const nHead = 3;
    const headDim = 40;
    const nRot = 24; // dims 24..39 pass through unchanged
    const positions = [0, 1, 17, 300];
    const nTokens = positions.length;
    const total = nTokens * nHead * headDim;
    const x = Array.from({ length: total }, () => f(randn(random)));
    const cache = ropeCache(positions, nRot, 10000);
    const pc = mem.f32(cache);
    const px = mem.f32(x);
    const y = mem.f32(total);
    const yRef = mem.f32(total);

    for (const neox of [false, true]) {
      ops.rope(y, px, pc, nTokens, nHead, headDim, nRot, neox);
      call(
        k,
        "flint_rope_ref",
        k.ptr(yRef),
        k.ptr(px),
        k.ptr(pc),
        nHead,
        headDim,
        nRot,
        neox ? 1 : 0,
        0,
        nTokens * nHead,
      );
      const got = mem.read(y, total);
      assertBitEqual(got, mem.read(yRef, total), `rope (neox ${neox}) vs _ref`);

      const expected = new Float64Array(total);
      for (let t = 0; t < nTokens; t++) {
        for (let h = 0; h < nHead; h++) {
          const base = (t * nHead + h) * headDim;
          for (let d = nRot; d < headDim; d++) expected[base + d] = x[base + d];
          for (let i = 0; i < nRot / 2; i++) {
            const theta = positions[t] * Math.pow(10000, -2 * i / nRot);
            const [a, b] = neox ? [i, i + nRot / 2] : [2 * i, 2 * i + 1];
            const x0 = x[base + a];
            const x1 = x[base + b];
            expected[base + a] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
            expected[base + b] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
          }
        }
      }
      // Angles accumulate a float rounding per pair (as in ggml), about 2^-24 * i * pos
      // radians at pair i; 300 * 12 * 6e-8 = 2e-4 at most here.
      assertClose(got, expected, 1e-4, `rope (neox ${neox}) vs float64`);
      // In place gives the same bits.
      const inPlace = mem.f32(x);
      ops.rope(inPlace, inPlace, pc, nTokens, nHead, headDim, nRot, neox);
      assertBitEqual(mem.read(inPlace, total), got, `rope (neox ${neox}) in place`);
    }
  });

  Deno.test(`ropeCache mirrors float angle recurrence (${target})`, () => {
    const cache = ropeCache([5], 8, 10000);
    const thetaScale = f(Math.pow(10000, -2 / 8));
    let theta = 5;
    for (let i = 0; i < 4; i++) {
      assert.equal(cache[2 * i], f(Math.cos(theta)));
      assert.equal(cache[2 * i + 1], f(Math.sin(theta)));
      theta = f(theta * thetaScale);
    }
  });

  for (const kvF16 of [false, true]) {
    Deno.test(`attention GQA ${kvF16 ? "F16" : "F32"} cache (${target})`, async () => {
      const k = await load();
      const mem = new Arena(k);
      const ops = new Ops(k);
      const random = rng(kvF16 ? 7 : 6);
      const nHead = 8;
      const nHeadKv = 2;
      const headDim = 36; // not a multiple of 32: exercises the partial output tile
      const nCtx = 40;
      const positions = [29, 30, 31];
      const nTokens = positions.length;
      const kvRow = nHeadKv * headDim;
      const qRow = nHead * headDim;
      const kv = (n: number) => Array.from({ length: n }, () => f(randn(random)));
      const kF = kv(nCtx * kvRow);
      const vF = kv(nCtx * kvRow);
      const q = Array.from({ length: nTokens * qRow }, () => f(randn(random) * 0.5));
      const kVals = kvF16 ? kF.map((v) => halfToNumber(numberToHalf(v))) : kF;
      const vVals = kvF16 ? vF.map((v) => halfToNumber(numberToHalf(v))) : vF;
      const pk = kvF16 ? mem.u16(kF.map(numberToHalf)) : mem.f32(kF);
      const pv = kvF16 ? mem.u16(vF.map(numberToHalf)) : mem.f32(vF);
      const pq = mem.f32(q);
      const pPos = mem.i32(positions);
      const stride = nCtx;
      const args = {
        q: pq,
        k: pk,
        v: pv,
        kvF16,
        positions: pPos,
        nTokens,
        nHead,
        nHeadKv,
        headDim,
        scratchStride: stride,
      };
      const out = mem.f32(nTokens * qRow);
      ops.attention({ ...args, out, scratch: mem.f32(nHead * stride) });
      const got = mem.read(out, nTokens * qRow);

      const outRef = mem.f32(nTokens * qRow);
      call(
        k,
        "flint_attention_ref",
        k.ptr(outRef),
        k.ptr(pq),
        k.ptr(pk),
        k.ptr(pv),
        kvF16 ? 1 : 0,
        k.ptr(pPos),
        nTokens,
        nHead,
        nHeadKv,
        headDim,
        k.ptr(mem.f32(nHead * stride)),
        stride,
        0,
        nHead,
      );
      assertClose(got, mem.read(outRef, nTokens * qRow), ATTN_SIMD_REL, "attention vs _ref");

      // Heads computed in two calls give the same bits as one call.
      const split = mem.f32(nTokens * qRow);
      const scratch = mem.f32(nHead * stride);
      const raw = [
        k.ptr(split),
        k.ptr(pq),
        k.ptr(pk),
        k.ptr(pv),
        kvF16 ? 1 : 0,
        k.ptr(pPos),
        nTokens,
        nHead,
        nHeadKv,
        headDim,
        k.ptr(scratch),
        stride,
      ];
      call(k, "flint_attention", ...raw, 0, 3);
      call(k, "flint_attention", ...raw, 3, nHead);
      assertBitEqual(mem.read(split, nTokens * qRow), got, "attention split by heads");

      if (kvF16) {
        // Rows widened to float first (as a prompt batch does) give the same bits.
        const wk = mem.f32(nCtx * kvRow);
        const wv = mem.f32(nCtx * kvRow);
        ops.f16ToF32(wk, pk, nCtx * kvRow);
        ops.f16ToF32(wv, pv, nCtx * kvRow);
        const widened = mem.f32(nTokens * qRow);
        ops.attention({
          ...args,
          k: wk,
          v: wv,
          kvWidened: true,
          out: widened,
          scratch: mem.f32(nHead * stride),
        });
        assertBitEqual(mem.read(widened, nTokens * qRow), got, "attention on widened rows");
      }

      // float64 reference. With an F16 cache, ggml rounds Q and the softmax weights to
      // F16 before the products, and `mirror` makes the reference do the same.
      const reference = (mirror: boolean) => {
        const r16 = (v: number) => mirror && kvF16 ? halfToNumber(numberToHalf(v)) : v;
        const o = new Float64Array(nTokens * qRow);
        for (let t = 0; t < nTokens; t++) {
          for (let h = 0; h < nHead; h++) {
            const g = Math.floor(h / (nHead / nHeadKv));
            const nKv = positions[t] + 1;
            const s: number[] = [];
            for (let j = 0; j < nKv; j++) {
              let dot = 0;
              for (let d = 0; d < headDim; d++) {
                dot += r16(q[t * qRow + h * headDim + d]) * kVals[j * kvRow + g * headDim + d];
              }
              s.push(dot / Math.sqrt(headDim));
            }
            const max = Math.max(...s);
            const e = s.map((v) => Math.exp(v - max));
            const sum = e.reduce((a, b) => a + b, 0);
            const p = e.map((v) => r16(v / sum));
            for (let d = 0; d < headDim; d++) {
              let acc = 0;
              for (let j = 0; j < nKv; j++) acc += p[j] * vVals[j * kvRow + g * headDim + d];
              o[t * qRow + h * headDim + d] = acc;
            }
          }
        }
        return o;
      };
      assertClose(got, reference(true), ATTN_F64_REL, "attention vs float64");
      if (kvF16) {
        // Rounding Q and P to F16 costs about 2^-11 relative on each factor.
        assertClose(got, reference(false), 3e-3, "attention (F16) vs unrounded float64");
      }
    });
  }

  Deno.test(`attention first token attends to itself (${target})`, async () => {
    const k = await load();
    const mem = new Arena(k);
    const ops = new Ops(k, new SingleThread(k));
    const headDim = 64;
    const random = rng(8);
    const v = Array.from({ length: 4 * headDim }, () => f(randn(random)));
    const out = mem.f32(2 * headDim);
    ops.attention({
      out,
      q: mem.f32(Array.from({ length: 2 * headDim }, () => f(randn(random)))),
      k: mem.f32(Array.from({ length: 4 * headDim }, () => f(randn(random)))),
      v: mem.f32(v),
      kvF16: false,
      positions: mem.i32([0]),
      nTokens: 1,
      nHead: 2,
      nHeadKv: 1,
      headDim,
      scratch: mem.f32(2 * 4),
      scratchStride: 4,
    });
    const got = mem.read(out, 2 * headDim);
    // Weight 1 on position 0: both heads output V row 0 exactly.
    assertBitEqual(got.subarray(0, headDim), Float32Array.from(v.slice(0, headDim)), "head 0");
    assertBitEqual(got.subarray(headDim), Float32Array.from(v.slice(0, headDim)), "head 1");
  });
}

Deno.test("attention rejects a bad head layout", async () => {
  const k = await loadKernels({ target: "wasm32" });
  const ops = new Ops(k);
  const base = {
    out: 0,
    q: 0,
    k: 0,
    v: 0,
    kvF16: false,
    positions: 0,
    nTokens: 1,
    scratch: 0,
    scratchStride: 1,
  };
  assert.throws(
    () => ops.attention({ ...base, nHead: 6, nHeadKv: 4, headDim: 32 }),
    /n_head 6 is not a multiple of n_head_kv 4/,
  );
  assert.throws(
    () => ops.attention({ ...base, nHead: 4, nHeadKv: 4, headDim: 30 }),
    /head_dim 30 must be a multiple of 4/,
  );
});

Deno.test("attention traps on a position past the scratch", async () => {
  const k = await loadKernels({ target: "wasm32" });
  const ops = new Ops(k);
  const headDim = 8;
  const buffer = () => k.alloc(16 * headDim * 4);
  const args = {
    out: buffer(),
    q: buffer(),
    k: buffer(),
    v: buffer(),
    kvF16: false,
    nTokens: 1,
    nHead: 1,
    nHeadKv: 1,
    headDim,
    scratch: buffer(),
    scratchStride: 4,
  };
  ops.attention({ ...args, positions: k.alloc(4) });
  const past = k.alloc(4);
  new Int32Array(k.memory.buffer, past, 1)[0] = 4;
  assert.throws(() => ops.attention({ ...args, positions: past }), WebAssembly.RuntimeError);
  new Int32Array(k.memory.buffer, past, 1)[0] = -1;
  assert.throws(() => ops.attention({ ...args, positions: past }), WebAssembly.RuntimeError);
});
