import assert from "node:assert/strict";
import { GGML_TYPES, GgmlType, ggmlTypeFromName } from "../gguf/ggml_type.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";
import { type Kernels, loadKernels } from "./runtime.ts";
import {
  activationRowBytes,
  activationType,
  dequantizeRows,
  dequantizeRowsScalar,
  getRows,
  INTERLEAVED_4,
  isInterleaveSupported,
  KernelError,
  matmul,
  matvec,
  matvecScalar,
  quantizeRow,
  repackRows4,
  SUPPORTED_WEIGHT_TYPES,
  vecDot,
  vecDotScalar,
} from "./quant.ts";

const BUILDS = [
  { target: "wasm32", relaxed: false },
  { target: "wasm32", relaxed: true },
  { target: "wasm64", relaxed: false },
  { target: "wasm64", relaxed: true },
] as const;

const GOLDEN_TYPES = [
  "F16",
  "BF16",
  "Q4_0",
  "Q4_1",
  "Q5_0",
  "Q5_1",
  "Q8_0",
  "Q2_K",
  "Q3_K",
  "Q4_K",
  "Q5_K",
  "Q6_K",
  "IQ4_NL",
  "IQ4_XS",
] as const;

/*
 * SIMD against scalar dot, relative to Σ|w·x|. Integer block sums are exact in both, so
 * only the float32 accumulation differs: the SIMD kernels sum in four lanes (and fuse
 * multiply-adds in the relaxed build). Each float32 addition rounds by at most 2^-24
 * relative, so for rows of up to a few thousand blocks 1e-5 bounds it with margin.
 * Float rows (F32, F16, BF16) add one rounding per element, over more terms.
 */
const SIMD_VS_SCALAR_REL = {
  float: 2e-5,
  q8_0Family: 1e-5,
  q8_1Family: 1e-5,
  kQuant: 1e-5,
} as const;

function simdTolerance(type: GgmlType): number {
  switch (activationType(type)) {
    case GgmlType.F32:
    case GgmlType.F16:
    case GgmlType.BF16:
      return SIMD_VS_SCALAR_REL.float;
    case GgmlType.Q8_0:
      return SIMD_VS_SCALAR_REL.q8_0Family;
    case GgmlType.Q8_1:
      return SIMD_VS_SCALAR_REL.q8_1Family;
    default:
      return SIMD_VS_SCALAR_REL.kQuant;
  }
}

/** Float32 summation slack when checking a dot against a float64 reference. */
const DOT_SUM_REL = 1e-5;

interface Golden {
  type: GgmlType;
  name: string;
  rows: number;
  cols: number;
  bytes: Uint8Array;
  expected: Float32Array;
}

async function readGolden(name: string): Promise<Golden> {
  const meta = JSON.parse(await Deno.readTextFile(testdataPath(`golden/dequant/${name}.json`)));
  const file = await Deno.open(testdataPath(`models/${meta.model}`));
  try {
    await file.seek(meta.tensor_file_offset, Deno.SeekMode.Start);
    const bytes = new Uint8Array(meta.tensor_nbytes);
    let got = 0;
    while (got < bytes.length) {
      const n = await file.read(bytes.subarray(got));
      if (n === null) throw new Error(`short read of ${meta.model}`);
      got += n;
    }
    const raw = await Deno.readFile(testdataPath(`golden/dequant/${name}.f32`));
    const type = ggmlTypeFromName(name);
    assert.ok(type !== undefined, `type ${name}`);
    return {
      type,
      name,
      cols: meta.shape[0],
      rows: meta.shape[1],
      bytes,
      expected: new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4),
    };
  } finally {
    file.close();
  }
}

async function loadGoldens(): Promise<Golden[]> {
  return await Promise.all(GOLDEN_TYPES.map(readGolden));
}

function buildName(b: { target: string; relaxed: boolean }): string {
  return `${b.target}-${b.relaxed ? "relaxed" : "simd128"}`;
}

function put(k: Kernels, bytes: Uint8Array): number {
  const at = k.alloc(bytes.length);
  k.u8(at, bytes.length).set(bytes);
  return at;
}

function putF32(k: Kernels, values: Float32Array): number {
  const at = k.alloc(values.length * 4);
  k.f32(at, values.length).set(values);
  return at;
}

