/**
 * `loadModel`: reads a llama-family GGUF, checks it, loads its weights into the
 * kernels' memory and returns a `Model` whose sessions generate text.
 */
import { closeGguf, type GgufFile, readGguf } from "../gguf/mod.ts";
import { KernelPool } from "../kernels/pool.ts";
import type { Dispatcher } from "../kernels/ops.ts";
import { SingleThread } from "../kernels/ops.ts";
import { type Kernels, loadKernels } from "../kernels/runtime.ts";
import { createTokenizer, type Tokenizer } from "../tokenizer/mod.ts";
import { applyChatTemplate, type ChatTemplateChoice, chooseChatTemplate } from "../chat/mod.ts";
import { LlamaSession, type SessionOptions } from "../engine/session.ts";
import { ContextError } from "./errors.ts";
import { LlamaForward, type MatmulOrder } from "./forward.ts";
import { type LlamaHparams, readLlamaHparams } from "./hparams.ts";
import { allocKvCache, type CacheType, type KvCache, kvCacheBytes } from "./kv_cache.ts";
import { isKnownUnused, loadWeights, planWeights } from "./weights.ts";

/**
 * Log sink; `console` fits.
 *
 * @example Warnings and errors only
 * ```ts
 * import type { Logger } from "@flint/flint";
 *
 * const logger: Logger = {
 *   debug() {},
 *   info() {},
 *   warn: (message) => console.warn(message),
 *   error: (message) => console.error(message),
 * };
 * ```
 */
export interface Logger {
  /** Detail for debugging, such as the kernel build chosen. */
  debug(message: string): void;
  /** Progress and facts about the model. */
  info(message: string): void;
  /** Something that works but may not be what the caller meant. */
  warn(message: string): void;
  /** A failure. */
  error(message: string): void;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Options of the model loader; the library's `LoadModelOptions` adds how remote sources
 * are fetched.
 *
 * @example A 2048-token context on two threads
 * ```ts ignore
 * import { loadModel, type ModelOptions } from "@flint/flint";
 *
 * const options: ModelOptions = { nCtx: 2048, threads: 2, logger: console };
 * const model = await loadModel("models/stories260K.gguf", options);
 * ```
 */
export interface ModelOptions {
  /** Default context size of sessions; default the model's, capped at 4096. */
  nCtx?: number;
  /**
   * Threads for the kernels, including the calling one; default all cores. Without
   * `Worker` or `SharedArrayBuffer` the kernels run on the calling thread only.
   */
  threads?: number;
  /** KV cache element type of sessions; default "f16". */
  cacheType?: CacheType;
  /** Largest batch evaluated at once; longer prompts are split. Default 512. */
  nBatch?: number;
  /**
   * Chat template: a built-in name (vicuna, chatml, llama2, llama3, mistral), "gguf" or
   * Jinja source. Default: the GGUF's template, else one picked from the model name.
   */
  chatTemplate?: string;
  /**
   * Summation order of prompt-batch matmuls. "flint" (default) is the fastest, and its
   * logits differ from llama.cpp's by float rounding. "ggml" rounds F32, Q4_1, Q5_0, Q5_1,
   * Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS matmuls as llama.cpp's x86 CPU backend
   * does and keeps every matrix in the file's layout, so prompt logits match llama.cpp's
   * to float rounding. Those matmuls take 1.3 to 5.4 times as long (one thread,
   * bench/ggml_order_speed.ts). Single-token steps use the "flint" order either way.
   */
  matmulOrder?: MatmulOrder;
  /** Kernel build; default wasm32 when everything fits in 4 GiB, else wasm64. */
  target?: "wasm32" | "wasm64";
  /** Receives warnings about the model and debug detail; default silent. */
  logger?: Logger;
  /** Called after each tensor is read into memory, with the bytes so far and in total. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
}

/**
 * Default context cap: the model's training context is often far larger than needed.
 *
 * @example The context a session gets by default
 * ```ts ignore
 * import { DEFAULT_MAX_CTX, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * console.log(model.nCtx === Math.min(model.nCtxTrain, DEFAULT_MAX_CTX)); // true
 * ```
 */
export const DEFAULT_MAX_CTX = 4096;
/** Kernel memory kept free beyond weights, cache and scratch when choosing wasm32. */
const WASM32_HEADROOM = 256 * 1024 * 1024;
const WASM32_LIMIT = 4 * 1024 * 1024 * 1024;

/**
 * A loaded model; create a session per conversation. Made by `loadModel`.
 *
 * @example Two independent conversations
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * console.log(model.name, model.hparams.nLayer, model.tokenizer.vocabSize);
 * const a = model.createSession();
 * const b = model.createSession({ nCtx: 256 });
 * // ... a.generate(...), b.generate(...)
 * a.close();
 * b.close();
 * await model.close();
 * ```
 */
export class Model {
  /** `general.name` from the metadata, else the source path or URL. */
  readonly name: string;
  /** The parsed GGUF header. */
  readonly file: GgufFile;
  /** Hyperparameters from the metadata. */
  readonly hparams: LlamaHparams;
  /** The model's tokenizer. */
  readonly tokenizer: Tokenizer;
  /** Context length the model was trained with (from the metadata). */
  readonly nCtxTrain: number;
  /** Session context size when `createSession` is not given one. */
  readonly nCtx: number;
  /** KV cache element type of sessions when `createSession` is not given one. */
  readonly cacheType: CacheType;
  /** @internal The kernel instance and its memory. */
  readonly kernels: Kernels;
  /** @internal The forward pass over the loaded weights. */
  readonly forward: LlamaForward;
  /** The logger given to `loadModel`. */
  readonly logger: Logger;
  /** The chat template `chat()` applies. */
  readonly chatTemplate: ChatTemplateChoice;
  readonly #pool?: KernelPool;
  /** Caches of closed sessions, for reuse: kernel memory is never freed. */
  readonly #freeCaches: KvCache[] = [];
  #closed = false;

