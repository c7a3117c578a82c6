/**
 * A deterministic stand-in for a loaded model, for handler tests that check wire
 * formats, scheduling and errors without running a network. Tokens are bytes (ids
 * 0-255) plus BOS 256 and EOS 257; each generated token is a letter derived from the
 * prompt, the step and the seed, so different requests give different, repeatable text.
 */
import type {
  ChatMessage,
  GenerateOptions,
  GenerationChunk,
  Session,
} from "../src/engine/types.ts";
import type { ServerModel } from "../src/server/types.ts";

export const FAKE_BOS = 256;
export const FAKE_EOS = 257;

export interface FakeModelOptions {
  /** Milliseconds to wait before each token; 0 still yields to the event loop. */
  tokenDelayMs?: number;
  /** Fail the stream with this error after this many tokens. */
  failAfter?: { tokens: number; error: Error };
  /** Emit EOS (finish "stop") after this many tokens; default never. */
  eosAfter?: number;
  nCtx?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FakeModel implements ServerModel {
  readonly name = "fake-model";
  readonly sessions: FakeSession[] = [];
  /** Generations currently running, over all sessions. */
  active = 0;
  /** Tokens produced over all sessions; a cancelled generation stops adding to it. */
  tokensProduced = 0;
  readonly tokenizer = {
    vocabSize: 258,
    encode(text: string, options?: { addSpecial?: boolean }): number[] {
      const ids = Array.from(encoder.encode(text));
      return options?.addSpecial ? [FAKE_BOS, ...ids] : ids;
    },
    decode(ids: ArrayLike<number>): string {
      return decoder.decode(Uint8Array.from(Array.from(ids).filter((id) => id < 256)));
    },
  };

  constructor(readonly options: FakeModelOptions = {}) {}

  createSession(options?: { nCtx?: number }): FakeSession {
    const session = new FakeSession(this, options?.nCtx ?? this.options.nCtx ?? 256);
    this.sessions.push(session);
    return session;
  }
}

/** Returns the next letter for a prompt hash, step and seed, by a small integer hash. */
function letter(hash: number, step: number, seed: number): number {
  let h = (hash ^ Math.imul(step + 1, 0x9e3779b1) ^ Math.imul(seed, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  // Mostly lowercase letters, with a space now and then.
  const r = h % 32;
  return r >= 26 ? 32 : 97 + r;
}

export class FakeSession implements Session {
  busy = false;
  constructor(readonly model: FakeModel, readonly nCtx: number) {}

  chat(messages: ChatMessage[], options?: GenerateOptions): ReadableStream<GenerationChunk> {
    const prompt = messages.map((m) => `<${m.role}>${m.content}`).join("") + "<assistant>";
    return this.generate(prompt, options);
  }

  generate(
    input: string | number[],
    options: GenerateOptions = {},
  ): ReadableStream<GenerationChunk> {
    const ids = typeof input === "string"
      ? this.model.tokenizer.encode(input, { addSpecial: true })
      : input;
    if (ids.length >= this.nCtx) {
      throw new RangeError(
        `prompt of ${ids.length} tokens does not fit the context of ${this.nCtx}`,
      );
    }
    if (this.busy) throw new Error("FakeSession used by two generations at once");
    let hash = 2166136261;
    for (const id of ids) hash = Math.imul(hash ^ id, 16777619) >>> 0;
    const seed = options.temperature === 0 ? 0 : options.seed ?? Math.floor(Math.random() * 1e9);
    const maxTokens = options.maxTokens === undefined || options.maxTokens < 0
      ? this.nCtx - ids.length
      : Math.min(options.maxTokens, this.nCtx - ids.length);
    const model = this.model;
    const { tokenDelayMs = 0, failAfter, eosAfter } = model.options;
    let step = 0;
    let text = "";
    let released = "";
    let finished = false;
    this.busy = true;
    model.active++;
    const end = () => {
      if (finished) return;
      finished = true;
      this.busy = false;
      model.active--;
    };
    const usage = () => ({ promptTokens: ids.length, completionTokens: step });
    return new ReadableStream<GenerationChunk>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, tokenDelayMs));
        if (options.signal?.aborted || finished) {
          end();
          controller.close();
          return;
        }
        if (failAfter && step >= failAfter.tokens) {
          end();
          controller.error(failAfter.error);
          return;
        }
        if (step >= maxTokens) {
          end();
          const rest = text.slice(released.length);
          controller.enqueue({ text: rest, token: -1, finishReason: "length", usage: usage() });
          controller.close();
          return;
        }
        if (eosAfter !== undefined && step >= eosAfter) {
          end();
          controller.enqueue({ text: "", token: -1, finishReason: "stop", usage: usage() });
          controller.close();
          return;
        }
        const token = letter(hash, step, seed);
        step++;
        model.tokensProduced++;
        text += String.fromCharCode(token);
        const chunk: GenerationChunk = { text: "", token };
        if (options.logprobs !== undefined) {
          chunk.logprob = -0.5;
          chunk.topLogprobs = Array.from({ length: options.logprobs }, (_, i) => ({
            token: 97 + i,
            text: String.fromCharCode(97 + i),
            logprob: -1 - i,
          }));
        }
        // Stop strings: release text only once no stop string can start in it.
        const stopAt = Math.min(
          ...(options.stop ?? []).map((s) => text.indexOf(s)).filter((i) => i >= 0),
        );
        if (Number.isFinite(stopAt)) {
          chunk.text = text.slice(released.length, stopAt);
          chunk.finishReason = "stop";
          chunk.usage = usage();
          end();
          controller.enqueue(chunk);
          controller.close();
          return;
        }
        let safe = text.length;
        for (const s of options.stop ?? []) {
          for (let k = Math.min(s.length - 1, text.length); k > 0; k--) {
            if (text.endsWith(s.slice(0, k))) {
              safe = Math.min(safe, text.length - k);
              break;
            }
          }
        }
        chunk.text = text.slice(released.length, safe);
        released = text.slice(0, safe);
        controller.enqueue(chunk);
      },
      cancel() {
        end();
      },
    });
  }
}

/** The engine's error for a request that does not fit the context. */
export class ContextError extends RangeError {
  override name = "ContextError";
}
