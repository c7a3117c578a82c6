/**
 * The kernels' weight layouts against the file's. The segmented row layout
 * (`repackSegments`) gives the same bits as row-major rows, and the lanes block layouts
 * (`repackLanes`) the same values up to float rounding. On one layout every entry point
 * gives the same bits as the others.
 */
import assert from "node:assert/strict";
import { GgmlType } from "../gguf/ggml_type.ts";
import { type Kernels, loadKernels } from "./runtime.ts";
import {
  activationRowBytes,
  dequantizeRows,
  getRows,
  isLanesSupported,
  isSegmentSupported,
  KernelError,
  LANES,
  matmul,
  matvec,
  matvecScalar,
  quantizeRow,
  repackLanes,
  repackSegments,
  SEGMENTED,
} from "./quant.ts";

const BUILDS = [
  { target: "wasm32", relaxed: false },
  { target: "wasm32", relaxed: true },
  { target: "wasm64", relaxed: false },
  { target: "wasm64", relaxed: true },
] as const;

/** Byte size and the offsets of the float16 scale fields of each K-quant block tested. */
const TYPES = [
  { type: GgmlType.Q4_K, name: "Q4_K", size: 144, halves: [0, 2] },
  { type: GgmlType.Q6_K, name: "Q6_K", size: 210, halves: [208] },
];

/** A tiny seeded generator (xorshift32), so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Random blocks whose float16 scales lie in [2^-8, 2^-6), so every sum stays finite. */
function randomBlocks(size: number, halves: number[], count: number, seed: number): Uint8Array {
  const next = rng(seed);
  const bytes = new Uint8Array(size * count);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
  const view = new DataView(bytes.buffer);
  for (let b = 0; b < count; b++) {
    for (const at of halves) {
      view.setUint16(b * size + at, 0x1c00 + Math.floor(next() * 0x800), true);
    }
  }
  return bytes;
}

function firstMismatch(a: Float32Array, b: Float32Array): number | undefined {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) return i;
  }
  return undefined;
}

