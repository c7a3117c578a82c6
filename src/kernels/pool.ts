/**
 * A pool of workers that run kernel calls on the kernels' shared memory, split by rows.
 *
 * Each worker instantiates the same `WebAssembly.Module` on the same memory with a stack
 * of its own. A job is posted through a control block in that memory: the calling
 * thread writes the function and arguments and bumps a counter. Then it and the workers,
 * spinning or woken from `Atomics.wait`, claim chunks of the rows until none is left. No
 * message is posted per job. Kernels compute each row the same way whatever range it is
 * in, so which thread runs a chunk never changes the bits: results are identical for
 * any thread count.
 */
import type { Kernels } from "./runtime.ts";
import type { Dispatcher } from "./ops.ts";
import {
  awaitChunks,
  claimChunk,
  controlBytes,
  CTL,
  describeWorkers,
  KernelPoolError,
  partRange,
  type WorkerInit,
  workerSlot,
} from "./pool_protocol.ts";

export { KernelPoolError, partRange };

/** Options for `KernelPool.create`. */
export interface KernelPoolOptions {
  /** Total threads including the calling one; default `navigator.hardwareConcurrency`. */
  threads?: number;
  /** Stack bytes per worker; default 1 MiB, the size the module's own stack has. */
  stackBytes?: number;
  /**
   * Chunks per thread that a job's rows are split into; default 4. More chunks balance
   * better when threads run at different speeds, and each costs one claim.
   */
  chunksPerThread?: number;
  /** Milliseconds a worker polls for the next job before it sleeps; default 2. */
  spinMillis?: number;
  /**
   * Milliseconds the calling thread polls for workers before it sleeps; default 1. Polling
   * longer costs a descheduled worker its core when other processes load the machine.
   */
  waitSpinMillis?: number;
  /**
   * Milliseconds the calling thread waits for a chunk that a worker claimed before `run`
   * throws `KernelPoolError` and the pool refuses further jobs; default 60000. Only a
   * dead or hung worker should reach it: a chunk is a fraction of one kernel call.
   */
  watchdogMillis?: number;
  /**
   * Whether the calling thread runs jobs alone for a while after it waited for a worker
   * longer than it computed, and at least 1 ms; default true. Such a wait means the OS
   * descheduled the worker in a claimed chunk, which happens when other processes load
   * the cores. The pause starts at 10 ms and doubles up to 200 ms while stalls repeat.
   */
  adaptive?: boolean;
}

/** Shortest and longest pause in worker use after a stalled job, in milliseconds. */
const PAUSE_MIN_MILLIS = 10;
const PAUSE_MAX_MILLIS = 200;
/** A wait for workers shorter than this never counts as a stall, in milliseconds. */
const STALL_MIN_MILLIS = 1;

interface WorkerReply {
  ready?: boolean;
  error?: string;
}

function asCode(result: unknown): number {
  return typeof result === "number" ? result : 0;
}

function canUseWorkers(kernels: Kernels): boolean {
  return typeof Worker !== "undefined" && typeof SharedArrayBuffer !== "undefined" &&
    kernels.memory.buffer instanceof SharedArrayBuffer;
}

/**
 * Runs kernels over row ranges on the calling thread plus `threads - 1` workers.
 * Call `close()` when done: a live worker keeps the process running.
 */
export class KernelPool implements Dispatcher {
  readonly kernels: Kernels;
  /** Threads that share each job, including the calling one. */
  readonly threads: number;
  readonly #workers: Worker[];
  readonly #ctl: Int32Array;
  readonly #values: Float64Array;
  readonly #names: Map<string, number>;
  readonly #waitSpinMillis: number;
  readonly #chunksPerThread: number;
  readonly #watchdogMillis: number;
  readonly #adaptive: boolean;
  /** `performance.now()` until which jobs run on the calling thread alone. */
  #soloUntil = 0;
  #pauseMillis = PAUSE_MIN_MILLIS;
  #stalls = 0;
  #closed = false;
  /** Set when a job was abandoned with chunks outstanding; the pool runs no more jobs. */
  #broken?: KernelPoolError;

