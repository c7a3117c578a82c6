import assert from "node:assert/strict";
import {
  encodeGguf,
  GgmlType,
  GgufError,
  type GgufSource,
  GgufValueType as T,
  type GgufWriteSpec,
  readGguf,
} from "./mod.ts";
import { fixtureFile, pattern } from "../../tests/gguf_fixtures.ts";

/** Reads `bytes` and checks the GgufError: its message, and optionally its fields. */
async function expectGgufError(
  input: Uint8Array | GgufSource,
  message: RegExp,
  check: (e: GgufError) => void = () => {},
): Promise<GgufError> {
  let caught: unknown;
  try {
    await readGguf(input, { name: "bad.gguf" });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof GgufError, `expected a GgufError, got ${caught}`);
  assert.match(caught.message, message);
  assert.match(caught.message, /bad\.gguf/, "the message names the file");
  assert.equal(caught.cause, undefined, "not a wrapped internal error");
  check(caught);
  return caught;
}

function setU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset, value, true);
  return bytes;
}

function setU64(bytes: Uint8Array, offset: number, value: bigint): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(offset, value, true);
  return bytes;
}

/** Encodes a file with one string key/value pair and no tensors. */
function oneString(key: string, value: string | Uint8Array): Uint8Array {
  return encodeGguf({ metadata: [{ key, type: T.STRING, value }] });
}

/** Encodes a file with the given tensors and an optional alignment. */
function withTensors(tensors: GgufWriteSpec["tensors"], alignment?: number): Uint8Array {
  const metadata = alignment === undefined
    ? []
    : [{ key: "general.alignment", type: T.UINT32, value: alignment }];
  return encodeGguf({ metadata, tensors });
}

Deno.test("readGguf rejects truncation at every byte", async () => {
  const bytes = fixtureFile();
  // Like llama.cpp, the reader does not require the padding after the last tensor.
  const whole = await readGguf(bytes);
  const end = Math.max(...whole.tensors.map((t) => t.fileOffset + t.nBytes));
  assert.ok(end < bytes.length);
  for (let length = 0; length < end; length++) {
    await expectGgufError(bytes.subarray(0, length), /./, (e) => {
      assert.ok(
        e.offset !== undefined && e.offset <= bytes.length,
        `length ${length}: ${e.message}`,
      );
      assert.ok(e.found !== undefined || e.expected !== undefined, e.message);
    });
  }
  const unpadded = await readGguf(bytes.subarray(0, end));
  assert.equal(unpadded.tensors.length, 4);
});

Deno.test("readGguf rejects a bad magic", async () => {
  const bytes = fixtureFile();
  bytes.set([0x47, 0x47, 0x55, 0x47], 0);
  await expectGgufError(bytes, /not a GGUF file/, (e) => {
    assert.equal(e.found, "magic bytes 47 47 55 47");
    assert.equal(e.offset, 0);
  });
  bytes.set(new TextEncoder().encode("tjgg"), 0);
  await expectGgufError(bytes, /convert_llama_ggml_to_gguf/);
  await expectGgufError(new TextEncoder().encode("<!DOCTYPE html>"), /HTML/);
});

Deno.test("readGguf rejects version 1 with a fix", async () => {
  const e = await expectGgufError(setU32(fixtureFile(), 4, 1), /unsupported GGUF version/);
  assert.equal(e.found, "1");
  assert.match(e.hint!, /version 1 .*convert the original model again/);
});

Deno.test("readGguf rejects a big-endian file with a fix", async () => {
  const bytes = fixtureFile();
  bytes.set([0, 0, 0, 3], 4);
  const e = await expectGgufError(bytes, /unsupported GGUF version/);
  assert.equal(e.found, String(0x03000000));
  assert.match(e.hint!, /big-endian/);
  assert.match(e.hint!, /gguf_convert_endian/);
});

Deno.test("readGguf rejects a future version", async () => {
  const e = await expectGgufError(setU32(fixtureFile(), 4, 4), /unsupported GGUF version/);
  assert.match(e.hint!, /newer/);
});

Deno.test("readGguf rejects huge and negative counts at once", async () => {
  await expectGgufError(setU64(fixtureFile(), 8, 2n ** 60n), /invalid tensor count/, (e) => {
    assert.equal(e.found, String(2n ** 60n));
    assert.equal(e.offset, 8);
  });
  await expectGgufError(setU64(fixtureFile(), 8, 2n ** 64n - 1n), /invalid tensor count/, (e) => {
    assert.equal(e.expected, "a non-negative count");
  });
  await expectGgufError(setU64(fixtureFile(), 16, 2n ** 62n), /invalid metadata count/);
});

Deno.test("readGguf rejects a 1 TB string", async () => {
  // Key length sits at 24; the value length after the 8-byte key and the type.
  await expectGgufError(setU64(oneString("k", "v"), 24, 2n ** 40n), /metadata key 0 length/);
  const e = await expectGgufError(
    setU64(oneString("general.name", "v"), 24 + 8 + 12 + 4, 2n ** 40n),
    /invalid string value length/,
  );
  assert.equal(e.key, "general.name");
  assert.equal(e.found, String(2n ** 40n));
});

