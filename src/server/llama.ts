/**
 * llama.cpp's native routes: `POST /completion` (streamed as `data: {"content", "stop"}`
 * events, the last with `stop: true` and `timings`), `POST /tokenize`, `POST /detokenize`.
 */
import type { GenerateOptions, GenerationChunk } from "../engine/types.ts";
import { DEFAULT_SAMPLER_PARAMS } from "../sampling/mod.ts";
import type { RouteContext } from "./context.ts";
import { invalidField } from "./errors.ts";
import {
  alternatives,
  collect,
  startGeneration,
  type StartOptions,
  tokenPiece,
} from "./generation.ts";
import type { GenerationRun } from "./run.ts";
import { elapsed, sseResponse, type StreamFormat } from "./sse.ts";
import {
  type Body,
  dropUndefined,
  optionalBoolean,
  optionalNumber,
  parseLogitBias,
  parseStop,
  parseTokenIds,
} from "./validate.ts";

function parseNativeOptions(body: Body, nVocab?: number): GenerateOptions {
  const seed = optionalNumber(body, "seed", { integer: true });
  return dropUndefined({
    maxTokens: optionalNumber(body, "n_predict", { min: -1, integer: true }),
    temperature: optionalNumber(body, "temperature", { min: 0, max: 100 }),
    topK: optionalNumber(body, "top_k", { min: 0, integer: true }),
    topP: optionalNumber(body, "top_p", { min: 0, max: 1 }),
    minP: optionalNumber(body, "min_p", { min: 0, max: 1 }),
    repeatPenalty: optionalNumber(body, "repeat_penalty", { min: 0, max: 10 }),
    repeatLastN: optionalNumber(body, "repeat_last_n", { min: -1, integer: true }),
    presencePenalty: optionalNumber(body, "presence_penalty", { min: -2, max: 2 }),
    frequencyPenalty: optionalNumber(body, "frequency_penalty", { min: -2, max: 2 }),
    // llama.cpp reads seed -1 as "pick a random seed".
    seed: seed === -1 ? undefined : seed,
    stop: parseStop(body),
    logitBias: parseLogitBias(body, nVocab),
    logprobs: optionalNumber(body, "n_probs", { min: 0, max: 20, integer: true }) || undefined,
  });
}

function parseNativePrompt(value: unknown, nVocab?: number): string | number[] {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return parseTokenIds(value, "prompt", nVocab);
  throw invalidField("prompt", value, "a string or an array of token ids");
}

/** llama.cpp's `timings` object; prompt time is the time to the first token. */
function timings(run: GenerationRun, final: GenerationChunk | undefined) {
  const end = performance.now();
  const firstAt = run.firstChunkAt ?? end;
  const promptN = final?.usage?.promptTokens ?? 0;
  const predictedN = final?.usage?.completionTokens ?? 0;
  const promptMs = firstAt - run.startedAt;
  const predictedMs = end - firstAt;
  return {
    prompt_n: promptN,
    prompt_ms: promptMs,
    prompt_per_token_ms: promptN > 0 ? promptMs / promptN : 0,
    prompt_per_second: promptMs > 0 ? (1000 * promptN) / promptMs : 0,
    predicted_n: predictedN,
    predicted_ms: predictedMs,
    predicted_per_token_ms: predictedN > 0 ? predictedMs / predictedN : 0,
    predicted_per_second: predictedMs > 0 ? (1000 * predictedN) / predictedMs : 0,
  };
}

