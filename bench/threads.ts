// deno-lint-ignore-file no-console
/**
 * Prints KernelPool numbers: the cost of one dispatch, the speedup of large float ops,
 * and matrix × vector GB/s of weight bytes at 1 and 2 threads.
 *
 *   deno run --allow-read --allow-sys bench/threads.ts [--build=wasm64-relaxed] [--threads=2]
 *     [--types=Q4_K,Q6_K,Q8_0] [--shapes=4096x4096,14336x4096] [--seconds=1] [--busy=0]
 *     [--skip-ops] [--median] [--no-adaptive]
 *
 * `--busy=N` starts N workers that spin for the whole run, to measure the pool while
 * other threads compete for the cores. `--skip-ops` leaves out the float ops and attention.
 * `--median` reports the median batch instead of the fastest, which shows what waiting
 * for descheduled threads costs under that competition.
 *
 * Weights are random blocks with fixed F16 scales: a dot's speed does not depend on
 * the values.
 */
import { parseArgs } from "node:util";
import { GGML_TYPES, ggmlTypeFromName } from "../src/gguf/ggml_type.ts";
import { loadKernels } from "../src/kernels/runtime.ts";
import { type Dispatcher, Ops, SingleThread } from "../src/kernels/ops.ts";
import { KernelPool } from "../src/kernels/pool.ts";
import { activationRowBytes, quantizeRow } from "../src/kernels/quant.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    build: { type: "string", default: "wasm64-relaxed" },
    threads: { type: "string", default: "2" },
    types: { type: "string", default: "Q4_K,Q6_K,Q8_0" },
    shapes: { type: "string", default: "4096x4096,14336x4096" },
    seconds: { type: "string", default: "1" },
    busy: { type: "string", default: "0" },
    "skip-ops": { type: "boolean", default: false },
    median: { type: "boolean", default: false },
    "no-adaptive": { type: "boolean", default: false },
  },
});
const [target, variant] = values.build.split("-") as ["wasm32" | "wasm64", string];
const seconds = Number(values.seconds);
const threads = Number(values.threads);

/**
 * Milliseconds per call of `fn` in the fastest batch of `batch` calls, over about
 * `seconds` after one warm-up batch. Other jobs share this machine's cores; the fastest
 * batch is the one they disturbed least.
 */
function time(fn: () => void, batch = 1): number {
  let best = Infinity;
  let samples = 0;
  const all: number[] = [];
  const start = performance.now();
  for (let i = -1; performance.now() - start < seconds * 1000 || samples < 5; i++) {
    const t0 = performance.now();
    for (let b = 0; b < batch; b++) fn();
    if (i >= 0) {
      const ms = (performance.now() - t0) / batch;
      best = Math.min(best, ms);
      all.push(ms);
      samples++;
    }
  }
  if (!values.median) return best;
  all.sort((a, b) => a - b);
  return all[all.length >> 1];
}

// Deno 2.9.6 does not stop a worker spinning in plain JS on terminate(), so the busy
// workers spin until a shared flag is set.
const busyStop = new Int32Array(new SharedArrayBuffer(4));
const busyUrl = URL.createObjectURL(
  new Blob([
    "self.onmessage = (e) => { const stop = new Int32Array(e.data); " +
    "while (Atomics.load(stop, 0) === 0); self.close(); };",
  ], { type: "text/javascript" }),
);
const busy = Array.from({ length: Number(values.busy) }, () => {
  const worker = new Worker(busyUrl, { type: "module" });
  worker.postMessage(busyStop.buffer);
  return worker;
});

