/**
 * `deno bench --allow-read bench/matvec_bench.ts`: one-thread matrix × vector at
 * 4096×4096 for the weight types of common llama.cpp quants, relaxed-SIMD and plain
 * SIMD128 builds, with the scalar reference as baseline. Weights are the golden test
 * tensors tiled to the shape, so scales and codes are real. bench/matvec_gbps.ts prints
 * the same in GB/s for every type and shape.
 */
import { ggmlTypeFromName, rowBytes } from "../src/gguf/ggml_type.ts";
import { type Kernels, loadKernels } from "../src/kernels/runtime.ts";
import { activationRowBytes, matvec, matvecScalar, quantizeRow } from "../src/kernels/quant.ts";
import { HAVE_TESTDATA, testdataPath } from "../tests/testdata.ts";

const ROWS = 4096;
const COLS = 4096;
const TYPES = ["Q4_0", "Q8_0", "Q4_K", "Q5_K", "Q6_K"];

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

interface Setup {
  k: Kernels;
  w: number;
  xq: number;
  y: number;
}

async function setup(name: string, relaxed: boolean): Promise<Setup> {
  const type = ggmlTypeFromName(name)!;
  const total = rowBytes(type, COLS) * ROWS;
  const k = await loadKernels({ target: "wasm64", relaxed, initialBytes: total + (8 << 20) });
  const src = goldenTensor(name);
  const w = k.alloc(total);
  const mem = k.u8(w, total);
  for (let at = 0; at < total; at += src.length) {
    mem.set(src.subarray(0, Math.min(src.length, total - at)), at);
  }
  const x = k.alloc(COLS * 4);
  const xs = k.f32(x, COLS);
  for (let i = 0; i < COLS; i++) xs[i] = Math.sin(i * 0.37) * 2;
  const xq = k.alloc(activationRowBytes(type, COLS));
  quantizeRow(k, type, x, xq, COLS);
  return { k, w, xq, y: k.alloc(ROWS * 4) };
}

for (const name of HAVE_TESTDATA ? TYPES : []) {
  const type = ggmlTypeFromName(name)!;
  const stride = rowBytes(type, COLS);
  for (const relaxed of [true, false]) {
    const s = await setup(name, relaxed);
    const build = relaxed ? "relaxed" : "simd128";
    Deno.bench({
      name: `${name} ${build}`,
      group: name,
      baseline: relaxed,
      fn: () => matvec(s.k, type, s.w, stride, s.xq, s.y, COLS, 0, ROWS),
    });
    if (relaxed) {
      Deno.bench({
        name: `${name} scalar`,
        group: name,
        fn: () => matvecScalar(s.k, type, s.w, stride, s.xq, s.y, COLS, 0, ROWS),
      });
    }
  }
}
