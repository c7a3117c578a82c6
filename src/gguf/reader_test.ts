import assert from "node:assert/strict";
import { GgmlType, readGguf } from "./mod.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";

Deno.test({
  name: "readGguf stories260K hyperparameters",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await readGguf(testdataPath("models/stories260K.gguf"));
    assert.equal(file.version, 3);
    assert.equal(file.metadata.get("llama.embedding_length"), 64);
    assert.equal(file.metadata.get("llama.block_count"), 5);
    assert.equal(file.metadata.get("llama.attention.head_count"), 8);
    assert.equal(file.metadata.get("llama.attention.head_count_kv"), 4);
    assert.equal((file.metadata.get("tokenizer.ggml.tokens") as string[]).length, 512);
    assert.equal(file.tensors.length, 48);
    assert.ok(file.tensors.every((t) => t.type === GgmlType.F32));
  },
});