  private constructor(
    kernels: Kernels,
    workers: Worker[],
    control: number,
    names: Map<string, number>,
    waitSpinMillis: number,
    chunksPerThread: number,
    watchdogMillis: number,
    adaptive: boolean,
  ) {
    this.kernels = kernels;
    this.threads = workers.length + 1;
    this.#workers = workers;
    const buffer = kernels.memory.buffer;
    this.#ctl = new Int32Array(buffer, control, workerSlot(workers.length + 1));
    this.#values = new Float64Array(buffer, control + CTL.VALUES_BYTE_OFFSET, CTL.MAX_ARGS);
    this.#names = names;
    this.#waitSpinMillis = waitSpinMillis;
    this.#chunksPerThread = chunksPerThread;
    this.#watchdogMillis = watchdogMillis;
    this.#adaptive = adaptive;
    for (const worker of workers) worker.onmessage = null;
  }

  /**
   * Starts the workers and waits until each has instantiated the module. Runs on one
   * thread when `threads` is 1 or the engine lacks Worker or SharedArrayBuffer.
   */
  static async create(kernels: Kernels, options: KernelPoolOptions = {}): Promise<KernelPool> {
    const requested = options.threads ?? globalThis.navigator?.hardwareConcurrency ?? 1;
    if (!Number.isInteger(requested) || requested < 1) {
      throw new RangeError(`KernelPool: threads must be a positive integer, got ${requested}`);
    }
    const chunksPerThread = options.chunksPerThread ?? 4;
    if (!Number.isInteger(chunksPerThread) || chunksPerThread < 1) {
      throw new RangeError(
        `KernelPool: chunksPerThread must be a positive integer, got ${chunksPerThread}`,
      );
    }
    const watchdogMillis = options.watchdogMillis ?? 60000;
    if (!(watchdogMillis > 0)) {
      throw new RangeError(`KernelPool: watchdogMillis must be positive, got ${watchdogMillis}`);
    }
    const threads = canUseWorkers(kernels) ? requested : 1;
    const names = Object.keys(kernels.exports).filter((name) =>
      typeof kernels.exports[name] === "function"
    );
    const nameIndex = new Map(names.map((name, i) => [name, i]));
    const bytes = controlBytes(threads - 1);
    const control = kernels.alloc(bytes, 64);
    new Uint8Array(kernels.memory.buffer, control, bytes).fill(0);
    const stackBytes = Math.ceil((options.stackBytes ?? 1 << 20) / 16) * 16;

    const workers: Worker[] = [];
    try {
      const ready: Promise<void>[] = [];
      for (let index = 1; index < threads; index++) {
        const stackTop = kernels.alloc(stackBytes, 16) + stackBytes;
        const worker = new Worker(new URL("./pool_worker.ts", import.meta.url), {
          type: "module",
        });
        workers.push(worker);
        ready.push(
          new Promise<void>((resolve, reject) => {
            worker.onmessage = (event: MessageEvent<WorkerReply>) => {
              if (event.data.ready) resolve();
              else {reject(
                  new KernelPoolError(`pool worker ${index} failed to start: ${event.data.error}`),
                );}
            };
            worker.onerror = (event: ErrorEvent) => {
              event.preventDefault();
              reject(new KernelPoolError(`pool worker ${index} failed to start: ${event.message}`));
            };
          }),
        );
        const init: WorkerInit = {
          module: kernels.module,
          memory: kernels.memory,
          is64: kernels.is64,
          control,
          workers: threads - 1,
          stackTop,
          names,
          index,
          spinMillis: options.spinMillis ?? 2,
        };
        worker.postMessage(init);
      }
      await Promise.all(ready);
    } catch (error) {
      // Workers that started may already sleep in Atomics.wait, which terminate() alone
      // does not end, so wake them with STOP as close() does.
      const ctl = new Int32Array(kernels.memory.buffer, control, CTL.INTS);
      Atomics.store(ctl, CTL.STOP, 1);
      Atomics.add(ctl, CTL.SEQ, 1);
      Atomics.notify(ctl, CTL.SEQ);
      for (const worker of workers) worker.terminate();
      throw error;
    }
    return new KernelPool(
      kernels,
      workers,
      control,
      nameIndex,
      options.waitSpinMillis ?? 1,
      chunksPerThread,
      watchdogMillis,
      options.adaptive ?? true,
    );
  }

