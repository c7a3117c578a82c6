/**
 * Layout of the control block that `KernelPool` shares with its workers, the chunk
 * claim and completion wait they both run, and the message that starts a worker. The
 * block lives in the kernels' shared memory.
 *
 * One job at a time: the calling thread writes the job's fields while no chunk is
 * unclaimed or running, then opens the job by storing its chunk count in UNCLAIMED and
 * bumps SEQ to wake the workers. Any thread then takes a chunk by a compare-exchange
 * that moves UNCLAIMED from r > 0 to r - 1. Because a successful exchange can only
 * happen while the job is open, every claim belongs to the current job, whatever job a
 * thread believed it was working on. The caller returns once DONE counts every chunk,
 * which is also when the next job may overwrite the fields.
 */

/** Int32 slots of the control block, then the float64 argument values. */
export const CTL = {
  /** Job counter; idle workers wait in `Atomics.wait` for it to change. */
  SEQ: 0,
  /** Chunks of the current job that are finished. */
  DONE: 1,
  /** Index of the kernel in `WorkerInit.names`. */
  FN: 2,
  NARGS: 3,
  NROWS: 4,
  GRAIN: 5,
  /** Number of chunks the rows are split into. */
  CHUNKS: 6,
  /** Set when a kernel call threw: the worker index, or -1 for the calling thread. */
  FAILED: 7,
  /** Per argument: 1 when it is passed as a BigInt (a wasm64 pointer), else 0. */
  KINDS: 8,
  MAX_ARGS: 20,
  /** First nonzero integer a worker's kernel call returned (an error code), else 0. */
  RESULT: 28,
  /** Set to 1 by `close()`: workers leave their loop at the next job counter change. */
  STOP: 29,
  /** Chunks of the current job that no thread has claimed yet; 0 between jobs. */
  UNCLAIMED: 30,
  /** Chunks run by workers since the pool started. */
  WORKER_CHUNKS: 31,
  INTS: 32,
  /** Byte offset of the float64 argument values. */
  VALUES_BYTE_OFFSET: 128,
  /** Byte offset of the per-worker state: `WORKER_SLOTS` int32 per worker. */
  WORKERS_BYTE_OFFSET: 128 + 20 * 8,
  WORKER_SLOTS: 3,
} as const;

/** Values of a worker's state slot, shown by the watchdog's error message. */
export const WorkerState = {
  STARTING: 0,
  POLLING: 1,
  SLEEPING: 2,
  RUNNING: 3,
  STOPPED: 4,
} as const;

const STATE_NAMES = ["starting", "polling", "sleeping", "running", "stopped"];

/** Per-worker slots, relative to the worker's first slot. */
export const WORKER = {
  /** One of `WorkerState`. */
  STATE: 0,
  /** The chunk being run while RUNNING. */
  CHUNK: 1,
  /** The value of SEQ the worker last woke for. */
  SEEN: 2,
} as const;

/** Bytes of a control block for `workers` workers. */
export function controlBytes(workers: number): number {
  return CTL.WORKERS_BYTE_OFFSET + workers * CTL.WORKER_SLOTS * 4;
}

/** Raised when a kernel call fails on a pool worker or the pool stops making progress. */
export class KernelPoolError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KernelPoolError";
  }
}

/**
 * Claims a chunk of the open job and returns its index, or -1 when no chunk is left.
 * The job's fields stay fixed from a successful claim until the claimer adds to DONE.
 */
export function claimChunk(ctl: Int32Array): number {
  for (;;) {
    const unclaimed = Atomics.load(ctl, CTL.UNCLAIMED);
    if (unclaimed <= 0) return -1;
    if (Atomics.compareExchange(ctl, CTL.UNCLAIMED, unclaimed, unclaimed - 1) === unclaimed) {
      return Atomics.load(ctl, CTL.CHUNKS) - unclaimed;
    }
  }
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

/** Describes each worker's state slots, for error messages. */
export function describeWorkers(ctl: Int32Array, workers: number): string {
  const states: string[] = [];
  for (let index = 1; index <= workers; index++) {
    const base = workerSlot(index);
    const state = Atomics.load(ctl, base + WORKER.STATE);
    const name = STATE_NAMES[state] ?? `state ${state}`;
    const chunk = state === WorkerState.RUNNING
      ? ` chunk ${Atomics.load(ctl, base + WORKER.CHUNK)}`
      : "";
    states.push(`worker ${index} ${name}${chunk} (last woke for job ${ctl[base + WORKER.SEEN]})`);
  }
  return states.join(", ");
}

/** Index in the control block's Int32 view of worker `index`'s first slot (1-based). */
export function workerSlot(index: number): number {
  return CTL.WORKERS_BYTE_OFFSET / 4 + (index - 1) * CTL.WORKER_SLOTS;
}

/** Polling and timeout settings of `awaitChunks`. */
export interface AwaitOptions {
  /** Milliseconds to poll DONE before sleeping in `Atomics.wait`. */
  spinMillis: number;
  /** Milliseconds without any chunk finishing after which the wait fails. */
  watchdogMillis: number;
  /** Names the job and the threads' states for the watchdog's error message. */
  describe: () => string;
}

/**
 * Waits until DONE reaches `chunks`: the calling thread has run or skipped every chunk
 * it claimed, so only chunks that workers claimed are outstanding. Throws
 * `KernelPoolError` when DONE passes `chunks` (a broken protocol) or when no chunk
 * finishes for `watchdogMillis`, which means a worker died or hangs.
 */
export function awaitChunks(ctl: Int32Array, chunks: number, options: AwaitOptions): void {
  let done = Atomics.load(ctl, CTL.DONE);
  if (done === chunks) return;
  const start = performance.now();
  let progressAt = start;
  let canSleep = true;
  for (let i = 1; done !== chunks; i++) {
    if (done > chunks) {
      throw new KernelPoolError(
        `KernelPool: ${done} chunks finished, more than the ${chunks} posted; ` +
          options.describe(),
      );
    }
    if ((i & 1023) === 0) {
      const now = performance.now();
      if (now - progressAt > options.watchdogMillis) {
        throw new KernelPoolError(
          `KernelPool: no chunk finished for ${Math.round(now - progressAt)} ms ` +
            `(watchdog ${options.watchdogMillis} ms), ${done} of ${chunks} done; ` +
            options.describe(),
        );
      }
      if (canSleep && now - start > options.spinMillis) {
        // Atomics.wait throws on threads that may not block (a browser's main thread);
        // those keep polling. Waiting on the value just read cannot miss an update.
        try {
          Atomics.wait(ctl, CTL.DONE, done, 10);
        } catch {
          canSleep = false;
        }
      }
    }
    const now = Atomics.load(ctl, CTL.DONE);
    if (now !== done) progressAt = performance.now();
    done = now;
  }
}

/** The first and only message a pool worker receives. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  is64: boolean;
  /** Byte address of the control block. */
  control: number;
  /** Number of workers, so each can view the whole block. */
  workers: number;
  /** Byte address just past this worker's stack region (stacks grow down). */
  stackTop: number;
  /** Export names, indexed by `CTL.FN`. */
  names: string[];
  /** Worker index, 1-based (the calling thread has no index). */
  index: number;
  /** How long a worker polls for the next job before sleeping in `Atomics.wait`. */
  spinMillis: number;
}
