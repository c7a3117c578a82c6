import assert from "node:assert/strict";
import {
  closeGguf,
  encodeGguf,
  formatInspect,
  GgmlType,
  GgufValueType as T,
  readGguf,
} from "./mod.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";
import { fixtureMetadata, fixtureTensors } from "../../tests/gguf_fixtures.ts";

Deno.test({
  name: "formatInspect of stories260K",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await readGguf(testdataPath("models/stories260K.gguf"));
    const text = formatInspect(file);
    await closeGguf(file);
    const lines = text.split("\n");
    assert.match(text, /^file: .*stories260K\.gguf$/m);
    assert.match(
      text,
      /^GGUF version 3, 1,185,376 bytes .* alignment 32, data section at offset 14176$/m,
    );
    assert.match(text, /^19 metadata keys, 48 tensors$/m);
    assert.match(text, /n_embd 64, n_layer 5, n_head 8, n_head_kv 4, n_ff 172/);
    // 512 tokens are summarised on one line.
    const tokens = lines.find((l) => l.includes("tokenizer.ggml.tokens"))!;
    assert.match(tokens, /\[STRING x 512\] "<unk>", "<s>", "<\/s>", .*\.\.\. 506 more$/);
    assert.ok(lines.length < 100, `${lines.length} lines`);
    assert.match(text, /FLOAT32\s+0\.00001$/m, "float32 shown as its shortest decimal");
    assert.match(text, /^\s+token_embd\.weight\s+F32\s+\[64, 512\]\s+131,072\s+14176$/m);
    // 2 embedding matrices of 64x512, the final norm, and 5 layers of 45440 weights.
    assert.match(text, /^parameters: 292,800 \(292\.80 K\), tensor data: 1,171,200 bytes/m);
    assert.match(text, /bits per weight: 32\.00$/m);
    assert.match(text, /^\s+F32: 48 tensors, 292,800 parameters, 32\.00 bits per weight$/m);
  },
});

Deno.test({
  name: "formatInspect bits per weight of a quantized mix",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await readGguf(testdataPath("models/micro-Q4_0.gguf"));
    const text = formatInspect(file);
    await closeGguf(file);
    assert.match(text, /^\s+Q4_0: 15 tensors, .* 4\.50 bits per weight$/m);
    assert.match(text, /^\s+Q6_K: 1 tensor, 131,072 parameters, 6\.56 bits per weight$/m);
    assert.match(text, /^\s+blk\.0\.attn_q\.weight\s+Q4_0\s+\[256, 256\]\s+36,864\s+\d+$/m);
  },
});

Deno.test("formatInspect shortens long strings and shows nested arrays", async () => {
  const metadata = [
    ...fixtureMetadata(),
    { key: "tokenizer.chat_template", type: T.STRING, value: "x".repeat(300) },
  ];
  const file = await readGguf(encodeGguf({ metadata, tensors: fixtureTensors() }));
  const text = formatInspect(file, { maxStringLength: 10 });
  assert.match(text, /tokenizer\.chat_template\s+STRING\s+"xxxxxxxxxx"\.\.\. \(300 characters\)/);
  assert.match(text, /test\.nested\s+\[ARRAY x 3\] \[2 items\], \[2 items\], \[1 items\]/);
  assert.match(text, /test\.u64\s+UINT64\s+9223372036854775813/);
  assert.match(text, /^\s+scalar\s+F16\s+\[\]\s+2\s+\d+$/m);
});

Deno.test("formatInspect of a split model lists its parts", async () => {
  const part = (no: number, tensorName: string) =>
    encodeGguf({
      metadata: [
        { key: "split.no", type: T.UINT16, value: no },
        { key: "split.count", type: T.UINT16, value: 2 },
      ],
      tensors: [{ name: tensorName, ne: [4], type: GgmlType.F32 }],
    });
  const file = await readGguf([part(0, "a"), part(1, "b")], { name: "m" });
  const text = formatInspect(file);
  assert.match(text, /^split model, 2 parts:$/m);
  assert.match(text, /^\s+b\s+F32\s+\[4\]\s+16\s+\d+ \(part 2\)$/m);
});