for (const build of BUILDS) {
  Deno.test(`segmented layout gives row-major bits (${build.target}${build.relaxed ? " relaxed" : ""})`, async () => {
    const k = await loadKernels(build);
    // 45 blocks per row: one full segment of 32 and a short one of 13.
    const cols = 45 * 256;
    const rows = 48;
    const nTokens = 13;
    for (const t of TYPES) {
      assert.ok(isSegmentSupported(k, t.type), t.name);
      const stride = 45 * t.size;
      const bytes = randomBlocks(t.size, t.halves, 45 * rows, 11 + t.type);
      const w = k.alloc(bytes.length, 64);
      k.u8(w, bytes.length).set(bytes);
      const ws = k.alloc(bytes.length, 64);
      k.u8(ws, bytes.length).set(bytes);
      repackSegments(k, t.type, ws, stride, cols, rows, k.alloc(16 * stride, 64));
      assert.notDeepEqual(k.u8(ws, bytes.length).slice(), bytes, `${t.name} moved`);
      const type = t.type | SEGMENTED;

      const xqBytes = activationRowBytes(t.type, cols);
      const xq = k.alloc(xqBytes * nTokens, 64);
      const x = k.alloc(cols * 4, 64);
      const next = rng(5);
      for (let tok = 0; tok < nTokens; tok++) {
        const xs = k.f32(x, cols);
        for (let i = 0; i < cols; i++) xs[i] = (next() - 0.5) * 4;
        quantizeRow(k, t.type, x, xq + tok * xqBytes, cols);
      }

      // Matrix × vector, with ranges that cut row groups.
      const yPlain = k.alloc(rows * 4);
      const ySeg = k.alloc(rows * 4);
      matvec(k, t.type, w, stride, xq, yPlain, cols, 0, rows);
      matvec(k, type, ws, stride, xq, ySeg, cols, 0, 5);
      matvec(k, type, ws, stride, xq, ySeg, cols, 5, 21);
      matvec(k, type, ws, stride, xq, ySeg, cols, 21, rows);
      const plain = k.f32(yPlain, rows).slice();
      assert.ok(plain.every(Number.isFinite), `${t.name} finite`);
      assert.equal(firstMismatch(k.f32(ySeg, rows), plain), undefined, `${t.name} matvec`);

      // Matrix × matrix: 13 tokens take one group of eight and a padded group of four.
      const mmPlain = k.alloc(rows * nTokens * 4);
      const mmSeg = k.alloc(rows * nTokens * 4);
      matmul(k, t.type, w, stride, xq, xqBytes, mmPlain, cols, nTokens, rows, 0, rows);
      matmul(k, type, ws, stride, xq, xqBytes, mmSeg, cols, nTokens, rows, 0, 19);
      matmul(k, type, ws, stride, xq, xqBytes, mmSeg, cols, nTokens, rows, 19, rows);
      const mm = k.f32(mmPlain, rows * nTokens).slice();
      assert.equal(firstMismatch(k.f32(mmSeg, rows * nTokens), mm), undefined, `${t.name} matmul`);
      for (let r = 0; r < rows; r++) {
        assert.ok(Object.is(mm[r], plain[r]), `${t.name} row ${r}: matmul token 0 = matvec`);
      }

      // Row lookup dequantizes the same weights.
      const ids = [5, 0, 47, 16];
      const idsAt = k.alloc(ids.length * 4, 4);
      new Int32Array(k.memory.buffer, idsAt, ids.length).set(ids);
      const out = k.alloc(ids.length * cols * 4);
      getRows(k, type, ws, stride, idsAt, out, cols, cols, 0, ids.length);
      const want = k.alloc(cols * 4);
      for (const [i, id] of ids.entries()) {
        dequantizeRows(k, t.type, w + id * stride, want, cols);
        const got = k.f32(out + i * cols * 4, cols);
        assert.equal(firstMismatch(got, k.f32(want, cols)), undefined, `${t.name} row ${id}`);
      }
    }

    const buf = k.alloc(16 * 45 * 210);
    // Rows not a multiple of 16, a row stride that is not one row, a type without it.
    assert.throws(
      () => repackSegments(k, GgmlType.Q4_K, buf, 144 * 45, 45 * 256, 20, buf),
      KernelError,
    );
    assert.throws(
      () => repackSegments(k, GgmlType.Q4_K, buf, 144 * 46, 45 * 256, 16, buf),
      KernelError,
    );
    assert.throws(() => repackSegments(k, GgmlType.Q8_0, buf, 34, 32, 16, buf), KernelError);
    assert.equal(isSegmentSupported(k, GgmlType.Q8_0), false);
    assert.throws(
      () => matvec(k, GgmlType.Q8_0 | SEGMENTED, buf, 34, buf, buf, 32, 0, 16),
      KernelError,
    );
  });
}

for (const build of BUILDS) {
  Deno.test(`lanes layouts of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (${build.target}${build.relaxed ? " relaxed" : ""})`, async () => {
    const k = await loadKernels(build);
    assert.equal(isLanesSupported(k, GgmlType.Q5_0), false);
    for (const t of LANES_TYPES) {
      checkLanes(k, t);
    }
    const w = k.alloc(16 * 45 * 210);
    assert.throws(() => repackLanes(k, GgmlType.Q5_0, w, 1), KernelError);
    assert.throws(
      () => matvec(k, GgmlType.Q5_0 | LANES, w, 22, w, w, 256, 0, 1),
      KernelError,
    );
  });
}

/**
 * Lanes-layout types: block bytes, float16 field offsets, whether they segment, and the
 * byte range of a block that holds codes (the rest must not move).
 */
