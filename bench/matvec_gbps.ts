// deno-lint-ignore-file no-console
/**
 * Prints single-thread matrix × vector throughput in GB/s of weight bytes for every
 * weight type, SIMD kernel against the scalar reference.
 *
 *   deno run --allow-read bench/matvec_gbps.ts [--types=Q4_K,Q6_K] [--shapes=4096x4096]
 *     [--build=wasm64-relaxed] [--no-scalar] [--seconds=1] [--tokens=16] [--threads=2]
 *
 * --tokens=N also times flint_matmul on a batch of N tokens and prints the weight bytes
 * per second per token it reaches (the matvec figure is the one-token baseline).
 * --threads=N adds the matvec (and with --tokens the matmul) on a KernelPool of N threads
 * (rows split in groups of 4).
 * --interleave repacks the types that support it with repackRows4 first; --segments
 * with repackSegments; --lanes the K-quants with repackLanes (combines with --segments).
 *
 * Weights are the golden test tensors (real llama-quantize output) tiled to the shape,
 * so scales and codes are realistic. Needs ../shared/testdata.
 */
import { parseArgs } from "node:util";
import { GGML_TYPES, type GgmlType, ggmlTypeFromName, rowBytes } from "../src/gguf/ggml_type.ts";
import { loadKernels } from "../src/kernels/runtime.ts";
import { KernelPool } from "../src/kernels/pool.ts";
import {
  activationRowBytes,
  INTERLEAVED_4,
  isInterleaveSupported,
  isLanesSupported,
  isSegmentSupported,
  LANES,
  matmul,
  matvec,
  matvecScalar,
  quantizeRow,
  repackLanes,
  repackRows4,
  repackSegments,
  SEGMENTED,
} from "../src/kernels/quant.ts";
import { testdataPath } from "../tests/testdata.ts";

const ALL = [
  "F32",
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
];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    types: { type: "string", default: ALL.join(",") },
    shapes: { type: "string", default: "4096x4096,14336x4096" },
    build: { type: "string", default: "wasm64-relaxed" },
    "no-scalar": { type: "boolean", default: false },
    seconds: { type: "string", default: "1" },
    tokens: { type: "string", default: "0" },
    threads: { type: "string", default: "1" },
    interleave: { type: "boolean", default: false },
    segments: { type: "boolean", default: false },
    lanes: { type: "boolean", default: false },
  },
});

const [target, variant] = values.build.split("-") as ["wasm32" | "wasm64", string];
const seconds = Number(values.seconds);

async function sourceBytes(name: string): Promise<Uint8Array> {
  // F32 has no golden tensor; use the F16 one's values.
  const goldenName = name === "F32" ? "F16" : name;
  const meta = JSON.parse(
    await Deno.readTextFile(testdataPath(`golden/dequant/${goldenName}.json`)),
  );
  if (name === "F32") return await Deno.readFile(testdataPath(`golden/dequant/F16.f32`));
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
    return bytes;
  } finally {
    file.close();
  }
}

/**
 * Seconds per call: the fastest of many short batches, because other processes on a
 * shared machine inflate the mean but rarely the best batch.
 */
function time(fn: () => void): number {
  fn();
  let best = Infinity;
  const end = performance.now() + seconds * 1000;
  do {
    let reps = 0;
    const start = performance.now();
    let now = start;
    while (now - start < 20 || reps < 2) {
      fn();
      reps++;
      now = performance.now();
    }
    best = Math.min(best, (now - start) / 1000 / reps);
  } while (performance.now() < end);
  return best;
}

const shapes = values.shapes.split(",").map((s) => s.split("x").map(Number) as [number, number]);
const maxBytes = Math.max(
  ...values.types.split(",").flatMap((t) =>
    shapes.map(([rows, cols]) => rowBytes(ggmlTypeFromName(t)!, cols) * rows)
  ),
);
const k = await loadKernels({
  target,
  relaxed: variant === "relaxed",
  initialBytes: maxBytes + 64 * 1024 * 1024,
});
const w = k.alloc(maxBytes);
const nTokens = Number(values.tokens);
const x = k.alloc(14336 * 4);
const xq = k.alloc(14336 * 4 * Math.max(1, nTokens));
const yBatch = k.alloc(14336 * 4 * Math.max(1, nTokens));
const y = k.alloc(14336 * 4);
const xs = k.f32(x, 14336);
for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i * 0.37) * 2;

