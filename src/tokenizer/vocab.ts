import type { GgufFile, GgufValue } from "../gguf/mod.ts";
import { TokenizerError } from "./errors.ts";

/** Token attribute bits, numbered as llama.cpp's `llama_token_attr`. */
export const TokenAttr = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  NORMALIZED: 1 << 6,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
  SINGLE_WORD: 1 << 9,
} as const;

/** Values of `tokenizer.ggml.token_type`, as gguf-py writes them. */
const TOKEN_TYPE_ATTR: Record<number, number> = {
  1: TokenAttr.NORMAL,
  2: TokenAttr.UNKNOWN,
  3: TokenAttr.CONTROL,
  4: TokenAttr.USER_DEFINED,
  5: TokenAttr.UNUSED,
  6: TokenAttr.BYTE,
};

/**
 * The parts of a parsed GGUF a tokenizer reads.
 *
 * @example Build a tokenizer from metadata alone
 * ```ts ignore
 * import { createTokenizer, readGguf, type TokenizerSource } from "@flint/flint";
 *
 * const { source, metadata } = await readGguf("vocab-only.gguf");
 * const vocab: TokenizerSource = { source, metadata };
 * const tokenizer = createTokenizer(vocab);
 * ```
 */
export type TokenizerSource = Pick<GgufFile, "source" | "metadata">;

/**
 * The tokenizer families flint implements, by `tokenizer.ggml.model`.
 *
 * @example Branch on the tokenizer family
 * ```ts ignore
 * import { loadModel, type VocabType } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * const type: VocabType = tokenizer.type; // "spm" for stories260K
 * ```
 */
export type VocabType = "spm" | "bpe";

/**
 * Receives warnings about questionable metadata; library code never logs on its own.
 *
 * @example Forward warnings to console
 * ```ts
 * import type { TokenizerLogger } from "@flint/flint";
 *
 * const logger: TokenizerLogger = { warn: (message) => console.warn(message) };
 * ```
 */
export interface TokenizerLogger {
  /** Questionable metadata that the tokenizer works around. */
  warn?(message: string): void;
  /** Detail for debugging. */
  debug?(message: string): void;
}

/** A vocabulary and its flags, read from `tokenizer.ggml.*` the way llama.cpp reads them. */
export interface Vocab {
  type: VocabType;
  /** `tokenizer.ggml.model` as stored. */
  model: string;
  /** `tokenizer.ggml.pre` as stored ("" when absent). */
  pre: string;
  tokens: string[];
  scores: Float32Array;
  /** Attribute bits per token (`TokenAttr`). */
  attrs: Uint16Array;
  tokenToId: Map<string, number>;
  /** BPE merge ranks keyed by `left + "\0" + right`. */
  mergeRanks: Map<string, number>;
  bos: number | null;
  eos: number | null;
  eot: number | null;
  eom: number | null;
  unk: number | null;
  pad: number | null;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  ignoreMerges: boolean;
  cleanSpaces: boolean;
  /** End-of-generation ids: EOS, EOT, EOM and tokens whose text marks an end of turn. */
  eog: Set<number>;
  /** Ids of CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first. */
  specialTokens: number[];
}

/** Token texts llama.cpp (tag b10573) takes as an end-of-turn token when no id is stored. */
const EOT_TEXTS = new Set([
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "<|end_of_text|>",
  "<EOT>",
  "_<EOT>",
  "[EOT]",
  "<｜end▁of▁sentence｜>",
  "<end_of_utterance>",
]);

/** Token texts llama.cpp (tag b10573) treats as ending generation. */
const EOG_TEXTS = new Set([
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<|return|>",
  "<|call|>",
  "<|flush|>",
  "<|calls|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "</s>",
  "<|eom_id|>",
  "<EOT>",
  "_<EOT>",
  "[EOT]",
  "[EOS]",
  "<|end_of_text|>",
  "<end_of_utterance>",
  "<eos>",
  "<turn|>",
  "<|tool_response>",
  "<｜end▁of▁sentence｜>",
  "[e~[",
]);

/** Fill-in-the-middle marker texts; llama.cpp marks them CONTROL and the pad/repo/sep ones EOG. */
const FIM_TEXTS: Record<"pre" | "suf" | "mid" | "pad" | "rep" | "sep", string[]> = {
  pre: [
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
  ],
  suf: [
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
  ],
  mid: [
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
  ],
  pad: ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
  rep: ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"],
  sep: ["<|file_sep|>"],
};

