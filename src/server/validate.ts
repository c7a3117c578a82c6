/**
 * Request-body validation: turns untrusted JSON into engine options, or throws an
 * {@link ApiError} naming the field, the value found and what was expected.
 */
import type { ChatMessage, GenerateOptions } from "../engine/types.ts";
import { ApiError, invalidField } from "./errors.ts";

/** A parsed JSON object body. */
export type Body = Record<string, unknown>;

/** Stop strings allowed per request; OpenAI allows 4, llama.cpp clients send a few more. */
export const MAX_STOP_STRINGS = 16;
/** Largest alternatives count the engine reports per token. */
export const MAX_TOP_LOGPROBS = 20;

/** Parses a JSON object from UTF-8 bytes. */
export function parseJsonObject(bytes: Uint8Array): Body {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid request body: not valid UTF-8", { code: "invalid_json" });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ApiError(400, `invalid JSON in request body: ${detail}`, { code: "invalid_json" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ApiError(
      400,
      `invalid request body: expected a JSON object, found ${
        Array.isArray(value) ? "an array" : value === null ? "null" : typeof value
      }`,
      { code: "invalid_json" },
    );
  }
  return value as Body;
}

/** Field readers; each returns `undefined` for an absent or null field. */
export function optionalNumber(
  body: Body,
  param: string,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  const { min = -Infinity, max = Infinity, integer = false } = range;
  const ok = typeof value === "number" && Number.isFinite(value) &&
    (!integer || Number.isSafeInteger(value)) && value >= min && value <= max;
  if (!ok) {
    const kind = integer ? "an integer" : "a number";
    const bounds = min > -Infinity && max < Infinity
      ? ` from ${min} to ${max}`
      : min > -Infinity
      ? ` >= ${min}`
      : max < Infinity
      ? ` <= ${max}`
      : "";
    throw invalidField(param, value, kind + bounds);
  }
  return value as number;
}

export function optionalBoolean(body: Body, param: string): boolean | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalidField(param, value, "a boolean");
  return value;
}

export function optionalString(body: Body, param: string): string | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalidField(param, value, "a string");
  return value;
}

/** `stop`: a string or an array of non-empty strings. */
export function parseStop(body: Body, param = "stop"): string[] | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  const list = typeof value === "string" ? [value] : value;
  const expected = `a string or an array of at most ${MAX_STOP_STRINGS} non-empty strings`;
  if (!Array.isArray(list) || list.length > MAX_STOP_STRINGS) {
    throw invalidField(param, value, expected);
  }
  for (const item of list) {
    if (typeof item !== "string" || item.length === 0) throw invalidField(param, value, expected);
  }
  return list.length > 0 ? list as string[] : undefined;
}

/** A token id array, each id in `[0, nVocab)` when the vocabulary size is known. */
export function parseTokenIds(value: unknown, param: string, nVocab?: number): number[] {
  const expected = nVocab === undefined
    ? "an array of non-negative integer token ids"
    : `an array of integer token ids from 0 to ${nVocab - 1}`;
  if (!Array.isArray(value)) throw invalidField(param, value, expected);
  for (const id of value) {
    const ok = Number.isSafeInteger(id) && id >= 0 && (nVocab === undefined || id < nVocab);
    if (!ok) throw invalidField(param, id, expected);
  }
  return value as number[];
}

/**
 * `logit_bias`: OpenAI's object of token id (as a string) to bias, or llama.cpp's array of
 * `[id, bias]` pairs where `false` as the bias bans the token.
 */
