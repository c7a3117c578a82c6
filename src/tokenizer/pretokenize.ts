/**
 * BPE pre-tokenizers: the regex lists llama.cpp (tag b10573, `llm_tokenizer_bpe`) applies
 * for each `tokenizer.ggml.pre`. Each regex splits every piece left by the previous one
 * into its matches and the text between them, so no input character is dropped.
 */

/**
 * The Unicode White_Space set, which llama.cpp's `\s` matches. JavaScript's `\s` differs:
 * it adds U+FEFF and lacks U+0085.
 */
const WS = "\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/** Rewrites `\s` and `\S` to the White_Space set, inside and outside character classes. */
function withWhitespace(source: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\" && i + 1 < source.length) {
      const next = source[i + 1];
      if (next === "s") out += inClass ? WS : `[${WS}]`;
      else if (next === "S") {
        if (inClass) throw new Error(`\\S inside a character class is not supported: ${source}`);
        out += `[^${WS}]`;
      } else out += c + next;
      i++;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    out += c;
  }
  return out;
}

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|" +
  "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" +
  "\\s+(?!\\S)|\\s+";
const QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|" +
  "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" +
  "\\s+(?!\\S)|\\s+";
/**
 * The cased letters DeepSeek-LLM's tokenizer.json groups into words. Written as escapes
 * because several (U+1F7D, U+2126, U+212A, ...) change under Unicode normalization.
 */
const DEEPSEEK_LETTERS =
  "A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293" +
  "\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C" +
  "\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5" +
  "\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77" +
  "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59" +
  "\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC" +
  "\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107" +
  "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139" +
  "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE" +
  "\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E" +
  "\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\u{10400}-\u{1044F}" +
  "\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}" +
  "\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}";
/** CJK ideographs, U+0800..U+4E00 and Hangul, each run kept as one piece. */
const CJK_RUN = "[一-龥ࠀ-一가-퟿]+";

/** Regex lists by pre-tokenizer, named as the `regex` field of `PRE_TOKENIZERS`. */
const REGEX_SOURCES: Record<string, string[]> = {
  "default": ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"],
  "gpt2": [GPT2],
  "llama3": [LLAMA3],
  "qwen2": [QWEN2],
  "starcoder": ["\\p{N}", GPT2],
  "falcon": ["[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]"],
  "deepseek-llm": [
    "[\\r\\n]",
    `\\s?[${DEEPSEEK_LETTERS}]+`,
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    CJK_RUN,
    "\\p{N}+",
  ],
  "deepseek-coder": ["[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_RUN, "\\p{N}"],
  "bloom": [" ?[^(\\s|.,!?…。，、।۔،)]+"],
  "viking": [" ?[^(\\s|.,!?…。，、]+", "\\p{N}"],
};

const compiled = new Map<string, RegExp[]>();

/** Returns the compiled regexes of a pre-tokenizer (`PRE_TOKENIZERS[pre].regex`). */
export function preTokenizerRegexes(name: string): RegExp[] {
  let regexes = compiled.get(name);
  if (regexes === undefined) {
    const sources = REGEX_SOURCES[name];
    if (sources === undefined) throw new Error(`no regexes for pre-tokenizer "${name}"`);
    regexes = sources.map((s) => new RegExp(withWhitespace(s), "gu"));
    compiled.set(name, regexes);
  }
  return regexes;
}

/** Splits text into pre-tokenizer words; joining the result gives the text back. */
export function preTokenize(text: string, regexes: RegExp[]): string[] {
  let pieces = [text];
  for (const regex of regexes) {
    const next: string[] = [];
    for (const piece of pieces) {
      let last = 0;
      regex.lastIndex = 0;
      for (;;) {
        const match = regex.exec(piece);
        if (match === null) break;
        const start = match.index;
        const end = start + match[0].length;
        if (end === start) {
          // An empty match splits nothing; step past it.
          regex.lastIndex = start + 1;
          continue;
        }
        if (start > last) next.push(piece.slice(last, start));
        next.push(match[0]);
        last = end;
      }
      if (last < piece.length) next.push(piece.slice(last));
    }
    pieces = next;
  }
  return pieces;
}
