/**
 * A generation session: one KV cache and the tokens in it. `generate` streams one
 * chunk per token. Work happens only when the consumer reads, so cancelling the
 * stream or aborting the signal stops before the next token is computed.
 */
import { YIELD_INTERVAL_MS, yieldToEventLoop } from "./yield.ts";
import type { LlamaForward } from "../model/forward.ts";
import { ContextError } from "../model/errors.ts";
import type { KvCache } from "../model/kv_cache.ts";
import {
  logSoftmax,
  resolveSamplerParams,
  Sampler,
  StopMatcher,
  topLogprobs,
} from "../sampling/mod.ts";
import type { Tokenizer } from "../tokenizer/mod.ts";
import type {
  ChatMessage,
  FinishReason,
  GenerateOptions,
  GenerationChunk,
  Session,
} from "./types.ts";

/** The parts of a model a session uses. */
export interface SessionOptions {
  forward: LlamaForward;
  tokenizer: Tokenizer;
  cache: KvCache;
  /** Gives the cache back to the model when the session closes. */
  release: (cache: KvCache) => void;
  /** Turns chat messages into prompt tokens. Without it, `chat` throws. */
  applyChatTemplate?: (messages: ChatMessage[]) => number[];
}

/**
 * Counts of the last request, for tests and benchmarks.
 *
 * @example Prompt and generation speed
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const session = (await loadModel("models/stories260K.gguf")).createSession();
 * for await (const _ of session.generate("Once upon a time", { maxTokens: 32 })) {
 *   // read to the end
 * }
 * const { generated, generateMs } = session.stats;
 * console.log(`${(generated / generateMs * 1000).toFixed(0)} tokens/s`);
 * ```
 */
export interface SessionStats {
  /** Prompt tokens that were already in the KV cache and were not evaluated again. */
  promptReused: number;
  /** Prompt tokens evaluated. */
  promptEvaluated: number;
  /** Milliseconds spent evaluating the prompt. */
  promptMs: number;
  /** Tokens generated. */
  generated: number;
  /** Milliseconds from the first to the last generated token. */
  generateMs: number;
}

/** Largest number of alternatives `logprobs` may ask for (as OpenAI allows). */
export const MAX_LOGPROBS = 20;

/**
 * A request that is invalid before any work is done (bad option or token id).
 *
 * @example An invalid option
 * ```ts ignore
 * import { GenerateOptionError, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * try {
 *   model.createSession().generate("Hi", { maxTokens: -5 });
 * } catch (error) {
 *   if (error instanceof GenerateOptionError) console.error(error.message);
 * }
 * ```
 */
export class GenerateOptionError extends RangeError {
  /** Creates the error with a message that names the option and the value expected. */
  constructor(message: string) {
    super(message);
    this.name = "GenerateOptionError";
  }
}

/**
 * One conversation over a llama model's KV cache.
 *
 * @example A conversation that continues from its cache
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * const session = model.createSession();
 * let story = "Once upon a time";
 * for await (const chunk of session.generate(story, { maxTokens: 16 })) story += chunk.text;
 * // The second request reuses the cached prefix and evaluates only the new text.
 * for await (const chunk of session.generate(story + " Then", { maxTokens: 16 })) {
 *   story += chunk.text;
 * }
 * console.log(story, session.stats.promptReused);
 * session.close();
 * ```
 */
export class LlamaSession implements Session {
  readonly nCtx: number;
  readonly #forward: LlamaForward;
  readonly #tokenizer: Tokenizer;
  readonly #cache: KvCache;
  readonly #release: (cache: KvCache) => void;
  readonly #applyChatTemplate?: (messages: ChatMessage[]) => number[];
  /** Tokens whose K and V are in the cache, at positions 0..length-1. */
  #tokens: number[] = [];
  /** Resolves when the running generation (if any) has ended. */
  #idle: Promise<void> = Promise.resolve();
  #closed = false;
  /** Counts of the most recent request. */
  stats: SessionStats = {
    promptReused: 0,
    promptEvaluated: 0,
    promptMs: 0,
    generated: 0,
    generateMs: 0,
  };