/** Deterministic pseudo-normal values (xorshift32 + Box–Muller). */
function randomVector(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = scale * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  }
  return out;
}

function firstBitMismatch(a: Float32Array, b: Float32Array): string | undefined {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let count = 0;
  let first = -1;
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) {
      count++;
      if (first < 0) first = i;
    }
  }
  if (count === 0) return undefined;
  return `${count} of ${ua.length} differ; first at ${first}: got ${a[first]} ` +
    `(0x${ua[first].toString(16)}), expected ${b[first]} (0x${ub[first].toString(16)})`;
}

/**
 * Largest |x − dequantized x| of one activation after quantizing to the activation type
 * of `type`, per element. Q8_0/Q8_1: half a step of d = amax/127 plus the fp16 rounding
 * of d (2^-11 relative) times the largest code 127. Q8_K: half a step of the float32 d.
 * F16 and BF16 round each value by half an ulp (2^-11 and 2^-8 relative).
 */
function activationErrorBound(type: GgmlType, x: Float32Array): Float64Array {
  const act = activationType(type);
  const bound = new Float64Array(x.length);
  const block = act === GgmlType.Q8_K ? 256 : 32;
  for (let b = 0; b < x.length; b += block) {
    let amax = 0;
    for (let i = b; i < Math.min(b + block, x.length); i++) amax = Math.max(amax, Math.abs(x[i]));
    for (let i = b; i < Math.min(b + block, x.length); i++) {
      const v = Math.abs(x[i]);
      switch (act) {
        case GgmlType.F32:
          bound[i] = 0;
          break;
        case GgmlType.F16:
          bound[i] = v * 2 ** -11 + 2 ** -25;
          break;
        case GgmlType.BF16:
          bound[i] = v * 2 ** -8;
          break;
        case GgmlType.Q8_K:
          bound[i] = (amax / 127) * 0.5 * (1 + 1e-6);
          break;
        default:
          bound[i] = (amax / 127) * (0.5 + 127 * 2 ** -11) * (1 + 1e-6);
      }
    }
  }
  return bound;
}

