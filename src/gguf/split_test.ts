import assert from "node:assert/strict";
import {
  closeGguf,
  encodeGguf,
  GgmlType,
  GgufError,
  GgufValueType as T,
  type GgufWriteKv,
  type GgufWriteTensor,
  parseSplitName,
  readGguf,
  readTensor,
  splitPartName,
} from "./mod.ts";
import { pattern } from "../../tests/gguf_fixtures.ts";

interface PartOptions {
  no?: number;
  count?: number;
  tensorsCount?: number;
  omitSplitKeys?: boolean;
}

function splitKeys(no: number, count: number, tensorsCount: number): GgufWriteKv[] {
  return [
    { key: "split.no", type: T.UINT16, value: no },
    { key: "split.count", type: T.UINT16, value: count },
    { key: "split.tensors.count", type: T.INT32, value: tensorsCount },
  ];
}

const TENSORS: GgufWriteTensor[][] = [
  [
    { name: "token_embd.weight", ne: [32, 4], type: GgmlType.Q8_0, data: pattern(4 * 34, 1) },
    { name: "output_norm.weight", ne: [32], type: GgmlType.F32, data: pattern(128, 2) },
  ],
  [{ name: "blk.0.attn_q.weight", ne: [32, 32], type: GgmlType.Q4_0, data: pattern(576, 3) }],
  [{ name: "output.weight", ne: [32, 4], type: GgmlType.F16, data: pattern(256, 4) }],
];

/** Encodes part `i` (from 0) of a three-part model, with optional wrong split keys. */
function part(
  i: number,
  options: PartOptions = {},
  tensors = TENSORS[i],
): Uint8Array<ArrayBuffer> {
  const keys = options.omitSplitKeys
    ? []
    : splitKeys(options.no ?? i, options.count ?? 3, options.tensorsCount ?? 4);
  const metadata: GgufWriteKv[] = i === 0
    ? [{ key: "general.architecture", type: T.STRING, value: "llama" }, ...keys]
    : keys;
  return encodeGguf({ metadata, tensors });
}

/** Writes parts into a new temp dir and returns the path of each. */
async function writeParts(parts: Uint8Array[], count = parts.length): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "flint-split-" });
  const paths: string[] = [];
  for (const [i, bytes] of parts.entries()) {
    const path = `${dir}/model-${String(i + 1).padStart(5, "0")}-of-${
      String(count).padStart(5, "0")
    }.gguf`;
    await Deno.writeFile(path, bytes);
    paths.push(path);
  }
  return paths;
}

async function removeParts(paths: string[]): Promise<void> {
  await Deno.remove(paths[0].slice(0, paths[0].lastIndexOf("/")), { recursive: true });
}

async function expectSplitError(
  read: () => Promise<unknown>,
  message: RegExp,
  check: (e: GgufError) => void = () => {},
): Promise<void> {
  await assert.rejects(read, (error) => {
    assert.ok(error instanceof GgufError, String(error));
    assert.match(error.message, message);
    check(error);
    return true;
  });
}

Deno.test("splitPartName and parseSplitName", () => {
  assert.deepEqual(parseSplitName("/m/x-00002-of-00003.gguf"), { no: 2, count: 3 });
  assert.equal(parseSplitName("/m/x.gguf"), undefined);
  assert.equal(splitPartName("/m/x-00001-of-00003.gguf", 3, 3), "/m/x-00003-of-00003.gguf");
  assert.equal(
    splitPartName("https://h.example/r/x-00001-of-00012.gguf?download=1", 12, 12),
    "https://h.example/r/x-00012-of-00012.gguf?download=1",
  );
});

Deno.test("readGguf merges the parts of a split model", async () => {
  const paths = await writeParts([part(0), part(1), part(2)]);
  try {
    const file = await readGguf(paths[0]);
    assert.equal(file.sources.length, 3);
    assert.deepEqual(file.parts.map((p) => p.source), paths);
    assert.deepEqual(file.parts.map((p) => p.tensorCount), [2, 1, 1]);
    assert.deepEqual(file.tensors.map((t) => t.split), [0, 0, 1, 2]);
    assert.equal(file.metadata.get("general.architecture"), "llama");
    const written = TENSORS.flat();
    for (const [i, t] of file.tensors.entries()) {
      assert.equal(t.name, written[i].name);
      assert.deepEqual(await readTensor(file, t), written[i].data, t.name);
    }
    await closeGguf(file);
  } finally {
    await removeParts(paths);
  }
});

