/**
 * The contract between the generation engine and its users (the HTTP handler, the CLI,
 * library callers). Implementations live in `src/engine/`; the server codes against
 * these types only.
 */

/**
 * A chat message, as the OpenAI API and chat templates see it.
 *
 * @example
 * ```ts
 * import type { ChatMessage } from "@flint/flint";
 *
 * const messages: ChatMessage[] = [
 *   { role: "system", content: "You are terse." },
 *   { role: "user", content: "Name a prime number." },
 * ];
 * ```
 */
export interface ChatMessage {
  /** Author of the message. */
  role: "system" | "user" | "assistant";
  /** The message text. */
  content: string;
}

/**
 * Sampling and stopping options; defaults follow llama.cpp's.
 *
 * @example Deterministic sampling with a stop string
 * ```ts
 * import type { GenerateOptions } from "@flint/flint";
 *
 * const options: GenerateOptions = {
 *   maxTokens: 128,
 *   temperature: 0.7,
 *   topP: 0.9,
 *   seed: 42,
 *   stop: ["\n\n"],
 *   signal: AbortSignal.timeout(30_000),
 * };
 * ```
 */
export interface GenerateOptions {
  /** Maximum new tokens; -1 (default) runs until the context is full or a stop. */
  maxTokens?: number;
  /** 0 picks the most likely token (greedy). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 disables. Default 40. */
  topK?: number;
  /** Nucleus sampling mass; 1 disables. Default 0.95. */
  topP?: number;
  /** Drop tokens below this fraction of the top probability; 0 disables. Default 0.05. */
  minP?: number;
  /** Penalty on recently seen tokens; 1 disables. Default 1. */
  repeatPenalty?: number;
  /** How many recent tokens the penalties look at; -1 means the whole context. Default 64. */
  repeatLastN?: number;
  /** OpenAI presence penalty. Default 0. */
  presencePenalty?: number;
  /** OpenAI frequency penalty. Default 0. */
  frequencyPenalty?: number;
  /** Added to the logit of each token id before sampling. */
  logitBias?: Record<number, number>;
  /** Random seed; the same seed and input give the same output. */
  seed?: number;
  /** Strings that end generation; none of their bytes reach the stream. */
  stop?: string[];
  /** Report the chosen token's log-probability, and this many alternatives (0–20). */
  logprobs?: number;
  /** Cancels generation before the next token. */
  signal?: AbortSignal;
}

/**
 * One alternative token with its log-probability.
 *
 * @example
 * ```ts
 * import type { TokenLogprob } from "@flint/flint";
 *
 * const alternative: TokenLogprob = { token: 403, text: " upon", logprob: -0.02 };
 * ```
 */
export interface TokenLogprob {
  /** Token id. */
  token: number;
  /** The token decoded on its own. */
  text: string;
  /** Natural logarithm of the token's probability. */
  logprob: number;
}

/**
 * Why generation ended: `"stop"` for an end-of-generation token or a stop string,
 * `"length"` for `maxTokens` or a full context.
 *
 * @example
 * ```ts
 * import type { FinishReason } from "@flint/flint";
 *
 * const reason: FinishReason = "length";
 * ```
 */
export type FinishReason = "stop" | "length";

/**
 * Token counts of one generation.
 *
 * @example
 * ```ts
 * import type { Usage } from "@flint/flint";
 *
 * const usage: Usage = { promptTokens: 5, completionTokens: 64 };
 * ```
 */
export interface Usage {
  /** Tokens in the prompt, BOS and chat template included. */
  promptTokens: number;
  /** Tokens generated, not counting an end-of-generation token. */
  completionTokens: number;
}

/**
 * One element of a generation stream. Every element but the last carries one token; the
 * last has `finishReason` and `usage` set and may carry a token too (or none, with
 * `token` -1 and empty text).
 *
 * @example Read text and the finish reason
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const session = (await loadModel("models/stories260K.gguf")).createSession();
 * for await (const chunk of session.generate("Once upon a time", { maxTokens: 8 })) {
 *   if (chunk.finishReason) console.log(chunk.finishReason, chunk.usage);
 *   else console.log(chunk.token, JSON.stringify(chunk.text));
 * }
 * ```
 */
export interface GenerationChunk {
  /** Decoded text released by this token; may be empty while UTF-8 or a stop string is pending. */
  text: string;
  /** Token id, or -1 on a final chunk without a token. */
  token: number;
  /** Log-probability of the token when `logprobs` was requested. */
  logprob?: number;
  /** The most likely alternatives when `logprobs` > 0. */
  topLogprobs?: TokenLogprob[];
  /** Set on the last chunk only. */
  finishReason?: FinishReason;
  /** Set on the last chunk only. */
  usage?: Usage;
}

/**
 * A KV cache plus the state to continue from it: one concurrent conversation.
 *
 * @example Code that takes any session
 * ```ts
 * import type { Session } from "@flint/flint";
 *
 * async function complete(session: Session, prompt: string): Promise<string> {
 *   let text = "";
 *   for await (const chunk of session.generate(prompt, { maxTokens: 64 })) text += chunk.text;
 *   return text;
 * }
 * ```
 */
export interface Session {
  /** Context size in tokens. */
  readonly nCtx: number;
  /** Generates from text (tokenized with BOS as the model wants) or from token ids. */
  generate(input: string | number[], options?: GenerateOptions): ReadableStream<GenerationChunk>;
  /** Applies the model's chat template, then generates the assistant's reply. */
  chat(messages: ChatMessage[], options?: GenerateOptions): ReadableStream<GenerationChunk>;
}
