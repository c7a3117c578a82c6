/// <reference lib="deno.worker" />
/**
 * Worker side of `KernelPool`: instantiates the kernel module on the shared memory with
 * its own stack, then loops forever running its share of each job posted in the
 * control block. It spins briefly on the job counter and then sleeps in `Atomics.wait`.
 * The loop blocks this worker's event loop, so the pool stops it through the control
 * block (STOP) rather than a message.
 */
import { CTL, type WorkerInit } from "./pool_protocol.ts";

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const init = event.data;
  let functions: ((...args: (number | bigint)[]) => unknown)[];
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    const exports = instance.exports as Record<string, unknown>;
    const stackPointer = exports.__stack_pointer as WebAssembly.Global;
    stackPointer.value = init.is64 ? BigInt(init.stackTop) : init.stackTop;
    functions = init.names.map((name) =>
      exports[name] as (...args: (number | bigint)[]) => unknown
    );
  } catch (error) {
    self.postMessage({ ready: false, error: String(error) });
    return;
  }
  self.postMessage({ ready: true });
  serve(init, functions);
  self.close();
};

/** Runs jobs until the pool sets STOP. */
function serve(init: WorkerInit, functions: ((...args: (number | bigint)[]) => unknown)[]): void {
  const buffer = init.memory.buffer as unknown as SharedArrayBuffer;
  const ctl = new Int32Array(buffer, init.control, CTL.INTS);
  const values = new Float64Array(buffer, init.control + CTL.VALUES_BYTE_OFFSET, CTL.MAX_ARGS);
  const args: (number | bigint)[] = [];
  // The pool starts the counter at 0 and bumps it once per job.
  let seen = 0;
  for (;;) {
    let seq = Atomics.load(ctl, CTL.SEQ);
    if (seq === seen) {
      const deadline = performance.now() + init.spinMillis;
      for (let i = 1; seq === seen; i++) {
        if ((i & 1023) === 0 && performance.now() > deadline) {
          Atomics.wait(ctl, CTL.SEQ, seen);
        }
        seq = Atomics.load(ctl, CTL.SEQ);
      }
    }
    seen = seq;
    if (Atomics.load(ctl, CTL.STOP) !== 0) break;

    const parts = ctl[CTL.PARTS];
    if (init.index < parts) {
      const nRows = ctl[CTL.NROWS];
      const grain = ctl[CTL.GRAIN];
      const units = Math.ceil(nRows / grain);
      const begin = Math.floor(init.index * units / parts) * grain;
      const end = Math.min(nRows, Math.floor((init.index + 1) * units / parts) * grain);
      const nArgs = ctl[CTL.NARGS];
      args.length = 0;
      for (let i = 0; i < nArgs; i++) {
        args.push(ctl[CTL.KINDS + i] === 1 ? BigInt(values[i]) : values[i]);
      }
      args.push(begin, end);
      try {
        const result = functions[ctl[CTL.FN]](...args);
        if (typeof result === "number" && result !== 0) {
          Atomics.compareExchange(ctl, CTL.RESULT, 0, result);
        }
      } catch {
        Atomics.store(ctl, CTL.FAILED, init.index);
      }
    }
    if (Atomics.sub(ctl, CTL.PENDING, 1) === 1) Atomics.notify(ctl, CTL.PENDING);
  }
}
