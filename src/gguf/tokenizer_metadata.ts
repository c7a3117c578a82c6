import {
  invalidKey,
  missingKey,
  optionalArray,
  optionalBool,
  optionalInteger,
  optionalString,
} from "./metadata.ts";
import { type GgufFile, GgufValueType } from "./types.ts";

/**
 * The `tokenizer.ggml.*` keys, typed, with llama.cpp's defaults (tag b10573,
 * `llama_vocab::impl::load`) filled in for the absent ones. A special token id is
 * null when the model has none. A stored id of 4294967295 (-1 as INT32) gives null;
 * llama.cpp instead keeps the default there, which differs only for BOS, EOS and UNK.
 */
export interface GgufTokenizerMetadata {
  /** `tokenizer.ggml.model`: `llama` (SPM), `gpt2` (BPE), `bert` (WPM), `t5` (UGM), ... */
  model: string;
  /** `tokenizer.ggml.pre`, the pre-tokenizer name; undefined when absent. */
  pre?: string;
  /** `tokenizer.ggml.tokens`. */
  tokens: string[];
  /** `tokenizer.ggml.scores`, one per token, when present. */
  scores?: Float32Array;
  /** `tokenizer.ggml.token_type`, one per token, when present (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
  tokenType?: Int32Array;
  /** `tokenizer.ggml.merges` (BPE), each `"left right"`, when present. */
  merges?: string[];
  bosTokenId: number | null;
  eosTokenId: number | null;
  unkTokenId: number | null;
  /** `tokenizer.ggml.seperator_token_id` (the key is spelled so). */
  sepTokenId: number | null;
  padTokenId: number | null;
  maskTokenId: number | null;
  eotTokenId: number | null;
  eomTokenId: number | null;
  addBosToken: boolean;
  addEosToken: boolean;
  addSepToken: boolean;
  addSpacePrefix: boolean;
  removeExtraWhitespaces: boolean;
  /** `tokenizer.chat_template`, when present. */
  chatTemplate?: string;
  /** `tokenizer.ggml.precompiled_charsmap` (UGM), when present. */
  precompiledCharsmap?: Uint8Array;
  /**
   * Problems llama.cpp tolerates, such as a special token id outside the vocabulary
   * (the default id is kept, as in llama.cpp). Each message names the key.
   */
  warnings: string[];
}

type SpecialIds = Pick<
  GgufTokenizerMetadata,
  | "bosTokenId"
  | "eosTokenId"
  | "unkTokenId"
  | "sepTokenId"
  | "padTokenId"
  | "maskTokenId"
  | "eotTokenId"
  | "eomTokenId"
>;

type Flags = Pick<
  GgufTokenizerMetadata,
  "addBosToken" | "addEosToken" | "addSepToken" | "addSpacePrefix" | "removeExtraWhitespaces"
>;

/** BPE pre-tokenizers for which llama.cpp adds BOS by default. */
const BPE_PRE_WITH_BOS = new Set([
  "llama3",
  "llama-v3",
  "llama-bpe",
  "falcon3",
  "falcon-h1",
  "pixtral",
  "midm-2.0",
  "lfm2",
  "tekken",
  "chameleon",
]);

/** BPE pre-tokenizers for which llama.cpp adds SEP by default. */
const BPE_PRE_WITH_SEP = new Set(["jina-v1-en", "jina-v2-code", "roberta-bpe"]);

function defaults(model: string, pre: string | undefined): SpecialIds & Flags {
  const none = {
    bosTokenId: null,
    eosTokenId: null,
    unkTokenId: null,
    sepTokenId: null,
    padTokenId: null,
    maskTokenId: null,
    eotTokenId: null,
    eomTokenId: null,
    addBosToken: false,
    addEosToken: false,
    addSepToken: false,
    addSpacePrefix: true,
    removeExtraWhitespaces: false,
  };
  switch (model) {
    case "llama":
      return { ...none, bosTokenId: 1, eosTokenId: 2, unkTokenId: 0, addBosToken: true };
    case "bert":
      return {
        ...none,
        bosTokenId: 101,
        unkTokenId: 100,
        sepTokenId: 102,
        padTokenId: 0,
        maskTokenId: 103,
        addBosToken: true,
        addSepToken: true,
        addSpacePrefix: false,
      };
    case "gpt2":
      return {
        ...none,
        bosTokenId: pre === "glm4" || pre === "chatglm-bpe" ? null : 11,
        eosTokenId: 11,
        addBosToken: BPE_PRE_WITH_BOS.has(pre ?? ""),
        addSepToken: BPE_PRE_WITH_SEP.has(pre ?? ""),
        addSpacePrefix: false,
      };
    case "t5":
      return { ...none, eosTokenId: 1, unkTokenId: 2, padTokenId: 0, addEosToken: true };
    case "rwkv":
      return { ...none, addSpacePrefix: false };
    case "plamo2":
      return { ...none, bosTokenId: 1, eosTokenId: 2, unkTokenId: 0, padTokenId: 3 };
    default:
      return none;
  }
}