  /** Jobs after which the calling thread stopped sharing work because a worker stalled. */
  get stalls(): number {
    return this.#stalls;
  }

  /** Chunks that workers (not the calling thread) have run since the pool started. */
  get workerChunks(): number {
    // Without workers the memory may be a plain one whose growth detached the view.
    if (this.#workers.length === 0) return 0;
    return Atomics.load(this.#ctl, CTL.WORKER_CHUNKS);
  }

  /**
   * Calls the export `name` with `args` and a row range for each chunk of `[0, nRows)`,
   * and returns when all chunks are done. Threads claim chunks from a shared counter and
   * the calling thread runs every chunk no worker has claimed, so a worker that the OS
   * has descheduled delays a job only by a chunk it already claimed. When that delay
   * exceeds the calling thread's own share, jobs run on the calling thread alone for a
   * while (see `KernelPoolOptions.adaptive`); the bits do not change. Returns the first
   * nonzero integer a call returned (kernels return negative error codes), else 0.
   * Throws `KernelPoolError` when a call threw (a wasm trap), after the job, or when a
   * claimed chunk did not finish within `watchdogMillis`.
   */
  run(name: string, args: readonly (number | bigint)[], nRows: number, grain = 1): number {
    if (this.#closed) throw new KernelPoolError(`KernelPool: run(${name}) after close()`);
    if (this.#broken) {
      throw new KernelPoolError(`KernelPool: run(${name}) after an earlier job failed`, {
        cause: this.#broken,
      });
    }
    const fn = this.kernels.exports[name];
    if (typeof fn !== "function") {
      throw new KernelPoolError(`KernelPool: the kernels export no function ${name}`);
    }
    if (nRows <= 0) return 0;
    const units = Math.ceil(nRows / grain);
    const chunks = Math.min(units, this.threads * this.#chunksPerThread, 0xffff);
    if (this.threads === 1 || chunks <= 1) return asCode(fn(...args, 0, nRows));
    const start = this.#adaptive ? performance.now() : 0;
    if (start < this.#soloUntil) return this.#runSolo(name, fn, args, nRows);
    if (args.length > CTL.MAX_ARGS) {
      throw new RangeError(
        `KernelPool: ${name} takes ${args.length} arguments, at most ${CTL.MAX_ARGS} fit`,
      );
    }

    // The previous job left no chunk unclaimed or running, so no thread reads these.
    const ctl = this.#ctl;
    ctl[CTL.FN] = this.#names.get(name)!;
    ctl[CTL.NARGS] = args.length;
    ctl[CTL.NROWS] = nRows;
    ctl[CTL.GRAIN] = grain;
    ctl[CTL.CHUNKS] = chunks;
    ctl[CTL.FAILED] = 0;
    ctl[CTL.RESULT] = 0;
    ctl[CTL.DONE] = 0;
    for (let i = 0; i < args.length; i++) {
      const value = args[i];
      ctl[CTL.KINDS + i] = typeof value === "bigint" ? 1 : 0;
      this.#values[i] = Number(value);
    }
    // Opening the job (a seq-cst store) publishes the fields written above.
    Atomics.store(ctl, CTL.UNCLAIMED, chunks);
    const seq = (ctl[CTL.SEQ] + 1) | 0;
    Atomics.store(ctl, CTL.SEQ, seq);
    Atomics.notify(ctl, CTL.SEQ);

    let ownError: unknown;
    let ownResult = 0;
    for (let chunk = claimChunk(ctl); chunk >= 0; chunk = claimChunk(ctl)) {
      if (Atomics.load(ctl, CTL.FAILED) === 0) {
        const [begin, end] = partRange(nRows, grain, chunks, chunk);
        try {
          const result = asCode(fn(...args, begin, end));
          if (ownResult === 0) ownResult = result;
        } catch (error) {
          ownError = error;
          Atomics.compareExchange(ctl, CTL.FAILED, 0, -1);
        }
      }
      Atomics.add(ctl, CTL.DONE, 1);
    }
    const waitStart = this.#adaptive && Atomics.load(ctl, CTL.DONE) !== chunks
      ? performance.now()
      : 0;
    try {
      awaitChunks(ctl, chunks, {
        spinMillis: this.#waitSpinMillis,
        watchdogMillis: this.#watchdogMillis,
        describe: () =>
          `job ${seq} (${name}, ${nRows} rows in ${chunks} chunks), ` +
          `${Atomics.load(ctl, CTL.UNCLAIMED)} unclaimed; ` +
          describeWorkers(ctl, this.#workers.length),
      });
    } catch (error) {
      this.#broken = error as KernelPoolError;
      throw error;
    }
    if (waitStart > 0) this.#noteWait(waitStart - start, performance.now() - waitStart);

    const failed = Atomics.load(ctl, CTL.FAILED);
    if (failed === -1) {
      throw new KernelPoolError(`KernelPool: ${name} threw on the calling thread`, {
        cause: ownError,
      });
    }
    if (failed !== 0) {
      // A worker's exception cannot cross threads synchronously; it only sets FAILED.
      throw new KernelPoolError(`KernelPool: ${name} threw on worker ${failed}`);
    }
    return ownResult !== 0 ? ownResult : Atomics.load(ctl, CTL.RESULT);
  }

  /**
   * Pauses work sharing when the wait for workers took longer than the calling thread's
   * own share and `STALL_MIN_MILLIS`, and shortens the next pause otherwise.
   */
  #noteWait(ownMillis: number, waitMillis: number): void {
    if (waitMillis > ownMillis && waitMillis > STALL_MIN_MILLIS) {
      this.#stalls++;
      this.#soloUntil = performance.now() + this.#pauseMillis;
      this.#pauseMillis = Math.min(this.#pauseMillis * 2, PAUSE_MAX_MILLIS);
    } else {
      this.#pauseMillis = Math.max(this.#pauseMillis / 2, PAUSE_MIN_MILLIS);
    }
  }

  /** Runs a whole job on the calling thread, reporting a trap as a pooled job does. */
  #runSolo(
    name: string,
    fn: (...args: (number | bigint)[]) => unknown,
    args: readonly (number | bigint)[],
    nRows: number,
  ): number {
    try {
      return asCode(fn(...args, 0, nRows));
    } catch (error) {
      throw new KernelPoolError(`KernelPool: ${name} threw on the calling thread`, {
        cause: error,
      });
    }
  }

  /** Stops the workers. The pool cannot run jobs afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A pool without workers has nothing to stop. Its memory may be a plain one that has
    // grown since, which detaches the control block view.
    if (this.#workers.length === 0) return;
    // terminate() alone does not end a worker that sleeps in Atomics.wait (seen in
    // Deno 2.9.6: the process then never exits), so wake the workers with STOP first.
    Atomics.store(this.#ctl, CTL.STOP, 1);
    Atomics.add(this.#ctl, CTL.SEQ, 1);
    Atomics.notify(this.#ctl, CTL.SEQ);
    for (const worker of this.#workers) worker.terminate();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
