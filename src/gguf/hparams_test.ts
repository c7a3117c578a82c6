import assert from "node:assert/strict";
import {
  closeGguf,
  encodeGguf,
  GgufError,
  GgufValueType as T,
  type GgufWriteKv,
  llamaHparams,
  readGguf,
  tokenizerMetadata,
} from "./mod.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";
import { fixtureMetadata } from "../../tests/gguf_fixtures.ts";

/** Parses a header-only file made of the fixture metadata changed by `edit`. */
function metadataFile(edit: (kvs: GgufWriteKv[]) => GgufWriteKv[]) {
  return readGguf(encodeGguf({ metadata: edit(fixtureMetadata()) }), { name: "meta.gguf" });
}

function without(...keys: string[]) {
  return (kvs: GgufWriteKv[]) => kvs.filter((kv) => !keys.includes(kv.key as string));
}

function withKv(key: string, type: T, value: unknown) {
  return (kvs: GgufWriteKv[]) => [...kvs.filter((kv) => kv.key !== key), { key, type, value }];
}

function assertKeyError(fn: () => unknown, key: string, message: RegExp): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof GgufError, String(error));
    assert.equal(error.key, key);
    assert.match(error.message, message);
    assert.match(error.message, /meta\.gguf/);
    return true;
  });
}

Deno.test({
  name: "llamaHparams of stories260K",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await readGguf(testdataPath("models/stories260K.gguf"));
    const h = llamaHparams(file);
    assert.equal(h.arch, "llama");
    assert.equal(h.name, "llama");
    assert.equal(h.nCtxTrain, 128);
    assert.equal(h.nEmbd, 64);
    assert.equal(h.nLayer, 5);
    assert.equal(h.nHead, 8);
    assert.equal(h.nHeadKv, 4);
    assert.equal(h.nFf, 172);
    assert.equal(h.nEmbdHeadK, 8);
    assert.equal(h.nEmbdHeadV, 8);
    assert.equal(h.nRot, 8);
    assert.equal(h.ropeFreqBase, 10000, "absent key gives llama.cpp's default");
    assert.equal(h.ropeFreqScale, 1);
    assert.equal(h.fNormRmsEps, Math.fround(1e-5));
    assert.equal(h.nVocab, 512, "from the token list, without llama.vocab_size");
    assert.equal(h.nExpert, 0);
    await closeGguf(file);
  },
});

Deno.test({
  name: "llamaHparams of the micro models",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await readGguf(testdataPath("models/micro-Q4_0.gguf"));
    const h = llamaHparams(file);
    assert.deepEqual(
      [h.nEmbd, h.nLayer, h.nHead, h.nHeadKv, h.nFf, h.nRot, h.nCtxTrain, h.nVocab],
      [256, 2, 8, 2, 768, 32, 2048, 512],
    );
    assert.equal(h.ropeFreqBase, 10000);
    assert.equal(h.fileType, 2, "llama-quantize writes general.file_type (2 = Q4_0)");
    await closeGguf(file);
  },
});

Deno.test("llamaHparams applies llama.cpp defaults", async () => {
  const file = await metadataFile(without("llama.attention.head_count_kv"));
  const h = llamaHparams(file);
  assert.equal(h.nHeadKv, 4, "head_count_kv defaults to head_count");
  assert.equal(h.nRot, 8, "rope.dimension_count defaults to n_embd / n_head");
  assert.equal(h.ropeScalingType, "linear");

  const scaled = llamaHparams(
    await metadataFile(withKv("llama.rope.scaling.factor", T.FLOAT32, 4)),
  );
  assert.equal(scaled.ropeFreqScale, 0.25);
  const vocab = llamaHparams(await metadataFile(withKv("llama.vocab_size", T.UINT32, 7)));
  assert.equal(vocab.nVocab, 7, "llama.vocab_size wins over the token count");
});

Deno.test("llamaHparams accepts uniform per-layer arrays", async () => {
  const file = await metadataFile(
    withKv("llama.attention.head_count", T.ARRAY, { elementType: T.INT32, values: [4] }),
  );
  assert.equal(llamaHparams(file).nHead, 4);
  const uneven = await metadataFile((kvs) =>
    withKv("llama.feed_forward_length", T.ARRAY, { elementType: T.UINT32, values: [64, 32] })(
      withKv("llama.block_count", T.UINT32, 2)(kvs),
    )
  );
  assertKeyError(() => llamaHparams(uneven), "llama.feed_forward_length", /invalid/);
});

Deno.test("llamaHparams names a missing or invalid key", async () => {
  const required = [
    "general.architecture",
    "llama.context_length",
    "llama.embedding_length",
    "llama.block_count",
    "llama.attention.head_count",
    "llama.feed_forward_length",
    "llama.attention.layer_norm_rms_epsilon",
  ];
  for (const key of required) {
    const file = await metadataFile(without(key));
    assertKeyError(() => llamaHparams(file), key, /missing metadata key/);
  }
  const noVocab = await metadataFile(without("tokenizer.ggml.tokens"));
  assertKeyError(() => llamaHparams(noVocab), "llama.vocab_size", /missing/);

  const invalid: [string, T, unknown][] = [
    ["llama.embedding_length", T.STRING, "32"],
    ["llama.block_count", T.INT32, 0],
    ["llama.attention.head_count_kv", T.UINT32, 3],
    ["llama.attention.head_count", T.UINT32, 6],
    ["llama.rope.dimension_count", T.UINT32, 9],
    ["llama.rope.freq_base", T.FLOAT32, -1],
    ["llama.attention.layer_norm_rms_epsilon", T.FLOAT32, 0],
  ];
  for (const [key, type, value] of invalid) {
    const bad = await metadataFile(withKv(key, type, value));
    assertKeyError(() => llamaHparams(bad), key, /invalid metadata value/);
  }
});

