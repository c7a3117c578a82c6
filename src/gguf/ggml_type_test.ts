import assert from "node:assert/strict";
import { GGML_TYPES, GgmlType, ggmlTypeFromName, isGgmlType, rowBytes } from "./mod.ts";

/** [id, name, block size, bytes per block] for every type ggml defines (ggml 0.21.0). */
const EXPECTED: [number, string, number, number][] = [
  [0, "F32", 1, 4],
  [1, "F16", 1, 2],
  [2, "Q4_0", 32, 18],
  [3, "Q4_1", 32, 20],
  [6, "Q5_0", 32, 22],
  [7, "Q5_1", 32, 24],
  [8, "Q8_0", 32, 34],
  [9, "Q8_1", 32, 36],
  [10, "Q2_K", 256, 84],
  [11, "Q3_K", 256, 110],
  [12, "Q4_K", 256, 144],
  [13, "Q5_K", 256, 176],
  [14, "Q6_K", 256, 210],
  [15, "Q8_K", 256, 292],
  [16, "IQ2_XXS", 256, 66],
  [17, "IQ2_XS", 256, 74],
  [18, "IQ3_XXS", 256, 98],
  [19, "IQ1_S", 256, 50],
  [20, "IQ4_NL", 32, 18],
  [21, "IQ3_S", 256, 110],
  [22, "IQ2_S", 256, 82],
  [23, "IQ4_XS", 256, 136],
  [24, "I8", 1, 1],
  [25, "I16", 1, 2],
  [26, "I32", 1, 4],
  [27, "I64", 1, 8],
  [28, "F64", 1, 8],
  [29, "IQ1_M", 256, 56],
  [30, "BF16", 1, 2],
  [34, "TQ1_0", 256, 54],
  [35, "TQ2_0", 256, 66],
  [39, "MXFP4", 32, 17],
  [40, "NVFP4", 64, 36],
  [41, "Q1_0", 128, 18],
  [42, "Q2_0", 64, 18],
];

Deno.test("GGML_TYPES pins every block size and type size", () => {
  for (const [id, name, blockSize, typeSize] of EXPECTED) {
    assert.ok(isGgmlType(id), `type ${id} (${name}) is known`);
    assert.deepEqual(GGML_TYPES[id as GgmlType], { name, blockSize, typeSize }, name);
    assert.equal(GgmlType[name as keyof typeof GgmlType], id, `GgmlType.${name}`);
    assert.equal(ggmlTypeFromName(name), id);
  }
  assert.equal(Object.keys(GGML_TYPES).length, EXPECTED.length, "no extra types");
});

Deno.test("isGgmlType rejects retired and unknown ids", () => {
  for (const id of [4, 5, 31, 32, 33, 36, 37, 38, 43, 100, -1, 1.5, NaN]) {
    assert.equal(isGgmlType(id), false, `id ${id}`);
  }
});

Deno.test("rowBytes of a Q4_K row", () => {
  assert.equal(rowBytes(GgmlType.Q4_K, 4096), 16 * 144);
  assert.equal(rowBytes(GgmlType.F16, 10), 20);
});