const threads = Number(values.threads);
const pool = threads > 1 ? await KernelPool.create(k, { threads }) : undefined;

console.log(`build ${values.build}, 1 thread, GB/s of weight bytes (ms per matvec)`);
for (const name of values.types.split(",")) {
  const type = ggmlTypeFromName(name) as GgmlType;
  const src = await sourceBytes(name);
  for (const [rows, cols] of shapes) {
    const stride = rowBytes(type, cols);
    const total = stride * rows;
    const mem = k.u8(w, total);
    for (let at = 0; at < total; at += src.length) {
      mem.set(src.subarray(0, Math.min(src.length, total - at)), at);
    }
    if (activationRowBytes(type, cols) > 14336 * 4) throw new Error("activation buffer too small");
    let layout: number = type;
    if (values.lanes && isLanesSupported(k, type)) {
      repackLanes(k, type, w, total / GGML_TYPES[type].typeSize);
      layout = type | LANES;
    }
    // Activations take the block format's id, without a row layout flag.
    const actType = layout as GgmlType;
    quantizeRow(k, actType, x, xq, cols);
    if (values.interleave && isInterleaveSupported(k, type)) {
      repackRows4(k, type, w, stride, rows, y);
      layout = type | INTERLEAVED_4;
    } else if (values.segments && isSegmentSupported(k, actType) && rows % 16 === 0) {
      repackSegments(k, actType, w, stride, cols, rows, yBatch);
      layout |= SEGMENTED;
    }
    const simd = time(() => matvec(k, layout, w, stride, xq, y, cols, 0, rows));
    let line = `${name.padEnd(7)} ${rows}x${cols}  SIMD ${(total / simd / 1e9).toFixed(2)} GB/s (${
      (simd * 1000).toFixed(2)
    } ms)`;
    if (pool) {
      const args = [layout, k.ptr(w), k.ptr(stride), k.ptr(xq), k.ptr(y), cols];
      const pooled = time(() => pool.run("flint_matvec", args, rows, 4));
      line += `  ${threads} threads ${(total / pooled / 1e9).toFixed(2)} GB/s`;
    }
    if (nTokens > 0) {
      const xqBytes = activationRowBytes(type, cols);
      for (let t = 1; t < nTokens; t++) quantizeRow(k, actType, x, xq + t * xqBytes, cols);
      const mm = time(() =>
        matmul(k, layout, w, stride, xq, xqBytes, yBatch, cols, nTokens, rows, 0, rows)
      );
      line += `  matmul(${nTokens}) ${(total * nTokens / mm / 1e9).toFixed(2)} GB/s per token`;
      if (pool) {
        const args = [
          layout,
          k.ptr(w),
          k.ptr(stride),
          k.ptr(xq),
          k.ptr(xqBytes),
          k.ptr(yBatch),
          cols,
          nTokens,
          k.ptr(rows),
        ];
        const pooled = time(() => pool.run("flint_matmul", args, rows, 4));
        line += `, ${threads} threads ${(total * nTokens / pooled / 1e9).toFixed(2)}`;
      }
    }
    if (!values["no-scalar"]) {
      // The scalar reference reads row-major rows of the block format the activations were
      // quantized for (lanes included). On interleaved or segmented rows it times the same
      // work on scrambled blocks.
      const scalar = time(() => matvecScalar(k, actType, w, stride, xq, y, cols, 0, rows));
      line += `  scalar ${(total / scalar / 1e9).toFixed(2)} GB/s  x${(scalar / simd).toFixed(1)}`;
    }
    console.log(line);
  }
}
pool?.close();
