/**
 * Binds a GGUF file's tensors to the llama layout: checks every shape and type, then
 * reads the data straight from the file into the kernels' memory, once.
 */
import {
  GGML_TYPES,
  type GgmlType,
  ggmlTypeName,
  type GgufFile,
  type GgufTensorInfo,
  readTensorInto,
} from "../gguf/mod.ts";
import { GgmlType as T } from "../gguf/mod.ts";
import {
  INTERLEAVED_4,
  isInterleaveSupported,
  isLanesSupported,
  isSegmentSupported,
  isSupportedWeightType,
  LANES,
  repackLanes,
  repackRows4,
  repackSegments,
  SEGMENT_ROWS,
  SEGMENTED,
} from "../kernels/quant.ts";
import type { Kernels } from "../kernels/runtime.ts";
import { ModelError } from "./errors.ts";
import type { LlamaHparams } from "./hparams.ts";

/** A tensor in kernel memory: `ne1` rows of `ne0` elements, `rowBytes` apart. */
export interface Weight {
  name: string;
  type: GgmlType;
  /** `type` plus the kernels' layout flags (`LANES`, `SEGMENTED`) for repacked data. */
  kernelType: number;
  /** Byte address in kernel memory. */
  ptr: number;
  ne0: number;
  ne1: number;
  rowBytes: number;
}

/** One transformer block's weights; shapes as GGUF `[ne0, ne1]`. */
export interface LayerWeights {
  /** [n_embd] F32 */
  attnNorm: Weight;
  /** [n_embd, n_embd] */
  attnQ: Weight;
  /** [n_embd, n_embd_kv] */
  attnK: Weight;
  /** [n_embd, n_embd_kv] */
  attnV: Weight;
  /** [n_embd, n_embd] */
  attnOutput: Weight;
  /** [n_embd] F32 */
  ffnNorm: Weight;
  /** [n_embd, n_ff] */
  ffnGate: Weight;
  /** [n_embd, n_ff] */
  ffnUp: Weight;
  /** [n_ff, n_embd] */
  ffnDown: Weight;
}

/** All weights of a llama model. */
export interface LlamaWeights {
  /** [n_embd, n_vocab] */
  tokenEmbd: Weight;
  layers: LayerWeights[];
  /** [n_embd] F32 */
  outputNorm: Weight;
  /** [n_embd, n_vocab]; the token embedding itself when the file has no `output.weight`. */
  output: Weight;
}

interface Planned {
  info: GgufTensorInfo;
  /** Norm vectors must be F32; matrices any type the kernels implement. */
  kind: "norm" | "matrix";
}

const fmtShape = (ne: readonly number[]) => `[${ne.join(", ")}]`;

/** Tensor names this loader reads and the shapes they must have. */
function expectedTensors(hp: LlamaHparams): Map<string, { ne: number[]; kind: Planned["kind"] }> {
  const m = new Map<string, { ne: number[]; kind: Planned["kind"] }>();
  const matrix = (name: string, ne: number[]) => m.set(name, { ne, kind: "matrix" });
  const norm = (name: string) => m.set(name, { ne: [hp.nEmbd], kind: "norm" });
  matrix("token_embd.weight", [hp.nEmbd, hp.nVocab]);
  for (let i = 0; i < hp.nLayer; i++) {
    norm(`blk.${i}.attn_norm.weight`);
    matrix(`blk.${i}.attn_q.weight`, [hp.nEmbd, hp.nEmbd]);
    matrix(`blk.${i}.attn_k.weight`, [hp.nEmbd, hp.nEmbdKv]);
    matrix(`blk.${i}.attn_v.weight`, [hp.nEmbd, hp.nEmbdKv]);
    matrix(`blk.${i}.attn_output.weight`, [hp.nEmbd, hp.nEmbd]);
    norm(`blk.${i}.ffn_norm.weight`);
    matrix(`blk.${i}.ffn_gate.weight`, [hp.nEmbd, hp.nFf]);
    matrix(`blk.${i}.ffn_up.weight`, [hp.nEmbd, hp.nFf]);
    matrix(`blk.${i}.ffn_down.weight`, [hp.nFf, hp.nEmbd]);
  }
  norm("output_norm.weight");
  matrix("output.weight", [hp.nEmbd, hp.nVocab]);
  return m;
}

