/**
 * `POST /v1/chat/completions` and `POST /v1/completions` in OpenAI's wire format,
 * streamed (SSE chunk objects ending in `data: [DONE]`) and not.
 */
import type { GenerateOptions, GenerationChunk } from "../engine/types.ts";
import type { RouteContext } from "./context.ts";
import { ApiError, invalidField } from "./errors.ts";
import {
  alternatives,
  collect,
  startGeneration,
  type StartOptions,
  tokenPiece,
  usageJson,
} from "./generation.ts";
import type { GenerationInput } from "./run.ts";
import { elapsed, SSE_DONE, sseResponse, type StreamFormat } from "./sse.ts";
import {
  type Body,
  optionalBoolean,
  optionalNumber,
  optionalString,
  parseMessages,
  parseSampling,
  parseTokenIds,
  rejectUnsupported,
} from "./validate.ts";

/** The OpenAI routes' request after validation. */
interface OpenAiRequest {
  input: GenerationInput;
  options: GenerateOptions;
  stream: boolean;
  includeUsage: boolean;
  /** Alternatives per token when logprobs were requested, else undefined. */
  logprobs: number | undefined;
}

/**
 * Rejects a `model` other than the one served, as the OpenAI API does (404
 * `model_not_found`); an absent `model` means the served one. The served id is the file
 * name without `.gguf` unless an alias is set.
 */
export function checkModel(body: Body, modelId: string): void {
  const model = optionalString(body, "model");
  if (model !== undefined && model !== modelId) {
    throw new ApiError(
      404,
      `model '${model}' not found; this server serves '${modelId}'`,
      { param: "model", code: "model_not_found" },
    );
  }
}

function parseStreamFlags(body: Body): { stream: boolean; includeUsage: boolean } {
  const stream = optionalBoolean(body, "stream") ?? false;
  const streamOptions = body.stream_options;
  if (streamOptions === undefined || streamOptions === null) {
    return { stream, includeUsage: false };
  }
  if (!stream) {
    throw invalidField("stream_options", streamOptions, "no value unless 'stream' is true");
  }
  if (typeof streamOptions !== "object" || Array.isArray(streamOptions)) {
    throw invalidField("stream_options", streamOptions, "an object");
  }
  const includeUsage = (streamOptions as Body).include_usage ?? false;
  if (typeof includeUsage !== "boolean") {
    throw invalidField("stream_options.include_usage", includeUsage, "a boolean");
  }
  return { stream, includeUsage };
}

function parseChatRequest(ctx: RouteContext): OpenAiRequest {
  const { body } = ctx;
  checkModel(body, ctx.modelId);
  const messages = parseMessages(body);
  const options = parseSampling(body, ctx.nVocab);
  const wantLogprobs = optionalBoolean(body, "logprobs") ?? false;
  const top = optionalNumber(body, "top_logprobs", { min: 0, max: 20, integer: true });
  if (top !== undefined && !wantLogprobs) {
    throw invalidField("top_logprobs", top, "no value unless 'logprobs' is true");
  }
  rejectUnsupported(
    body,
    "tools",
    (v) => Array.isArray(v) && v.length === 0,
    "no tools (tool calling is not implemented)",
  );
  rejectUnsupported(
    body,
    "response_format",
    (v) => typeof v === "object" && (v as Body).type === "text",
    "only { type: 'text' }",
  );
  const logprobs = wantLogprobs ? top ?? 0 : undefined;
  if (logprobs !== undefined) options.logprobs = logprobs;
  return { input: { kind: "chat", messages }, options, logprobs, ...parseStreamFlags(body) };
}

function parseCompletionRequest(ctx: RouteContext): OpenAiRequest {
  const { body } = ctx;
  checkModel(body, ctx.modelId);
  const prompt = parsePrompt(body.prompt, ctx.nVocab);
  const options = parseSampling(body, ctx.nVocab);
  const logprobs = optionalNumber(body, "logprobs", { min: 0, max: 20, integer: true });
  if (logprobs !== undefined) options.logprobs = logprobs;
  rejectUnsupported(body, "echo", (v) => v === false, "echo = false only");
  rejectUnsupported(body, "best_of", (v) => v === 1, "best_of = 1 only");
  rejectUnsupported(body, "suffix", (v) => v === "", "no suffix (insertion is not implemented)");
  return { input: { kind: "text", prompt }, options, logprobs, ...parseStreamFlags(body) };
}

/** `prompt`: a string, an array of token ids, or a one-element array of either. */
function parsePrompt(value: unknown, nVocab?: number): string | number[] {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.length === 1) {
    if (typeof value[0] === "string") return value[0];
    if (Array.isArray(value[0])) return parseTokenIds(value[0], "prompt[0]", nVocab);
  }
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
    return parseTokenIds(value, "prompt", nVocab);
  }
  throw invalidField(
    "prompt",
    value,
    "a string or an array of token ids (one prompt per request)",
  );
}

function newId(prefix: string): string {
  return prefix + crypto.randomUUID().replaceAll("-", "");
}

