import assert from "node:assert/strict";
import { GGML_TYPES, GgmlType, readGguf, readTensorInto } from "../gguf/mod.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";
import { f32ToF16Bits, MIXES, SHAPES, synthesize, tensorType } from "./mod.ts";

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "flint-synth-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("synthesize writes a readable micro model", async () => {
  await withTemp(async (dir) => {
    const path = `${dir}/m.gguf`;
    const size = await synthesize("micro", "Q4_K_M", path);
    assert.equal((await Deno.stat(path)).size, size);
    const file = await readGguf(path);
    assert.equal(file.metadata.get("general.architecture"), "llama");
    assert.equal(file.metadata.get("llama.embedding_length"), 256);
    assert.equal(file.metadata.get("general.file_type"), 15);
    assert.equal((file.metadata.get("tokenizer.ggml.tokens") as string[]).length, 512);
    assert.equal(file.tensors.length, 2 + 9 * 2 + 1);
    const v1 = file.tensors.find((t) => t.name === "blk.1.attn_v.weight")!;
    assert.equal(v1.type, GgmlType.Q6_K);
    // Every fp16 scale `d` of the Q4_K token embedding is finite.
    const embd = file.tensors.find((t) => t.name === "token_embd.weight")!;
    const bytes = new Uint8Array(embd.nBytes);
    await readTensorInto(file, embd, bytes);
    const view = new DataView(bytes.buffer);
    for (let b = 0; b < bytes.length; b += 144) {
      assert.notEqual(view.getUint16(b, true) & 0x7c00, 0x7c00, `block at ${b}`);
    }
    for (const s of file.sources) await s.close();
  });
});

Deno.test("tensorType follows llama-quantize for a 7B shape", () => {
  const shape = SHAPES["mistral-7b"];
  const q4km = MIXES.Q4_K_M;
  const v = Array.from(
    { length: 32 },
    (_, i) => GGML_TYPES[tensorType(q4km, shape, "attn_v", i)].name,
  );
  // First and last eighth (layers 0-3, 28-31) and every third layer in between.
  assert.deepEqual(
    v.map((t, i) => (t === "Q6_K" ? i : -1)).filter((i) => i >= 0),
    [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31],
  );
  assert.equal(tensorType(MIXES.Q3_K_M, shape, "ffn_down", 1), GgmlType.Q5_K);
  assert.equal(tensorType(MIXES.Q3_K_M, shape, "ffn_down", 2), GgmlType.Q4_K);
  assert.equal(tensorType(MIXES.Q8_0, shape, "output", 0), GgmlType.Q8_0);
  assert.equal(tensorType(MIXES.Q2_K, shape, "attn_v", 0), GgmlType.Q4_K);
});

Deno.test("f32ToF16Bits rounds to nearest even", () => {
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(-2), 0xc000);
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(1e6), 0x7c00);
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001);
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie rounds to even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02);
});

Deno.test({
  name: "synthesize matches the micro models' tensor types",
  ignore: !HAVE_TESTDATA,
  async fn() {
    await withTemp(async (dir) => {
      for (const mix of Object.keys(MIXES)) {
        const path = `${dir}/${mix}.gguf`;
        await synthesize("micro", mix, path);
        const ours = await readGguf(path);
        const ref = await readGguf(testdataPath(`models/micro-${mix}.gguf`));
        const types = (f: typeof ours) =>
          Object.fromEntries(f.tensors.map((t) => [t.name, GGML_TYPES[t.type].name]));
        assert.deepEqual(types(ours), types(ref), mix);
        assert.equal(ours.metadata.get("general.file_type"), ref.metadata.get("general.file_type"));
        for (const f of [ours, ref]) for (const s of f.sources) await s.close();
        await Deno.remove(path);
      }
    });
  },
});
