import assert from "node:assert/strict";
import {
  encodeGguf,
  formatInspect,
  GgmlType,
  GgufError,
  type GgufFile,
  GgufValueType as T,
  llamaHparams,
  readGguf,
  tokenizerMetadata,
} from "./mod.ts";
import { fixtureFile, pattern } from "../../tests/gguf_fixtures.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";

/**
 * Mutation fuzz: small valid files are corrupted at random and parsed. The only error
 * allowed out of the reader and the typed accessors is a GgufError that does not wrap an
 * internal failure. FLINT_FUZZ_SEED and FLINT_FUZZ_ITERATIONS override the defaults.
 */
const SEED = Number(Deno.env.get("FLINT_FUZZ_SEED") ?? 20261204);
const ITERATIONS = Number(Deno.env.get("FLINT_FUZZ_ITERATIONS") ?? 12000);

/** mulberry32: a small seeded generator, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const INTERESTING = [
  0n,
  1n,
  2n,
  3n,
  7n,
  8n,
  9n,
  12n,
  13n,
  31n,
  32n,
  33n,
  255n,
  256n,
  0x7fffn,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  2n ** 40n,
  2n ** 53n,
  2n ** 60n,
  2n ** 63n,
  2n ** 64n - 1n,
];

/** Applies one random mutation; may return a new array of a different length. */
function mutate(input: Uint8Array, random: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  // Most structure sits in the first bytes, so positions favour the header.
  const pos = (n: number) => random() < 0.7 ? pick(Math.min(n, 2048)) : pick(n);
  const bytes = input;
  const n = bytes.length;
  if (n === 0) return new Uint8Array([pick(256)]);
  switch (pick(8)) {
    case 0: {
      bytes[pos(n)] ^= 1 << pick(8);
      return bytes;
    }
    case 1: {
      bytes[pos(n)] = pick(256);
      return bytes;
    }
    case 2:
    case 3: {
      const width = random() < 0.5 ? 4 : 8;
      const at = pos(n);
      if (at + width > n) return bytes;
      let value = INTERESTING[pick(INTERESTING.length)];
      if (random() < 0.2) value = BigInt(n - pick(64));
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      if (width === 4) view.setUint32(at, Number(value & 0xffffffffn), true);
      else view.setBigUint64(at, value & (2n ** 64n - 1n), true);
      return bytes;
    }
    case 4:
      return bytes.slice(0, pick(n));
    case 5: {
      const at = pos(n);
      const insert = new Uint8Array(1 + pick(16)).map(() => pick(256));
      const out = new Uint8Array(n + insert.length);
      out.set(bytes.subarray(0, at));
      out.set(insert, at);
      out.set(bytes.subarray(at), at + insert.length);
      return out;
    }
    case 6: {
      const at = pos(n);
      const length = Math.min(1 + pick(16), n - at);
      const out = new Uint8Array(n - length);
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(at + length), at);
      return out;
    }
    default: {
      const from = pos(n);
      const to = pos(n);
      const length = Math.min(1 + pick(32), n - from, n - to);
      bytes.copyWithin(to, from, from + length);
      return bytes;
    }
  }
}

/** Runs every consumer of a parsed file; each may only throw GgufError. */
function exercise(file: GgufFile): void {
  for (const use of [llamaHparams, tokenizerMetadata, formatInspect]) {
    try {
      use(file);
    } catch (error) {
      if (!(error instanceof GgufError)) throw error;
    }
  }
  for (const t of file.tensors) {
    if (t.fileOffset + t.nBytes > file.parts[0].size) throw new Error(`${t.name} past end`);
  }
}

async function fuzz(corpus: Uint8Array[], iterations: number, seed: number) {
  const random = rng(seed);
  let parsed = 0;
  let rejected = 0;
  for (let i = 0; i < iterations; i++) {
    let bytes: Uint8Array = corpus[i % corpus.length].slice();
    const rounds = 1 + Math.floor(random() * 4);
    for (let r = 0; r < rounds; r++) bytes = mutate(bytes, random);
    try {
      exercise(await readGguf(bytes, { name: "fuzz" }));
      parsed++;
    } catch (error) {
      const context = `seed ${seed}, iteration ${i}`;
      assert.ok(error instanceof GgufError, `${context}: ${error}`);
      assert.equal(error.cause, undefined, `${context}: internal error ${error.cause}`);
      rejected++;
    }
  }
  return { parsed, rejected };
}

/** Valid files of different shapes: every value type, tensors only, metadata only. */
function corpus(): Uint8Array[] {
  return [
    fixtureFile(),
    encodeGguf({
      metadata: [{ key: "general.alignment", type: T.UINT32, value: 64 }],
      tensors: [
        { name: "a", ne: [256, 2], type: GgmlType.Q4_K, data: pattern(288) },
        { name: "b", ne: [3, 1, 1, 2], type: GgmlType.I8, data: pattern(6) },
      ],
    }),
    encodeGguf({
      version: 2,
      metadata: [
        { key: "s", type: T.STRING, value: "héllo" },
        {
          key: "n",
          type: T.ARRAY,
          value: {
            elementType: T.ARRAY,
            values: [{ elementType: T.FLOAT64, values: [1.5] }, {
              elementType: T.BOOL,
              values: [],
            }],
          },
        },
      ],
    }),
  ];
}

Deno.test("readGguf mutation fuzz lets only GgufError escape", async () => {
  const { parsed, rejected } = await fuzz(corpus(), ITERATIONS, SEED);
  assert.equal(parsed + rejected, ITERATIONS);
  // Both outcomes occur, so the mutations neither break everything nor nothing.
  assert.ok(parsed > ITERATIONS / 100, `${parsed} parsed`);
  assert.ok(rejected > ITERATIONS / 10, `${rejected} rejected`);
});

Deno.test({
  name: "readGguf mutation fuzz over stories260K",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const file = await Deno.readFile(testdataPath("models/stories260K.gguf"));
    const { parsed, rejected } = await fuzz([file], 1000, SEED + 1);
    assert.equal(parsed + rejected, 1000);
  },
});