  /** @internal Use `Model.createSession`. */
  constructor(options: SessionOptions) {
    this.#forward = options.forward;
    this.#tokenizer = options.tokenizer;
    this.#cache = options.cache;
    this.#release = options.release;
    this.#applyChatTemplate = options.applyChatTemplate;
    this.nCtx = options.cache.nCtx;
  }

  /** The tokens in the KV cache: the prompt and output of the last request, minus its last token. */
  get cachedTokens(): readonly number[] {
    return this.#tokens;
  }

  /** Tokenizes text as llama-server does (BOS as the model wants, special tokens parsed). */
  tokenize(text: string): number[] {
    return this.#tokenizer.encode(text, { addSpecial: true, parseSpecial: true });
  }

  /**
   * Streams the continuation of `input`. Throws synchronously for an invalid request
   * (`GenerateOptionError`, `ContextError`, `SamplerParamError`). One generation runs at
   * a time per session: a second stream starts once the first has ended or was cancelled.
   * NOTE: a stream that is never read to its end nor cancelled keeps later ones waiting.
   */
  generate(
    input: string | number[],
    options: GenerateOptions = {},
  ): ReadableStream<GenerationChunk> {
    const tokens = typeof input === "string" ? this.tokenize(input) : [...input];
    return this.#start(tokens, options);
  }

  chat(messages: ChatMessage[], options: GenerateOptions = {}): ReadableStream<GenerationChunk> {
    if (!this.#applyChatTemplate) {
      throw new GenerateOptionError("this model has no chat template support");
    }
    return this.#start(this.#applyChatTemplate(messages), options);
  }

  /** Returns the KV cache to the model; later calls throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#idle.then(() => this.#release(this.#cache));
  }

  /**
   * Evaluates `tokens` after the cached prefix they share and returns the last token's
   * logits. Evaluates at least one token, so logits always exist.
   */
  evaluatePrompt(tokens: number[]): Float32Array {
    let reuse = 0;
    const max = Math.min(this.#tokens.length, tokens.length - 1);
    while (reuse < max && this.#tokens[reuse] === tokens[reuse]) reuse++;
    this.#tokens.length = reuse;
    const fresh = tokens.slice(reuse);
    const started = performance.now();
    const logits = this.#forward.eval(this.#cache, fresh, reuse, "last");
    this.#tokens.push(...fresh);
    this.stats = {
      promptReused: reuse,
      promptEvaluated: fresh.length,
      promptMs: performance.now() - started,
      generated: 0,
      generateMs: 0,
    };
    return logits;
  }

  #validate(tokens: number[], options: GenerateOptions): void {
    if (this.#closed) throw new GenerateOptionError("the session is closed");
    if (tokens.length === 0) throw new GenerateOptionError("the prompt has no tokens");
    const nVocab = this.#forward.hp.nVocab;
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= nVocab) {
        throw new GenerateOptionError(
          `invalid token id ${t}: expected an integer in [0, ${nVocab})`,
        );
      }
    }
    if (tokens.length > this.nCtx) {
      throw new ContextError(
        `the prompt has ${tokens.length} tokens, which does not fit the context of ${this.nCtx}`,
      );
    }
    const maxTokens = options.maxTokens ?? -1;
    if (!Number.isInteger(maxTokens) || maxTokens < -1) {
      throw new GenerateOptionError(
        `invalid maxTokens ${maxTokens}: expected -1 or a non-negative integer`,
      );
    }
    const lp = options.logprobs;
    if (lp !== undefined && (!Number.isInteger(lp) || lp < 0 || lp > MAX_LOGPROBS)) {
      throw new GenerateOptionError(
        `invalid logprobs ${lp}: expected an integer in [0, ${MAX_LOGPROBS}]`,
      );
    }
    if (options.stop !== undefined && !Array.isArray(options.stop)) {
      throw new GenerateOptionError("invalid stop: expected an array of strings");
    }
  }