Deno.test("readGguf takes split parts as an array", async () => {
  const file = await readGguf([part(0), part(1), part(2)], { name: "mem" });
  assert.equal(file.tensors.length, 4);
  assert.deepEqual(await readTensor(file, file.tensors[3]), TENSORS[2][0].data);
  assert.deepEqual(file.parts.map((p) => p.source), ["mem", "mem part 2", "mem part 3"]);
  await expectSplitError(() => readGguf([part(0), part(1)]), /disagree on the part count/);
  await expectSplitError(() => readGguf([part(0)]), /disagree on the part count/);
  await expectSplitError(() => readGguf([part(1), part(0), part(2)]), /out of order/);
});

Deno.test("readGguf points a later part to the first", async () => {
  const paths = await writeParts([part(0), part(1), part(2)]);
  try {
    await expectSplitError(() => readGguf(paths[1]), /not the first part/, (e) => {
      assert.match(e.hint!, /model-00001-of-00003\.gguf/);
    });
    const alone = await readGguf(paths[1], { splits: false });
    assert.equal(alone.tensors.length, 1);
    await closeGguf(alone);
  } finally {
    await removeParts(paths);
  }
});

Deno.test("readGguf reports a missing split part", async () => {
  const paths = await writeParts([part(0), part(1)], 3);
  try {
    await expectSplitError(() => readGguf(paths[0]), /cannot open file/, (e) => {
      assert.match(e.source, /model-00003-of-00003\.gguf$/);
    });
  } finally {
    await removeParts(paths);
  }
});

Deno.test("readGguf checks the split keys of every part", async () => {
  const cases: [Uint8Array[], RegExp, string][] = [
    [[part(0), part(1, { no: 2 }), part(2)], /out of order/, "split.no"],
    [[part(0), part(1, { count: 4 }), part(2)], /disagree on the part count/, "split.count"],
    [[part(0, { tensorsCount: 5 }), part(1), part(2)], /different number of tensors/, ""],
    [[part(0), part(1, { omitSplitKeys: true }), part(2)], /lacks its split keys/, "split.no"],
    [[part(0, { count: 2 }), part(1), part(2)], /differs from the file name/, "split.count"],
  ];
  for (const [parts, message, key] of cases) {
    const paths = await writeParts(parts);
    try {
      await expectSplitError(() => readGguf(paths[0]), message, (e) => {
        if (key) assert.equal(e.key, key);
      });
    } finally {
      await removeParts(paths);
    }
  }
});

Deno.test("readGguf rejects a tensor stored in two parts", async () => {
  const parts = [part(0), part(1), part(2, {}, [TENSORS[1][0]])];
  await expectSplitError(() => readGguf(parts), /tensor appears in two split parts/, (e) => {
    assert.equal(e.tensor, "blk.0.attn_q.weight");
  });
});

Deno.test("readGguf needs split.count in a file named as a part", async () => {
  const paths = await writeParts([part(0, { omitSplitKeys: true })], 3);
  try {
    await expectSplitError(() => readGguf(paths[0]), /lacks split.count/);
    const alone = await readGguf(paths[0], { splits: false });
    assert.equal(alone.tensors.length, 2);
    await closeGguf(alone);
  } finally {
    await removeParts(paths);
  }
});

Deno.test("readGguf needs every part of an unnamed split model", async () => {
  await expectSplitError(() => readGguf(part(0)), /one part of a split model/, (e) => {
    assert.match(e.hint!, /as an array/);
  });
});

Deno.test("readGguf finds split parts over http", async () => {
  const files: Record<string, Uint8Array<ArrayBuffer>> = {};
  [part(0), part(1), part(2)].forEach((bytes, i) => {
    files[`/models/m-0000${i + 1}-of-00003.gguf`] = bytes;
  });
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    seen.push(url.pathname + url.search);
    const bytes = files[url.pathname];
    if (!bytes) return new Response("not found", { status: 404 });
    return new Response(bytes, { headers: { "content-length": String(bytes.length) } });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}/models/`;
    const file = await readGguf(`${base}m-00001-of-00003.gguf?rev=main`);
    assert.equal(file.tensors.length, 4);
    assert.deepEqual(await readTensor(file, file.tensors[3]), TENSORS[2][0].data);
    assert.deepEqual([...new Set(seen)], [
      "/models/m-00001-of-00003.gguf?rev=main",
      "/models/m-00002-of-00003.gguf?rev=main",
      "/models/m-00003-of-00003.gguf?rev=main",
    ]);
    await closeGguf(file);
  } finally {
    await server.shutdown();
  }
});
