/**
 * Small GGUF files built in code for the reader's tests: one valid file that uses every
 * value type, nested arrays and several tensor types, plus helpers to vary it.
 */
import {
  encodeGguf,
  GgmlType,
  GgufValueType as T,
  type GgufWriteKv,
  type GgufWriteSpec,
  type GgufWriteTensor,
} from "../src/gguf/mod.ts";

/** Bytes 0, 1, 2, ... of the given length, so each tensor's data is recognisable. */
export function pattern(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

/** Metadata of a tiny llama model with every value type represented. */
export function fixtureMetadata(): GgufWriteKv[] {
  return [
    { key: "general.architecture", type: T.STRING, value: "llama" },
    { key: "general.name", type: T.STRING, value: "tiny ✓" },
    { key: "llama.context_length", type: T.UINT32, value: 64 },
    { key: "llama.embedding_length", type: T.UINT32, value: 32 },
    { key: "llama.block_count", type: T.UINT32, value: 1 },
    { key: "llama.feed_forward_length", type: T.UINT32, value: 64 },
    { key: "llama.attention.head_count", type: T.UINT32, value: 4 },
    { key: "llama.attention.head_count_kv", type: T.UINT32, value: 2 },
    { key: "llama.attention.layer_norm_rms_epsilon", type: T.FLOAT32, value: 1e-5 },
    { key: "test.u8", type: T.UINT8, value: 200 },
    { key: "test.i8", type: T.INT8, value: -100 },
    { key: "test.u16", type: T.UINT16, value: 60000 },
    { key: "test.i16", type: T.INT16, value: -30000 },
    { key: "test.i32", type: T.INT32, value: -2000000000 },
    { key: "test.bool", type: T.BOOL, value: true },
    { key: "test.u64", type: T.UINT64, value: 2n ** 63n + 5n },
    { key: "test.i64", type: T.INT64, value: -42n },
    { key: "test.f64", type: T.FLOAT64, value: Math.PI },
    { key: "test.u32s", type: T.ARRAY, value: { elementType: T.UINT32, values: [1, 2, 3] } },
    { key: "test.bools", type: T.ARRAY, value: { elementType: T.BOOL, values: [true, false] } },
    {
      key: "test.nested",
      type: T.ARRAY,
      value: {
        elementType: T.ARRAY,
        values: [
          { elementType: T.INT16, values: [-1, 2] },
          { elementType: T.STRING, values: ["a", "bc"] },
          { elementType: T.ARRAY, values: [{ elementType: T.UINT8, values: [9] }] },
        ],
      },
    },
    { key: "tokenizer.ggml.model", type: T.STRING, value: "llama" },
    {
      key: "tokenizer.ggml.tokens",
      type: T.ARRAY,
      value: { elementType: T.STRING, values: ["<unk>", "<s>", "</s>", "▁a", "é"] },
    },
    {
      key: "tokenizer.ggml.scores",
      type: T.ARRAY,
      value: { elementType: T.FLOAT32, values: [0, 0, 0, -1, -2] },
    },
    {
      key: "tokenizer.ggml.token_type",
      type: T.ARRAY,
      value: { elementType: T.INT32, values: [2, 3, 3, 1, 1] },
    },
    { key: "tokenizer.ggml.padding_token_id", type: T.UINT32, value: 4294967295 },
  ];
}

/** Tensors of four types with distinct data. */
export function fixtureTensors(): GgufWriteTensor[] {
  return [
    { name: "token_embd.weight", ne: [32, 5], type: GgmlType.Q8_0, data: pattern(5 * 34, 1) },
    { name: "output_norm.weight", ne: [32], type: GgmlType.F32, data: pattern(128, 2) },
    { name: "blk.0.attn_q.weight", ne: [32, 32], type: GgmlType.Q4_0, data: pattern(32 * 18, 3) },
    { name: "scalar", ne: [], type: GgmlType.F16, data: pattern(2, 4) },
  ];
}

/** The valid fixture, optionally changed by `edit`. */
export function fixtureSpec(
  edit?: (spec: Required<Omit<GgufWriteSpec, "headerOnly">>) => void,
): GgufWriteSpec {
  const spec = { version: 3, metadata: fixtureMetadata(), tensors: fixtureTensors() };
  edit?.(spec);
  return spec;
}

/** The valid fixture file. */
export function fixtureFile(): Uint8Array {
  return encodeGguf(fixtureSpec());
}
