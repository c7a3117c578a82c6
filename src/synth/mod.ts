/**
 * Writes random-weight llama-architecture GGUF files of a named shape and quant mix,
 * for benchmarks: speed does not depend on the weights' values, so a 7B-shaped file
 * measures what a real 7B model would.
 *
 * @module
 */
import { GGML_TYPES, GgmlType, type GgufFile, GgufValueType, readGguf } from "../gguf/mod.ts";
import { canFill, fillBlocks, FillRng } from "./blocks.ts";
import { MIXES, type QuantMix, SHAPES, type SynthShape, tensorType } from "./mix.ts";
import { type SynthTensor, type SynthValue, tensorBytes, writeGguf } from "./writer.ts";

export { MIXES, type QuantMix, SHAPES, type SynthShape, tensorType } from "./mix.ts";
export { encodeHeader, type SynthTensor, type SynthValue, writeGguf } from "./writer.ts";
export { f32ToF16Bits, fillBlocks, FillRng } from "./blocks.ts";

/** The tensors of a llama model in llama.cpp's file order, typed by the mix. */
export function llamaTensors(shape: SynthShape, mix: QuantMix): SynthTensor[] {
  const nEmbdKv = (shape.nEmbd / shape.nHead) * shape.nHeadKv;
  const tensors: SynthTensor[] = [
    { name: "token_embd.weight", ne: [shape.nEmbd, shape.nVocab], type: mix.base },
  ];
  const norm = (name: string): SynthTensor => ({ name, ne: [shape.nEmbd], type: GgmlType.F32 });
  for (let i = 0; i < shape.nLayer; i++) {
    const w = (kind: string, ne: number[]): SynthTensor => ({
      name: `blk.${i}.${kind}.weight`,
      ne,
      type: tensorType(mix, shape, kind, i),
    });
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      w("attn_q", [shape.nEmbd, shape.nEmbd]),
      w("attn_k", [shape.nEmbd, nEmbdKv]),
      w("attn_v", [shape.nEmbd, nEmbdKv]),
      w("attn_output", [shape.nEmbd, shape.nEmbd]),
      norm(`blk.${i}.ffn_norm.weight`),
      w("ffn_gate", [shape.nEmbd, shape.nFf]),
      w("ffn_up", [shape.nEmbd, shape.nFf]),
      w("ffn_down", [shape.nFf, shape.nEmbd]),
    );
  }
  tensors.push(norm("output_norm.weight"), {
    name: "output.weight",
    ne: [shape.nEmbd, shape.nVocab],
    type: tensorType(mix, shape, "output", 0),
  });
  for (const t of tensors) {
    if (!canFill(t.type)) {
      throw new RangeError(`synth cannot write ${GGML_TYPES[t.type].name} for "${t.name}"`);
    }
    const block = GGML_TYPES[t.type].blockSize;
    if (t.ne[0] % block !== 0) {
      throw new RangeError(
        `shape "${shape.name}" does not fit ${mix.name}: "${t.name}" rows of ${
          t.ne[0]
        } are not a multiple of ${block}`,
      );
    }
  }
  return tensors;
}

/** A synthetic SentencePiece-style vocabulary: specials, 256 byte tokens, then words. */
export function syntheticVocab(nVocab: number): [string, SynthValue][] {
  const tokens: string[] = ["<unk>", "<s>", "</s>"];
  const types: number[] = [2, 3, 3];
  for (let b = 0; b < 256 && tokens.length < nVocab; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  const letters = "abcdefghijklmnopqrstuvwxyz";
  for (let i = 0; tokens.length < nVocab; i++) {
    let word = "";
    let n = i;
    do {
      word += letters[n % 26];
      n = Math.floor(n / 26);
    } while (n > 0);
    tokens.push(`\u2581${word}`);
    types.push(1);
  }
  const scores = new Float32Array(nVocab);
  for (let i = 0; i < nVocab; i++) scores[i] = types[i] === 1 ? -i : 0;
  return [
    ["tokenizer.ggml.model", { type: GgufValueType.STRING, value: "llama" }],
    ["tokenizer.ggml.tokens", {
      type: GgufValueType.ARRAY,
      elementType: GgufValueType.STRING,
      value: tokens,
    }],
    ["tokenizer.ggml.scores", {
      type: GgufValueType.ARRAY,
      elementType: GgufValueType.FLOAT32,
      value: scores,
    }],
    ["tokenizer.ggml.token_type", {
      type: GgufValueType.ARRAY,
      elementType: GgufValueType.INT32,
      value: Int32Array.from(types),
    }],
    ["tokenizer.ggml.bos_token_id", { type: GgufValueType.UINT32, value: 1 }],
    ["tokenizer.ggml.eos_token_id", { type: GgufValueType.UINT32, value: 2 }],
    ["tokenizer.ggml.unknown_token_id", { type: GgufValueType.UINT32, value: 0 }],
    ["tokenizer.ggml.add_bos_token", { type: GgufValueType.BOOL, value: true }],
    ["tokenizer.ggml.add_eos_token", { type: GgufValueType.BOOL, value: false }],
  ];
}

/** Copies the `tokenizer.*` keys of a GGUF file (e.g. a vocab-only file). */
export function copyVocab(file: GgufFile): [string, SynthValue][] {
  const out: [string, SynthValue][] = [];
  for (const [key, value] of file.metadata) {
    if (!key.startsWith("tokenizer.")) continue;
    const type = file.metadataTypes.get(key);
    if (type === GgufValueType.ARRAY) {
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
        out.push([key, {
          type,
          elementType: GgufValueType.STRING,
          value: value as string[],
        }]);
      } else if (value instanceof Float32Array) {
        out.push([key, { type, elementType: GgufValueType.FLOAT32, value }]);
      } else if (value instanceof Int32Array) {
        out.push([key, { type, elementType: GgufValueType.INT32, value }]);
      } else if (value instanceof Uint32Array) {
        out.push([key, { type, elementType: GgufValueType.UINT32, value }]);
      }
    } else if (type === GgufValueType.STRING && typeof value === "string") {
      out.push([key, { type, value }]);
    } else if (type === GgufValueType.BOOL && typeof value === "boolean") {
      out.push([key, { type, value }]);
    } else if (
      (type === GgufValueType.UINT32 || type === GgufValueType.INT32 ||
        type === GgufValueType.FLOAT32) && typeof value === "number"
    ) {
      out.push([key, { type, value }]);
    }
  }
  return out;
}