for (const build of BUILDS) {
  const name = buildName(build);

  Deno.test({
    name: `dequantize matches ggml bit for bit (${name})`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const k = await loadKernels(build);
      for (const g of await loadGoldens()) {
        const w = put(k, g.bytes);
        const n = g.rows * g.cols;
        const out = k.alloc(n * 4);
        dequantizeRows(k, g.type, w, out, n);
        assert.equal(firstBitMismatch(k.f32(out, n), g.expected), undefined, `${g.name} SIMD`);
        dequantizeRowsScalar(k, g.type, w, out, n);
        assert.equal(firstBitMismatch(k.f32(out, n), g.expected), undefined, `${g.name} scalar`);
      }
    },
  });

  Deno.test({
    name: `getRows dequantizes chosen rows (${name})`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const k = await loadKernels(build);
      const g = await readGolden("Q4_K");
      const w = put(k, g.bytes);
      const stride = g.bytes.length / g.rows;
      const ids = [5, 0, 63, 5];
      const idsAt = k.alloc(ids.length * 4, 4);
      new Int32Array(k.memory.buffer, idsAt, ids.length).set(ids);
      const out = k.alloc(ids.length * g.cols * 4);
      getRows(k, g.type, w, stride, idsAt, out, g.cols, g.cols, 0, ids.length);
      const got = k.f32(out, ids.length * g.cols);
      for (const [i, id] of ids.entries()) {
        const want = g.expected.subarray(id * g.cols, (id + 1) * g.cols);
        assert.equal(firstBitMismatch(got.subarray(i * g.cols, (i + 1) * g.cols), want), undefined);
      }
    },
  });

  Deno.test({
    name: `matvec within quantization bound (${name})`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const k = await loadKernels(build);
      const goldens = await loadGoldens();
      goldens.push({ ...goldens[0], type: GgmlType.F32, name: "F32", bytes: f32Bytes(goldens[0]) });
      for (const g of goldens) {
        const x = randomVector(g.cols, 7 + g.type);
        const xAt = putF32(k, x);
        const xq = k.alloc(activationRowBytes(g.type, g.cols));
        quantizeRow(k, g.type, xAt, xq, g.cols);
        const w = put(k, g.bytes);
        const stride = g.bytes.length / g.rows;
        const y = k.alloc(g.rows * 4);
        const yScalar = k.alloc(g.rows * 4);
        matvec(k, g.type, w, stride, xq, y, g.cols, 0, g.rows);
        matvecScalar(k, g.type, w, stride, xq, yScalar, g.cols, 0, g.rows);
        const e = activationErrorBound(g.type, x);
        const simdRel = simdTolerance(g.type);
        for (let r = 0; r < g.rows; r++) {
          let ref = 0, absSum = 0, bound = 0;
          for (let c = 0; c < g.cols; c++) {
            const wv = g.expected[r * g.cols + c];
            ref += wv * x[c];
            absSum += Math.abs(wv * x[c]);
            bound += Math.abs(wv) * e[c];
          }
          const got = k.f32(y, g.rows)[r];
          const tol = bound + DOT_SUM_REL * absSum + 1e-7;
          assert.ok(
            Math.abs(got - ref) <= tol,
            `${g.name} row ${r}: got ${got}, float64 reference ${ref}, |diff| ${
              Math.abs(got - ref)
            } > ${tol}`,
          );
          const scalar = k.f32(yScalar, g.rows)[r];
          assert.ok(
            Math.abs(got - scalar) <= simdRel * absSum + 1e-7,
            `${g.name} row ${r}: SIMD ${got} vs scalar ${scalar}`,
          );
        }
      }
    },
  });

  Deno.test({
    name: `vecDot SIMD matches scalar (${name})`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const k = await loadKernels(build);
      for (const g of await loadGoldens()) {
        // Rows are contiguous, so a dot may span three of them. Odd block counts
        // exercise the scalar tails after the SIMD loops.
        const stride = g.bytes.length / g.rows;
        const blocksPerRow = g.cols / GGML_TYPES[g.type].blockSize;
        const nBlocks = blocksPerRow === 1 ? 3 : 3 * blocksPerRow - 1;
        const n = nBlocks * GGML_TYPES[g.type].blockSize;
        const x = randomVector(n, 99 + g.type, 3);
        const xAt = putF32(k, x);
        const xq = k.alloc(activationRowBytes(g.type, n));
        quantizeRow(k, g.type, xAt, xq, n);
        const w = put(k, g.bytes);
        for (let r = 0; r + 3 <= g.rows; r += 7) {
          const a = vecDot(k, g.type, n, w + r * stride, xq);
          const b = vecDotScalar(k, g.type, n, w + r * stride, xq);
          let absSum = 0;
          for (let c = 0; c < n; c++) absSum += Math.abs(g.expected[r * g.cols + c] * x[c]);
          assert.ok(
            Math.abs(a - b) <= simdTolerance(g.type) * absSum + 1e-7,
            `${g.name} row ${r} n ${n}: SIMD ${a}, scalar ${b}`,
          );
        }
      }
    },
  });

  Deno.test({
    name: `row splits and matmul are bit-identical (${name})`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const k = await loadKernels(build);
      for (const g of await loadGoldens()) {
        const stride = g.bytes.length / g.rows;
        const w = put(k, g.bytes);
        // 13 tokens: one group of eight (Q4_K, Q6_K), one of four, one padded.
        const nTokens = 13;
        const xqBytes = activationRowBytes(g.type, g.cols);
        const xq = k.alloc(xqBytes * nTokens);
        for (let t = 0; t < nTokens; t++) {
          const xAt = putF32(k, randomVector(g.cols, 1000 * t + g.type));
          quantizeRow(k, g.type, xAt, xq + t * xqBytes, g.cols);
        }
        const yStride = g.rows + 3;
        const yMm = k.alloc(yStride * nTokens * 4);
        matmul(k, g.type, w, stride, xq, xqBytes, yMm, g.cols, nTokens, yStride, 0, 37);
        matmul(k, g.type, w, stride, xq, xqBytes, yMm, g.cols, nTokens, yStride, 37, g.rows);
        const yMv = k.alloc(g.rows * 4);
        for (let t = 0; t < nTokens; t++) {
          matvec(k, g.type, w, stride, xq + t * xqBytes, yMv, g.cols, 0, 13);
          matvec(k, g.type, w, stride, xq + t * xqBytes, yMv, g.cols, 13, g.rows);
          const mm = k.f32(yMm + t * yStride * 4, g.rows);
          assert.equal(firstBitMismatch(mm, k.f32(yMv, g.rows)), undefined, `${g.name} t ${t}`);
        }
        // A batch of one token takes the padded path of the four-token kernels.
        const yOne = k.alloc(g.rows * 4);
        matmul(
          k,
          g.type,
          w,
          stride,
          xq + 12 * xqBytes,
          xqBytes,
          yOne,
          g.cols,
          1,
          g.rows,
          0,
          g.rows,
        );
        const last = k.f32(yMm + 12 * yStride * 4, g.rows);
        assert.equal(firstBitMismatch(k.f32(yOne, g.rows), last), undefined, `${g.name} 1 token`);
      }
    },
  });
}

