import { PairQueue } from "./heap.ts";
import { preTokenize } from "./pretokenize.ts";
import type { Vocab } from "./vocab.ts";

/**
 * GPT-2's byte-to-character map: printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100 onwards in byte order, so every byte string becomes a printable string.
 */
export const BYTE_TO_CHAR: string[] = [];
/** Inverse of `BYTE_TO_CHAR`, by UTF-16 code unit. */
export const CHAR_TO_BYTE = new Map<number, number>();
{
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    const code = printable ? b : 256 + extra++;
    BYTE_TO_CHAR[b] = String.fromCharCode(code);
    CHAR_TO_BYTE.set(code, b);
  }
}

const encoder = new TextEncoder();

/** Words seen before keep their ids; the cache is dropped when it grows past this. */
const WORD_CACHE_LIMIT = 1 << 16;

/**
 * Byte-level BPE as llama.cpp runs it (`llm_tokenizer_bpe_session`): split with the
 * pre-tokenizer regexes, map each word's UTF-8 bytes through `BYTE_TO_CHAR`, merge
 * adjacent symbols by lowest merge rank, emit the id of each resulting symbol.
 */
export class BpeSession {
  readonly #vocab: Vocab;
  readonly #regexes: RegExp[];
  readonly #cache = new Map<string, number[]>();
  readonly #queue = new PairQueue();

  constructor(vocab: Vocab, regexes: RegExp[]) {
    this.#vocab = vocab;
    this.#regexes = regexes;
  }

  tokenize(text: string, out: number[]): void {
    for (const word of preTokenize(text, this.#regexes)) {
      let ids = this.#cache.get(word);
      if (ids === undefined) {
        ids = this.#tokenizeWord(word);
        if (this.#cache.size >= WORD_CACHE_LIMIT) this.#cache.clear();
        this.#cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  #tokenizeWord(word: string): number[] {
    const { tokenToId, mergeRanks } = this.#vocab;
    let mapped = "";
    for (const byte of encoder.encode(word)) mapped += BYTE_TO_CHAR[byte];

    if (this.#vocab.ignoreMerges) {
      const id = tokenToId.get(mapped);
      if (id !== undefined) return [id];
    }

    // Every mapped character is one UTF-16 unit, so symbol i starts as character i.
    const n = mapped.length;
    const start = new Int32Array(n);
    const len = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = i;
      len[i] = 1;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }

    const queue = this.#queue;
    queue.clear();
    const tryAddPair = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const key = mapped.substr(start[left], len[left]) + "\0" +
        mapped.substr(start[right], len[right]);
      const rank = mergeRanks.get(key);
      if (rank === undefined) return;
      queue.push(-rank, left, right, len[left] + len[right]);
    };
    for (let i = 1; i < n; i++) tryAddPair(i - 1, i);

    queue.mergeAll(len, prev, next, tryAddPair);

    const ids: number[] = [];
    for (let i = 0; i !== -1 && n > 0; i = next[i]) {
      const piece = mapped.substr(start[i], len[i]);
      const id = tokenToId.get(piece);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // llama.cpp then looks up each byte of the piece as a one-byte token; only ASCII
      // bytes can match a token string.
      for (let j = 0; j < piece.length; j++) {
        const c = piece.charCodeAt(j);
        if (c >= 0x80) continue;
        const single = tokenToId.get(piece[j]);
        if (single !== undefined) ids.push(single);
      }
    }
    return ids;
  }
}