/** Options for `synthesize`. */
export interface SynthOptions {
  /** A GGUF whose `tokenizer.*` keys to copy; its token count must equal the shape's vocab. */
  vocabFrom?: string;
  /** Seed of the filler bytes. Default 1. */
  seed?: number;
  onProgress?: (written: number, total: number) => void;
}

/** Writes a synthetic model to `path`; returns its size in bytes. */
export async function synthesize(
  shapeName: string,
  mixName: string,
  path: string,
  options: SynthOptions = {},
): Promise<number> {
  const shape = SHAPES[shapeName];
  if (!shape) {
    throw new RangeError(
      `unknown shape "${shapeName}": expected one of ${Object.keys(SHAPES).join(", ")}`,
    );
  }
  const mix = MIXES[mixName];
  if (!mix) {
    throw new RangeError(
      `unknown quant mix "${mixName}": expected one of ${Object.keys(MIXES).join(", ")}`,
    );
  }
  let vocab = syntheticVocab(shape.nVocab);
  if (options.vocabFrom) {
    const file = await readGguf(options.vocabFrom);
    for (const s of file.sources) await s.close();
    const tokens = file.metadata.get("tokenizer.ggml.tokens");
    if (!Array.isArray(tokens) || tokens.length !== shape.nVocab) {
      throw new RangeError(
        `vocabulary in "${options.vocabFrom}" has ${
          Array.isArray(tokens) ? tokens.length : 0
        } tokens, expected ${shape.nVocab} for shape "${shape.name}"`,
      );
    }
    vocab = copyVocab(file);
  }

  const u32 = (value: number): SynthValue => ({ type: GgufValueType.UINT32, value });
  const f32 = (value: number): SynthValue => ({ type: GgufValueType.FLOAT32, value });
  const metadata: [string, SynthValue][] = [
    ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
    ["general.name", { type: GgufValueType.STRING, value: `synth-${shape.name}` }],
    ["general.file_type", u32(mix.fileType)],
    ["llama.context_length", u32(shape.nCtxTrain)],
    ["llama.embedding_length", u32(shape.nEmbd)],
    ["llama.block_count", u32(shape.nLayer)],
    ["llama.feed_forward_length", u32(shape.nFf)],
    ["llama.rope.dimension_count", u32(shape.nEmbd / shape.nHead)],
    ["llama.attention.head_count", u32(shape.nHead)],
    ["llama.attention.head_count_kv", u32(shape.nHeadKv)],
    ["llama.attention.layer_norm_rms_epsilon", f32(shape.rmsEps)],
    ["llama.rope.freq_base", f32(shape.ropeFreqBase)],
    ["llama.vocab_size", u32(shape.nVocab)],
  ];
  if (!GGML_FLOAT.has(mix.base)) metadata.push(["general.quantization_version", u32(2)]);
  metadata.push(...vocab);

  const tensors = llamaTensors(shape, mix);
  const rng = new FillRng(options.seed ?? 1);
  const chunkBytes = 8 * 1024 * 1024;
  const largest = Math.max(...tensors.map((t) => tensorBytes(t)));
  const spread = Math.min(1 << 20, largest);
  const pools = new Map<GgmlType, Uint8Array>();
  // One pool of random blocks per type, a bit larger than a chunk; each tensor reads
  // it from a different block-aligned start so neighbouring tensors differ.
  const pool = (type: GgmlType) => {
    let p = pools.get(type);
    if (!p) {
      const block = GGML_TYPES[type].typeSize;
      p = new Uint8Array(
        Math.ceil((Math.min(chunkBytes, largest) + spread) / block) * block + block,
      );
      fillBlocks(type, p.subarray(0, p.length - (p.length % block)), rng);
      pools.set(type, p);
    }
    return p;
  };
  const norms = new Float32Array(shape.nEmbd);
  const fill = (t: SynthTensor, dest: Uint8Array, offset: number) => {
    if (t.ne.length === 1) {
      for (let i = 0; i < norms.length; i++) norms[i] = 1 + rng.signed() * 0.03;
      dest.set(new Uint8Array(norms.buffer, offset, dest.length));
      return;
    }
    const p = pool(t.type);
    const block = GGML_TYPES[t.type].typeSize;
    const start = (rng.next() % Math.max(1, Math.floor(spread / block))) * block + (offset % block);
    dest.set(p.subarray(start, start + dest.length));
  };
  return await writeGguf(path, metadata, tensors, fill, {
    chunkBytes,
    onProgress: options.onProgress,
  });
}

const GGML_FLOAT = new Set([GgmlType.F32, GgmlType.F16, GgmlType.BF16]);