for (const build of BUILDS) {
  Deno.test({
    name: `interleaved rows match row-major (${buildName(build)})`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const k = await loadKernels(build);
      let repacked = 0;
      for (const g of await loadGoldens()) {
        if (!isInterleaveSupported(k, g.type)) continue;
        repacked++;
        const stride = g.bytes.length / g.rows;
        const w = put(k, g.bytes);
        const wi = put(k, g.bytes);
        repackRows4(k, g.type, wi, stride, g.rows, k.alloc(4 * stride));
        assert.notDeepEqual(k.u8(wi, g.bytes.length).slice(), g.bytes, `${g.name} moved`);
        const type = g.type | INTERLEAVED_4;

        const nTokens = 5;
        const xqBytes = activationRowBytes(g.type, g.cols);
        const xq = k.alloc(xqBytes * nTokens);
        for (let t = 0; t < nTokens; t++) {
          quantizeRow(
            k,
            g.type,
            putF32(k, randomVector(g.cols, 77 * t + 1)),
            xq + t * xqBytes,
            g.cols,
          );
        }
        const yPlain = k.alloc(g.rows * 4);
        const ySplit = k.alloc(g.rows * 4);
        matvec(k, g.type, w, stride, xq, yPlain, g.cols, 0, g.rows);
        matvec(k, type, wi, stride, xq, ySplit, g.cols, 0, 13);
        matvec(k, type, wi, stride, xq, ySplit, g.cols, 13, 30);
        matvec(k, type, wi, stride, xq, ySplit, g.cols, 30, g.rows);
        const plain = k.f32(yPlain, g.rows).slice();
        assert.equal(firstBitMismatch(k.f32(ySplit, g.rows), plain), undefined, `${g.name} matvec`);

        const mmPlain = k.alloc(g.rows * nTokens * 4);
        const mmInter = k.alloc(g.rows * nTokens * 4);
        matmul(k, g.type, w, stride, xq, xqBytes, mmPlain, g.cols, nTokens, g.rows, 0, g.rows);
        matmul(k, type, wi, stride, xq, xqBytes, mmInter, g.cols, nTokens, g.rows, 0, 21);
        matmul(k, type, wi, stride, xq, xqBytes, mmInter, g.cols, nTokens, g.rows, 21, g.rows);
        const mm = k.f32(mmPlain, g.rows * nTokens).slice();
        assert.equal(
          firstBitMismatch(k.f32(mmInter, g.rows * nTokens), mm),
          undefined,
          `${g.name} matmul`,
        );

        const ids = [5, 0, 63, 6];
        const idsAt = k.alloc(ids.length * 4, 4);
        new Int32Array(k.memory.buffer, idsAt, ids.length).set(ids);
        const out = k.alloc(ids.length * g.cols * 4);
        getRows(k, type, wi, stride, idsAt, out, g.cols, g.cols, 0, ids.length);
        for (const [i, id] of ids.entries()) {
          const got = k.f32(out + i * g.cols * 4, g.cols);
          const want = g.expected.subarray(id * g.cols, (id + 1) * g.cols);
          assert.equal(firstBitMismatch(got, want), undefined, `${g.name} row ${id}`);
        }
      }
      assert.equal(repacked, 5, "Q4_0, Q4_1, Q5_1, Q8_0 and IQ4_NL interleave");

      const buf = k.alloc(8192);
      assert.throws(() => repackRows4(k, GgmlType.Q4_K, buf, 144, 4, buf), KernelError);
      assert.throws(() => repackRows4(k, GgmlType.Q8_0, buf, 34, 6, buf), KernelError);
      assert.throws(
        () => matvec(k, GgmlType.Q6_K | INTERLEAVED_4, buf, 210, buf, buf, 256, 0, 4),
        KernelError,
      );
      assert.throws(
        () => dequantizeRows(k, (GgmlType.Q8_0 | INTERLEAVED_4) as GgmlType, buf, buf, 32),
        KernelError,
      );
    },
  });
}

