/**
 * Run by pool_remote_test.ts from an http: URL: loads the kernels and a 2-thread pool
 * the way a user importing flint from a URL does, and prints what the test checks.
 */
import { KernelPool, loadKernels, Ops, SingleThread } from "../src/kernels/mod.ts";

const k = await loadKernels();
using pool = await KernelPool.create(k, { threads: 2 });
const n = 4096;
const rows = 64;
const x = k.alloc(rows * n * 4);
const y1 = k.alloc(rows * n * 4);
const y2 = k.alloc(rows * n * 4);
const xs = k.f32(x, rows * n);
for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i);
new Ops(k, new SingleThread(k)).rmsNorm(y1, x, 0, n, rows, 1e-5);
const ops = new Ops(k, pool);
for (let i = 0; i < 1000 && pool.workerChunks === 0; i++) ops.rmsNorm(y2, x, 0, n, rows, 1e-5);
const a = new Uint32Array(k.memory.buffer, y1, rows * n);
const b = new Uint32Array(k.memory.buffer, y2, rows * n);
const report = {
  threads: pool.threads,
  workerChunks: pool.workerChunks,
  identical: a.every((v, i) => v === b[i]),
  url: import.meta.url,
};
// deno-lint-ignore no-console
console.log(JSON.stringify(report));
