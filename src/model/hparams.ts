/**
 * Llama-architecture hyperparameters from GGUF metadata (`llama.*` keys), with
 * llama.cpp's defaults for the optional ones.
 */
import type { GgufFile } from "../gguf/mod.ts";
import { ModelError } from "./errors.ts";

/**
 * Hyperparameters of a llama-family model, named as llama.cpp names them.
 *
 * @example Print the model shape
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const { hparams } = await loadModel("models/stories260K.gguf");
 * console.log(`${hparams.nLayer} layers, n_embd ${hparams.nEmbd}, n_head_kv ${hparams.nHeadKv}`);
 * ```
 */
export interface LlamaHparams {
  /** `general.architecture`. */
  arch: string;
  /** Context length the model was trained with (`llama.context_length`). */
  nCtxTrain: number;
  /** Width of the residual stream (`llama.embedding_length`). */
  nEmbd: number;
  /** Number of transformer blocks (`llama.block_count`). */
  nLayer: number;
  /** Query heads (`llama.attention.head_count`). */
  nHead: number;
  /** Key/value heads (`llama.attention.head_count_kv`); fewer than nHead means grouped-query attention. */
  nHeadKv: number;
  /** Hidden width of the feed-forward network (`llama.feed_forward_length`). */
  nFf: number;
  /** Size of one attention head: nEmbd / nHead. */
  nEmbdHead: number;
  /** Width of K and V: nEmbdHead · nHeadKv. */
  nEmbdKv: number;
  /** Dimensions RoPE rotates per head (`llama.rope.dimension_count`, default nEmbdHead). */
  nRot: number;
  /** RoPE base frequency; 10000 when absent (Mistral v0.1 uses 10000, later models 1e6). */
  ropeFreqBase: number;
  /** RoPE position scale: 1 / linear scaling factor. */
  ropeFreqScale: number;
  /** RMSNorm epsilon. */
  fNormRmsEps: number;
  /** Vocabulary size (`llama.vocab_size`, else the length of the token list). */
  nVocab: number;
}

/** Architectures this forward pass runs; all use the llama layout and normal RoPE. */
export const SUPPORTED_ARCHS = ["llama"];

function fail(file: GgufFile, key: string, found: string, expected: string): never {
  throw new ModelError("invalid hyperparameter", { source: file.source, key, found, expected });
}

function intKey(file: GgufFile, key: string, fallback?: number): number {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ModelError("missing hyperparameter", {
      source: file.source,
      key,
      expected: "a positive integer",
    });
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    fail(file, key, String(v), "a positive integer");
  }
  return v;
}

function floatKey(file: GgufFile, key: string, fallback: number): number {
  const v = file.metadata.get(key);
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) fail(file, key, String(v), "a finite number");
  return v;
}

/** Reads and checks the hyperparameters; throws `ModelError` naming the bad key. */
export function readLlamaHparams(file: GgufFile): LlamaHparams {
  const arch = file.metadata.get("general.architecture");
  if (typeof arch !== "string" || !SUPPORTED_ARCHS.includes(arch)) {
    throw new ModelError("unsupported architecture", {
      source: file.source,
      key: "general.architecture",
      found: JSON.stringify(arch),
      expected: SUPPORTED_ARCHS.map((a) => `"${a}"`).join(" or "),
    });
  }
  const k = (name: string) => `${arch}.${name}`;
  const nEmbd = intKey(file, k("embedding_length"));
  const nHead = intKey(file, k("attention.head_count"));
  const nHeadKv = intKey(file, k("attention.head_count_kv"), nHead);
  if (nEmbd % nHead !== 0) {
    fail(file, k("attention.head_count"), String(nHead), `a divisor of n_embd ${nEmbd}`);
  }
  if (nHead % nHeadKv !== 0) {
    fail(file, k("attention.head_count_kv"), String(nHeadKv), `a divisor of n_head ${nHead}`);
  }
  const nEmbdHead = nEmbd / nHead;
  const nRot = intKey(file, k("rope.dimension_count"), nEmbdHead);
  if (nRot > nEmbdHead || nRot % 2 !== 0) {
    fail(file, k("rope.dimension_count"), String(nRot), `an even number up to ${nEmbdHead}`);
  }
  let ropeFreqScale = 1;
  const scalingType = file.metadata.get(k("rope.scaling.type"));
  if (scalingType !== undefined && scalingType !== "none") {
    if (scalingType !== "linear") {
      fail(file, k("rope.scaling.type"), JSON.stringify(scalingType), `"none" or "linear"`);
    }
    const factor = floatKey(file, k("rope.scaling.factor"), 1);
    if (factor <= 0) fail(file, k("rope.scaling.factor"), String(factor), "a positive number");
    ropeFreqScale = 1 / factor;
  }
  const tokens = file.metadata.get("tokenizer.ggml.tokens");
  const embd = file.tensors.find((t) => t.name === "token_embd.weight");
  const nVocabFallback = Array.isArray(tokens) ? tokens.length : embd?.ne[1];
  const fNormRmsEps = floatKey(file, k("attention.layer_norm_rms_epsilon"), 1e-5);
  if (fNormRmsEps <= 0) {
    fail(file, k("attention.layer_norm_rms_epsilon"), String(fNormRmsEps), "a positive number");
  }
  const ropeFreqBase = floatKey(file, k("rope.freq_base"), 10000);
  if (ropeFreqBase <= 0) fail(file, k("rope.freq_base"), String(ropeFreqBase), "a positive number");
  return {
    arch,
    nCtxTrain: intKey(file, k("context_length")),
    nEmbd,
    nLayer: intKey(file, k("block_count")),
    nHead,
    nHeadKv,
    nFf: intKey(file, k("feed_forward_length")),
    nEmbdHead,
    nEmbdKv: nEmbdHead * nHeadKv,
    nRot,
    ropeFreqBase,
    ropeFreqScale,
    fNormRmsEps,
    nVocab: intKey(file, k("vocab_size"), nVocabFallback),
  };
}