const k = await loadKernels({ target, relaxed: variant === "relaxed", initialBytes: 512 << 20 });
const pool = await KernelPool.create(k, { threads, adaptive: !values["no-adaptive"] });
const single = new SingleThread(k);
console.log(
  `build ${target}-${variant}, pool of ${pool.threads} threads, ${busy.length} busy workers, ` +
    `${values.median ? "median" : "fastest"} batch, ` +
    `load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);

// Dispatch cost: a job of 2 one-element rows, so each thread adds one float.
const tiny = k.alloc(64);
const tinyArgs = [k.ptr(tiny), k.ptr(tiny), k.ptr(tiny)];
const direct = time(() => single.run("flint_add", tinyArgs, 2), 1000);
const pooled = time(() => pool.run("flint_add", tinyArgs, 2), 1000);
console.log(
  `dispatch: direct call ${(direct * 1000).toFixed(2)} us, pool ${
    (pooled * 1000).toFixed(2)
  } us (overhead ${((pooled - direct) * 1000).toFixed(2)} us)`,
);

function speedup(label: string, run: (d: Dispatcher) => void) {
  const one = time(() => run(single));
  const many = time(() => run(pool));
  console.log(
    `${label}: 1 thread ${one.toFixed(3)} ms, ${pool.threads} threads ${many.toFixed(3)} ms, ` +
      `speedup ${(one / many).toFixed(2)}x`,
  );
}

const n = values["skip-ops"] ? 0 : 4 << 20;
const a = k.alloc(n * 4);
const b = k.alloc(n * 4);
const y = k.alloc(n * 4);
k.f32(a, n).fill(0.5);
k.f32(b, n).fill(1.5);
if (n > 0) speedup("swiglu 4M floats", (d) => new Ops(k, d).swiglu(y, a, b, n));
if (n > 0) speedup("rms_norm 512x4096", (d) => new Ops(k, d).rmsNorm(y, a, b, 4096, 512, 1e-5));

// Attention for one token at position 4095 over a 4096-entry F16 cache, 32 heads of 128
// (Mistral 7B shapes), then a 128-token prompt chunk at positions 0..127.
const nHead = 32;
const nHeadKv = 8;
const headDim = 128;
const nCtx = 4096;
const cacheBytes = nCtx * nHeadKv * headDim * 2;
const kc = k.alloc(cacheBytes);
const vc = k.alloc(cacheBytes);
k.u8(kc, cacheBytes).fill(0x11);
k.u8(vc, cacheBytes).fill(0x22);
const positions = k.alloc(128 * 4);
const scratch = k.alloc(nHead * nCtx * 4);
const q = k.alloc(128 * nHead * headDim * 4);
const out = k.alloc(128 * nHead * headDim * 4);
k.f32(q, 128 * nHead * headDim).fill(0.01);
const attentionCases = [["decode at 4095", 1, 4095], ["prompt 128", 128, 0]] as const;
for (const [label, nTokens, first] of n > 0 ? attentionCases : []) {
  new Int32Array(k.memory.buffer, positions, nTokens).set(
    Array.from({ length: nTokens }, (_, i) => first + i),
  );
  speedup(`attention F16 ${label}`, (d) =>
    new Ops(k, d).attention({
      out,
      q,
      k: kc,
      v: vc,
      kvF16: true,
      positions,
      nTokens,
      nHead,
      nHeadKv,
      headDim,
      scratch,
      scratchStride: nCtx,
    }));
}

// Matrix × vector throughput.
for (const typeName of values.types.split(",").filter(Boolean)) {
  const type = ggmlTypeFromName(typeName);
  if (type === undefined) {
    throw new Error(`unknown weight type ${typeName}; expected a ggml name such as Q4_K`);
  }
  const info = GGML_TYPES[type];
  for (const shape of values.shapes.split(",")) {
    const [rows, cols] = shape.split("x").map(Number);
    const rowBytes = cols / info.blockSize * info.typeSize;
    const bytes = rows * rowBytes;
    const w = k.alloc(bytes, 64);
    const view = k.u8(w, bytes);
    let s = 12345;
    for (let i = 0; i < bytes; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      view[i] = s >>> 24;
    }
    // Fixed F16 scales (2^-8) keep every block finite.
    const scaleOffsets: Record<string, number[]> = { Q8_0: [0], Q4_K: [0, 2], Q6_K: [208] };
    const dv = new DataView(k.memory.buffer, w, bytes);
    for (let block = 0; block < bytes / info.typeSize; block++) {
      for (const off of scaleOffsets[typeName] ?? []) {
        dv.setUint16(block * info.typeSize + off, 0x1c00, true);
      }
    }
    const x = k.alloc(cols * 4);
    k.f32(x, cols).fill(0.25);
    const xq = k.alloc(activationRowBytes(type, cols));
    quantizeRow(k, type, x, xq, cols);
    const yv = k.alloc(rows * 4);
    const args = [type, k.ptr(w), k.ptr(rowBytes), k.ptr(xq), k.ptr(yv), cols];
    const one = time(() => single.run("flint_matvec", args, rows));
    const many = time(() => pool.run("flint_matvec", args, rows, 16));
    const gbps = (ms: number) => (bytes / ms / 1e6).toFixed(1);
    console.log(
      `matvec ${typeName} ${rows}x${cols}: 1 thread ${gbps(one)} GB/s, ` +
        `${pool.threads} threads ${gbps(many)} GB/s (${(one / many).toFixed(2)}x)`,
    );
  }
}
console.log(`worker stalls that paused work sharing: ${pool.stalls}`);
pool.close();
Atomics.store(busyStop, 0, 1);
for (const worker of busy) worker.terminate();