/** Tensors llama.cpp's llama graph does not read; present in some files, ignored here. */
const OPTIONAL_UNUSED = /^(rope_freqs\.weight|blk\.\d+\.attn_rot_embd\.weight)$/;

/** The result of checking a file: the tensors to read, and the names that were ignored. */
export interface WeightPlan {
  tensors: Map<string, Planned>;
  /** True when there is no `output.weight` and the token embedding doubles as it. */
  tiedOutput: boolean;
  /** Tensors in the file that the model does not use. */
  unused: string[];
  /** Bytes of tensor data to load. */
  totalBytes: number;
}

/**
 * Checks that every tensor the model needs is present with the right shape and a
 * type the kernels implement. Throws `ModelError` naming the tensor and both shapes.
 */
export function planWeights(file: GgufFile, hp: LlamaHparams): WeightPlan {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const tensors = new Map<string, Planned>();
  let tiedOutput = false;
  let totalBytes = 0;
  for (const [name, want] of expectedTensors(hp)) {
    const info = byName.get(name);
    if (!info) {
      // Only a missing output matrix has a fallback: llama.cpp ties it to token_embd.
      if (name === "output.weight") {
        tiedOutput = true;
        continue;
      }
      throw new ModelError("missing tensor", {
        source: file.source,
        tensor: name,
        expected: `shape ${fmtShape(want.ne)}`,
      });
    }
    const ne = [...info.ne];
    while (ne.length > want.ne.length && ne[ne.length - 1] === 1) ne.pop();
    if (ne.length !== want.ne.length || ne.some((d, i) => d !== want.ne[i])) {
      throw new ModelError("tensor has the wrong shape", {
        source: file.source,
        tensor: name,
        found: fmtShape(info.ne),
        expected: fmtShape(want.ne),
      });
    }
    if (want.kind === "norm" ? info.type !== T.F32 : !isSupportedWeightType(info.type)) {
      throw new ModelError("tensor has an unsupported type", {
        source: file.source,
        tensor: name,
        found: ggmlTypeName(info.type),
        expected: want.kind === "norm" ? "F32" : "a type the kernels implement",
      });
    }
    tensors.set(name, { info, kind: want.kind });
    totalBytes += info.nBytes;
  }
  const unused = file.tensors.filter((t) => !tensors.has(t.name)).map((t) => t.name);
  return { tensors, tiedOutput, unused, totalBytes };
}

/** True when `name` is a tensor llama.cpp also ignores for this architecture. */
export function isKnownUnused(name: string): boolean {
  return OPTIONAL_UNUSED.test(name);
}

/**
 * Reads every planned tensor into kernel memory and returns the bound weights.
 * `onProgress` is called after each tensor with the bytes read so far. With `repack`
 * (the default) matrices go into the kernels' faster layouts: Q2_K, Q3_K, Q4_K, Q5_K and
 * Q6_K blocks in lane order, rows over 32 blocks in column segments, and the four-row
 * types' rows interleaved in fours. Without it every matrix stays as in the file, which
 * the ggml-order kernels need.
 */