Deno.test("readGguf rejects a huge array length", async () => {
  const bytes = encodeGguf({
    metadata: [{ key: "a", type: T.ARRAY, value: { elementType: T.UINT64, values: [1] } }],
  });
  // Length at 24 (key length) + 8 + 1 (key) + 4 (type) + 4 (element type).
  await expectGgufError(setU64(bytes, 41, 2n ** 61n), /invalid array length/, (e) => {
    assert.equal(e.key, "a");
  });
});

Deno.test("readGguf never loads what a huge size claims", async () => {
  // A source reporting 1 PiB whose header claims a 1 TiB string: the count check passes
  // (the bytes could exist), so the header limit must stop it without allocating.
  const head = setU64(oneString("general.name", "v"), 24 + 8 + 12 + 4, 2n ** 40n);
  let bytesRead = 0;
  const huge: GgufSource = {
    name: "huge",
    size: 2 ** 50,
    readInto(offset, dest) {
      bytesRead += dest.length;
      dest.fill(0);
      if (offset < head.length) dest.set(head.subarray(offset, offset + dest.length));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  await assert.rejects(() => readGguf(huge), (e) => {
    assert.ok(e instanceof GgufError);
    assert.match(e.message, /header too large/);
    return true;
  });
  assert.ok(bytesRead <= 1 << 20, `${bytesRead} bytes read`);
});

Deno.test("readGguf rejects a misaligned tensor", async () => {
  const bytes = withTensors([
    { name: "a", ne: [4], type: GgmlType.F32, data: pattern(16), offset: 16 },
  ]);
  await expectGgufError(bytes, /invalid tensor offset/, (e) => {
    assert.equal(e.tensor, "a");
    assert.equal(e.found, "16");
    assert.match(e.expected!, /multiple of 32/);
  });
  // With general.alignment 16 the same offset is valid.
  const ok = await readGguf(
    withTensors([{ name: "a", ne: [4], type: GgmlType.F32, data: pattern(16), offset: 16 }], 16),
  );
  assert.equal(ok.tensors[0].offset, 16);
});

Deno.test("readGguf rejects overlapping tensors", async () => {
  const bytes = withTensors([
    { name: "a", ne: [32], type: GgmlType.F32, data: pattern(128), offset: 0 },
    { name: "b", ne: [32], type: GgmlType.F32, data: pattern(128), offset: 64 },
  ]);
  await expectGgufError(bytes, /tensors overlap/, (e) => {
    assert.equal(e.tensor, "b");
    assert.match(e.found!, /inside "a"/);
  });
  // A tensor inside a large one is caught even when a smaller one sits between them.
  const nested = withTensors([
    { name: "big", ne: [64], type: GgmlType.F32, data: pattern(256), offset: 0 },
    { name: "small", ne: [4], type: GgmlType.F32, data: pattern(16), offset: 32 },
    { name: "later", ne: [4], type: GgmlType.F32, data: pattern(16), offset: 128 },
  ]);
  await expectGgufError(nested, /tensors overlap/, (e) => assert.equal(e.tensor, "small"));
  // Empty tensors take no bytes and may share an offset.
  const empty = await readGguf(withTensors([
    { name: "a", ne: [0], type: GgmlType.F32, offset: 0 },
    { name: "b", ne: [4], type: GgmlType.F32, data: pattern(16), offset: 0 },
  ]));
  assert.equal(empty.tensors.length, 2);
});

Deno.test("readGguf rejects tensor data past the end", async () => {
  const bytes = withTensors([{ name: "a", ne: [32], type: GgmlType.F32, data: pattern(128) }]);
  await expectGgufError(bytes.subarray(0, bytes.length - 1), /extends past the end/, (e) => {
    assert.equal(e.tensor, "a");
  });
  const far = encodeGguf({
    tensors: [{ name: "a", ne: [32], type: GgmlType.F32, offset: 2 ** 40 }],
    headerOnly: true,
  });
  await expectGgufError(far, /invalid tensor offset/, (e) => {
    assert.equal(e.found, String(2 ** 40));
  });
});

Deno.test("readGguf rejects unknown and retired tensor types", async () => {
  const unknown = withTensors([{ name: "w", ne: [32], type: 99, data: pattern(32) }]);
  await expectGgufError(unknown, /unknown tensor type/, (e) => {
    assert.equal(e.tensor, "w");
    assert.equal(e.found, "type 99");
  });
  const retired = withTensors([{ name: "w", ne: [32], type: 4, data: pattern(32) }]);
  const e = await expectGgufError(retired, /unknown tensor type/);
  assert.match(e.found!, /Q4_2/);
  assert.match(e.hint!, /quantize the original model again/);
  await expectGgufError(
    withTensors([{ name: "w", ne: [32], type: -1, data: pattern(32) }]),
    /unknown tensor type/,
  );
});

Deno.test("readGguf rejects a row that is not whole blocks", async () => {
  const bytes = withTensors([{ name: "q", ne: [31, 2], type: GgmlType.Q4_0, data: pattern(36) }]);
  await expectGgufError(bytes, /not a multiple of the block size/, (e) => {
    assert.equal(e.tensor, "q");
    assert.equal(e.found, "ne[0] = 31 for Q4_0");
    assert.equal(e.expected, "a multiple of 32");
  });
});

Deno.test("readGguf rejects bad dimensions", async () => {
  await expectGgufError(
    withTensors([{ name: "d", ne: [1, 1, 1, 1, 1], type: GgmlType.F32, data: pattern(4) }]),
    /too many dimensions/,
  );
  await expectGgufError(
    withTensors([{ name: "d", ne: [-4], type: GgmlType.F32, data: pattern(16) }]),
    /invalid dimension/,
  );
  await expectGgufError(
    withTensors([{ name: "d", ne: [2 ** 40, 2 ** 40], type: GgmlType.F32, data: pattern(4) }]),
    /tensor too large/,
  );
});

Deno.test("readGguf names the key with invalid UTF-8", async () => {
  const bad = new Uint8Array([0x61, 0xff, 0x62]);
  await expectGgufError(oneString("general.name", bad), /invalid UTF-8 in string value/, (e) => {
    assert.equal(e.key, "general.name");
  });
  await expectGgufError(
    encodeGguf({ metadata: [{ key: bad, type: T.UINT8, value: 1 }] }),
    /invalid UTF-8 in metadata key 0/,
  );
  const longBad = new TextEncoder().encode("x".repeat(100) + "\u00e9");
  await expectGgufError(oneString("k", longBad.subarray(0, 101)), /invalid UTF-8/);
  const inArray = encodeGguf({
    metadata: [{
      key: "tokenizer.ggml.tokens",
      type: T.ARRAY,
      value: { elementType: T.STRING, values: ["ok", new Uint8Array([0xc0, 0x80])] },
    }],
  });
  await expectGgufError(inArray, /invalid UTF-8 in string 1 of the array/, (e) => {
    assert.equal(e.key, "tokenizer.ggml.tokens");
  });
  await expectGgufError(
    withTensors([{ name: new Uint8Array([0xed, 0xa0, 0x80]), ne: [1], type: 0 }]),
    /invalid UTF-8 in name of tensor 0/,
  );
});

Deno.test("readGguf rejects duplicate and empty names", async () => {
  const dupKey = encodeGguf({
    metadata: [{ key: "a", type: T.UINT8, value: 1 }, { key: "a", type: T.UINT8, value: 2 }],
  });
  await expectGgufError(dupKey, /duplicate metadata key/, (e) => assert.equal(e.key, "a"));
  await expectGgufError(
    encodeGguf({ metadata: [{ key: "", type: T.UINT8, value: 1 }] }),
    /empty metadata key/,
  );
  const dupTensor = withTensors([
    { name: "t", ne: [4], type: GgmlType.F32, data: pattern(16) },
    { name: "t", ne: [4], type: GgmlType.F32, data: pattern(16) },
  ]);
  await expectGgufError(dupTensor, /duplicate tensor name/, (e) => assert.equal(e.tensor, "t"));
});

Deno.test("readGguf rejects a bad alignment", async () => {
  for (const value of [0, 48]) {
    await expectGgufError(
      encodeGguf({ metadata: [{ key: "general.alignment", type: T.UINT32, value }] }),
      /invalid alignment/,
      (e) => assert.equal(e.key, "general.alignment"),
    );
  }
  await expectGgufError(
    encodeGguf({ metadata: [{ key: "general.alignment", type: T.UINT64, value: 32 }] }),
    /invalid alignment/,
    (e) => assert.match(e.found!, /UINT64/),
  );
});

Deno.test("readGguf rejects unknown value types", async () => {
  await expectGgufError(
    encodeGguf({ metadata: [{ key: "k", type: 13 as T, value: 0 }] }).subarray(0, 64),
    /unknown metadata value type/,
  );
  const array = encodeGguf({
    metadata: [{ key: "k", type: T.ARRAY, value: { elementType: 13 as T, values: [] } }],
  });
  await expectGgufError(array, /unknown array element type/, (e) => {
    assert.equal(e.key, "k");
    assert.equal(e.found, "13");
  });
});

Deno.test("readGguf limits array nesting", async () => {
  let value = { elementType: T.UINT8, values: [1] as unknown[] };
  for (let depth = 0; depth < 9; depth++) value = { elementType: T.ARRAY, values: [value] };
  const deep = encodeGguf({ metadata: [{ key: "deep", type: T.ARRAY, value }] });
  await expectGgufError(deep, /nested too deeply/, (e) => assert.equal(e.key, "deep"));
});