/** `POST /v1/chat/completions`. */
export async function chatCompletions(ctx: RouteContext, start: StartOptions): Promise<Response> {
  const req = parseChatRequest(ctx);
  const { run, first } = await startGeneration(ctx, req.input, req.options, start);
  const id = newId("chatcmpl-");
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: "chat.completion.chunk", created, model: ctx.modelId };
  const chatLogprobs = (chunk: GenerationChunk) => {
    if (req.logprobs === undefined || chunk.token < 0) return null;
    const piece = tokenPiece(ctx.tokenizer, chunk.token);
    return {
      token: piece.text,
      logprob: chunk.logprob ?? 0,
      bytes: piece.bytes,
      top_logprobs: alternatives(chunk).slice(0, req.logprobs).map((alt) => {
        const altPiece = tokenPiece(ctx.tokenizer, alt.token);
        return { token: altPiece.text, logprob: alt.logprob, bytes: altPiece.bytes };
      }),
    };
  };

  if (req.stream) {
    ctx.defer();
    const format = openAiStreamFormat(head, req.includeUsage, {
      opening: {
        index: 0,
        delta: { role: "assistant", content: "" },
        logprobs: null,
        finish_reason: null,
      },
      content: (chunk) => {
        const entry = chatLogprobs(chunk);
        if (chunk.text === "" && entry === null) return null;
        return {
          index: 0,
          delta: { content: chunk.text },
          logprobs: entry === null ? null : { content: [entry] },
          finish_reason: null,
        };
      },
      finish: (reason) => ({ index: 0, delta: {}, logprobs: null, finish_reason: reason }),
    });
    return sseResponse(run, first, format, ctx.finish, ctx.logger, corsFree());
  }

  const chunks = await collect(run, first);
  const final = chunks.at(-1);
  const entries = chunks.map(chatLogprobs).filter((e) => e !== null);
  ctx.finish({ status: 200, usage: final?.usage, generationMs: elapsed(run) });
  return Response.json({
    id,
    object: "chat.completion",
    created,
    model: ctx.modelId,
    choices: [{
      index: 0,
      message: { role: "assistant", content: chunks.map((c) => c.text).join("") },
      logprobs: req.logprobs === undefined ? null : { content: entries },
      finish_reason: final?.finishReason ?? "stop",
    }],
    usage: usageJson(final),
  });
}

/** `POST /v1/completions`. */
export async function completions(ctx: RouteContext, start: StartOptions): Promise<Response> {
  const req = parseCompletionRequest(ctx);
  const { run, first } = await startGeneration(ctx, req.input, req.options, start);
  const id = newId("cmpl-");
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: "text_completion", created, model: ctx.modelId };
  let textOffset = 0;
  const completionLogprobs = (chunks: GenerationChunk[]) => {
    if (req.logprobs === undefined) return null;
    const withToken = chunks.filter((c) => c.token >= 0);
    const offsets: number[] = [];
    for (const chunk of chunks) {
      if (chunk.token >= 0) offsets.push(textOffset);
      textOffset += chunk.text.length;
    }
    return {
      tokens: withToken.map((c) => tokenPiece(ctx.tokenizer, c.token).text),
      token_logprobs: withToken.map((c) => c.logprob ?? 0),
      top_logprobs: withToken.map((c) =>
        Object.fromEntries(alternatives(c).slice(0, req.logprobs).map((a) => [a.text, a.logprob]))
      ),
      text_offset: offsets,
    };
  };

  if (req.stream) {
    ctx.defer();
    const format = openAiStreamFormat(head, req.includeUsage, {
      content: (chunk) => {
        const hasToken = req.logprobs !== undefined && chunk.token >= 0;
        if (chunk.text === "" && !hasToken) return null;
        return {
          text: chunk.text,
          index: 0,
          logprobs: completionLogprobs([chunk]),
          finish_reason: null,
        };
      },
      finish: (reason) => ({ text: "", index: 0, logprobs: null, finish_reason: reason }),
    });
    return sseResponse(run, first, format, ctx.finish, ctx.logger, corsFree());
  }

  const chunks = await collect(run, first);
  const final = chunks.at(-1);
  ctx.finish({ status: 200, usage: final?.usage, generationMs: elapsed(run) });
  return Response.json({
    id,
    object: "text_completion",
    created,
    model: ctx.modelId,
    choices: [{
      text: chunks.map((c) => c.text).join(""),
      index: 0,
      logprobs: completionLogprobs(chunks),
      finish_reason: final?.finishReason ?? "stop",
    }],
    usage: usageJson(final),
  });
}

/** The choices of an OpenAI chunk stream, given to {@link openAiStreamFormat}. */
interface StreamChoices {
  /** Choice of the payload sent before the first chunk, if any. */
  opening?: unknown;
  /** Choice carrying a chunk's text or logprobs; null when the chunk has neither. */
  content(chunk: GenerationChunk): unknown;
  /** Choice of the payload that carries the finish reason. */
  finish(reason: NonNullable<GenerationChunk["finishReason"]>): unknown;
}

/**
 * Returns the chunk stream both endpoints send: each payload is `head` with one choice
 * (and `usage: null` when usage was requested), the finish reason comes in a payload of
 * its own after a chunk's content, and the usage follows in a payload with no choices.
 */
function openAiStreamFormat(
  head: Record<string, unknown>,
  includeUsage: boolean,
  choices: StreamChoices,
): StreamFormat {
  const usageField = includeUsage ? { usage: null } : {};
  const payload = (choice: unknown) => ({ ...head, choices: [choice], ...usageField });
  return {
    opening: () => choices.opening === undefined ? [] : [payload(choices.opening)],
    chunk: (chunk) => {
      const payloads: unknown[] = [];
      const content = choices.content(chunk);
      if (content !== null) payloads.push(payload(content));
      if (chunk.finishReason !== undefined) {
        payloads.push(payload(choices.finish(chunk.finishReason)));
      }
      return payloads;
    },
    closing: (final) => includeUsage ? [{ ...head, choices: [], usage: usageJson(final) }] : [],
    trailer: SSE_DONE,
  };
}

/** Fresh headers for a streamed response; the handler adds CORS headers afterwards. */
function corsFree(): Headers {
  return new Headers();
}
