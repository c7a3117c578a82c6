/**
 * Layout of the control block that `KernelPool` shares with its workers, and the
 * message that starts a worker. The block lives in the kernels' shared memory.
 */

/** Int32 slots of the control block, then the float64 argument values. */
export const CTL = {
  /** Job counter; workers wait for it to change. */
  SEQ: 0,
  /** Chunks of the current job that are finished. */
  DONE: 1,
  /** Index of the kernel in `WorkerInit.names`. */
  FN: 2,
  NARGS: 3,
  NROWS: 4,
  GRAIN: 5,
  /** Number of chunks the rows are split into (at most 65535). */
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
  /**
   * Next chunk to claim, in the low 16 bits, with the low 16 bits of SEQ above them, so
   * a thread that still looks at a finished job cannot claim a chunk of the next one.
   */
  NEXT: 30,
  /** Chunks run by workers since the pool started. */
  WORKER_CHUNKS: 31,
  INTS: 32,
  /** Byte offset of the float64 argument values. */
  VALUES_BYTE_OFFSET: 128,
  BYTES: 128 + 20 * 8,
} as const;

/**
 * Claims the next chunk of job `seq` (its low 16 bits) and returns its index, or -1
 * when the job has no unclaimed chunk left or is no longer the current one.
 */
export function claimChunk(ctl: Int32Array, seq: number): number {
  const tag = seq & 0xffff;
  for (;;) {
    const next = Atomics.load(ctl, CTL.NEXT);
    if (next >>> 16 !== tag) return -1;
    const chunk = next & 0xffff;
    // CHUNKS belongs to this job if the exchange below succeeds: NEXT did not change.
    if (chunk >= ctl[CTL.CHUNKS]) return -1;
    if (Atomics.compareExchange(ctl, CTL.NEXT, next, next + 1) === next) return chunk;
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

/** The first and only message a pool worker receives. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  is64: boolean;
  /** Byte address of the control block. */
  control: number;
  /** Byte address just past this worker's stack region (stacks grow down). */
  stackTop: number;
  /** Export names, indexed by `CTL.FN`. */
  names: string[];
  /** Worker index, 1-based (part 0 runs on the calling thread). */
  index: number;
  /** How long a worker polls for the next job before sleeping in `Atomics.wait`. */
  spinMillis: number;
}
