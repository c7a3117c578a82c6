import { BpeSession, CHAR_TO_BYTE } from "./bpe.ts";
import { TokenizerError } from "./errors.ts";
import { type Fragment, partitionSpecial } from "./partition.ts";
import { preTokenizerRegexes } from "./pretokenize.ts";
import { spmTokenize } from "./spm.ts";
import {
  loadVocab,
  PRE_TOKENIZERS,
  TokenAttr,
  type TokenizerLogger,
  type TokenizerSource,
  type Vocab,
  type VocabType,
} from "./vocab.ts";

/**
 * Options of `Tokenizer.encode`.
 *
 * @example Add BOS
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * tokenizer.encode("Once", { addSpecial: true }); // [1, 403]
 * ```
 */
export interface EncodeOptions {
  /** Add BOS/EOS as the model's `add_bos_token` / `add_eos_token` request. Default true. */
  addSpecial?: boolean;
  /**
   * Turn the text of CONTROL tokens (such as `<s>`, `<|im_end|>`) into their ids. Default
   * false: such text is tokenized as ordinary characters. Never set it for user content.
   */
  parseSpecial?: boolean;
}

/**
 * Options of `Tokenizer.decode` and `Tokenizer.createDecoder`.
 *
 * @example Show control tokens
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * console.log(tokenizer.decode([1, 403], { special: true })); // BOS rendered as "<s>"
 * ```
 */
export interface DecodeOptions {
  /** Render CONTROL and UNKNOWN tokens as their text; by default they render empty. */
  special?: boolean;
  /**
   * Drop one leading space from the first token after an optional BOS, undoing the space
   * prefix SentencePiece adds when encoding. Default: true in `decode` when the model
   * adds a space prefix, false in `createDecoder`, whose tokens usually continue a prompt.
   */
  stripLeadingSpace?: boolean;
}

/**
 * One element of a prompt built in parts: text, or a token id placed as is.
 *
 * @example User text that cannot inject control tokens
 * ```ts ignore
 * import { loadModel, type PromptPart } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * const parts: PromptPart[] = [
 *   { token: tokenizer.bos },
 *   { text: "user input </s> stays text" },
 * ];
 * const ids = tokenizer.encodeParts(parts);
 * ```
 */
export type PromptPart =
  | { text: string; parseSpecial?: boolean }
  | { token: number };

/**
 * Turns text into token ids and back, for one GGUF vocabulary.
 *
 * @example Encode and decode with a model's tokenizer
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * const ids = tokenizer.encode("Once upon a time", { addSpecial: true }); // [1, 403, ...]
 * console.log(tokenizer.decode(ids)); // "Once upon a time"
 * ```
 */
export interface Tokenizer {
  /** "spm" for `tokenizer.ggml.model` "llama", "bpe" for "gpt2". */
  readonly type: VocabType;
  /** `tokenizer.ggml.pre`, or "" when absent. */
  readonly pre: string;
  /** Number of tokens in the vocabulary. */
  readonly vocabSize: number;
  /** BOS id, or -1 when the model has none. */
  readonly bos: number;
  /** EOS id, or -1 when the model has none. */
  readonly eos: number;
  /** End-of-turn id (`<|eot_id|>`, `<|im_end|>`, ...), when the vocabulary has one. */
  readonly eot?: number;
  /** Whether `encode` adds BOS / EOS with `addSpecial`. */
  readonly addBos: boolean;
  /** Whether `encode` adds EOS with `addSpecial`. */
  readonly addEos: boolean;
  /** Whether SPM encoding puts a space before the text. */
  readonly addSpacePrefix: boolean;
  /** Ids that end generation: EOS, EOT, EOM and other end-of-turn tokens. */
  readonly eogIds: ReadonlySet<number>;

  /** Encodes text to token ids as llama.cpp does. */
  encode(text: string, options?: EncodeOptions): number[];
  /**
   * Encodes a prompt given as parts. Each text part is scanned for special tokens only
   * if its `parseSpecial` is true (default false). Adjacent texts are joined before
   * tokenizing, so without special tokens the ids equal those of the joined string.
   */
  encodeParts(parts: PromptPart[], options?: { addSpecial?: boolean }): number[];
  /** Decodes token ids to text; bytes that are not valid UTF-8 become U+FFFD. */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** The bytes a token stands for (`special` as in `decode`). */
  tokenToBytes(id: number, options?: { special?: boolean }): Uint8Array;
  /** A decoder that returns text only once it forms complete UTF-8 characters. */
  createDecoder(options?: DecodeOptions): IncrementalDecoder;
  /** The stored text of a token, e.g. `▁the`, `<0x0A>`, `Ġthe`. */
  tokenText(id: number): string;
  /** The id of a token with exactly this stored text, if any. */
  tokenId(text: string): number | undefined;
  /** True for tokens that end generation (those in `eogIds`). */
  isEog(id: number): boolean;
  /** True for CONTROL tokens (BOS, EOS, chat markers). */
  isControl(id: number): boolean;
  /**
   * True for tokens that special-token parsing finds in text: CONTROL, USER_DEFINED and
   * UNKNOWN tokens.
   */
  isSpecial(id: number): boolean;
}

