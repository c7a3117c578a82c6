/**
 * The segmented weight layout (`repackSegments`, `SEGMENTED`) against row-major rows:
 * matrix × vector, matrix × matrix and row lookup give the same bits.
 */
import assert from "node:assert/strict";
import { GgmlType } from "../gguf/ggml_type.ts";
import { loadKernels } from "./runtime.ts";
import {
  activationRowBytes,
  dequantizeRows,
  getRows,
  isSegmentSupported,
  KernelError,
  matmul,
  matvec,
  quantizeRow,
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
