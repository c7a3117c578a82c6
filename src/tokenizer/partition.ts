import { TokenAttr, type Vocab } from "./vocab.ts";

/** A piece of input: raw text still to tokenize, or a token id already decided. */
export type Fragment = string | number;

/** Tests for the bytes C's `isspace` accepts, which llama.cpp strips next to LSTRIP/RSTRIP tokens. */
function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * Splits text at special-token texts, longest token first, as llama.cpp's
 * `tokenizer_st_partition` does. USER_DEFINED tokens always split; CONTROL and UNKNOWN
 * tokens only when `parseSpecial` is true.
 */
export function partitionSpecial(vocab: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [text] : [];
  const skipUnlessParsing = TokenAttr.CONTROL | TokenAttr.UNKNOWN;
  for (const id of vocab.specialTokens) {
    const attr = vocab.attrs[id];
    if (!parseSpecial && (attr & skipUnlessParsing) !== 0) continue;
    const token = vocab.tokens[id];
    if (!fragments.some((f) => typeof f === "string" && f.includes(token))) continue;

    const next: Fragment[] = [];
    for (const fragment of fragments) {
      if (typeof fragment !== "string") {
        next.push(fragment);
        continue;
      }
      let pos = 0;
      const end = fragment.length;
      for (;;) {
        const match = fragment.indexOf(token, pos);
        if (match < 0) {
          if (pos < end) next.push(pos === 0 ? fragment : fragment.slice(pos));
          break;
        }
        let leftEnd = match;
        if (attr & TokenAttr.LSTRIP) {
          while (leftEnd > pos && isAsciiSpace(fragment.charCodeAt(leftEnd - 1))) leftEnd--;
        }
        if (leftEnd > pos) next.push(fragment.slice(pos, leftEnd));
        next.push(id);
        pos = match + token.length;
        if (attr & TokenAttr.RSTRIP) {
          while (pos < end && isAsciiSpace(fragment.charCodeAt(pos))) pos++;
        }
        if (pos >= end) break;
      }
    }
    fragments = next;
  }
  return fragments;
}
