/**
 * A pool of workers that run kernel calls on the kernels' shared memory, split by rows.
 *
 * Each worker instantiates the same `WebAssembly.Module` on the same memory with a stack
 * of its own. A job is posted through a control block in that memory: the calling
 * thread writes the function and arguments, bumps a counter and computes its own share
 * of the rows while workers, spinning or woken from `Atomics.wait`, compute theirs. No
 * message is posted per job. Row ranges depend only on the row count, the grain and the
 * number of threads, and kernels compute each row independently of the split, so results
 * are bit-identical for any thread count.
 */
import type { Kernels } from "./runtime.ts";
import type { Dispatcher } from "./ops.ts";
import { CTL, type WorkerInit } from "./pool_protocol.ts";

/** Options for `KernelPool.create`. */
export interface KernelPoolOptions {
  /** Total threads including the calling one; default `navigator.hardwareConcurrency`. */
  threads?: number;
  /** Stack bytes per worker; default 1 MiB, the size the module's own stack has. */
  stackBytes?: number;
  /** Milliseconds a worker polls for the next job before it sleeps; default 2. */
  spinMillis?: number;
  /**
   * Milliseconds the calling thread polls for workers before it sleeps; default 1. Polling
   * longer costs a descheduled worker its core when other processes load the machine.
   */
  waitSpinMillis?: number;
}

/** Raised when a kernel call fails on a pool worker. */
export class KernelPoolError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KernelPoolError";
  }
}

interface WorkerReply {
  ready?: boolean;
  error?: string;
}

/** Splits `[0, nRows)` into `parts` ranges whose boundaries are multiples of `grain`. */
export function partRange(
  nRows: number,
  grain: number,
  parts: number,
  part: number,
): [number, number] {
  const units = Math.ceil(nRows / grain);
  const begin = Math.floor(part * units / parts) * grain;
  const end = Math.min(nRows, Math.floor((part + 1) * units / parts) * grain);
  return [begin, end];
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
  #closed = false;

  private constructor(
    kernels: Kernels,
    workers: Worker[],
    control: number,
    names: Map<string, number>,
    waitSpinMillis: number,
  ) {
    this.kernels = kernels;
    this.threads = workers.length + 1;
    this.#workers = workers;
    const buffer = kernels.memory.buffer;
    this.#ctl = new Int32Array(buffer, control, CTL.INTS);
    this.#values = new Float64Array(buffer, control + CTL.VALUES_BYTE_OFFSET, CTL.MAX_ARGS);
    this.#names = names;
    this.#waitSpinMillis = waitSpinMillis;
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
    const threads = canUseWorkers(kernels) ? requested : 1;
    const names = Object.keys(kernels.exports).filter((name) =>
      typeof kernels.exports[name] === "function"
    );
    const nameIndex = new Map(names.map((name, i) => [name, i]));
    const control = kernels.alloc(CTL.BYTES, 64);
    new Uint8Array(kernels.memory.buffer, control, CTL.BYTES).fill(0);
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
          stackTop,
          names,
          index,
          spinMillis: options.spinMillis ?? 2,
        };
        worker.postMessage(init);
      }
      await Promise.all(ready);
    } catch (error) {
      for (const worker of workers) worker.terminate();
      throw error;
    }
    return new KernelPool(kernels, workers, control, nameIndex, options.waitSpinMillis ?? 1);
  }

  /**
   * Calls the export `name` with `args` and a row range for each part of `[0, nRows)`:
   * part 0 on the calling thread, the others on workers. Returns when all parts are
   * done: the first nonzero integer a part returned (the calling thread's first), else 0.
   * Throws `KernelPoolError` when a worker's call threw (a wasm trap).
   */
  run(name: string, args: readonly (number | bigint)[], nRows: number, grain = 1): number {
    if (this.#closed) throw new KernelPoolError(`KernelPool: run(${name}) after close()`);
    const fn = this.kernels.exports[name];
    if (typeof fn !== "function") {
      throw new KernelPoolError(`KernelPool: the kernels export no function ${name}`);
    }
    if (nRows <= 0) return 0;
    const parts = Math.min(this.threads, Math.ceil(nRows / grain));
    if (parts <= 1) return asCode(fn(...args, 0, nRows));
    if (args.length > CTL.MAX_ARGS) {
      throw new RangeError(
        `KernelPool: ${name} takes ${args.length} arguments, at most ${CTL.MAX_ARGS} fit`,
      );
    }

    const ctl = this.#ctl;
    ctl[CTL.FN] = this.#names.get(name)!;
    ctl[CTL.NARGS] = args.length;
    ctl[CTL.NROWS] = nRows;
    ctl[CTL.GRAIN] = grain;
    ctl[CTL.PARTS] = parts;
    ctl[CTL.FAILED] = 0;
    ctl[CTL.RESULT] = 0;
    for (let i = 0; i < args.length; i++) {
      const value = args[i];
      ctl[CTL.KINDS + i] = typeof value === "bigint" ? 1 : 0;
      this.#values[i] = Number(value);
    }
    Atomics.store(ctl, CTL.PENDING, this.#workers.length);
    Atomics.add(ctl, CTL.SEQ, 1);
    Atomics.notify(ctl, CTL.SEQ);

    let ownError: unknown;
    let ownResult = 0;
    const [begin, end] = partRange(nRows, grain, parts, 0);
    try {
      ownResult = asCode(fn(...args, begin, end));
    } catch (error) {
      ownError = error;
    }
    this.#awaitWorkers();

    if (ownError !== undefined) throw ownError;
    const failed = Atomics.load(ctl, CTL.FAILED);
    if (failed !== 0) {
      // The worker's exception cannot cross threads synchronously; it only sets FAILED.
      throw new KernelPoolError(`KernelPool: ${name} threw on worker ${failed}`);
    }
    return ownResult !== 0 ? ownResult : Atomics.load(ctl, CTL.RESULT);
  }

  #awaitWorkers(): void {
    const ctl = this.#ctl;
    let pending = Atomics.load(ctl, CTL.PENDING);
    if (pending === 0) return;
    const deadline = performance.now() + this.#waitSpinMillis;
    for (let i = 1; pending !== 0; i++) {
      if ((i & 1023) === 0 && performance.now() > deadline) {
        // Atomics.wait throws on threads that may not block (a browser's main thread);
        // those keep polling.
        try {
          Atomics.wait(ctl, CTL.PENDING, pending, 10);
        } catch {
          // polling continues
        }
      }
      pending = Atomics.load(ctl, CTL.PENDING);
    }
  }

  /** Stops the workers. The pool cannot run jobs afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
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