/**
 * Turns token ids into text as they arrive.
 *
 * @example Decode tokens as they arrive
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * const decoder = tokenizer.createDecoder();
 * let text = "";
 * for (const id of tokenizer.encode("Once upon a time")) text += decoder.push(id);
 * text += decoder.flush();
 * ```
 */
export interface IncrementalDecoder {
  /** Adds a token; returns the text completed by it (possibly ""). */
  push(id: number): string;
  /** Returns the bytes still held, incomplete sequences as U+FFFD, and resets. */
  flush(): string;
}

/**
 * Options of `createTokenizer`.
 *
 * @example Log questionable metadata
 * ```ts ignore
 * import { createTokenizer, readGguf } from "@flint/flint";
 *
 * const tokenizer = createTokenizer(await readGguf("models/stories260K.gguf"), {
 *   logger: { warn: (message) => console.warn(message) },
 * });
 * ```
 */
export interface CreateTokenizerOptions {
  /** Receives warnings about questionable metadata. */
  logger?: TokenizerLogger;
}

/**
 * Builds the tokenizer described by a GGUF's `tokenizer.ggml.*` metadata. Throws
 * `TokenizerError` for an unsupported `tokenizer.ggml.model` or `tokenizer.ggml.pre`, and
 * for missing or malformed keys.
 *
 * @example A tokenizer without loading the weights
 * ```ts ignore
 * import { closeGguf, createTokenizer, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("models/stories260K.gguf");
 * const tokenizer = createTokenizer(file);
 * console.log(tokenizer.encode("Hello world"));
 * await closeGguf(file);
 * ```
 */
export function createTokenizer(
  file: TokenizerSource,
  options: CreateTokenizerOptions = {},
): Tokenizer {
  return new GgufTokenizer(loadVocab(file, options.logger));
}

const utf8Encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

class GgufTokenizer implements Tokenizer {
  readonly #vocab: Vocab;
  readonly #bpe?: BpeSession;
  /** Pieces with `special` false and true, built on first use. */
  readonly #pieces: (Uint8Array | undefined)[][] = [[], []];

  constructor(vocab: Vocab) {
    this.#vocab = vocab;
    if (vocab.type === "bpe") {
      const pre = PRE_TOKENIZERS[vocab.pre === "" ? "default" : vocab.pre];
      this.#bpe = new BpeSession(vocab, preTokenizerRegexes(pre.regex));
    }
  }

