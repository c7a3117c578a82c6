/**
 * Layout of the control block that `KernelPool` shares with its workers, and the
 * message that starts a worker. The block lives in the kernels' shared memory.
 */

/** Int32 slots of the control block, then the float64 argument values. */
export const CTL = {
  /** Job counter; workers wait for it to change. */
  SEQ: 0,
  /** Workers that have not finished the current job. */
  PENDING: 1,
  /** Index of the kernel in `WorkerInit.names`. */
  FN: 2,
  NARGS: 3,
  NROWS: 4,
  GRAIN: 5,
  /** Number of row ranges; part 0 runs on the calling thread, part i on worker i. */
  PARTS: 6,
  /** Index of a worker whose kernel call threw during the current job, else 0. */
  FAILED: 7,
  /** Set to 1 by `close()`: workers leave their loop at the next job counter change. */
  STOP: 29,
  /** Per argument: 1 when it is passed as a BigInt (a wasm64 pointer), else 0. */
  KINDS: 8,
  MAX_ARGS: 20,
  /** First nonzero integer a worker's kernel call returned (an error code), else 0. */
  RESULT: 28,
  INTS: 32,
  /** Byte offset of the float64 argument values. */
  VALUES_BYTE_OFFSET: 128,
  BYTES: 128 + 20 * 8,
} as const;

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
