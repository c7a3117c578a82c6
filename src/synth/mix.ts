/**
 * Model shapes and llama-quantize's per-tensor type choices for the llama
 * architecture, so a synthetic file has the tensor types a real quantized model has.
 * The rules follow llama.cpp's `llama_tensor_get_type` (tag b10573) for the tensors a
 * llama model has, without an importance matrix.
 */
import { GgmlType } from "../gguf/mod.ts";

/** Hyperparameters of a synthetic llama-architecture model. */
export interface SynthShape {
  name: string;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  nVocab: number;
  nCtxTrain: number;
  ropeFreqBase: number;
  rmsEps: number;
}

/** Named shapes: real architectures plus small ones for tests. */
export const SHAPES: Record<string, SynthShape> = {
  "mistral-7b": {
    name: "mistral-7b",
    nEmbd: 4096,
    nLayer: 32,
    nHead: 32,
    nHeadKv: 8,
    nFf: 14336,
    nVocab: 32000,
    nCtxTrain: 32768,
    ropeFreqBase: 10000,
    rmsEps: 1e-5,
  },
  "tinyllama-1.1b": {
    name: "tinyllama-1.1b",
    nEmbd: 2048,
    nLayer: 22,
    nHead: 32,
    nHeadKv: 4,
    nFf: 5632,
    nVocab: 32000,
    nCtxTrain: 2048,
    ropeFreqBase: 10000,
    rmsEps: 1e-5,
  },
  "small-32k": {
    name: "small-32k",
    nEmbd: 512,
    nLayer: 4,
    nHead: 8,
    nHeadKv: 2,
    nFf: 1536,
    nVocab: 32000,
    nCtxTrain: 4096,
    ropeFreqBase: 10000,
    rmsEps: 1e-5,
  },
  "micro": {
    name: "micro",
    nEmbd: 256,
    nLayer: 2,
    nHead: 8,
    nHeadKv: 2,
    nFf: 768,
    nVocab: 512,
    nCtxTrain: 2048,
    ropeFreqBase: 10000,
    rmsEps: 1e-5,
  },
};

/** A llama-quantize file type: its `general.file_type` id and base tensor type. */
export interface QuantMix {
  name: string;
  fileType: number;
  base: GgmlType;
}

/** llama.cpp's `llama_ftype` values for the mixes synth can write. */
export const MIXES: Record<string, QuantMix> = {
  F32: { name: "F32", fileType: 0, base: GgmlType.F32 },
  F16: { name: "F16", fileType: 1, base: GgmlType.F16 },
  BF16: { name: "BF16", fileType: 32, base: GgmlType.BF16 },
  Q4_0: { name: "Q4_0", fileType: 2, base: GgmlType.Q4_0 },
  Q4_1: { name: "Q4_1", fileType: 3, base: GgmlType.Q4_1 },
  Q8_0: { name: "Q8_0", fileType: 7, base: GgmlType.Q8_0 },
  Q5_0: { name: "Q5_0", fileType: 8, base: GgmlType.Q5_0 },
  Q5_1: { name: "Q5_1", fileType: 9, base: GgmlType.Q5_1 },
  Q2_K: { name: "Q2_K", fileType: 10, base: GgmlType.Q2_K },
  Q3_K_S: { name: "Q3_K_S", fileType: 11, base: GgmlType.Q3_K },
  Q3_K_M: { name: "Q3_K_M", fileType: 12, base: GgmlType.Q3_K },
  Q3_K_L: { name: "Q3_K_L", fileType: 13, base: GgmlType.Q3_K },
  Q4_K_S: { name: "Q4_K_S", fileType: 14, base: GgmlType.Q4_K },
  Q4_K_M: { name: "Q4_K_M", fileType: 15, base: GgmlType.Q4_K },
  Q5_K_S: { name: "Q5_K_S", fileType: 16, base: GgmlType.Q5_K },
  Q5_K_M: { name: "Q5_K_M", fileType: 17, base: GgmlType.Q5_K },
  Q6_K: { name: "Q6_K", fileType: 18, base: GgmlType.Q6_K },
  IQ4_NL: { name: "IQ4_NL", fileType: 25, base: GgmlType.IQ4_NL },
  IQ4_XS: { name: "IQ4_XS", fileType: 30, base: GgmlType.IQ4_XS },
};

/** The layers that Q4_K_M and Q5_K_M give more bits: first and last eighth, every third between. */
function useMoreBits(iLayer: number, nLayer: number): boolean {
  return iLayer < Math.floor(nLayer / 8) || iLayer >= Math.floor((7 * nLayer) / 8) ||
    (iLayer - Math.floor(nLayer / 8)) % 3 === 2;
}

const FLOAT_TYPES = new Set([GgmlType.F32, GgmlType.F16, GgmlType.BF16]);

/**
 * Type llama-quantize gives a 2-D weight. `kind` is the tensor name without `blk.N.`
 * and `.weight`; `iLayer` is the block number (ignored for whole-model tensors).
 */
export function tensorType(
  mix: QuantMix,
  shape: SynthShape,
  kind: string,
  iLayer: number,
): GgmlType {
  const base = mix.base;
  if (FLOAT_TYPES.has(base)) return base;
  const nGqa = shape.nHead / shape.nHeadKv;
  const n = shape.nLayer;
  const f = mix.name;
  switch (kind) {
    case "output":
      return base === GgmlType.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
    case "attn_v":
      if (f === "Q2_K") return nGqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
      if (f === "Q3_K_M") return iLayer < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
      if (f === "Q3_K_L") return GgmlType.Q5_K;
      if ((f === "IQ4_NL" || f === "IQ4_XS") && nGqa >= 4) return GgmlType.Q5_K;
      if ((f === "Q4_K_M" || f === "Q5_K_M") && useMoreBits(iLayer, n)) return GgmlType.Q6_K;
      if (f === "Q4_K_S" && iLayer < 4) return GgmlType.Q5_K;
      return base;
    case "ffn_down":
      if (f === "Q2_K") return GgmlType.Q3_K;
      if (f === "Q3_K_M") return iLayer < Math.floor(n / 16) ? GgmlType.Q5_K : GgmlType.Q4_K;
      if (f === "Q3_K_L") return GgmlType.Q5_K;
      if ((f === "Q4_K_M" || f === "Q5_K_M") && useMoreBits(iLayer, n)) return GgmlType.Q6_K;
      if (f === "Q4_K_S" && iLayer < Math.floor(n / 8)) return GgmlType.Q5_K;
      return base;
    case "attn_output":
      if (f === "Q2_K") return GgmlType.Q3_K;
      if (f === "Q3_K_M") return GgmlType.Q4_K;
      if (f === "Q3_K_L") return GgmlType.Q5_K;
      return base;
    default:
      return base;
  }
}