export async function loadWeights(
  file: GgufFile,
  hp: LlamaHparams,
  plan: WeightPlan,
  kernels: Kernels,
  onProgress?: (loadedBytes: number, totalBytes: number) => void,
  repack = true,
): Promise<LlamaWeights> {
  const loaded = new Map<string, Weight>();
  let done = 0;
  let repackTmp = 0;
  for (const [name, { info }] of plan.tensors) {
    const ptr = kernels.alloc(info.nBytes, 64);
    // A fresh view each time: the memory may have grown since the last one.
    await readTensorInto(file, info, kernels.u8(ptr, info.nBytes));
    const { blockSize, typeSize } = GGML_TYPES[info.type];
    const ne0 = info.ne[0];
    const ne1 = info.ne.length > 1 ? info.ne[1] : 1;
    const rowBytes = (ne0 / blockSize) * typeSize;
    let kernelType: number = info.type;
    // token_embd is only read row by row, unless it doubles as the output matrix.
    const product = name !== "token_embd.weight" || plan.tiedOutput;
    if (repack && product && isLanesSupported(kernels, info.type)) {
      repackLanes(kernels, info.type, ptr, info.nBytes / typeSize);
      kernelType |= LANES;
    }
    // The block format after the lanes repack decides segments: lanes Q5_K has segment
    // kernels, the file's Q5_K has not.
    if (repack && segmentWorthwhile(kernels, kernelType as GgmlType, ne0, ne1, blockSize)) {
      repackTmp ||= kernels.alloc(SEGMENT_ROWS * maxRowBytes(plan), 64);
      repackSegments(kernels, kernelType as GgmlType, ptr, rowBytes, ne0, ne1, repackTmp);
      kernelType |= SEGMENTED;
    } else if (repack && product && ne1 % 4 === 0 && isInterleaveSupported(kernels, info.type)) {
      // The four-row kernels (Q4_0, Q4_1, Q5_1, Q8_0, IQ4_NL) read four separate row
      // streams otherwise, at about half the speed once the matrix is out of cache.
      repackTmp ||= kernels.alloc(SEGMENT_ROWS * maxRowBytes(plan), 64);
      repackRows4(kernels, info.type, ptr, rowBytes, ne1, repackTmp);
      kernelType |= INTERLEAVED_4;
    }
    loaded.set(name, { name, type: info.type, kernelType, ptr, ne0, ne1, rowBytes });
    done += info.nBytes;
    onProgress?.(done, plan.totalBytes);
  }
  const get = (name: string) => loaded.get(name)!;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < hp.nLayer; i++) {
    const b = `blk.${i}.`;
    layers.push({
      attnNorm: get(`${b}attn_norm.weight`),
      attnQ: get(`${b}attn_q.weight`),
      attnK: get(`${b}attn_k.weight`),
      attnV: get(`${b}attn_v.weight`),
      attnOutput: get(`${b}attn_output.weight`),
      ffnNorm: get(`${b}ffn_norm.weight`),
      ffnGate: get(`${b}ffn_gate.weight`),
      ffnUp: get(`${b}ffn_up.weight`),
      ffnDown: get(`${b}ffn_down.weight`),
    });
  }
  const tokenEmbd = get("token_embd.weight");
  return {
    tokenEmbd,
    layers,
    outputNorm: get("output_norm.weight"),
    output: plan.tiedOutput ? tokenEmbd : get("output.weight"),
  };
}

/**
 * Tells whether a matrix gets the kernels' segmented layout. Rows over 32 blocks (8192
 * values of a K-quant, as ffn_down's n_ff-wide rows) lose speed once their activations
 * no longer fit L1 beside the streaming weights, and the layout avoids that.
 */
function segmentWorthwhile(
  kernels: Kernels,
  type: GgmlType,
  ne0: number,
  ne1: number,
  blockSize: number,
): boolean {
  return ne0 / blockSize > 32 && ne1 % SEGMENT_ROWS === 0 && isSegmentSupported(kernels, type);
}

/** Bytes of the longest row among the planned tensors. */
function maxRowBytes(plan: WeightPlan): number {
  let max = 0;
  for (const { info } of plan.tensors.values()) {
    const { blockSize, typeSize } = GGML_TYPES[info.type];
    max = Math.max(max, (info.ne[0] / blockSize) * typeSize);
  }
  return max;
}
