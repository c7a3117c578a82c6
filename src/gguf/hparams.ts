import {
  invalidKey,
  missingKey,
  optionalFloat,
  optionalInteger,
  optionalString,
} from "./metadata.ts";
import { type GgufFile, GgufValueType } from "./types.ts";

/**
 * Hyperparameters of a llama-family model, named as llama.cpp names them. Keys are read
 * under the `<arch>.` prefix, where arch is `general.architecture`.
 */
export interface GgufHparams {
  /** `general.architecture`, e.g. `llama`. */
  arch: string;
  /** `general.name`, when present. */
  name?: string;
  /** Context length the model was trained with (`<arch>.context_length`). */
  nCtxTrain: number;
  /** `<arch>.embedding_length`. */
  nEmbd: number;
  /** `<arch>.block_count`. */
  nLayer: number;
  /** `<arch>.attention.head_count`. */
  nHead: number;
  /** `<arch>.attention.head_count_kv`; defaults to nHead. */
  nHeadKv: number;
  /** `<arch>.feed_forward_length`. */
  nFf: number;
  /** Size of one K head (`<arch>.attention.key_length`, default nEmbd / nHead). */
  nEmbdHeadK: number;
  /** Size of one V head (`<arch>.attention.value_length`, default nEmbd / nHead). */
  nEmbdHeadV: number;
  /** Dimensions RoPE rotates per head (`<arch>.rope.dimension_count`, default nEmbdHeadK). */
  nRot: number;
  /** `<arch>.rope.freq_base`; 10000 when absent. */
  ropeFreqBase: number;
  /**
   * RoPE position scale: 1 / `<arch>.rope.scaling.factor` (or the older
   * `<arch>.rope.scale_linear`); 1 when absent or 0.
   */
  ropeFreqScale: number;
  /** `<arch>.rope.scaling.type`; `linear` when absent, as in llama.cpp. */
  ropeScalingType: string;
  /** RMSNorm epsilon (`<arch>.attention.layer_norm_rms_epsilon`). */
  fNormRmsEps: number;
  /** `<arch>.vocab_size`, else the length of `tokenizer.ggml.tokens`. */
  nVocab: number;
  /** `<arch>.expert_count`; 0 for a dense model. */
  nExpert: number;
  /** `<arch>.expert_used_count`; 0 for a dense model. */
  nExpertUsed: number;
  /** `general.file_type` (llama.cpp's `llama_ftype`), when present. */
  fileType?: number;
}

function requiredInteger(file: GgufFile, key: string, min: number): number {
  const value = optionalInteger(file, key, min);
  if (value === undefined) missingKey(file, key, `an integer >= ${min}`);
  return value;
}

/**
 * Reads a per-layer count stored as one integer or as an array with one value per layer.
 * flint runs models whose layers all share the value, so an array must be uniform.
 */
function layerInteger(file: GgufFile, key: string, nLayer: number): number | undefined {
  if (file.metadataTypes.get(key) !== GgufValueType.ARRAY) return optionalInteger(file, key, 1);
  const values = file.metadata.get(key);
  if (!(values instanceof Int32Array || values instanceof Uint32Array)) {
    invalidKey(file, key, "an integer or an INT32/UINT32 array");
  }
  if (values.length !== nLayer) invalidKey(file, key, `one value per layer (${nLayer})`);
  if (values.some((v) => v !== values[0]) || values[0] < 1) {
    invalidKey(file, key, "the same positive value for every layer");
  }
  return values[0];
}

/**
 * Reads the llama-family hyperparameters with llama.cpp's defaults. Throws a GgufError
 * naming the key when one is missing or invalid. `head_count` and
 * `feed_forward_length` are required here, because a forward pass cannot run without
 * them; llama.cpp defaults them to 0 and fails later.
 */
export function llamaHparams(file: GgufFile): GgufHparams {
  const arch = optionalString(file, "general.architecture");
  if (arch === undefined) missingKey(file, "general.architecture", 'a STRING such as "llama"');
  const k = (name: string) => `${arch}.${name}`;

  const nLayer = requiredInteger(file, k("block_count"), 1);
  const nEmbd = requiredInteger(file, k("embedding_length"), 1);
  const nHead = layerInteger(file, k("attention.head_count"), nLayer) ??
    missingKey(file, k("attention.head_count"), "a positive integer");
  const nHeadKv = layerInteger(file, k("attention.head_count_kv"), nLayer) ?? nHead;
  if (nHead % nHeadKv !== 0) {
    invalidKey(file, k("attention.head_count_kv"), `a divisor of n_head ${nHead}`);
  }
  const nFf = layerInteger(file, k("feed_forward_length"), nLayer) ??
    missingKey(file, k("feed_forward_length"), "a positive integer");

  const hasKeyLength = file.metadata.has(k("attention.key_length"));
  if (!hasKeyLength && nEmbd % nHead !== 0) {
    invalidKey(file, k("attention.head_count"), `a divisor of n_embd ${nEmbd}`);
  }
  const nEmbdHeadK = optionalInteger(file, k("attention.key_length"), 1) ?? nEmbd / nHead;
  const nEmbdHeadV = optionalInteger(file, k("attention.value_length"), 1) ?? nEmbd / nHead;
  const nRot = optionalInteger(file, k("rope.dimension_count"), 0) ?? nEmbdHeadK;
  if (nRot > nEmbdHeadK || nRot % 2 !== 0) {
    invalidKey(file, k("rope.dimension_count"), `an even number up to ${nEmbdHeadK}`);
  }

  const ropeFreqBase = optionalFloat(file, k("rope.freq_base")) ?? 10000;
  if (ropeFreqBase <= 0) invalidKey(file, k("rope.freq_base"), "a positive number");
  const factor = optionalFloat(file, k("rope.scaling.factor")) ??
    optionalFloat(file, k("rope.scale_linear")) ?? 0;
  if (factor < 0) invalidKey(file, k("rope.scaling.factor"), "a non-negative number");

  const fNormRmsEps = optionalFloat(file, k("attention.layer_norm_rms_epsilon")) ??
    missingKey(file, k("attention.layer_norm_rms_epsilon"), "a positive number");
  if (fNormRmsEps <= 0) {
    invalidKey(file, k("attention.layer_norm_rms_epsilon"), "a positive number");
  }

  let nVocab = optionalInteger(file, k("vocab_size"), 1);
  if (nVocab === undefined) {
    const tokens = file.metadata.get("tokenizer.ggml.tokens");
    if (!Array.isArray(tokens)) {
      missingKey(file, k("vocab_size"), "the vocabulary size, or a tokenizer.ggml.tokens array");
    }
    nVocab = tokens.length;
  }

  return {
    arch,
    name: optionalString(file, "general.name"),
    nCtxTrain: requiredInteger(file, k("context_length"), 1),
    nEmbd,
    nLayer,
    nHead,
    nHeadKv,
    nFf,
    nEmbdHeadK,
    nEmbdHeadV,
    nRot,
    ropeFreqBase,
    ropeFreqScale: factor === 0 ? 1 : 1 / factor,
    ropeScalingType: optionalString(file, k("rope.scaling.type")) ?? "linear",
    fNormRmsEps,
    nVocab,
    nExpert: optionalInteger(file, k("expert_count"), 0) ?? 0,
    nExpertUsed: optionalInteger(file, k("expert_used_count"), 0) ?? 0,
    fileType: optionalInteger(file, "general.file_type", 0),
  };
}
