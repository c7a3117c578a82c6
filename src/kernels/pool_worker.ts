/// <reference lib="deno.worker" />
/**
 * Worker side of `KernelPool`: instantiates the kernel module on the shared memory with
 * its own stack, then loops, claiming and running chunks of each job posted in the
 * control block. It spins briefly on the job counter and then sleeps in `Atomics.wait`.
 * The loop blocks this worker's event loop, so the pool stops it through the control
 * block (STOP) rather than a message.
 */
import {
  claimChunk,
  CTL,
  partRange,
  WORKER,
  type WorkerInit,
  workerSlot,
  WorkerState,
} from "./pool_protocol.ts";

type KernelFunction = (...args: (number | bigint)[]) => unknown;

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const init = event.data;
  let functions: KernelFunction[];
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    const exports = instance.exports as Record<string, unknown>;
    const stackPointer = exports.__stack_pointer as WebAssembly.Global;
    stackPointer.value = init.is64 ? BigInt(init.stackTop) : init.stackTop;
    functions = init.names.map((name) => exports[name] as KernelFunction);
  } catch (error) {
    self.postMessage({ ready: false, error: String(error) });
    return;
  }
  self.postMessage({ ready: true });
  serve(init, functions);
  self.close();
};

/** Runs chunks of jobs until the pool sets STOP. */
function serve(init: WorkerInit, functions: KernelFunction[]): void {
  // A shared buffer is never detached, so these views stay valid when the memory grows.
  const buffer = init.memory.buffer as unknown as SharedArrayBuffer;
  const ctl = new Int32Array(buffer, init.control, workerSlot(init.workers + 1));
  const values = new Float64Array(buffer, init.control + CTL.VALUES_BYTE_OFFSET, CTL.MAX_ARGS);
  const slot = workerSlot(init.index);
  const args: (number | bigint)[] = [];
  // The pool starts the counter at 0 and bumps it once per job.
  let seen = 0;
  for (;;) {
    Atomics.store(ctl, slot + WORKER.STATE, WorkerState.POLLING);
    let seq = Atomics.load(ctl, CTL.SEQ);
    if (seq === seen) {
      const deadline = performance.now() + init.spinMillis;
      for (let i = 1; seq === seen; i++) {
        if ((i & 1023) === 0 && performance.now() > deadline) {
          Atomics.store(ctl, slot + WORKER.STATE, WorkerState.SLEEPING);
          // Returns at once unless SEQ still equals `seen`, so no job posted since the
          // load above is missed.
          Atomics.wait(ctl, CTL.SEQ, seen);
          Atomics.store(ctl, slot + WORKER.STATE, WorkerState.POLLING);
        }
        seq = Atomics.load(ctl, CTL.SEQ);
      }
    }
    seen = seq;
    Atomics.store(ctl, slot + WORKER.SEEN, seq);
    if (Atomics.load(ctl, CTL.STOP) !== 0) break;

    for (let chunk = claimChunk(ctl); chunk >= 0; chunk = claimChunk(ctl)) {
      // The job cannot finish while this chunk is claimed, so its fields are stable.
      const chunks = ctl[CTL.CHUNKS];
      Atomics.store(ctl, slot + WORKER.CHUNK, chunk);
      Atomics.store(ctl, slot + WORKER.STATE, WorkerState.RUNNING);
      try {
        if (Atomics.load(ctl, CTL.FAILED) === 0) {
          runChunk(ctl, values, functions, args, chunks, chunk);
        }
      } catch {
        Atomics.compareExchange(ctl, CTL.FAILED, 0, init.index);
      } finally {
        Atomics.store(ctl, slot + WORKER.STATE, WorkerState.POLLING);
        Atomics.add(ctl, CTL.WORKER_CHUNKS, 1);
        if (Atomics.add(ctl, CTL.DONE, 1) + 1 === chunks) Atomics.notify(ctl, CTL.DONE);
      }
    }
  }
  Atomics.store(ctl, slot + WORKER.STATE, WorkerState.STOPPED);
}

/** Calls the job's kernel on the rows of `chunk`; throws what the call throws. */
function runChunk(
  ctl: Int32Array,
  values: Float64Array,
  functions: KernelFunction[],
  args: (number | bigint)[],
  chunks: number,
  chunk: number,
): void {
  const [begin, end] = partRange(ctl[CTL.NROWS], ctl[CTL.GRAIN], chunks, chunk);
  const nArgs = ctl[CTL.NARGS];
  args.length = 0;
  for (let i = 0; i < nArgs; i++) {
    args.push(ctl[CTL.KINDS + i] === 1 ? BigInt(values[i]) : values[i]);
  }
  args.push(begin, end);
  const result = functions[ctl[CTL.FN]](...args);
  if (typeof result === "number" && result !== 0) {
    Atomics.compareExchange(ctl, CTL.RESULT, 0, result);
  }
}
