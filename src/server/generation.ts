/** Starting a generation for a route and mapping scheduler and engine failures to HTTP. */
import type { GenerateOptions, GenerationChunk, TokenLogprob } from "../engine/types.ts";
import type { RouteContext } from "./context.ts";
import { ApiError } from "./errors.ts";
import { type GenerationInput, GenerationRun } from "./run.ts";
import { QueueFullError } from "./scheduler.ts";
import type { ServerTokenizer } from "./types.ts";

/** Seconds sent in `Retry-After` with a 503 for a full queue; the handler sets them. */
export interface StartOptions {
  retryAfterSeconds: number;
}

/**
 * Acquires a slot, starts the generation and reads its first chunk, so that a failure
 * before the first token (queue full, prompt too long) still becomes an HTTP status.
 */
export async function startGeneration(
  ctx: RouteContext,
  input: GenerationInput,
  options: GenerateOptions,
  start: StartOptions,
): Promise<{ run: GenerationRun; first: GenerationChunk | undefined }> {
  let run: GenerationRun;
  try {
    run = await GenerationRun.start(ctx.scheduler, input, options, ctx.request.signal);
  } catch (error) {
    if (error instanceof QueueFullError) {
      throw new ApiError(503, `server busy: ${error.message}; retry later`, {
        code: "queue_full",
        headers: { "retry-after": String(start.retryAfterSeconds) },
      });
    }
    throw engineError(error);
  }
  try {
    const first = await run.next();
    return { run, first };
  } catch (error) {
    await run.stop();
    throw engineError(error);
  }
}

/**
 * Maps an engine failure before the first token. The engine reports a request it cannot
 * run (prompt longer than the context, bad option or token id) as a `RangeError`, and
 * uses the `ContextError` subclass for the context case. Anything else is a server fault.
 */
export function engineError(error: unknown): unknown {
  if (error instanceof ApiError) return error;
  if (error instanceof RangeError) {
    const code = error.name === "ContextError" ? "context_length_exceeded" : "invalid_value";
    return new ApiError(400, error.message, { code });
  }
  return error;
}

const lenientUtf8 = new TextDecoder();

/**
 * The text and exact bytes of one token for logprob reports. A token that is part of a
 * multi-byte character has bytes that are not valid UTF-8 alone; its text then contains
 * U+FFFD, and `bytes` still carries the truth.
 */
export function tokenPiece(
  tokenizer: ServerTokenizer,
  id: number,
  options: { special?: boolean } = {},
): { text: string; bytes: number[] } {
  if (typeof tokenizer.tokenToBytes === "function") {
    const bytes = tokenizer.tokenToBytes(id, options);
    return { text: lenientUtf8.decode(bytes), bytes: Array.from(bytes) };
  }
  const text = tokenizer.decode([id]);
  return { text, bytes: textBytes(text) };
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a token text, as OpenAI's `bytes` field lists them. */
export function textBytes(text: string): number[] {
  return Array.from(encoder.encode(text));
}

/** OpenAI's `usage` object. */
export function usageJson(chunk: GenerationChunk | undefined): {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
} {
  const prompt = chunk?.usage?.promptTokens ?? 0;
  const completion = chunk?.usage?.completionTokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

/** Alternatives of one token, or an empty list when none were reported. */
export function alternatives(chunk: GenerationChunk): TokenLogprob[] {
  return chunk.topLogprobs ?? [];
}

/** Reads a run to its end, collecting every chunk (for non-streamed responses). */
export async function collect(
  run: GenerationRun,
  first: GenerationChunk | undefined,
): Promise<GenerationChunk[]> {
  const chunks: GenerationChunk[] = [];
  try {
    let chunk = first;
    while (chunk !== undefined) {
      chunks.push(chunk);
      if (chunk.finishReason !== undefined) break;
      chunk = await run.next();
    }
  } finally {
    await run.stop();
  }
  return chunks;
}