function f32Bytes(g: Golden): Uint8Array {
  return new Uint8Array(g.expected.slice().buffer);
}

Deno.test("quantizeRow Q8_0 follows ggml's x86 rule", async () => {
  const k = await loadKernels({ target: "wasm32", relaxed: true });
  const n = 256;
  const x = randomVector(n, 3, 2);
  x.fill(0, 32, 64); // an all-zero block gets d = 0 and zero codes
  const xAt = putF32(k, x);
  const xq = k.alloc(activationRowBytes(GgmlType.Q8_0, n));
  quantizeRow(k, GgmlType.Q8_0, xAt, xq, n);
  const bytes = k.u8(xq, (n / 32) * 34).slice();
  const view = new DataView(bytes.buffer);
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[32 * b + i]));
    const d = Math.fround(amax / 127);
    const id = amax === 0 ? 0 : Math.fround(127 / amax);
    assert.equal(view.getFloat16(34 * b, true), Math.f16round(d), `block ${b} d`);
    for (let i = 0; i < 32; i++) {
      const q = view.getInt8(34 * b + 2 + i);
      assert.ok(q >= -127, `code ${q} below -127`);
      assert.ok(q <= 127, `code ${q} above 127`);
      assert.equal(q, roundHalfEven(Math.fround(x[32 * b + i] * id)), `block ${b} code ${i}`);
    }
  }
});

Deno.test("quantizeRow Q8_1 stores the scaled code sum", async () => {
  const k = await loadKernels({ target: "wasm64", relaxed: false });
  const n = 64;
  const x = randomVector(n, 11);
  const xAt = putF32(k, x);
  const xq = k.alloc(activationRowBytes(GgmlType.Q4_1, n));
  quantizeRow(k, GgmlType.Q4_1, xAt, xq, n);
  const view = new DataView(k.u8(xq, 72).slice().buffer);
  for (let b = 0; b < 2; b++) {
    let amax = 0, sum = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[32 * b + i]));
    for (let i = 0; i < 32; i++) sum += view.getInt8(36 * b + 4 + i);
    const d = Math.fround(amax / 127);
    assert.equal(view.getFloat16(36 * b, true), Math.f16round(d));
    assert.equal(view.getFloat16(36 * b + 2, true), Math.f16round(Math.fround(d * sum)));
  }
});

Deno.test("quantizeRow Q8_K codes, scale and bsums", async () => {
  const k = await loadKernels({ target: "wasm32", relaxed: false });
  const n = 512;
  const x = randomVector(n, 5);
  x[300] = 9; // positive maximum in block 1: d < 0 and that element becomes -127
  x[10] = -9; // negative maximum in block 0
  x[20] = 9; // tie with x[10]: the first one wins
  const xAt = putF32(k, x);
  const xq = k.alloc(activationRowBytes(GgmlType.Q4_K, n));
  quantizeRow(k, GgmlType.Q4_K, xAt, xq, n);
  const view = new DataView(k.u8(xq, 584).slice().buffer);
  for (let b = 0; b < 2; b++) {
    const base = 292 * b;
    let max = 0;
    for (let i = 0; i < 256; i++) {
      if (Math.abs(x[256 * b + i]) > Math.abs(max)) max = x[256 * b + i];
    }
    const iscale = Math.fround(-127 / max);
    assert.equal(view.getFloat32(base, true), Math.fround(1 / iscale), `block ${b} d`);
    for (let i = 0; i < 256; i++) {
      const q = view.getInt8(base + 4 + i);
      const want = Math.min(127, roundHalfEven(Math.fround(iscale * x[256 * b + i])));
      assert.equal(q, want, `block ${b} code ${i}`);
    }
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let i = 0; i < 16; i++) s += view.getInt8(base + 4 + 16 * g + i);
      assert.equal(view.getInt16(base + 260 + 2 * g, true), s, `block ${b} bsum ${g}`);
    }
  }
  assert.equal(view.getInt8(4 + 10), -127, "first of two tied maxima gives -127");
  assert.equal(view.getInt8(4 + 20), 127, "second of two tied maxima gives 127");
  assert.equal(view.getInt8(292 + 4 + 44), -127, "positive maximum gives -127");
});

