/**
 * flint_matmul_ggml (kernels/ggml_order.c) against flint_matmul on real weight tensors:
 * both compute the same products and differ only in float32 summation order.
 * tests/model_golden_test.ts checks that the order is llama.cpp's.
 */
import assert from "node:assert/strict";
import { ggmlTypeFromName, rowBytes } from "../gguf/ggml_type.ts";
import { activationRowBytes, quantizeRow } from "./quant.ts";
import { loadKernels } from "./runtime.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";

const TYPES = ["Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"];
const TOKENS = 5;
/** Relative to Σ|w·x|: each float32 addition rounds by at most 2^-24 relative. */
const ORDER_REL = 1e-5;

async function readWeights(name: string) {
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
    const dequant = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    return { cols: meta.shape[0] as number, rows: meta.shape[1] as number, bytes, dequant };
  } finally {
    file.close();
  }
}

for (const name of TYPES) {
  Deno.test({
    name: `matmul_ggml ${name} matches flint_matmul`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const type = ggmlTypeFromName(name)!;
      const { cols, rows, bytes, dequant } = await readWeights(name);
      const k = await loadKernels({ target: "wasm32" });
      assert.equal(k.exports.flint_ggml_order_supported(type, cols), 1, `${name} supported`);

      const stride = rowBytes(type, cols);
      const w = k.alloc(bytes.length);
      k.u8(w, bytes.length).set(bytes);
      const x = k.alloc(cols * 4);
      const xqStride = activationRowBytes(type, cols);
      const xq = k.alloc(xqStride * TOKENS);
      const xs: Float32Array[] = [];
      for (let t = 0; t < TOKENS; t++) {
        const row = Float32Array.from({ length: cols }, (_, i) => Math.sin(i * 0.7 + t * 1.3));
        xs.push(row);
        k.f32(x, cols).set(row);
        quantizeRow(k, type, x, xq + t * xqStride, cols);
      }
      const run = (kernel: string) => {
        const y = k.alloc(rows * TOKENS * 4);
        const args = [type, w, stride, xq, xqStride, y, cols, TOKENS, rows].map((v, i) =>
          i === 0 || i === 6 || i === 7 ? v : k.ptr(v)
        );
        assert.equal(k.exports[kernel](...args, 0, rows), 0, `${kernel} ${name}`);
        return Float32Array.from(k.f32(y, rows * TOKENS));
      };
      const ggml = run("flint_matmul_ggml");
      const flint = run("flint_matmul");

      for (let t = 0; t < TOKENS; t++) {
        for (let r = 0; r < rows; r++) {
          let scale = 0;
          for (let c = 0; c < cols; c++) scale += Math.abs(dequant[r * cols + c] * xs[t][c]);
          const at = t * rows + r;
          const diff = Math.abs(ggml[at] - flint[at]);
          assert.ok(
            diff <= ORDER_REL * scale,
            `${name} token ${t} row ${r}: ggml order ${ggml[at]}, flint order ${flint[at]}`,
          );
        }
      }
    },
  });
}

Deno.test("matmul_ggml rejects other types and rows", async () => {
  const k = await loadKernels({ target: "wasm32" });
  const q4k = ggmlTypeFromName("Q4_K")!;
  const q4_0 = ggmlTypeFromName("Q4_0")!;
  assert.equal(k.exports.flint_ggml_order_supported(q4_0, 256), 0);
  assert.equal(k.exports.flint_ggml_order_supported(q4k, 32768), 1);
  assert.equal(k.exports.flint_ggml_order_supported(q4k, 32768 + 256), 0);
  assert.equal(k.exports.flint_ggml_order_supported(q4k, 128), 0);
  const y = k.alloc(64);
  assert.equal(k.exports.flint_matmul_ggml(q4_0, 0, 18, 0, 34, y, 32, 1, 1, 0, 1), -1);
  assert.equal(k.exports.flint_matmul_ggml(q4k, 0, 144, 0, 292, y, 128, 1, 1, 0, 1), -2);
});

Deno.test("matmul_ggml F32 sums in 16 lanes", async () => {
  const k = await loadKernels({ target: "wasm32" });
  const f32 = ggmlTypeFromName("F32")!;
  const cols = 64;
  const rows = 3;
  const tokens = 2;
  const f = Math.fround;
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.7) * 0.02);
  const x = Float32Array.from({ length: tokens * cols }, (_, i) => Math.cos(i * 0.3) * 3);
  const wp = k.alloc(w.length * 4);
  const xp = k.alloc(x.length * 4);
  const yp = k.alloc(rows * tokens * 4);
  k.f32(wp, w.length).set(w);
  k.f32(xp, x.length).set(x);
  assert.equal(k.exports.flint_ggml_order_supported(f32, cols), 1);
  assert.equal(k.exports.flint_ggml_order_supported(f32, cols + 8), 0);
  const args = [
    f32,
    k.ptr(wp),
    k.ptr(cols * 4),
    k.ptr(xp),
    k.ptr(cols * 4),
    k.ptr(yp),
    cols,
    tokens,
  ];
  assert.equal(k.exports.flint_matmul_ggml(...args, k.ptr(rows), 0, rows), 0);
  const y = k.f32(yp, rows * tokens);

  // Reference: lane l accumulates the fused multiply-adds of elements 16i + l; the lanes are
  // then added as l + l+8, + 4, and finally (0 + 2) + (1 + 3).
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < rows; r++) {
      let lanes = new Array<number>(16).fill(0);
      for (let i = 0; i < cols; i += 16) {
        for (let l = 0; l < 16; l++) {
          lanes[l] = f(w[r * cols + i + l] * x[t * cols + i + l] + lanes[l]);
        }
      }
      for (const half of [8, 4]) lanes = lanes.slice(0, half).map((v, l) => f(v + lanes[l + half]));
      const want = f(f(lanes[0] + lanes[2]) + f(lanes[1] + lanes[3]));
      assert.equal(y[t * rows + r], want, `token ${t} row ${r}`);
    }
  }
});