  /** @internal Use `loadModel`. */
  constructor(init: {
    file: GgufFile;
    hparams: LlamaHparams;
    tokenizer: Tokenizer;
    nCtx: number;
    cacheType: CacheType;
    kernels: Kernels;
    forward: LlamaForward;
    logger: Logger;
    pool?: KernelPool;
    chatTemplate: ChatTemplateChoice;
  }) {
    const name = init.file.metadata.get("general.name");
    this.name = typeof name === "string" && name !== "" ? name : init.file.source;
    this.file = init.file;
    this.hparams = init.hparams;
    this.tokenizer = init.tokenizer;
    this.nCtxTrain = init.hparams.nCtxTrain;
    this.nCtx = init.nCtx;
    this.cacheType = init.cacheType;
    this.kernels = init.kernels;
    this.forward = init.forward;
    this.logger = init.logger;
    this.#pool = init.pool;
    this.chatTemplate = init.chatTemplate;
  }

  /**
   * Creates a session with its own KV cache of `nCtx` positions (default the model's
   * `nCtx`). A context beyond the training length is allowed with a warning.
   */
  createSession(options: { nCtx?: number; cacheType?: CacheType } = {}): LlamaSession {
    if (this.#closed) throw new Error(`model "${this.name}" is closed`);
    const nCtx = options.nCtx ?? this.nCtx;
    const cacheType = options.cacheType ?? this.cacheType;
    if (nCtx !== this.nCtx) checkCtx(nCtx, this.hparams, this.logger);
    if (cacheType !== "f16" && cacheType !== "f32") {
      throw new RangeError(`invalid cacheType "${cacheType}": expected "f16" or "f32"`);
    }
    const cache = this.#takeCache(nCtx, cacheType);
    const sessionOptions: SessionOptions = {
      forward: this.forward,
      tokenizer: this.tokenizer,
      cache,
      release: (c) => this.#freeCaches.push(c),
      applyChatTemplate: (messages) =>
        applyChatTemplate(messages, this.tokenizer, {
          template: this.chatTemplate,
          logger: this.logger,
        }).tokens,
    };
    return new LlamaSession(sessionOptions);
  }

  #takeCache(nCtx: number, type: CacheType): KvCache {
    const i = this.#freeCaches.findIndex((c) => c.nCtx === nCtx && c.type === type);
    if (i !== -1) return this.#freeCaches.splice(i, 1)[0];
    try {
      return allocKvCache(this.kernels, this.hparams, nCtx, type);
    } catch (error) {
      throw new ContextError(
        `cannot allocate a ${type} KV cache of ${nCtx} positions (${
          (kvCacheBytes(this.hparams, nCtx, type) / 2 ** 20).toFixed(0)
        } MiB): kernel memory is full; use a smaller nCtx`,
        { cause: error },
      );
    }
  }