export function parseLogitBias(
  body: Body,
  nVocab?: number,
  param = "logit_bias",
): Record<number, number> | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  const result: Record<number, number> = {};
  const checkId = (id: number, raw: unknown) => {
    if (!Number.isSafeInteger(id) || id < 0 || (nVocab !== undefined && id >= nVocab)) {
      const range = nVocab === undefined ? ">= 0" : `from 0 to ${nVocab - 1}`;
      throw invalidField(`${param}`, raw, `token ids ${range}`);
    }
  };
  const checkBias = (bias: unknown, key: string): number => {
    if (bias === false) return -Infinity;
    if (typeof bias !== "number" || !Number.isFinite(bias) || bias < -100 || bias > 100) {
      throw invalidField(`${param}.${key}`, bias, "a number from -100 to 100");
    }
    return bias;
  };
  if (Array.isArray(value)) {
    for (const pair of value) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw invalidField(param, pair, "[token id, bias] pairs");
      }
      checkId(pair[0], pair[0]);
      result[pair[0]] = checkBias(pair[1], String(pair[0]));
    }
    return result;
  }
  if (typeof value !== "object") {
    throw invalidField(param, value, "an object mapping token ids to biases");
  }
  for (const [key, bias] of Object.entries(value as Record<string, unknown>)) {
    const id = /^\d+$/.test(key) ? Number(key) : NaN;
    checkId(id, key);
    result[id] = checkBias(bias, key);
  }
  return result;
}

/** Rejects a field that is present with a value other than the ones this server supports. */
export function rejectUnsupported(
  body: Body,
  param: string,
  isSupported: (value: unknown) => boolean,
  expected: string,
): void {
  const value = body[param];
  if (value === undefined || value === null) return;
  if (!isSupported(value)) {
    throw new ApiError(
      400,
      `unsupported value for '${param}': ${
        JSON.stringify(value)
      }; this server supports ${expected}`,
      { param, code: "unsupported_value" },
    );
  }
}

/** Sampling fields shared by both OpenAI routes, mapped to engine options. */
export function parseSampling(body: Body, nVocab?: number): GenerateOptions {
  const maxTokens = optionalNumber(body, "max_completion_tokens", { min: 0, integer: true }) ??
    optionalNumber(body, "max_tokens", { min: 0, integer: true });
  const options: GenerateOptions = {
    maxTokens,
    temperature: optionalNumber(body, "temperature", { min: 0, max: 100 }),
    topP: optionalNumber(body, "top_p", { min: 0, max: 1 }),
    topK: optionalNumber(body, "top_k", { min: 0, integer: true }),
    minP: optionalNumber(body, "min_p", { min: 0, max: 1 }),
    repeatPenalty: optionalNumber(body, "repeat_penalty", { min: 0, max: 10 }),
    repeatLastN: optionalNumber(body, "repeat_last_n", { min: -1, integer: true }),
    presencePenalty: optionalNumber(body, "presence_penalty", { min: -2, max: 2 }),
    frequencyPenalty: optionalNumber(body, "frequency_penalty", { min: -2, max: 2 }),
    seed: optionalNumber(body, "seed", { integer: true }),
    stop: parseStop(body),
    logitBias: parseLogitBias(body, nVocab),
  };
  rejectUnsupported(body, "n", (n) => n === 1, "only n = 1");
  return dropUndefined(options);
}

/** Copies an object without its undefined fields, so engine defaults apply. */
export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as T;
}

const ROLES: Record<string, ChatMessage["role"]> = {
  system: "system",
  developer: "system",
  user: "user",
  assistant: "assistant",
};

/** `messages`: a non-empty array of `{ role, content }` with text content. */
export function parseMessages(body: Body): ChatMessage[] {
  const value = body.messages;
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidField("messages", value, "a non-empty array of messages");
  }
  return value.map((message, i) => {
    const param = `messages[${i}]`;
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      throw invalidField(param, message, "an object with 'role' and 'content'");
    }
    const { role, content } = message as Record<string, unknown>;
    const mapped = typeof role === "string" ? ROLES[role] : undefined;
    if (!mapped) {
      throw invalidField(`${param}.role`, role, "one of system, developer, user, assistant");
    }
    return { role: mapped, content: parseContent(content, `${param}.content`) };
  });
}

function parseContent(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  const expected = "a string or an array of text parts";
  if (!Array.isArray(content)) throw invalidField(param, content, expected);
  return content.map((part, j) => {
    const text = typeof part === "object" && part !== null
      ? (part as Record<string, unknown>).text
      : undefined;
    if ((part as Record<string, unknown>)?.type !== "text" || typeof text !== "string") {
      throw invalidField(`${param}[${j}]`, part, "a text part { type: 'text', text }");
    }
    return text;
  }).join("");
}
