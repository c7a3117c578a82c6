/**
 * A fixed set of generation slots, each owning its own session, with a bounded FIFO queue
 * of requests waiting for one. Sessions are created on a slot's first use and kept.
 */
import type { Session } from "../engine/types.ts";

/**
 * Raised when every slot is busy and the queue already holds its maximum.
 *
 * @example What a client gets when the queue is full
 * ```ts ignore
 * import { createHandler, loadModel } from "@flint/flint";
 *
 * // With queueSize 0, a request that arrives while the only slot is busy gets a 503
 * // response with Retry-After; the handler maps QueueFullError to it.
 * const handler = createHandler({ model: await loadModel("models/stories260K.gguf"), queueSize: 0 });
 * ```
 */
export class QueueFullError extends Error {
  /** Always "QueueFullError". */
  override name = "QueueFullError";
  /** Creates the error; `queueSize` is the queue's limit. */
  constructor(readonly queueSize: number) {
    super(`all slots are busy and ${queueSize} requests are already queued`);
  }
}

/** A slot handed to one request until {@link SlotLease.release} is called. */
export interface SlotLease {
  readonly slotId: number;
  readonly session: Session;
  /** Returns the slot to the pool; later calls do nothing. */
  release(): void;
}

interface Waiter {
  resolve(lease: SlotLease): void;
  reject(error: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Point-in-time counts for `/health` and logs. */
export interface SchedulerStats {
  slots: number;
  busy: number;
  queued: number;
}

export class SlotScheduler {
  readonly #sessions: (Session | undefined)[];
  readonly #idle: number[];
  readonly #queue: Waiter[] = [];
  readonly #createSession: (slotId: number) => Session;
  readonly queueSize: number;

  constructor(options: {
    slots: number;
    queueSize: number;
    createSession: (slotId: number) => Session;
  }) {
    if (!Number.isInteger(options.slots) || options.slots < 1) {
      throw new RangeError(`invalid slot count ${options.slots}: expected an integer >= 1`);
    }
    if (!Number.isInteger(options.queueSize) || options.queueSize < 0) {
      throw new RangeError(`invalid queue size ${options.queueSize}: expected an integer >= 0`);
    }
    this.#sessions = new Array(options.slots).fill(undefined);
    this.#idle = Array.from({ length: options.slots }, (_, i) => i);
    this.queueSize = options.queueSize;
    this.#createSession = options.createSession;
  }

  stats(): SchedulerStats {
    const slots = this.#sessions.length;
    return { slots, busy: slots - this.#idle.length, queued: this.#queue.length };
  }

  /**
   * Waits for a free slot. Rejects with {@link QueueFullError} at once when the queue is
   * full, and with the signal's reason when it aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<SlotLease> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slotId = this.#idle.shift();
    if (slotId !== undefined) {
      try {
        return Promise.resolve(this.#lease(slotId));
      } catch (error) {
        this.#idle.unshift(slotId);
        return Promise.reject(error);
      }
    }
    if (this.#queue.length >= this.queueSize) {
      return Promise.reject(new QueueFullError(this.queueSize));
    }
    return new Promise<SlotLease>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.#queue.indexOf(waiter);
          if (index >= 0) this.#queue.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
    });
  }

  #lease(slotId: number): SlotLease {
    const session = this.#sessions[slotId] ??= this.#createSession(slotId);
    let released = false;
    return {
      slotId,
      session,
      release: () => {
        if (released) return;
        released = true;
        this.#handOver(slotId);
      },
    };
  }

  #handOver(slotId: number): void {
    const waiter = this.#queue.shift();
    if (!waiter) {
      this.#idle.push(slotId);
      return;
    }
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    try {
      waiter.resolve(this.#lease(slotId));
    } catch (error) {
      waiter.reject(error);
      this.#handOver(slotId);
    }
  }
}