/** `POST /completion`. */
export async function nativeCompletion(ctx: RouteContext, start: StartOptions): Promise<Response> {
  const { body } = ctx;
  const prompt = parseNativePrompt(body.prompt, ctx.nVocab);
  const options = parseNativeOptions(body, ctx.nVocab);
  const stream = optionalBoolean(body, "stream") ?? false;
  optionalBoolean(body, "cache_prompt");
  const nProbs = options.logprobs;

  const { run, first } = await startGeneration(
    ctx,
    { kind: "text", prompt },
    options,
    start,
  );
  let predicted = 0;
  const probabilities = (chunks: GenerationChunk[]) =>
    chunks.filter((c) => c.token >= 0).map((c) => {
      const piece = tokenPiece(ctx.tokenizer, c.token);
      return {
        id: c.token,
        token: piece.text,
        logprob: c.logprob ?? 0,
        bytes: piece.bytes,
        top_logprobs: alternatives(c).map((a) => {
          const altPiece = tokenPiece(ctx.tokenizer, a.token);
          return { id: a.token, token: altPiece.text, logprob: a.logprob, bytes: altPiece.bytes };
        }),
      };
    });
  const probsField = (chunks: GenerationChunk[]) =>
    nProbs === undefined ? {} : { completion_probabilities: probabilities(chunks) };
  const finalFields = (final: GenerationChunk | undefined) => ({
    model: ctx.modelId,
    tokens_predicted: final?.usage?.completionTokens ?? predicted,
    tokens_evaluated: final?.usage?.promptTokens ?? 0,
    generation_settings: generationSettings(options, ctx.modelId),
    prompt: typeof prompt === "string" ? prompt : ctx.tokenizer.decode(prompt),
    truncated: false,
    stop_type: stopType(final, options, ctx),
    stopping_word: "",
    timings: timings(run, final),
  });

  if (stream) {
    ctx.defer();
    const format: StreamFormat = {
      opening: () => [],
      chunk: (chunk) => {
        if (chunk.token >= 0) predicted++;
        const payloads: unknown[] = [];
        if (chunk.text !== "" || (nProbs !== undefined && chunk.token >= 0)) {
          payloads.push({
            index: 0,
            content: chunk.text,
            tokens: chunk.token >= 0 ? [chunk.token] : [],
            stop: false,
            id_slot: run.slotId,
            tokens_predicted: predicted,
            ...probsField([chunk]),
          });
        }
        if (chunk.finishReason !== undefined) {
          payloads.push({
            index: 0,
            content: "",
            tokens: [],
            stop: true,
            id_slot: run.slotId,
            ...finalFields(chunk),
          });
        }
        return payloads;
      },
      closing: () => [],
    };
    return sseResponse(run, first, format, ctx.finish, ctx.logger, new Headers());
  }

  const chunks = await collect(run, first);
  const final = chunks.at(-1);
  ctx.finish({ status: 200, usage: final?.usage, generationMs: elapsed(run) });
  return Response.json({
    index: 0,
    content: chunks.map((c) => c.text).join(""),
    tokens: chunks.filter((c) => c.token >= 0).map((c) => c.token),
    id_slot: run.slotId,
    stop: true,
    ...finalFields(final),
    ...probsField(chunks),
  });
}

/**
 * llama.cpp's `stop_type`. The engine reports "stop" for both an end-of-generation token
 * and a stop string; a final token that the tokenizer calls end-of-generation means "eos".
 */
function stopType(
  final: GenerationChunk | undefined,
  options: GenerateOptions,
  ctx: RouteContext,
): "limit" | "eos" | "word" {
  if (final?.finishReason === "length") return "limit";
  const eog = final !== undefined && final.token >= 0 && ctx.tokenizer.isEog?.(final.token);
  // NOTE: a stop that is neither a known EOG token nor a given stop string is reported as
  // "eos"; with stop strings and no EOG token in the final chunk, "word" is inferred.
  return !eog && options.stop ? "word" : "eos";
}

/** The settings in effect: requested values, else the sampler's defaults (llama.cpp's). */
function generationSettings(options: GenerateOptions, modelId: string) {
  const d = DEFAULT_SAMPLER_PARAMS;
  return {
    model: modelId,
    n_predict: options.maxTokens ?? -1,
    temperature: options.temperature ?? d.temperature,
    top_k: options.topK ?? d.topK,
    top_p: options.topP ?? d.topP,
    min_p: options.minP ?? d.minP,
    repeat_penalty: options.repeatPenalty ?? d.repeatPenalty,
    repeat_last_n: options.repeatLastN ?? d.repeatLastN,
    presence_penalty: options.presencePenalty ?? d.presencePenalty,
    frequency_penalty: options.frequencyPenalty ?? d.frequencyPenalty,
    // llama.cpp reports 4294967295 (its "random" value) when no seed was given.
    seed: options.seed ?? 0xFFFFFFFF,
    stop: options.stop ?? [],
    n_probs: options.logprobs ?? 0,
  };
}

/** `POST /tokenize`: `{ content, add_special?, parse_special?, with_pieces? }`. */
export function tokenize(ctx: RouteContext): Response {
  const { body } = ctx;
  const content = body.content;
  if (typeof content !== "string") throw invalidField("content", content, "a string");
  const addSpecial = optionalBoolean(body, "add_special") ?? false;
  const parseSpecial = optionalBoolean(body, "parse_special") ?? true;
  const withPieces = optionalBoolean(body, "with_pieces") ?? false;
  const ids = Array.from(ctx.tokenizer.encode(content, { addSpecial, parseSpecial }));
  ctx.finish({ status: 200, usage: { promptTokens: ids.length, completionTokens: 0 } });
  const tokens = withPieces
    ? ids.map((id) => ({ id, piece: tokenPiece(ctx.tokenizer, id, { special: true }).text }))
    : ids;
  return Response.json({ tokens });
}

/** `POST /detokenize`: `{ tokens }` to `{ content }`. */
export function detokenize(ctx: RouteContext): Response {
  const tokens = parseTokenIds(ctx.body.tokens, "tokens", ctx.nVocab);
  ctx.finish({ status: 200, usage: { promptTokens: tokens.length, completionTokens: 0 } });
  return Response.json({ content: ctx.tokenizer.decode(tokens) });
}
