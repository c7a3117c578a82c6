import { PairQueue } from "./heap.ts";
import type { Vocab } from "./vocab.ts";

const encoder = new TextEncoder();

/**
 * Tokenizes with SentencePiece-style BPE as llama.cpp's `llm_tokenizer_spm_session` does.
 * It starts from one symbol per character and repeatedly merges the adjacent pair whose
 * concatenation is the highest-scoring vocabulary token. Each final symbol becomes its
 * id, or its UTF-8 bytes as `<0xXX>` tokens when it is not in the vocabulary. `text` must
 * already have spaces escaped to U+2581.
 */
export function spmTokenize(vocab: Vocab, text: string, out: number[]): void {
  // Symbols are code points, stored as (start, length) in UTF-16 units.
  const n = text.length;
  const start = new Int32Array(n);
  const len = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    const units = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
    start[count] = i;
    len[count] = units;
    count++;
    i += units;
  }
  if (count === 0) return;
  const prev = new Int32Array(count);
  const next = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }

  const { tokenToId, scores } = vocab;
  const queue = new PairQueue();
  const tryAddPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const size = len[left] + len[right];
    const id = tokenToId.get(text.substr(start[left], size));
    if (id === undefined) return;
    queue.push(scores[id], left, right, size);
  };
  for (let i = 1; i < count; i++) tryAddPair(i - 1, i);

  queue.mergeAll(len, prev, next, tryAddPair);

  for (let i = 0; i !== -1; i = next[i]) {
    const piece = text.substr(start[i], len[i]);
    const id = tokenToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const byte of encoder.encode(piece)) out.push(byteToken(vocab, byte));
  }
}

/** Returns the `<0xXX>` token of a byte, else its one-character token, else UNK (else 0). */
export function byteToken(vocab: Vocab, byte: number): number {
  const hex = byte.toString(16).toUpperCase().padStart(2, "0");
  const id = vocab.tokenToId.get(`<0x${hex}>`) ??
    (byte < 0x80 ? vocab.tokenToId.get(String.fromCharCode(byte)) : undefined);
  // NOTE: llama.cpp throws here (std::map::at); emitting UNK keeps bad input from aborting.
  return id ?? vocab.unk ?? 0;
}
