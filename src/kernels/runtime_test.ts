import assert from "node:assert/strict";
import { GgmlType } from "../gguf/mod.ts";
import { quantizeRow, vecDot } from "./quant.ts";
import { type Kernels, loadKernels, unshareMemoryImport } from "./runtime.ts";

/** Dot product of a Q8_0 row of 0.5s with itself: 64 * 0.25 = 16 before rounding. */
function dotOfHalves(k: Kernels): number {
  const n = 64;
  const x = k.alloc(n * 4);
  k.f32(x, n).fill(0.5);
  const xq = k.alloc(n * 2);
  quantizeRow(k, GgmlType.Q8_0, x, xq, n);
  return vecDot(k, GgmlType.Q8_0, n, xq, xq);
}

for (const target of ["wasm32", "wasm64"] as const) {
  Deno.test(`kernels run on a plain ${target} memory`, async () => {
    const plain = await loadKernels({ target, shared: false });
    const shared = await loadKernels({ target });
    assert.ok(plain.memory.buffer instanceof ArrayBuffer, "memory is an ArrayBuffer");
    assert.ok(shared.memory.buffer instanceof SharedArrayBuffer, "default memory is shared");

    const result = dotOfHalves(plain);
    assert.ok(Math.abs(result - 16) < 0.01, `dot ${result}, expected about 16`);
    assert.equal(result, dotOfHalves(shared));

    const before = Number(plain.memory.buffer.byteLength);
    plain.alloc(before);
    assert.ok(Number(plain.memory.buffer.byteLength) > before, "memory grows");
  });
}

Deno.test("unshareMemoryImport clears only the shared flag", async () => {
  const url = new URL("../../kernels/flint-wasm32-simd128.wasm", import.meta.url);
  const shared = await Deno.readFile(url);
  const plain = unshareMemoryImport(shared);
  assert.equal(plain.length, shared.length);
  const changed = [...plain.keys()].filter((i) => plain[i] !== shared[i]);
  assert.equal(changed.length, 1, "one byte differs");
  assert.equal(shared[changed[0]] & ~plain[changed[0]], 0x02);
  assert.ok(WebAssembly.validate(plain));
});

Deno.test("unshareMemoryImport rejects a module without a memory import", () => {
  // Magic, version and an import section with one function import ("a"."b", type 0).
  const module = new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    0x02,
    0x07,
    0x01,
    0x01,
    0x61,
    0x01,
    0x62,
    0x00,
    0x00,
  ]);
  assert.throws(() => unshareMemoryImport(module), /imports no memory/);
});