/**
 * `tokenizer.ggml.pre` values and the flags llama.cpp (tag b10573) sets for them. `regex`
 * names an entry of the pre-tokenizer table in `pretokenize.ts`.
 */
export const PRE_TOKENIZERS: Record<
  string,
  { regex: string; cleanSpaces?: boolean; ignoreMerges?: boolean; addBos?: boolean }
> = {
  "default": { regex: "default" },
  "llama3": { regex: "llama3", ignoreMerges: true, addBos: true },
  "llama-v3": { regex: "llama3", ignoreMerges: true, addBos: true },
  "llama-bpe": { regex: "llama3", ignoreMerges: true, addBos: true },
  "falcon3": { regex: "llama3", ignoreMerges: true, addBos: true },
  "falcon-h1": { regex: "llama3", ignoreMerges: true, addBos: true },
  "pixtral": { regex: "llama3", ignoreMerges: true, addBos: true },
  "midm-2.0": { regex: "llama3", ignoreMerges: true, addBos: true },
  "lfm2": { regex: "llama3", ignoreMerges: true, addBos: true },
  "dbrx": { regex: "llama3" },
  "smaug-bpe": { regex: "llama3" },
  "deepseek-llm": { regex: "deepseek-llm", cleanSpaces: false },
  "deepseek-coder": { regex: "deepseek-coder", cleanSpaces: false },
  "falcon": { regex: "falcon" },
  "mpt": { regex: "gpt2" },
  "olmo": { regex: "gpt2" },
  "jais": { regex: "gpt2" },
  "gpt-2": { regex: "gpt2" },
  "phi-2": { regex: "gpt2" },
  "jina-es": { regex: "gpt2" },
  "jina-de": { regex: "gpt2" },
  "gigachat": { regex: "gpt2" },
  "jina-v2-es": { regex: "gpt2" },
  "jina-v2-de": { regex: "gpt2" },
  "a.x-4.0": { regex: "gpt2" },
  "mellum": { regex: "gpt2" },
  "exaone4": { regex: "gpt2" },
  "trillion": { regex: "gpt2", cleanSpaces: false },
  "granite-docling": { regex: "gpt2", cleanSpaces: false },
  "starcoder": { regex: "starcoder" },
  "refact": { regex: "starcoder" },
  "command-r": { regex: "starcoder", cleanSpaces: false },
  "smollm": { regex: "starcoder", cleanSpaces: false },
  "codeshell": { regex: "starcoder" },
  "exaone": { regex: "starcoder" },
  "minerva-7b": { regex: "starcoder" },
  "qwen2": { regex: "qwen2", cleanSpaces: false },
  "deepseek-r1-qwen": { regex: "qwen2", cleanSpaces: false },
  "megrez": { regex: "qwen2" },
  "stablelm2": { regex: "qwen2" },
  "hunyuan": { regex: "qwen2", cleanSpaces: false },
  "solar-open": { regex: "qwen2", cleanSpaces: false },
  "chatglm-bpe": { regex: "llama3" },
  "glm4": { regex: "llama3" },
  "poro-chat": { regex: "bloom", cleanSpaces: false },
  "bloom": { regex: "bloom" },
  "gpt3-finnish": { regex: "bloom" },
  "viking": { regex: "viking", cleanSpaces: false },
};

