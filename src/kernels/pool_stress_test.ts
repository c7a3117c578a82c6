/**
 * Stress tests of `KernelPool`'s job protocol: thousands of small jobs of changing
 * sizes, more threads than this machine may have cores, and a competing busy thread.
 * A lost claim or a chunk run twice shows as a wrong sum, and a lost wakeup shows as a
 * `KernelPoolError` from the watchdog instead of a hung test.
 */
import assert from "node:assert/strict";
import { GGML_TYPES, GgmlType } from "../gguf/ggml_type.ts";
import { type Kernels, loadKernels } from "./runtime.ts";
import { SingleThread } from "./ops.ts";
import { KernelPool, KernelPoolError } from "./pool.ts";
import {
  awaitChunks,
  controlBytes,
  CTL,
  describeWorkers,
  WORKER,
  workerSlot,
  WorkerState,
} from "./pool_protocol.ts";
import { activationRowBytes, quantizeRow } from "./quant.ts";

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

/** One matvec problem: Q4_K weights with fixed scales and a quantized activation row. */
interface Matvec {
  type: GgmlType;
  w: number;
  rowBytes: number;
  xq: number;
  y: number;
  rows: number;
  cols: number;
}

function makeMatvec(k: Kernels, rows: number, cols: number, seed: number): Matvec {
  const type = GgmlType.Q4_K;
  const info = GGML_TYPES[type];
  const rowBytes = cols / info.blockSize * info.typeSize;
  const w = k.alloc(rows * rowBytes);
  const random = rng(seed);
  const bytes = k.u8(w, rows * rowBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (random() * 256) | 0;
  // F16 scales d and dmin of 2^-8 keep every block finite.
  const view = new DataView(k.memory.buffer, w, rows * rowBytes);
  for (let block = 0; block < rows * cols / info.blockSize; block++) {
    view.setUint16(block * info.typeSize, 0x1c00, true);
    view.setUint16(block * info.typeSize + 2, 0x1c00, true);
  }
  const x = k.alloc(cols * 4);
  const xs = k.f32(x, cols);
  for (let i = 0; i < cols; i++) xs[i] = random() - 0.5;
  const xq = k.alloc(activationRowBytes(type, cols));
  quantizeRow(k, type, x, xq, cols);
  return { type, w, rowBytes, xq, y: k.alloc(rows * 4), rows, cols };
}

function matvecArgs(k: Kernels, m: Matvec): (number | bigint)[] {
  return [m.type, k.ptr(m.w), k.ptr(m.rowBytes), k.ptr(m.xq), k.ptr(m.y), m.cols];
}

/**
 * Runs `jobs` jobs through `pool`, mostly in-place adds of 1 to 40 rows with grains 1
 * to 3, so a chunk that runs twice or not at all changes the sums. Every 64th job is a
 * matvec of a random number of rows, compared bit for bit with one thread.
 */
function stress(k: Kernels, pool: KernelPool, jobs: number, seed: number): void {
  const random = rng(seed);
  const maxRows = 40;
  const acc = k.alloc(maxRows * 4);
  const one = k.alloc(maxRows * 4);
  k.f32(acc, maxRows).fill(0);
  k.f32(one, maxRows).fill(1);
  const expected = new Float32Array(maxRows);
  const matvec = makeMatvec(k, 300, 256, seed);
  const single = new SingleThread(k);
  const reference = k.alloc(matvec.rows * 4);

  for (let job = 0; job < jobs; job++) {
    if (job % 64 === 63) {
      const rows = 1 + Math.floor(random() * matvec.rows);
      const args = matvecArgs(k, matvec);
      assert.equal(pool.run("flint_matvec", args, rows), 0, `job ${job}: matvec of ${rows} rows`);
      const pooled = k.f32(matvec.y, rows).slice();
      args[4] = k.ptr(reference);
      assert.equal(single.run("flint_matvec", args, rows), 0, `job ${job}: one thread`);
      assert.deepEqual(
        new Uint32Array(pooled.buffer),
        new Uint32Array(k.memory.buffer, reference, rows),
        `job ${job}: matvec of ${rows} rows on ${pool.threads} threads vs 1`,
      );
      continue;
    }
    const rows = 1 + Math.floor(random() * maxRows);
    const grain = 1 + Math.floor(random() * 3);
    assert.equal(
      pool.run("flint_add", [k.ptr(acc), k.ptr(acc), k.ptr(one)], rows, grain),
      0,
      `job ${job}: add`,
    );
    for (let i = 0; i < rows; i++) expected[i] += 1;
  }
  assert.deepEqual(k.f32(acc, maxRows).slice(), expected, "sums of the in-place adds");
}

for (const threads of [2, 3]) {
  Deno.test(`pool stress: small jobs on ${threads} threads`, async () => {
    const k = await loadKernels({ target: "wasm64", initialBytes: 8 << 20 });
    // Without adaptive pauses every job is shared, however slow the workers get.
    using pool = await KernelPool.create(k, { threads, adaptive: threads === 2 });
    assert.equal(pool.threads, threads);
    stress(k, pool, 100000, threads);
    assert.ok(pool.workerChunks > 0, "workers ran chunks");
  });
}

Deno.test("pool stress: workers that sleep between jobs", async () => {
  // With no spinning, every job wakes sleeping workers: the path a lost wakeup would hit.
  const k = await loadKernels({ target: "wasm32", initialBytes: 8 << 20 });
  using pool = await KernelPool.create(k, { threads: 3, spinMillis: 0, waitSpinMillis: 0 });
  stress(k, pool, 30000, 7);
});

Deno.test("pool stress: a busy thread competes for the cores", async () => {
  // Deno 2.9.6 does not stop a worker spinning in plain JS on terminate(), so this one
  // spins until a shared flag is set.
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const source = "self.onmessage = (e) => { const stop = new Int32Array(e.data); " +
    "self.postMessage('spinning'); while (Atomics.load(stop, 0) === 0); self.close(); };";
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const busy = new Worker(url, { type: "module" });
  const spinning = new Promise((resolve) => busy.onmessage = resolve);
  busy.postMessage(stop.buffer);
  try {
    await spinning;
    const k = await loadKernels({ target: "wasm32", initialBytes: 8 << 20 });
    using pool = await KernelPool.create(k, { threads: 2 });
    stress(k, pool, 50000, 9);
  } finally {
    Atomics.store(stop, 0, 1);
    busy.terminate();
    URL.revokeObjectURL(url);
  }
});

Deno.test("pool stress: jobs after the memory grows", async () => {
  const k = await loadKernels({ target: "wasm32", initialBytes: 2 << 20 });
  using pool = await KernelPool.create(k, { threads: 2 });
  const n = 1 << 18;
  for (let round = 0; round < 8; round++) {
    const before = k.memory.buffer.byteLength;
    const x = k.alloc(n * 4);
    assert.ok(k.memory.buffer.byteLength > before, `round ${round}: the memory grew`);
    k.f32(x, n).fill(round);
    assert.equal(pool.run("flint_add", [x, x, x], n, 1024), 0);
    const y = k.f32(x, n);
    assert.equal(y.findIndex((v) => v !== 2 * round), -1, `round ${round}: every row doubled`);
  }
});

/** Creates a control block outside any pool, with one worker slot set to `state`. */
function fakeControl(state: number): Int32Array {
  const ctl = new Int32Array(new SharedArrayBuffer(controlBytes(1)));
  ctl[workerSlot(1) + WORKER.STATE] = state;
  ctl[workerSlot(1) + WORKER.CHUNK] = 5;
  ctl[workerSlot(1) + WORKER.SEEN] = 41;
  return ctl;
}

Deno.test("awaitChunks watchdog names the stuck job", () => {
  const ctl = fakeControl(WorkerState.RUNNING);
  ctl[CTL.DONE] = 7;
  assert.throws(
    () =>
      awaitChunks(ctl, 8, {
        spinMillis: 1,
        watchdogMillis: 30,
        describe: () => `job 42; ${describeWorkers(ctl, 1)}`,
      }),
    (error: unknown) => {
      assert.ok(error instanceof KernelPoolError, "a KernelPoolError");
      assert.match(error.message, /no chunk finished for \d+ ms \(watchdog 30 ms\)/);
      assert.match(error.message, /7 of 8 done; job 42/);
      assert.match(error.message, /worker 1 running chunk 5 \(last woke for job 41\)/);
      return true;
    },
  );
});

Deno.test("awaitChunks rejects more chunks done than posted", () => {
  const ctl = fakeControl(WorkerState.SLEEPING);
  ctl[CTL.DONE] = 9;
  assert.throws(
    () => awaitChunks(ctl, 8, { spinMillis: 1, watchdogMillis: 60000, describe: () => "job 1" }),
    /9 chunks finished, more than the 8 posted; job 1/,
  );
});

Deno.test("awaitChunks returns when a worker finishes", () => {
  const ctl = fakeControl(WorkerState.RUNNING);
  ctl[CTL.DONE] = 3;
  // A worker that adds the last chunk after the caller has gone to sleep.
  const source = `self.onmessage = (e) => {
    const ctl = new Int32Array(e.data);
    setTimeout(() => { Atomics.add(ctl, ${CTL.DONE}, 1); Atomics.notify(ctl, ${CTL.DONE}); }, 50);
  };`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    worker.postMessage(ctl.buffer);
    awaitChunks(ctl, 4, { spinMillis: 0, watchdogMillis: 60000, describe: () => "" });
    assert.equal(Atomics.load(ctl, CTL.DONE), 4);
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
});