Deno.test({
  name: "tokenizerMetadata of stories260K",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await readGguf(testdataPath("models/stories260K.gguf"));
    const t = tokenizerMetadata(file);
    assert.equal(t.model, "llama");
    assert.equal(t.pre, undefined);
    assert.equal(t.tokens.length, 512);
    assert.equal(t.tokens[1], "<s>");
    assert.equal(t.scores?.length, 512);
    assert.equal(t.tokenType?.[0], 2);
    assert.equal(t.bosTokenId, 1);
    assert.equal(t.eosTokenId, 2);
    assert.equal(t.unkTokenId, 0);
    assert.equal(t.sepTokenId, null, "4294967295 means none");
    assert.equal(t.padTokenId, null);
    assert.equal(t.addBosToken, true, "llama.cpp's SPM default");
    assert.equal(t.addEosToken, false);
    assert.equal(t.addSpacePrefix, true);
    assert.deepEqual(t.warnings, []);
    await closeGguf(file);
  },
});

Deno.test({
  name: "tokenizerMetadata of every vocab file",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const expected: [string, string, string | undefined, number][] = [
      ["llama-spm", "llama", "default", 32000],
      ["phi-3", "llama", "default", 32064],
      ["baichuan", "llama", undefined, 64000],
      ["bert-bge", "bert", "bert-bge", 30522],
      ["deepseek-coder", "gpt2", "deepseek-coder", 32256],
      ["deepseek-llm", "gpt2", "deepseek-llm", 102400],
      ["falcon", "gpt2", "falcon", 65024],
      ["gpt-2", "gpt2", "gpt-2", 50257],
      ["gpt-neox", "gpt2", undefined, 50432],
      ["mpt", "gpt2", "mpt", 50432],
      ["refact", "gpt2", "refact", 49216],
      ["starcoder", "gpt2", "starcoder", 49152],
    ];
    for (const [name, model, pre, count] of expected) {
      const file = await readGguf(testdataPath(`vocab/ggml-vocab-${name}.gguf`));
      const t = tokenizerMetadata(file);
      assert.equal(t.model, model, name);
      assert.equal(t.pre, pre, name);
      assert.equal(t.tokens.length, count, name);
      if (model === "gpt2") assert.ok((t.merges?.length ?? 0) > 0, `${name} merges`);
      if (model === "gpt2") assert.equal(t.addSpacePrefix, false, name);
      await closeGguf(file);
    }
  },
});

Deno.test("tokenizerMetadata defaults and explicit flags", async () => {
  const bpe = tokenizerMetadata(
    await metadataFile((kvs) =>
      withKv("tokenizer.ggml.pre", T.STRING, "llama-bpe")(
        withKv("tokenizer.ggml.model", T.STRING, "gpt2")(kvs),
      )
    ),
  );
  assert.equal(bpe.bosTokenId, 11);
  assert.equal(bpe.addBosToken, true, "llama-bpe adds BOS");
  const flags = tokenizerMetadata(
    await metadataFile((kvs) =>
      withKv("tokenizer.ggml.add_bos_token", T.BOOL, false)(
        withKv("tokenizer.chat_template", T.STRING, "{{ x }}")(kvs),
      )
    ),
  );
  assert.equal(flags.addBosToken, false);
  assert.equal(flags.chatTemplate, "{{ x }}");
  const outOfRange = tokenizerMetadata(
    await metadataFile(withKv("tokenizer.ggml.eos_token_id", T.UINT32, 99)),
  );
  assert.equal(outOfRange.eosTokenId, 2, "kept the default, as llama.cpp does");
  assert.match(outOfRange.warnings[0], /tokenizer\.ggml\.eos_token_id = 99/);
});

Deno.test("tokenizerMetadata names a missing or invalid key", async () => {
  for (const key of ["tokenizer.ggml.model", "tokenizer.ggml.tokens"]) {
    const file = await metadataFile(without(key));
    assertKeyError(() => tokenizerMetadata(file), key, /missing metadata key/);
  }
  const shortScores = await metadataFile(
    withKv("tokenizer.ggml.scores", T.ARRAY, { elementType: T.FLOAT32, values: [0] }),
  );
  assertKeyError(() => tokenizerMetadata(shortScores), "tokenizer.ggml.scores", /invalid/);
  const wrongType = await metadataFile(
    withKv("tokenizer.ggml.tokens", T.ARRAY, { elementType: T.INT32, values: [1] }),
  );
  assertKeyError(() => tokenizerMetadata(wrongType), "tokenizer.ggml.tokens", /invalid/);
  const badFlag = await metadataFile(withKv("tokenizer.ggml.add_bos_token", T.UINT8, 1));
  assertKeyError(() => tokenizerMetadata(badFlag), "tokenizer.ggml.add_bos_token", /invalid/);
});