/** Reads the vocabulary of a GGUF; throws `TokenizerError` for missing or malformed keys. */
export function loadVocab(file: TokenizerSource, logger: TokenizerLogger = {}): Vocab {
  const meta = file.metadata;
  const model = readString(meta, "tokenizer.ggml.model");
  if (model === undefined) {
    throw new TokenizerError(`missing key "tokenizer.ggml.model" in ${file.source}`, {
      key: "tokenizer.ggml.model",
    });
  }
  const pre = readString(meta, "tokenizer.ggml.pre") ?? "";

  let type: VocabType;
  if (model === "llama") type = "spm";
  else if (model === "gpt2") type = "bpe";
  else {
    const supported = model === "bert" || model === "t5" || model === "rwkv"
      ? ` ("${model}" is a llama.cpp tokenizer that flint does not implement)`
      : "";
    throw new TokenizerError(
      `unsupported tokenizer model "${model}" in key "tokenizer.ggml.model"${supported}: ` +
        `expected "llama" (SentencePiece) or "gpt2" (byte-level BPE)`,
      { key: "tokenizer.ggml.model", found: model },
    );
  }

  // Defaults per family, before the metadata overrides them.
  let bos: number | null = type === "spm" ? 1 : 11;
  let eos: number | null = type === "spm" ? 2 : 11;
  let unk: number | null = type === "spm" ? 0 : null;
  let addBos = type === "spm";
  let addSpacePrefix = type === "spm";
  let cleanSpaces = type === "bpe";
  let ignoreMerges = false;
  if (type === "bpe") {
    let preName = pre;
    if (preName === "") {
      logger.warn?.(
        `tokenizer.ggml.pre is missing in ${file.source}; using the "default" pre-tokenizer`,
      );
      preName = "default";
    }
    const entry = PRE_TOKENIZERS[preName];
    if (entry === undefined) {
      throw new TokenizerError(
        `unknown pre-tokenizer "${pre}" in key "tokenizer.ggml.pre" of ${file.source}: ` +
          `expected one of ${Object.keys(PRE_TOKENIZERS).join(", ")}`,
        { key: "tokenizer.ggml.pre", found: pre },
      );
    }
    if (entry.cleanSpaces !== undefined) cleanSpaces = entry.cleanSpaces;
    ignoreMerges = entry.ignoreMerges ?? false;
    addBos = entry.addBos ?? false;
    if (preName === "chatglm-bpe" || preName === "glm4") bos = null;
  }
  const addPrefix = meta.get("tokenizer.ggml.add_space_prefix");
  if (typeof addPrefix === "boolean") addSpacePrefix = addPrefix;

  // Tokens, scores and types.
  const tokenList = meta.get("tokenizer.ggml.tokens");
  if (!Array.isArray(tokenList) || tokenList.some((t) => typeof t !== "string")) {
    throw new TokenizerError(
      `key "tokenizer.ggml.tokens" in ${file.source} is ${describe(tokenList)}: ` +
        `expected an array of strings`,
      { key: "tokenizer.ggml.tokens", found: describe(tokenList) },
    );
  }
  const nTokens = tokenList.length;
  const tokens = (tokenList as string[]).map((t, i) => t === "" ? `[EMPTY_${i}]` : t);

  const scores = new Float32Array(nTokens);
  const rawScores = meta.get("tokenizer.ggml.scores");
  if (rawScores !== undefined) {
    if (!(rawScores instanceof Float32Array || rawScores instanceof Int32Array)) {
      throw new TokenizerError(
        `key "tokenizer.ggml.scores" in ${file.source} is ${describe(rawScores)}: ` +
          `expected an array of float32 or int32`,
        { key: "tokenizer.ggml.scores", found: describe(rawScores) },
      );
    }
    if (rawScores.length < nTokens) {
      throw new TokenizerError(
        `key "tokenizer.ggml.scores" in ${file.source} has ${rawScores.length} entries: ` +
          `expected ${nTokens}, one per token`,
        { key: "tokenizer.ggml.scores", found: String(rawScores.length) },
      );
    }
    for (let i = 0; i < nTokens; i++) scores[i] = rawScores[i];
  }

  const attrs = new Uint16Array(nTokens).fill(TokenAttr.NORMAL);
  const rawTypes = meta.get("tokenizer.ggml.token_type");
  if (rawTypes !== undefined) {
    if (!(rawTypes instanceof Int32Array)) {
      throw new TokenizerError(
        `key "tokenizer.ggml.token_type" in ${file.source} is ${describe(rawTypes)}: ` +
          `expected an array of int32`,
        { key: "tokenizer.ggml.token_type", found: describe(rawTypes) },
      );
    }
    if (rawTypes.length < nTokens) {
      throw new TokenizerError(
        `key "tokenizer.ggml.token_type" in ${file.source} has ${rawTypes.length} entries: ` +
          `expected ${nTokens}, one per token`,
        { key: "tokenizer.ggml.token_type", found: String(rawTypes.length) },
      );
    }
    for (let i = 0; i < nTokens; i++) {
      attrs[i] = TOKEN_TYPE_ATTR[rawTypes[i]] ?? TokenAttr.UNDEFINED;
    }
  }

  const tokenToId = new Map<string, number>();
  for (let i = 0; i < nTokens; i++) {
    const previous = tokenToId.get(tokens[i]);
    if (previous !== undefined) {
      throw new TokenizerError(
        `duplicate token ${JSON.stringify(tokens[i])} in key "tokenizer.ggml.tokens" of ` +
          `${file.source}: ids ${previous} and ${i}`,
        { key: "tokenizer.ggml.tokens", found: tokens[i] },
      );
    }
    tokenToId.set(tokens[i], i);
  }

  // Merges: "left right", split at the first space after the first character.
  const mergeRanks = new Map<string, number>();
  if (type === "bpe") {
    const merges = meta.get("tokenizer.ggml.merges");
    if (!Array.isArray(merges) || merges.some((m) => typeof m !== "string")) {
      throw new TokenizerError(
        `key "tokenizer.ggml.merges" in ${file.source} is ${describe(merges)}: ` +
          `expected an array of strings for a "gpt2" tokenizer`,
        { key: "tokenizer.ggml.merges", found: describe(merges) },
      );
    }
    (merges as string[]).forEach((merge, rank) => {
      const space = merge.indexOf(" ", 1);
      const key = space < 0 ? "\0" : merge.slice(0, space) + "\0" + merge.slice(space + 1);
      if (!mergeRanks.has(key)) mergeRanks.set(key, rank);
    });
  }

  // Special ids: a default outside the vocabulary is dropped, a stored one outside it ignored.
  const inRange = (id: number | null) => id !== null && id >= 0 && id < nTokens ? id : null;
  bos = inRange(bos);
  eos = inRange(eos);
  unk = inRange(unk);
  const readId = (key: string, fallback: number | null): number | null => {
    const value = meta.get(key);
    if (value === undefined) return fallback;
    const id = typeof value === "bigint" ? Number(value) : value;
    // llama.cpp writes -1 (0xFFFFFFFF as uint32) for "no such token".
    if (id === -1 || id === 0xFFFFFFFF) return fallback;
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= nTokens) {
      logger.warn?.(
        `ignoring key "${key}" in ${file.source}: found ${String(value)}, ` +
          `expected a token id below ${nTokens}`,
      );
      return fallback;
    }
    return id;
  };
  bos = readId("tokenizer.ggml.bos_token_id", bos);
  eos = readId("tokenizer.ggml.eos_token_id", eos);
  unk = readId("tokenizer.ggml.unknown_token_id", unk);
  let eot = readId("tokenizer.ggml.eot_token_id", null);
  let eom = readId("tokenizer.ggml.eom_token_id", null);
  const pad = readId("tokenizer.ggml.padding_token_id", null);
  const fim: Record<string, number | null> = {
    pre: readId("tokenizer.ggml.fim_pre_token_id", readId("tokenizer.ggml.prefix_token_id", null)),
    suf: readId("tokenizer.ggml.fim_suf_token_id", readId("tokenizer.ggml.suffix_token_id", null)),
    mid: readId("tokenizer.ggml.fim_mid_token_id", readId("tokenizer.ggml.middle_token_id", null)),
    pad: readId("tokenizer.ggml.fim_pad_token_id", null),
    rep: readId("tokenizer.ggml.fim_rep_token_id", null),
    sep: readId("tokenizer.ggml.fim_sep_token_id", null),
  };

  const addBosKey = meta.get("tokenizer.ggml.add_bos_token");
  if (typeof addBosKey === "boolean") addBos = addBosKey;
  const addEosKey = meta.get("tokenizer.ggml.add_eos_token");
  const addEos = typeof addEosKey === "boolean" ? addEosKey : false;
  if (addBos && bos === null) {
    throw new TokenizerError(
      `tokenizer.ggml.add_bos_token is true in ${file.source}, but no BOS token id is set`,
      { key: "tokenizer.ggml.bos_token_id" },
    );
  }
  if (addEos && eos === null) {
    throw new TokenizerError(
      `tokenizer.ggml.add_eos_token is true in ${file.source}, but no EOS token id is set`,
      { key: "tokenizer.ggml.eos_token_id" },
    );
  }

  // Recognise end-of-turn and FIM tokens by their text and force them to CONTROL, as
  // llama.cpp does for converters that stored them as normal tokens. Candidates are
  // visited in id order. llama.cpp walks a hash map, so its pick among several EOT
  // candidates may differ, but every candidate ends generation either way.
  const markControl = (id: number) => {
    if ((attrs[id] & TokenAttr.CONTROL) === 0) {
      logger.debug?.(`token ${id} ${JSON.stringify(tokens[id])} looks like a control token`);
      attrs[id] |= TokenAttr.CONTROL;
    }
  };
  for (let id = 0; id < nTokens; id++) {
    const text = tokens[id];
    if (eot === null && EOT_TEXTS.has(text)) {
      eot = id;
      markControl(id);
    }
    if (eom === null && text === "<|eom_id|>") {
      eom = id;
      markControl(id);
    }
    for (const kind of Object.keys(FIM_TEXTS) as (keyof typeof FIM_TEXTS)[]) {
      if (fim[kind] === null && FIM_TEXTS[kind].includes(text)) {
        fim[kind] = id;
        markControl(id);
      }
    }
  }
  for (let id = 0; id < nTokens; id++) {
    if ((attrs[id] & TokenAttr.CONTROL) !== 0 && tokens[id].includes("unused")) {
      attrs[id] |= TokenAttr.UNUSED;
    }
  }

  const eog = new Set<number>();
  for (const kind of ["pad", "rep", "sep"]) if (fim[kind] !== null) eog.add(fim[kind]!);
  for (let id = 0; id < nTokens; id++) {
    if (EOG_TEXTS.has(tokens[id])) {
      eog.add(id);
      markControl(id);
    }
  }
  // gpt-oss renders these always, so llama.cpp makes them USER_DEFINED.
  for (const text of ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]) {
    const id = tokenToId.get(text);
    if (id !== undefined) attrs[id] = TokenAttr.USER_DEFINED;
  }
  if (eos !== null) eog.add(eos);
  if (eot !== null) eog.add(eot);
  if (eom !== null) eog.add(eom);
  // o200k_harmony and solar-open use "<|end|>" between messages, not at the end of a turn.
  const has = (text: string) => {
    const id = tokenToId.get(text);
    return id !== undefined && eog.has(id);
  };
  const endId = tokenToId.get("<|end|>");
  if (
    endId !== undefined && eog.has(endId) &&
    ((has("<|return|>") && (has("<|call|>") || has("<|calls|>"))) ||
      (has("<|calls|>") && has("<|flush|>")) || (has("<|call|>") && has("<|flush|>")))
  ) {
    eog.delete(endId);
    attrs[endId] = TokenAttr.USER_DEFINED;
  }
  const sId = tokenToId.get("</s>");
  if (sId !== undefined && eog.has(sId) && has("<|tool_response>")) {
    eog.delete(sId);
    attrs[sId] = TokenAttr.NORMAL;
  }

  const specialMask = TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN;
  const specialTokens: number[] = [];
  for (let id = 0; id < nTokens; id++) if (attrs[id] & specialMask) specialTokens.push(id);
  // Stable sort, longest text first (llama.cpp compares byte lengths).
  const byteLength = (id: number) => utf8Length(tokens[id]);
  specialTokens.sort((a, b) => byteLength(b) - byteLength(a));

  // Per-model attributes that GGUF does not store.
  const name = (readString(meta, "general.name") ?? "").toLowerCase();
  const arch = readString(meta, "general.architecture") ?? "";
  const setAttr = (id: number | undefined, bit: number, on: boolean) => {
    if (id === undefined) return;
    attrs[id] = on ? attrs[id] | bit : attrs[id] & ~bit;
  };
  if (
    ["jina-v2-de", "jina-v2-es", "jina-v2-code"].some((s) => pre.includes(s)) ||
    ["nomic-bert-moe", "jina-bert-v3"].some((s) => arch.includes(s))
  ) {
    setAttr(tokenToId.get("<mask>"), TokenAttr.LSTRIP, true);
  } else if (name.includes("phi-3") || name.includes("phi3")) {
    for (const id of specialTokens) setAttr(id, TokenAttr.RSTRIP, true);
    setAttr(tokenToId.get("</s>"), TokenAttr.RSTRIP, true);
    for (const text of ["<unk>", "<s>", "<|endoftext|>"]) {
      setAttr(tokenToId.get(text), TokenAttr.RSTRIP, false);
    }
  } else if (name.includes("modern-bert")) {
    setAttr(tokenToId.get("[MASK]"), TokenAttr.LSTRIP, true);
  }

  return {
    type,
    model,
    pre,
    tokens,
    scores,
    attrs,
    tokenToId,
    mergeRanks,
    bos,
    eos,
    eot,
    eom,
    unk,
    pad,
    addBos,
    addEos,
    addSpacePrefix,
    ignoreMerges,
    cleanSpaces,
    eog,
    specialTokens,
  };
}

function readString(meta: Map<string, GgufValue>, key: string): string | undefined {
  const value = meta.get(key);
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new TokenizerError(`key "${key}" is ${describe(value)}: expected a string`, {
      key,
      found: describe(value),
    });
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `${typeof value} ${JSON.stringify(String(value)).slice(0, 60)}`;
}

/** Byte length of a string's UTF-8 encoding. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