  #start(tokens: number[], options: GenerateOptions): ReadableStream<GenerationChunk> {
    this.#validate(tokens, options);
    const sampler = new Sampler(
      resolveSamplerParams({
        temperature: options.temperature,
        topK: options.topK,
        topP: options.topP,
        minP: options.minP,
        repeatPenalty: options.repeatPenalty,
        repeatLastN: options.repeatLastN,
        presencePenalty: options.presencePenalty,
        frequencyPenalty: options.frequencyPenalty,
        logitBias: options.logitBias,
        seed: options.seed,
      }),
      this.nCtx,
    );
    const maxTokens = options.maxTokens ?? -1;
    const signal = options.signal;
    const stop = new StopMatcher(options.stop ?? []);
    const decoder = this.#tokenizer.createDecoder();
    const tokenizer = this.#tokenizer;
    const usage = { promptTokens: tokens.length, completionTokens: 0 };

    // The session runs one generation at a time; a second one waits for the first.
    let releaseLock: (() => void) | undefined;
    const previous = this.#idle;
    this.#idle = new Promise<void>((resolve) => {
      releaseLock = resolve;
    });
    let locked = false;
    let done = false;
    let logits: Float32Array | undefined;
    let genStarted = 0;
    /** The last emitted token, not yet evaluated. */
    let pending = -1;
    const finish = () => {
      if (done) return;
      done = true;
      releaseLock?.();
    };

    const step = (controller: ReadableStreamDefaultController<GenerationChunk>) => {
      if (signal?.aborted) throw signal.reason;
      if (logits === undefined) {
        for (const t of tokens) sampler.accept(t);
        logits = this.evaluatePrompt(tokens);
        genStarted = performance.now();
        if (maxTokens === 0) {
          controller.enqueue(final("", -1, "length"));
          return true;
        }
      } else {
        // The previous token is evaluated only now, when the consumer wants the next one.
        logits = this.#forward.eval(this.#cache, [pending], this.#tokens.length, "last");
        this.#tokens.push(pending);
      }

      const token = sampler.sample(logits);
      sampler.accept(token);
      const chunk: GenerationChunk = { text: "", token };
      if (options.logprobs !== undefined) {
        const lp = logSoftmax(logits);
        chunk.logprob = lp[token];
        if (options.logprobs > 0) {
          chunk.topLogprobs = topLogprobs(lp, options.logprobs).map((a) => ({
            token: a.token,
            text: tokenizer.decode([a.token]),
            logprob: a.logprob,
          }));
        }
      }

      if (tokenizer.isEog(token)) {
        controller.enqueue(final(stop.push(decoder.flush()) + stop.flush(), -1, "stop"));
        return true;
      }

      usage.completionTokens++;
      this.stats.generated = usage.completionTokens;
      this.stats.generateMs = performance.now() - genStarted;
      chunk.text = stop.push(decoder.push(token));
      if (stop.stopped) {
        controller.enqueue({ ...chunk, finishReason: "stop", usage: { ...usage } });
        return true;
      }

      // The token's own position is this.#tokens.length; past nCtx it cannot be evaluated.
      const full = this.#tokens.length >= this.nCtx;
      if (usage.completionTokens === maxTokens || full) {
        chunk.text += stop.push(decoder.flush()) + stop.flush();
        controller.enqueue({ ...chunk, finishReason: "length", usage: { ...usage } });
        return true;
      }

      controller.enqueue(chunk);
      pending = token;
      return false;
    };
    const final = (text: string, token: number, reason: FinishReason): GenerationChunk => ({
      text,
      token,
      finishReason: reason,
      usage: { ...usage },
    });

    let lastYield = performance.now();
    return new ReadableStream<GenerationChunk>({
      pull: async (controller) => {
        if (done) return;
        if (!locked) {
          await previous;
          locked = true;
        }
        // Let the event loop run (send the last chunk, see a cancel or an abort, serve other
        // requests) before the next token's compute blocks the thread.
        if (performance.now() - lastYield >= YIELD_INTERVAL_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
          if (done) return;
        }
        try {
          if (step(controller)) {
            finish();
            controller.close();
          }
        } catch (error) {
          // A failure inside the forward pass leaves the cache contents unknown.
          if (!signal?.aborted) this.#tokens = [];
          finish();
          throw error;
        }
      },
      cancel: () => {
        finish();
      },
    }, { highWaterMark: 0 });
  }
}