  /** Stops the worker threads and closes the file. Sessions stop working. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool?.close();
    await closeGguf(this.file);
  }
}

function checkCtx(nCtx: number, hp: LlamaHparams, logger: Logger): void {
  if (!Number.isInteger(nCtx) || nCtx < 1) {
    throw new RangeError(`invalid nCtx ${nCtx}: expected a positive integer`);
  }
  if (nCtx > hp.nCtxTrain) {
    logger.warn(
      `nCtx ${nCtx} exceeds the model's training context ${hp.nCtxTrain}; quality may drop past it`,
    );
  }
}

/**
 * Loads a llama-family GGUF model from a path, bytes or a parsed file. Throws
 * `GgufError` for a malformed file, `ModelError` for a valid GGUF that is not a usable
 * llama model (naming the key or tensor), and `TokenizerError` for a bad vocabulary.
 */
export async function loadModel(
  source: string | Uint8Array | GgufFile,
  options: ModelOptions = {},
): Promise<Model> {
  const logger = options.logger ?? silent;
  const file = typeof source === "string" || source instanceof Uint8Array
    ? await readGguf(source)
    : source;
  try {
    const hparams = readLlamaHparams(file);
    const plan = planWeights(file, hparams);
    for (const name of plan.unused) {
      if (!isKnownUnused(name)) logger.warn(`tensor "${name}" is not used by the llama model`);
    }
    if (plan.tiedOutput) logger.info("no output.weight: using token_embd.weight as output");
    const tokenizer = createTokenizer(file, { logger });
    const chatTemplate = chooseChatTemplate(file, { force: options.chatTemplate, logger });

    const nCtx = options.nCtx ?? Math.min(hparams.nCtxTrain, DEFAULT_MAX_CTX);
    checkCtx(nCtx, hparams, logger);
    const cacheType = options.cacheType ?? "f16";
    const nBatch = Math.min(options.nBatch ?? 512, nCtx);
    const needed = plan.totalBytes + kvCacheBytes(hparams, nCtx, cacheType) +
      LlamaForward.scratchBytes(hparams, nBatch);
    const target = options.target ??
      (needed + WASM32_HEADROOM < WASM32_LIMIT ? "wasm32" : "wasm64");
    const kernels = await loadKernels({ target, initialBytes: needed + (64 << 20) });
    logger.debug(
      `kernels ${kernels.build.target}${kernels.build.relaxed ? " relaxed" : ""}; ` +
        `${(plan.totalBytes / 2 ** 30).toFixed(2)} GiB of weights`,
    );
    const weights = await loadWeights(
      file,
      hparams,
      plan,
      kernels,
      options.onProgress,
      options.matmulOrder !== "ggml",
    );
    let pool: KernelPool | undefined;
    let dispatcher: Dispatcher = new SingleThread(kernels);
    const threads = options.threads ?? navigator.hardwareConcurrency ?? 1;
    if (threads > 1) {
      pool = await KernelPool.create(kernels, { threads });
      dispatcher = pool;
    }
    const forward = new LlamaForward(kernels, dispatcher, hparams, weights, nBatch, {
      matmulOrder: options.matmulOrder,
    });
    return new Model({
      file,
      hparams,
      tokenizer,
      nCtx,
      cacheType,
      kernels,
      forward,
      logger,
      pool,
      chatTemplate,
    });
  } catch (error) {
    if (typeof source !== "object" || source instanceof Uint8Array) await closeGguf(file);
    throw error;
  }
}
