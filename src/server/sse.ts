/**
 * Server-sent events for generation streams: one `data: <json>\n\n` event per payload,
 * driven by the client's reads so a slow reader slows generation instead of buffering.
 */
import type { GenerationChunk } from "../engine/types.ts";
import type { RequestResult } from "./context.ts";
import { ApiError } from "./errors.ts";
import type { GenerationRun } from "./run.ts";
import type { Logger } from "./types.ts";

const encoder = new TextEncoder();

/** Encodes one SSE event with a JSON payload. */
export function sseEvent(payload: unknown): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(payload)}\n\n`);
}

/** OpenAI's end-of-stream sentinel. */
export const SSE_DONE: Uint8Array = encoder.encode("data: [DONE]\n\n");

/** Headers of every SSE response. */
export const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** Turns engine chunks into event payloads for one wire format. */
export interface StreamFormat {
  /** Payloads sent before the first chunk. */
  opening(): unknown[];
  /** Payloads for one chunk; the final chunk (with `finishReason`) comes last. */
  chunk(chunk: GenerationChunk): unknown[];
  /** Payloads after the final chunk, before the trailer. */
  closing(final: GenerationChunk): unknown[];
  /** Bytes after the last event, such as `data: [DONE]`. */
  trailer?: Uint8Array;
}

/**
 * Streams a started generation as SSE. `first` is the chunk already read, so errors before
 * any token became an HTTP error status instead of an event. An error after the headers
 * went out is sent as `data: {"error": ...}` and then the stream closes.
 */
export function sseResponse(
  run: GenerationRun,
  first: GenerationChunk | undefined,
  format: StreamFormat,
  finish: (result: RequestResult) => void,
  logger: Logger,
  headers: Headers,
): Response {
  let pending = first;
  let opened = false;
  // Set when the body is cancelled (the client went away), which may happen while a pull
  // waits for the next chunk. The controller then takes no more chunks.
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!opened) {
          opened = true;
          for (const payload of format.opening()) controller.enqueue(sseEvent(payload));
        }
        const chunk = pending ?? await run.next();
        pending = undefined;
        if (cancelled) return;
        if (chunk === undefined) {
          // Stopped from elsewhere (the client went away); nothing more to send.
          controller.close();
          finish({ status: 200, cancelled: true });
          return;
        }
        for (const payload of format.chunk(chunk)) controller.enqueue(sseEvent(payload));
        if (chunk.finishReason !== undefined) {
          for (const payload of format.closing(chunk)) controller.enqueue(sseEvent(payload));
          if (format.trailer) controller.enqueue(format.trailer);
          controller.close();
          await run.stop();
          finish({ status: 200, usage: chunk.usage, generationMs: elapsed(run) });
        }
      } catch (error) {
        if (cancelled) return;
        if (run.clientGone) {
          // The engine reports the abort as an error; the client is not there to read it.
          await run.stop();
          finish({ status: 200, cancelled: true });
          return;
        }
        const message = error instanceof Error ? error.message : String(error);
        logger.error(`generation failed after streaming began: ${message}`);
        const apiError = error instanceof ApiError
          ? error
          : new ApiError(500, "generation failed; the server log has the cause", {
            code: "generation_failed",
          });
        controller.enqueue(sseEvent(apiError.toJSON()));
        controller.close();
        await run.stop();
        finish({ status: 200, error: message });
      }
    },
    async cancel() {
      cancelled = true;
      await run.stop();
      finish({ status: 200, cancelled: true });
    },
  });
  for (const [key, value] of Object.entries(SSE_HEADERS)) headers.set(key, value);
  return new Response(body, { status: 200, headers });
}

/** Milliseconds from the start of generation to now. */
export function elapsed(run: GenerationRun): number {
  return performance.now() - run.startedAt;
}
