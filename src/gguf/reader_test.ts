import assert from "node:assert/strict";
import {
  bytesSource,
  closeGguf,
  fileSource,
  GgmlType,
  GgufError,
  type GgufSource,
  GgufValueType,
  readGguf,
  readTensor,
  readTensorInto,
} from "./mod.ts";
import { HAVE_TESTDATA, TESTDATA_DIR, testdataPath } from "../../tests/testdata.ts";
import { fixtureFile, fixtureTensors } from "../../tests/gguf_fixtures.ts";

/** Wraps a source and counts the bytes read through it. */
function counting(source: GgufSource): GgufSource & { bytesRead: number } {
  const counter = {
    name: source.name,
    size: source.size,
    bytesRead: 0,
    readInto(offset: number, dest: Uint8Array) {
      counter.bytesRead += dest.length;
      return source.readInto(offset, dest);
    },
    close: () => source.close(),
  };
  return counter;
}

function ggufFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...ggufFilesUnder(path));
    else if (entry.name.endsWith(".gguf")) out.push(path);
  }
  return out.sort();
}

Deno.test({
  name: "readGguf parses every testdata file",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const paths = ggufFilesUnder(TESTDATA_DIR.replace(/\/$/, ""));
    assert.ok(paths.length >= 32, `found ${paths.length} files`);
    for (const path of paths) {
      const file = await readGguf(path);
      try {
        assert.ok(file.version === 2 || file.version === 3, path);
        assert.equal(typeof file.metadata.get("general.architecture"), "string", path);
        const size = file.parts[0].size;
        for (const t of file.tensors) {
          assert.ok(t.fileOffset >= file.dataOffset, t.name);
          assert.ok(t.fileOffset + t.nBytes <= size, t.name);
          assert.equal(t.fileOffset % file.alignment, 0, t.name);
        }
      } finally {
        await closeGguf(file);
      }
    }
  },
});

Deno.test({
  name: "readGguf stories260K hyperparameters and tensors",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await readGguf(testdataPath("models/stories260K.gguf"));
    assert.equal(file.version, 3);
    assert.equal(file.metadata.get("general.architecture"), "llama");
    assert.equal(file.metadata.get("llama.embedding_length"), 64);
    assert.equal(file.metadata.get("llama.block_count"), 5);
    assert.equal(file.metadata.get("llama.attention.head_count"), 8);
    assert.equal(file.metadata.get("llama.attention.head_count_kv"), 4);
    assert.equal((file.metadata.get("tokenizer.ggml.tokens") as string[]).length, 512);
    assert.equal(file.metadataTypes.get("tokenizer.ggml.tokens"), GgufValueType.ARRAY);
    assert.equal(file.arrayTypes.get("tokenizer.ggml.scores"), GgufValueType.FLOAT32);
    assert.equal(file.tensors.length, 48);
    assert.ok(file.tensors.every((t) => t.type === GgmlType.F32));
    const embd = file.tensors.find((t) => t.name === "token_embd.weight")!;
    assert.deepEqual(embd.ne, [64, 512]);
    assert.equal(embd.nBytes, 64 * 512 * 4);
    // Tensors tile the data section to the last byte of the file.
    const end = Math.max(...file.tensors.map((t) => t.fileOffset + t.nBytes));
    assert.equal(end, file.parts[0].size);
    await closeGguf(file);
  },
});

Deno.test({
  name: "readGguf vocab files have the documented token counts",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const expected: Record<string, number> = {
      "llama-spm": 32000,
      "phi-3": 32064,
      "baichuan": 64000,
      "bert-bge": 30522,
      "deepseek-coder": 32256,
      "deepseek-llm": 102400,
      "falcon": 65024,
      "gpt-2": 50257,
      "gpt-neox": 50432,
      "mpt": 50432,
      "refact": 49216,
      "starcoder": 49152,
    };
    for (const [name, count] of Object.entries(expected)) {
      const file = await readGguf(testdataPath(`vocab/ggml-vocab-${name}.gguf`));
      assert.equal((file.metadata.get("tokenizer.ggml.tokens") as string[]).length, count, name);
      assert.equal(file.tensors.length, 0, name);
      await closeGguf(file);
    }
  },
});

Deno.test({
  name: "readTensorInto returns the bytes at the tensor's file offset",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const path = testdataPath("models/micro-Q4_K_M.gguf");
    const whole = await Deno.readFile(path);
    const file = await readGguf(path);
    for (const t of file.tensors) {
      const data = await readTensor(file, t);
      assert.deepEqual(data, whole.subarray(t.fileOffset, t.fileOffset + t.nBytes), t.name);
    }
    await assert.rejects(
      () => readTensorInto(file, file.tensors[0], new Uint8Array(1)),
      RangeError,
    );
    await closeGguf(file);
  },
});

