/**
 * Checks the tokenizers against llama.cpp's own test vectors and goldens (produced by
 * llama.cpp at tag b10573; see the shared test data README).
 */
import assert from "node:assert/strict";
import { readGguf } from "../src/gguf/mod.ts";
import { createTokenizer, type Tokenizer } from "../src/tokenizer/mod.ts";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";

/** Vocabularies with test vectors that flint supports: every line must match. */
const VOCABS = [
  "llama-spm",
  "phi-3",
  "gpt-2",
  "deepseek-coder",
  "deepseek-llm",
  "falcon",
  "mpt",
  "refact",
  "starcoder",
];

async function loadTokenizer(relative: string): Promise<Tokenizer> {
  return createTokenizer(await readGguf(testdataPath(relative)));
}

function readVectors(name: string): { input: string; expected: number[] }[] {
  const base = testdataPath(`vocab/ggml-vocab-${name}.gguf`);
  const inputs = Deno.readTextFileSync(`${base}.inp`).split("\n__ggml_vocab_test__\n");
  // The separator also ends the last input, leaving one empty element that is no test.
  inputs.pop();
  const lines = Deno.readTextFileSync(`${base}.out`).split("\n");
  return inputs.map((input, i) => ({
    input,
    expected: lines[i].trim() === "" ? [] : lines[i].trim().split(/\s+/).map(Number),
  }));
}

for (const name of VOCABS) {
  Deno.test({
    name: `tokenizer ${name} matches llama.cpp vectors`,
    ignore: !HAVE_TESTDATA,
    fn: async () => {
      const tokenizer = await loadTokenizer(`vocab/ggml-vocab-${name}.gguf`);
      const vectors = readVectors(name);
      assert.ok(vectors.length > 10, `expected test vectors for ${name}`);
      const failures: string[] = [];
      for (const { input, expected } of vectors) {
        const ids = tokenizer.encode(input, { addSpecial: false, parseSpecial: false });
        if (JSON.stringify(ids) !== JSON.stringify(expected)) {
          failures.push(
            `${JSON.stringify(input)}\n  got      ${ids.join(" ")}\n  expected ${
              expected.join(" ")
            }`,
          );
        }
      }
      assert.equal(failures.length, 0, `${failures.length} mismatches:\n${failures.join("\n")}`);
    },
  });

  Deno.test({
    name: `tokenizer ${name} incremental decode equals whole decode`,
    ignore: !HAVE_TESTDATA,
    fn: async () => {
      const tokenizer = await loadTokenizer(`vocab/ggml-vocab-${name}.gguf`);
      for (const { expected } of readVectors(name)) {
        for (const special of [false, true]) {
          const whole = tokenizer.decode(expected, { special, stripLeadingSpace: false });
          const decoder = tokenizer.createDecoder({ special });
          let text = "";
          for (const id of expected) {
            const piece = decoder.push(id);
            assert.ok(!piece.includes("\uFFFD") || whole.includes("\uFFFD"), `split character`);
            text += piece;
          }
          text += decoder.flush();
          assert.equal(text, whole);
        }
      }
    },
  });
}

Deno.test({
  name: "tokenizer stories260K encodes the golden prompt",
  ignore: !HAVE_TESTDATA,
  fn: async () => {
    const tokenizer = await loadTokenizer("models/stories260K.gguf");
    const golden = JSON.parse(
      Deno.readTextFileSync(testdataPath("golden/stories260K-greedy.json")),
    );
    // stories260K.gguf has no add_bos_token key; SPM adds BOS by default.
    assert.equal(tokenizer.addBos, true);
    assert.deepEqual(tokenizer.encode(golden.prompt), [1, 403, 407, 261, 378]);
    assert.deepEqual(tokenizer.encode(golden.prompt), golden.tokens);
    assert.equal(tokenizer.decode(golden.tokens), golden.prompt);
  },
});

Deno.test({
  name: "tokenizer micro-F32 matches both golden sequences",
  ignore: !HAVE_TESTDATA,
  fn: async () => {
    const tokenizer = await loadTokenizer("models/micro-F32.gguf");
    const golden = JSON.parse(Deno.readTextFileSync(testdataPath("golden/micro-F32.json")));
    assert.deepEqual(tokenizer.encode(golden.prompt), golden.tokens);
    assert.deepEqual(tokenizer.encode(golden.long.text), golden.long.tokens);
  },
});

Deno.test({
  name: "tokenizer stories260K detokenizes the greedy pieces",
  ignore: !HAVE_TESTDATA,
  fn: async () => {
    const tokenizer = await loadTokenizer("models/stories260K.gguf");
    const golden = JSON.parse(
      Deno.readTextFileSync(testdataPath("golden/stories260K-greedy.json")),
    );
    const generated: number[] = golden.greedy.tokens;
    generated.forEach((id, i) => {
      assert.deepEqual(Array.from(tokenizer.tokenToBytes(id)), golden.greedy.piece_bytes[i]);
    });
    // llama.cpp keeps the space before "Once" once BOS is dropped.
    const all = [...golden.tokens, ...generated];
    assert.equal(tokenizer.decode(all, { stripLeadingSpace: false }), golden.greedy.full_text);
  },
});

Deno.test({
  name: "tokenizer WizardLM-2 style vocab keeps </s> plain",
  ignore: !HAVE_TESTDATA,
  fn: async () => {
    const tokenizer = await loadTokenizer("vocab/ggml-vocab-llama-spm.gguf");
    for (const text of ["hi </s> there", "<s>hello", "a</s>"]) {
      const plain = tokenizer.encode(text, { addSpecial: false });
      assert.ok(!plain.includes(tokenizer.eos), `EOS in ${JSON.stringify(text)}`);
      assert.ok(!plain.includes(tokenizer.bos), `BOS in ${JSON.stringify(text)}`);
      assert.equal(tokenizer.decode(plain), text);
    }
    const parsed = tokenizer.encode("hi</s>", { addSpecial: false, parseSpecial: true });
    assert.equal(parsed.at(-1), tokenizer.eos);
  },
});

const ROUND_TRIP_TEXTS = [
  "Hello world",
  "The quick brown fox jumps over the lazy dog. 1234567890",
  "日本語のテキストと中文文本，还有한국어.",
  "emoji: 😀👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵",
  "combining: e\u0301 a\u0308 n\u0303 \u0915\u094D\u0937",
  " leading space",
  "trailing space ",
  "   three leading",
  "multiple   inner    spaces",
  "\nleading newline",
  "lines\n\n\nand\ttabs\r\n",
  "  ",
  "\n",
  "",
];

for (const name of ["llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm"]) {
  Deno.test({
    name: `tokenizer ${name} round-trips text`,
    ignore: !HAVE_TESTDATA,
    fn: async () => {
      const tokenizer = await loadTokenizer(`vocab/ggml-vocab-${name}.gguf`);
      for (const text of ROUND_TRIP_TEXTS) {
        for (const addSpecial of [true, false]) {
          const ids = tokenizer.encode(text, { addSpecial });
          assert.equal(tokenizer.decode(ids), text, `${name} ${JSON.stringify(text)}`);
          const decoder = tokenizer.createDecoder({
            stripLeadingSpace: tokenizer.addSpacePrefix,
          });
          const pieces = ids.map((id) => decoder.push(id)).join("") + decoder.flush();
          assert.equal(pieces, text);
        }
      }
    },
  });
}
