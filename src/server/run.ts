/**
 * One generation on a scheduler slot: acquires the slot, starts the session's stream and
 * frees the slot exactly once, when the stream ends, fails, or the client goes away.
 */
import type { ChatMessage, GenerateOptions, GenerationChunk } from "../engine/types.ts";
import type { SlotLease, SlotScheduler } from "./scheduler.ts";

/** What to generate from: chat messages or a raw prompt. */
export type GenerationInput =
  | { kind: "chat"; messages: ChatMessage[] }
  | { kind: "text"; prompt: string | number[] };

/** A running generation; read it with {@link GenerationRun.next}. */
export class GenerationRun {
  readonly #lease: SlotLease;
  readonly #reader: ReadableStreamDefaultReader<GenerationChunk>;
  readonly #abort: AbortController;
  readonly #clientSignal: AbortSignal;
  readonly #onClientAbort: () => void;
  #stopped = false;
  /** `performance.now()` at start and at the first chunk, for timings. */
  readonly startedAt = performance.now();
  firstChunkAt: number | undefined;

  private constructor(
    lease: SlotLease,
    input: GenerationInput,
    options: GenerateOptions,
    clientSignal: AbortSignal,
  ) {
    this.#lease = lease;
    this.#abort = new AbortController();
    this.#clientSignal = clientSignal;
    const signal = AbortSignal.any([clientSignal, this.#abort.signal]);
    const generateOptions = { ...options, signal };
    try {
      const stream = input.kind === "chat"
        ? lease.session.chat(input.messages, generateOptions)
        : lease.session.generate(input.prompt, generateOptions);
      this.#reader = stream.getReader();
    } catch (error) {
      lease.release();
      throw error;
    }
    this.#onClientAbort = () => void this.stop();
    clientSignal.addEventListener("abort", this.#onClientAbort, { once: true });
  }

  /** Waits for a slot (rejecting when the queue is full or the signal aborts), then starts. */
  static async start(
    scheduler: SlotScheduler,
    input: GenerationInput,
    options: GenerateOptions,
    clientSignal: AbortSignal,
  ): Promise<GenerationRun> {
    const lease = await scheduler.acquire(clientSignal);
    if (clientSignal.aborted) {
      lease.release();
      throw clientSignal.reason;
    }
    return new GenerationRun(lease, input, options, clientSignal);
  }

  get slotId(): number {
    return this.#lease.slotId;
  }

  /** True once the client has disconnected. */
  get clientGone(): boolean {
    return this.#clientSignal.aborted;
  }

  /** The next chunk, or `undefined` once the stream has ended or was stopped. */
  async next(): Promise<GenerationChunk | undefined> {
    if (this.#stopped) return undefined;
    let result: ReadableStreamReadResult<GenerationChunk>;
    try {
      result = await this.#reader.read();
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (result.done) {
      await this.stop();
      return undefined;
    }
    this.firstChunkAt ??= performance.now();
    return result.value;
  }

  /** Cancels the generation before its next token and frees the slot; idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clientSignal.removeEventListener("abort", this.#onClientAbort);
    this.#abort.abort();
    try {
      await this.#reader.cancel();
    } catch {
      // A stream that already failed rejects cancel(); the slot is freed below either way.
    }
    this.#lease.release();
  }
}