Deno.test({
  name: "readGguf reads only the header of a local file",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const path = testdataPath("models/micro-F32.gguf");
    const source = counting(await fileSource(path));
    const file = await readGguf(source);
    assert.equal(file.tensors.length, 21);
    // The first read is at most 1 MiB; the 7 MB of tensor data stay unread.
    assert.ok(source.bytesRead <= 1 << 20, `${source.bytesRead} bytes read`);
    assert.ok(source.bytesRead < source.size / 4);
    await closeGguf(file);
  },
});

Deno.test({
  name: "readGguf extends the prefix for a header over 1 MiB",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const path = testdataPath("vocab/ggml-vocab-deepseek-llm.gguf");
    const source = counting(await fileSource(path));
    const file = await readGguf(source);
    assert.equal((file.metadata.get("tokenizer.ggml.tokens") as string[]).length, 102400);
    // Each byte is read once, since the prefix grows without re-reading.
    assert.equal(source.bytesRead, source.size);
    await closeGguf(file);
  },
});

Deno.test("readGguf round-trips every value type", async () => {
  const file = await readGguf(fixtureFile(), { name: "fixture" });
  const m = file.metadata;
  assert.equal(file.source, "fixture");
  assert.equal(m.get("general.name"), "tiny ✓");
  assert.equal(m.get("test.u8"), 200);
  assert.equal(m.get("test.i8"), -100);
  assert.equal(m.get("test.u16"), 60000);
  assert.equal(m.get("test.i16"), -30000);
  assert.equal(m.get("test.i32"), -2000000000);
  assert.equal(m.get("test.bool"), true);
  assert.equal(m.get("test.u64"), 2n ** 63n + 5n);
  assert.equal(m.get("test.i64"), -42);
  assert.equal(m.get("test.f64"), Math.PI);
  assert.equal(m.get("llama.attention.layer_norm_rms_epsilon"), Math.fround(1e-5));
  assert.deepEqual(m.get("test.u32s"), new Uint32Array([1, 2, 3]));
  assert.deepEqual(m.get("test.bools"), [true, false]);
  assert.deepEqual(m.get("test.nested"), [[-1, 2], ["a", "bc"], [[9]]]);
  assert.equal(file.arrayTypes.get("test.nested"), GgufValueType.ARRAY);
  assert.equal(file.metadataTypes.get("test.u64"), GgufValueType.UINT64);
  assert.deepEqual(m.get("tokenizer.ggml.tokens"), ["<unk>", "<s>", "</s>", "▁a", "é"]);
});

Deno.test("readGguf tensor table of the fixture", async () => {
  const bytes = fixtureFile();
  const file = await readGguf(bytesSource(bytes));
  const written = fixtureTensors();
  assert.deepEqual(file.tensors.map((t) => t.name), written.map((t) => t.name));
  for (const [i, t] of file.tensors.entries()) {
    assert.deepEqual(t.ne, written[i].ne);
    assert.equal(t.type, written[i].type);
    assert.equal(t.nBytes, written[i].data!.length);
    assert.equal(t.split, 0);
    assert.deepEqual(await readTensor(file, t), written[i].data);
  }
  assert.equal(file.tensors[3].nElements, 1, "a 0-dimensional tensor holds one element");
  assert.equal(file.dataOffset % 32, 0);
  assert.equal(file.parts.length, 1);
});

Deno.test("fileSource serves concurrent reads correctly", async () => {
  const bytes = fixtureFile();
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await Deno.writeFile(path, bytes);
    const file = await readGguf(path);
    const datas = await Promise.all(file.tensors.map((t) => readTensor(file, t)));
    for (const [i, t] of file.tensors.entries()) {
      assert.deepEqual(datas[i], bytes.subarray(t.fileOffset, t.fileOffset + t.nBytes));
    }
    await closeGguf(file);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("sources reject reads past the end", async () => {
  const bytes = fixtureFile();
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await Deno.writeFile(path, bytes);
    const sources = [bytesSource(bytes, "mem"), await fileSource(path)];
    for (const source of sources) {
      const at = bytes.length - 4;
      await assert.rejects(
        source.readInto(at, new Uint8Array(8)),
        (e) =>
          e instanceof GgufError && e.offset === at && e.found === "8 bytes requested" &&
          e.expected === "at most 4",
        source.name,
      );
      await assert.rejects(source.readInto(-1, new Uint8Array(1)), GgufError, source.name);
      const inside = new Uint8Array(4);
      await source.readInto(at, inside);
      assert.deepEqual(inside, bytes.subarray(at));
      await source.close();
    }
  } finally {
    await Deno.remove(path);
  }
});