const SPECIAL_KEYS: [keyof SpecialIds, string][] = [
  ["bosTokenId", "tokenizer.ggml.bos_token_id"],
  ["eosTokenId", "tokenizer.ggml.eos_token_id"],
  ["unkTokenId", "tokenizer.ggml.unknown_token_id"],
  ["sepTokenId", "tokenizer.ggml.seperator_token_id"],
  ["padTokenId", "tokenizer.ggml.padding_token_id"],
  ["maskTokenId", "tokenizer.ggml.mask_token_id"],
  ["eotTokenId", "tokenizer.ggml.eot_token_id"],
  ["eomTokenId", "tokenizer.ggml.eom_token_id"],
];

const FLAG_KEYS: [keyof Flags, string][] = [
  ["addBosToken", "tokenizer.ggml.add_bos_token"],
  ["addEosToken", "tokenizer.ggml.add_eos_token"],
  ["addSepToken", "tokenizer.ggml.add_sep_token"],
  ["addSpacePrefix", "tokenizer.ggml.add_space_prefix"],
  ["removeExtraWhitespaces", "tokenizer.ggml.remove_extra_whitespaces"],
];

/** Reads an array that must have one entry per token. */
function perToken<T extends Float32Array | Int32Array>(
  file: GgufFile,
  key: string,
  type: GgufValueType,
  nTokens: number,
): T | undefined {
  const values = optionalArray<T>(file, key, [type]);
  if (values !== undefined && values.length !== nTokens) {
    invalidKey(file, key, `one value per token (${nTokens})`);
  }
  return values;
}

/**
 * Reads the `tokenizer.ggml.*` keys. Throws a GgufError naming the key when
 * `tokenizer.ggml.model` or `tokenizer.ggml.tokens` is missing, or when a key has the
 * wrong type or length.
 */
export function tokenizerMetadata(file: GgufFile): GgufTokenizerMetadata {
  const model = optionalString(file, "tokenizer.ggml.model") ??
    missingKey(file, "tokenizer.ggml.model", 'a STRING such as "llama" or "gpt2"');
  const pre = optionalString(file, "tokenizer.ggml.pre");
  const tokens = optionalArray<string[]>(file, "tokenizer.ggml.tokens", [GgufValueType.STRING]) ??
    missingKey(file, "tokenizer.ggml.tokens", "an ARRAY of STRING");
  const result: GgufTokenizerMetadata = {
    model,
    pre,
    tokens,
    scores: perToken(file, "tokenizer.ggml.scores", GgufValueType.FLOAT32, tokens.length),
    tokenType: perToken(file, "tokenizer.ggml.token_type", GgufValueType.INT32, tokens.length),
    merges: optionalArray<string[]>(file, "tokenizer.ggml.merges", [GgufValueType.STRING]),
    ...defaults(model, pre),
    chatTemplate: optionalString(file, "tokenizer.chat_template"),
    precompiledCharsmap: optionalArray<Uint8Array>(file, "tokenizer.ggml.precompiled_charsmap", [
      GgufValueType.UINT8,
      GgufValueType.INT8,
    ]),
    warnings: [],
  };
  if (result.precompiledCharsmap instanceof Int8Array) {
    const signed = result.precompiledCharsmap as unknown as Int8Array;
    result.precompiledCharsmap = new Uint8Array(signed.buffer, signed.byteOffset, signed.length);
  }

  for (const [field, key] of SPECIAL_KEYS) {
    const id = optionalInteger(file, key);
    if (id === undefined) continue;
    if (id === -1 || id === 4294967295) {
      result[field] = null;
    } else if (id < 0 || id >= tokens.length) {
      result.warnings.push(
        `${key} = ${id} is outside the ${tokens.length}-token vocabulary; ` +
          `using the default ${result[field]}`,
      );
    } else {
      result[field] = id;
    }
  }
  for (const [field, key] of FLAG_KEYS) {
    const value = optionalBool(file, key);
    if (value !== undefined) result[field] = value;
  }
  return result;
}