const LANES_TYPES = [
  {
    type: GgmlType.Q4_K,
    name: "Q4_K",
    size: 144,
    halves: [0, 2],
    segments: true,
    codes: [16, 144],
  },
  {
    type: GgmlType.Q2_K,
    name: "Q2_K",
    size: 84,
    halves: [80, 82],
    segments: false,
    codes: [16, 80],
  },
  { type: GgmlType.Q3_K, name: "Q3_K", size: 110, halves: [108], segments: false, codes: [0, 96] },
  { type: GgmlType.Q6_K, name: "Q6_K", size: 210, halves: [208], segments: true, codes: [0, 192] },
  // Q5_K: qh (fifth bits) and qs (low nibbles) both move.
  {
    type: GgmlType.Q5_K,
    name: "Q5_K",
    size: 176,
    halves: [0, 2],
    segments: true,
    codes: [16, 176],
  },
];

function checkLanes(k: Kernels, t: (typeof LANES_TYPES)[number]): void {
  {
    assert.ok(isLanesSupported(k, t.type), t.name);
    const cols = 45 * 256;
    const rows = 48;
    const nTokens = 13;
    const stride = 45 * t.size;
    const bytes = randomBlocks(t.size, t.halves, 45 * rows, 29);
    const w = k.alloc(bytes.length, 64);
    k.u8(w, bytes.length).set(bytes);
    const wl = k.alloc(bytes.length, 64);
    k.u8(wl, bytes.length).set(bytes);
    repackLanes(k, t.type, wl, 45 * rows);
    assert.notDeepEqual(k.u8(wl, bytes.length).slice(), bytes, "codes moved");
    // Scales and d stay where they were; only code bytes move.
    const moved = k.u8(wl, bytes.length).slice();
    for (let b = 0; b < 45 * rows; b += 97) {
      for (let i = 0; i < t.size; i++) {
        if (i >= t.codes[0] && i < t.codes[1]) continue;
        assert.equal(
          moved[b * t.size + i],
          bytes[b * t.size + i],
          `${t.name} block ${b} byte ${i}`,
        );
      }
    }
    const lanes = t.type | LANES;

    // Dequantized weights are exact, so both layouts give the same floats.
    const plainW = k.alloc(cols * 4);
    const lanesW = k.alloc(cols * 4);
    for (const r of [0, 17, 47]) {
      dequantizeRows(k, t.type, w + r * stride, plainW, cols);
      dequantizeRows(k, lanes as GgmlType, wl + r * stride, lanesW, cols);
      assert.equal(firstMismatch(k.f32(lanesW, cols), k.f32(plainW, cols)), undefined, `row ${r}`);
    }

    const xqBytes = activationRowBytes(t.type, cols);
    const xq = k.alloc(xqBytes * nTokens, 64);
    const xql = k.alloc(xqBytes * nTokens, 64);
    const x = k.alloc(cols * 4, 64);
    const next = rng(9);
    let x0: Float32Array | undefined;
    for (let tok = 0; tok < nTokens; tok++) {
      const xs = k.f32(x, cols);
      for (let i = 0; i < cols; i++) xs[i] = (next() - 0.5) * 4;
      x0 ??= xs.slice();
      quantizeRow(k, t.type, x, xq + tok * xqBytes, cols);
      quantizeRow(k, lanes as GgmlType, x, xql + tok * xqBytes, cols);
    }
    // Float rounding bound per row: the sums cancel, so it scales with Σ|w·x|, not the result.
    const bound = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      dequantizeRows(k, t.type, w + r * stride, plainW, cols);
      const wr = k.f32(plainW, cols);
      let absSum = 0;
      for (let i = 0; i < cols; i++) absSum += Math.abs(wr[i] * x0![i]);
      bound[r] = 2e-6 * absSum + 1e-6;
    }

    // Matrix × vector: the same sums up to float rounding (lanes hold other partial sums).
    const yPlain = k.alloc(rows * 4);
    const yLanes = k.alloc(rows * 4);
    matvec(k, t.type, w, stride, xq, yPlain, cols, 0, rows);
    matvec(k, lanes, wl, stride, xql, yLanes, cols, 0, rows);
    const plain = k.f32(yPlain, rows).slice();
    const got = k.f32(yLanes, rows).slice();
    for (let r = 0; r < rows; r++) {
      assert.ok(Number.isFinite(got[r]));
      assert.ok(Math.abs(got[r] - plain[r]) <= bound[r], `row ${r}: ${got[r]} vs ${plain[r]}`);
    }
    // Scalar reference on the lanes layout agrees to float rounding too.
    const yScalar = k.alloc(rows * 4);
    matvecScalar(k, lanes, wl, stride, xql, yScalar, cols, 0, rows);
    const scalar = k.f32(yScalar, rows);
    for (let r = 0; r < rows; r++) {
      assert.ok(Math.abs(scalar[r] - got[r]) <= bound[r], `scalar row ${r}`);
    }
    // A mismatched activation order would be far off, not rounding-close: check it is caught.
    const yWrong = k.alloc(rows * 4);
    matvec(k, lanes, wl, stride, xq, yWrong, cols, 0, rows);
    const wrong = k.f32(yWrong, rows);
    assert.ok(
      plain.some((v, r) => Math.abs(wrong[r] - v) > 100 * bound[r]),
      "plain activations against lanes weights differ",
    );

    // On the lanes layout, matmul, row splits and the segmented layout give matvec's bits.
    const mm = k.alloc(rows * nTokens * 4);
    matmul(k, lanes, wl, stride, xql, xqBytes, mm, cols, nTokens, rows, 0, 21);
    matmul(k, lanes, wl, stride, xql, xqBytes, mm, cols, nTokens, rows, 21, rows);
    // Q2_K has no segmented kernels; it checks the plain lanes matrix twice instead.
    const wls = k.alloc(bytes.length, 64);
    k.u8(wls, bytes.length).set(k.u8(wl, bytes.length));
    if (t.segments) {
      repackSegments(k, lanes as GgmlType, wls, stride, cols, rows, k.alloc(16 * stride, 64));
    }
    const both = t.segments ? lanes | SEGMENTED : lanes;
    const mmSeg = k.alloc(rows * nTokens * 4);
    matmul(k, both, wls, stride, xql, xqBytes, mmSeg, cols, nTokens, rows, 0, rows);
    const yv = k.alloc(rows * 4);
    for (let tok = 0; tok < nTokens; tok++) {
      const want = k.f32(mm + tok * rows * 4, rows).slice();
      matvec(k, lanes, wl, stride, xql + tok * xqBytes, yv, cols, 0, 7);
      matvec(k, lanes, wl, stride, xql + tok * xqBytes, yv, cols, 7, rows);
      assert.equal(firstMismatch(k.f32(yv, rows), want), undefined, `matvec token ${tok}`);
      matvec(k, both, wls, stride, xql + tok * xqBytes, yv, cols, 0, rows);
      assert.equal(firstMismatch(k.f32(yv, rows), want), undefined, `segmented token ${tok}`);
      const seg = k.f32(mmSeg + tok * rows * 4, rows);
      assert.equal(firstMismatch(seg, want), undefined, `segmented matmul token ${tok}`);
    }
    assert.equal(firstMismatch(k.f32(mm, rows), got), undefined, "matmul token 0 = matvec");

    // Row lookup on lanes + segments dequantizes the original weights.
    const ids = [3, 46];
    const idsAt = k.alloc(ids.length * 4, 4);
    new Int32Array(k.memory.buffer, idsAt, ids.length).set(ids);
    const out = k.alloc(ids.length * cols * 4);
    getRows(k, both as GgmlType, wls, stride, idsAt, out, cols, cols, 0, ids.length);
    for (const [i, id] of ids.entries()) {
      dequantizeRows(k, t.type, w + id * stride, plainW, cols);
      const row = k.f32(out + i * cols * 4, cols);
      assert.equal(firstMismatch(row, k.f32(plainW, cols)), undefined, `lookup row ${id}`);
    }
  }
}
