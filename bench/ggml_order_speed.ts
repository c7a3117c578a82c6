/**
 * `deno run --allow-read --allow-env bench/ggml_order_speed.ts`: one-thread prompt-batch
 * matmul (1024 rows × 4096 columns × 32 tokens) through flint_matmul (flint's own
 * summation order) and flint_matmul_ggml (ggml's order, used for prompt batches so that
 * logits match llama.cpp) for every type the second one takes. Prints the median time
 * of each and their ratio. Weights are the golden test tensors tiled to the shape.
 */
import { ggmlTypeFromName, rowBytes } from "../src/gguf/ggml_type.ts";
import { loadKernels } from "../src/kernels/runtime.ts";
import { activationRowBytes, quantizeRow } from "../src/kernels/quant.ts";
import { HAVE_TESTDATA, testdataPath } from "../tests/testdata.ts";

const ROWS = 1024;
const COLS = 4096;
const TOKENS = 32;
const RUNS = 5;
const TYPES = ["Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"];

function goldenTensor(name: string): Uint8Array {
  const meta = JSON.parse(Deno.readTextFileSync(testdataPath(`golden/dequant/${name}.json`)));
  const file = Deno.openSync(testdataPath(`models/${meta.model}`));
  try {
    file.seekSync(meta.tensor_file_offset, Deno.SeekMode.Start);
    const bytes = new Uint8Array(meta.tensor_nbytes);
    let got = 0;
    while (got < bytes.length) {
      const n = file.readSync(bytes.subarray(got));
      if (n === null) throw new Error(`short read of ${meta.model}`);
      got += n;
    }
    return bytes;
  } finally {
    file.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

if (import.meta.main) {
  if (!HAVE_TESTDATA) throw new Error("the shared reference data is missing");
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  out(`${ROWS}x${COLS} weights, ${TOKENS} tokens, 1 thread, median of ${RUNS}`);
  out("type     flint ms   ggml-order ms   ratio");
  // Memory is never freed, so every type's buffers stay allocated (about 40 MB in all).
  const k = await loadKernels({ target: "wasm32" });
  for (const name of TYPES) {
    const type = ggmlTypeFromName(name)!;
    const stride = rowBytes(type, COLS);
    const total = stride * ROWS;
    const src = goldenTensor(name);
    const w = k.alloc(total, 64);
    const mem = k.u8(w, total);
    for (let at = 0; at < total; at += src.length) {
      mem.set(src.subarray(0, Math.min(src.length, total - at)), at);
    }
    const x = k.alloc(COLS * 4);
    const xs = k.f32(x, COLS);
    const xqStride = activationRowBytes(type, COLS);
    const xq = k.alloc(xqStride * TOKENS, 64);
    for (let t = 0; t < TOKENS; t++) {
      for (let i = 0; i < COLS; i++) xs[i] = Math.sin(i * 0.37 + t) * 2;
      quantizeRow(k, type, x, xq + t * xqStride, COLS);
    }
    const y = k.alloc(ROWS * TOKENS * 4);
    const time = (kernel: string) => {
      const ms: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const start = performance.now();
        const code = k.exports[kernel](
          type,
          k.ptr(w),
          k.ptr(stride),
          k.ptr(xq),
          k.ptr(xqStride),
          k.ptr(y),
          COLS,
          TOKENS,
          k.ptr(ROWS),
          0,
          ROWS,
        );
        ms.push(performance.now() - start);
        if (code !== 0) throw new Error(`${kernel} failed on ${name} with code ${code}`);
      }
      return median(ms);
    };
    const flint = time("flint_matmul");
    const ggml = time("flint_matmul_ggml");
    out(
      `${name.padEnd(7)} ${flint.toFixed(1).padStart(9)} ${ggml.toFixed(1).padStart(15)} ${
        (ggml / flint).toFixed(2).padStart(7)
      }`,
    );
  }
}
