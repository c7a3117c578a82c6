/**
 * What the handler needs from a loaded model, and its options. The model loader's
 * `Model` satisfies {@link ServerModel} structurally.
 */
import type { Session } from "../engine/types.ts";

/**
 * Log sink; `console` fits. Library code logs only through this.
 *
 * @example Log requests as JSON lines
 * ```ts
 * import type { ServerLogger } from "@flint/flint";
 *
 * const line = (level: string) => (message: string) =>
 *   console.log(JSON.stringify({ level, message, time: new Date().toISOString() }));
 * const logger: ServerLogger = {
 *   debug: line("debug"),
 *   info: line("info"),
 *   warn: line("warn"),
 *   error: line("error"),
 * };
 * ```
 */
export interface Logger {
  /** Detail for debugging, such as slot and session events. */
  debug(message: string): void;
  /** The line of a successful request. */
  info(message: string): void;
  /** The line of a request rejected with a 4xx status. */
  warn(message: string): void;
  /** The line of a failed request, and errors during generation. */
  error(message: string): void;
}

/** A logger that drops everything (the default). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * The tokenizer calls used by `/tokenize`, `/detokenize` and token-id prompts.
 *
 * @example A Model tokenizer is a ServerTokenizer
 * ```ts ignore
 * import { loadModel, type ServerTokenizer } from "@flint/flint";
 *
 * const tokenizer: ServerTokenizer = (await loadModel("models/stories260K.gguf")).tokenizer;
 * ```
 */
export interface ServerTokenizer {
  /** Encodes text; `addSpecial` adds BOS as the model wants, `parseSpecial` maps special-token text to ids. */
  encode(
    text: string,
    options?: { addSpecial?: boolean; parseSpecial?: boolean },
  ): ArrayLike<number>;
  /** Decodes token ids to text. */
  decode(ids: ArrayLike<number>): string;
  /** Vocabulary size; when present, token ids in requests are checked against it. */
  readonly vocabSize?: number;
  /**
   * Exact bytes of a token, for logprob `bytes` fields; with `special`, control tokens
   * such as BOS give their text (`<s>`) instead of nothing.
   */
  tokenToBytes?(id: number, options?: { special?: boolean }): Uint8Array;
  /** True for tokens that end generation (EOS, end of turn). */
  isEog?(id: number): boolean;
}

/**
 * The parts of a loaded model that the handler uses.
 *
 * @example The handler also takes a fake model in tests
 * ```ts
 * import { createHandler, type ServerModel } from "@flint/flint";
 *
 * declare const model: ServerModel; // loadModel's Model satisfies it
 * const handler = createHandler({ model });
 * ```
 */
export interface ServerModel {
  /** The model's name (`general.name`); the model id when there is no `file.source`. */
  readonly name: string;
  /** The GGUF file; the default model id is its file name without `.gguf`. */
  readonly file?: { readonly source: string };
  /** The tokenizer for `/tokenize`, `/detokenize` and token-id prompts. */
  readonly tokenizer: ServerTokenizer;
  /** Creates an independent KV cache; one per scheduler slot. */
  createSession(options?: { nCtx?: number }): Session;
}

/**
 * CORS policy: `true` or `"*"` allows any origin, `false` sends no CORS headers.
 *
 * @example Allow two origins
 * ```ts
 * import type { CorsOption } from "@flint/flint";
 *
 * const cors: CorsOption = ["https://app.example.com", "http://localhost:5173"];
 * ```
 */
export type CorsOption = boolean | string | string[];

/**
 * Options of {@link createHandler}.
 *
 * @example Options for a public endpoint
 * ```ts
 * import type { HandlerOptions, ServerModel } from "@flint/flint";
 *
 * declare const model: ServerModel;
 * const options: HandlerOptions = {
 *   model,
 *   modelId: "stories",
 *   apiKey: "secret",
 *   cors: "https://app.example.com",
 *   maxBodyBytes: 1 << 20,
 * };
 * ```
 */
export interface HandlerOptions {
  /** The model to serve, usually from `loadModel`. */
  model: ServerModel;
  /**
   * The id in responses and `/v1/models`; default the model's file name without `.gguf`,
   * else `model.name`. A request that names another model gets 404 `model_not_found`.
   */
  modelId?: string;
  /** Concurrent generations, each with its own session (KV cache). Default 1. */
  slots?: number;
  /** Requests that may wait for a slot; one more gets 503. Default 64. */
  queueSize?: number;
  /** Context size in tokens for each slot's session; default the model's. */
  nCtx?: number;
  /** When set, every route except `GET /` and `GET /health` needs `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Default `true` (any origin). */
  cors?: CorsOption;
  /** Largest request body in bytes; a larger one gets 413. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Receives one line per request and every error. Default silent. */
  logger?: Logger;
  /** Seconds sent in `Retry-After` with a 503 for a full queue. Default 1. */
  retryAfterSeconds?: number;
}