Deno.test("quantizeRow F16 and BF16 round to nearest even", async () => {
  const k = await loadKernels({ target: "wasm32", relaxed: false });
  const special = [
    0,
    -0,
    1,
    65504,
    65519.99,
    65520,
    1e-8,
    -3e-5,
    6.1e-5,
    5.96e-8,
    2.98e-8,
    2.99e-8,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    Infinity,
    -Infinity,
    1e30,
    3.1415927,
  ];
  const x = new Float32Array([...special, ...randomVector(46, 17, 100)]);
  const xAt = putF32(k, x);
  const out = k.alloc(x.length * 2, 2);
  quantizeRow(k, GgmlType.F16, xAt, out, x.length);
  const h = new DataView(k.u8(out, x.length * 2).slice().buffer);
  for (let i = 0; i < x.length; i++) {
    assert.ok(Object.is(h.getFloat16(2 * i, true), Math.f16round(x[i])), `f16 of ${x[i]}`);
  }
  quantizeRow(k, GgmlType.BF16, xAt, out, x.length);
  const bf = new DataView(k.u8(out, x.length * 2).slice().buffer);
  const f = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < x.length; i++) {
    f.setUint32(0, bf.getUint16(2 * i, true) << 16, true);
    assert.ok(Object.is(f.getFloat32(0, true), bf16Round(x[i])), `bf16 of ${x[i]}`);
  }
});

Deno.test("kernels reject bad types and sizes", async () => {
  const k = await loadKernels({ target: "wasm64", relaxed: true });
  const buf = k.alloc(4096);
  assert.throws(() => matvec(k, GgmlType.IQ2_XXS, buf, 66, buf, buf, 256, 0, 1), KernelError);
  assert.throws(() => matvec(k, 99 as GgmlType, buf, 66, buf, buf, 256, 0, 1), KernelError);
  assert.throws(() => matvec(k, GgmlType.Q4_K, buf, 144, buf, buf, 100, 0, 1), KernelError);
  assert.throws(() => matvec(k, GgmlType.Q4_K, buf, 144, buf, buf, 256, 2, 1), KernelError);
  assert.throws(() => quantizeRow(k, GgmlType.Q8_0, buf, buf, 33), KernelError);
  assert.throws(() => dequantizeRows(k, GgmlType.Q2_0, buf, buf, 64), KernelError);
  assert.throws(() => activationRowBytes(GgmlType.Q6_K, 128), KernelError);
  const ids = k.alloc(4, 4);
  new Int32Array(k.memory.buffer, ids, 1)[0] = -1;
  assert.throws(() => getRows(k, GgmlType.Q8_0, buf, 34, ids, buf, 32, 32, 0, 1), KernelError);
  assert.throws(
    () => matmul(k, GgmlType.Q4_K, buf, 144, buf, 292, buf, 256, -1, 1, 0, 1),
    KernelError,
  );
  assert.equal(activationRowBytes(GgmlType.Q6_K, 4096), 16 * 292);
  assert.equal(activationRowBytes(GgmlType.Q4_1, 4096), 128 * 36);
  assert.equal(activationRowBytes(GgmlType.F16, 10), 20);
  assert.equal(SUPPORTED_WEIGHT_TYPES.length, 15);
});

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return (r - v === 0.5 && r % 2 !== 0 ? r - 1 : r) + 0;
}

function bf16Round(v: number): number {
  const f = new DataView(new ArrayBuffer(4));
  f.setFloat32(0, v, true);
  const u = f.getUint32(0, true);
  f.setUint32(0, ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16, true);
  return f.getFloat32(0, true);
}