  get type(): VocabType {
    return this.#vocab.type;
  }
  get pre(): string {
    return this.#vocab.pre;
  }
  get vocabSize(): number {
    return this.#vocab.tokens.length;
  }
  get bos(): number {
    return this.#vocab.bos ?? -1;
  }
  get eos(): number {
    return this.#vocab.eos ?? -1;
  }
  get eot(): number | undefined {
    return this.#vocab.eot ?? undefined;
  }
  get addBos(): boolean {
    return this.#vocab.addBos;
  }
  get addEos(): boolean {
    return this.#vocab.addEos;
  }
  get addSpacePrefix(): boolean {
    return this.#vocab.addSpacePrefix;
  }
  get eogIds(): ReadonlySet<number> {
    return this.#vocab.eog;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const fragments = partitionSpecial(
      this.#vocab,
      text.toWellFormed(),
      options.parseSpecial ?? false,
    );
    return this.#encodeFragments(fragments, options.addSpecial ?? true);
  }

  encodeParts(parts: PromptPart[], options: { addSpecial?: boolean } = {}): number[] {
    const fragments: Fragment[] = [];
    let pending = "";
    for (const part of parts) {
      if ("token" in part) {
        this.#checkId(part.token);
        if (pending !== "") fragments.push(pending);
        pending = "";
        fragments.push(part.token);
        continue;
      }
      const pieces = partitionSpecial(
        this.#vocab,
        part.text.toWellFormed(),
        part.parseSpecial ?? false,
      );
      for (const piece of pieces) {
        if (typeof piece === "string") pending += piece;
        else {
          if (pending !== "") fragments.push(pending);
          pending = "";
          fragments.push(piece);
        }
      }
    }
    if (pending !== "") fragments.push(pending);
    return this.#encodeFragments(this.#stripAround(fragments), options.addSpecial ?? true);
  }

  /**
   * Applies LSTRIP/RSTRIP across part boundaries: llama.cpp tokenizes the whole prompt as one
   * string, so whitespace next to such a token is dropped even when it sits in another part.
   */
  #stripAround(fragments: Fragment[]): Fragment[] {
    const attrs = this.#vocab.attrs;
    const out = [...fragments];
    for (let i = 0; i < out.length; i++) {
      const id = out[i];
      if (typeof id !== "number") continue;
      const prev = out[i - 1];
      if ((attrs[id] & TokenAttr.LSTRIP) !== 0 && typeof prev === "string") {
        out[i - 1] = prev.replace(/[ \t\n\v\f\r]+$/, "");
      }
      const next = out[i + 1];
      if ((attrs[id] & TokenAttr.RSTRIP) !== 0 && typeof next === "string") {
        out[i + 1] = next.replace(/^[ \t\n\v\f\r]+/, "");
      }
    }
    return out.filter((f) => f !== "");
  }

  #encodeFragments(fragments: Fragment[], addSpecial: boolean): number[] {
    const vocab = this.#vocab;
    const out: number[] = [];
    if (addSpecial && vocab.addBos) out.push(vocab.bos!);
    if (vocab.type === "spm") {
      // A space goes before the first text and before text that follows a special token.
      let prevSpecial = true;
      for (const fragment of fragments) {
        if (typeof fragment === "number") {
          out.push(fragment);
          prevSpecial = true;
          continue;
        }
        const text = vocab.addSpacePrefix && prevSpecial ? " " + fragment : fragment;
        spmTokenize(vocab, text.replaceAll(" ", "\u2581"), out);
        prevSpecial = false;
      }
    } else {
      for (const fragment of fragments) {
        if (typeof fragment === "number") out.push(fragment);
        else this.#bpe!.tokenize(fragment, out);
      }
    }
    if (addSpecial && vocab.addEos) out.push(vocab.eos!);
    return out;
  }

  tokenToBytes(id: number, options: { special?: boolean } = {}): Uint8Array {
    this.#checkId(id);
    const cache = this.#pieces[options.special ? 1 : 0];
    let piece = cache[id];
    if (piece === undefined) {
      piece = this.#piece(id, options.special ?? false);
      cache[id] = piece;
    }
    return piece;
  }

  /** The bytes of one token, as llama.cpp's `token_to_piece` renders them. */
  #piece(id: number, special: boolean): Uint8Array {
    const vocab = this.#vocab;
    const attr = vocab.attrs[id];
    const text = vocab.tokens[id];
    const specialAttr = TokenAttr.UNKNOWN | TokenAttr.CONTROL;
    if (!special && (attr & specialAttr) !== 0) return EMPTY;
    if ((attr & (specialAttr | TokenAttr.USER_DEFINED)) !== 0) return utf8Encoder.encode(text);
    if ((attr & TokenAttr.NORMAL) !== 0) {
      if (vocab.type === "spm") return utf8Encoder.encode(text.replaceAll("\u2581", " "));
      const bytes: number[] = [];
      for (const char of text) {
        const byte = CHAR_TO_BYTE.get(char.charCodeAt(0));
        if (byte !== undefined && char.length === 1) bytes.push(byte);
        // A character outside the byte map cannot come from a byte-level vocabulary;
        // keep its UTF-8 so no text is lost.
        else bytes.push(...utf8Encoder.encode(char));
      }
      return Uint8Array.from(bytes);
    }
    if ((attr & TokenAttr.BYTE) !== 0) {
      const byte = Number.parseInt(text.slice(3, 5), 16);
      return Number.isNaN(byte) ? EMPTY : Uint8Array.of(byte);
    }
    // UNUSED and UNDEFINED tokens render empty, as in llama.cpp.
    return EMPTY;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const decoder = this.createDecoder({
      special: options.special,
      stripLeadingSpace: options.stripLeadingSpace ?? this.#vocab.addSpacePrefix,
    });
    let text = "";
    for (let i = 0; i < ids.length; i++) text += decoder.push(ids[i]);
    return text + decoder.flush();
  }

  createDecoder(options: DecodeOptions = {}): IncrementalDecoder {
    const special = options.special ?? false;
    let strip = options.stripLeadingSpace ?? false;
    let first = true;
    const bos = this.#vocab.bos;
    // WHATWG streaming decode: incomplete trailing sequences are held back, and the
    // concatenated output equals decoding all bytes at once.
    let utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
    return {
      push: (id: number): string => {
        let bytes = this.tokenToBytes(id, { special });
        if (strip && !(first && id === bos)) {
          if (bytes.length > 0 && bytes[0] === 0x20) bytes = bytes.subarray(1);
          strip = false;
        }
        first = false;
        return utf8.decode(bytes, { stream: true });
      },
      flush: (): string => {
        const rest = utf8.decode();
        utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
        return rest;
      },
    };
  }

  tokenText(id: number): string {
    this.#checkId(id);
    return this.#vocab.tokens[id];
  }

  tokenId(text: string): number | undefined {
    return this.#vocab.tokenToId.get(text);
  }

  isEog(id: number): boolean {
    return this.#vocab.eog.has(id);
  }

  isControl(id: number): boolean {
    return id >= 0 && id < this.vocabSize && (this.#vocab.attrs[id] & TokenAttr.CONTROL) !== 0;
  }

  isSpecial(id: number): boolean {
    const mask = TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN;
    return id >= 0 && id < this.vocabSize && (this.#vocab.attrs[id] & mask) !== 0;
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.#vocab.tokens.length) {
      throw new TokenizerError(
        `token id ${id} is outside the vocabulary: expected an integer in [0, ${this.#vocab.tokens.length})`,
        { found: String(id) },
      );
    }
  }
}
