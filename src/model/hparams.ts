/**
 * Llama-architecture hyperparameters: the GGUF reader's `llamaHparams`, plus the checks
 * that this forward pass can run them.
 */
import { GgufError, type GgufFile, type GgufHparams, llamaHparams } from "../gguf/mod.ts";
import { ModelError } from "./errors.ts";

/**
 * Hyperparameters of a llama-family model, named as llama.cpp names them: the GGUF
 * reader's {@link GgufHparams} and the sizes derived from them.
 *
 * @example Print the model shape
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const { hparams } = await loadModel("models/stories260K.gguf");
 * console.log(`${hparams.nLayer} layers, n_embd ${hparams.nEmbd}, n_head_kv ${hparams.nHeadKv}`);
 * ```
 */
export interface LlamaHparams extends GgufHparams {
  /** Size of one attention head: nEmbd / nHead, equal to nEmbdHeadK and nEmbdHeadV. */
  nEmbdHead: number;
  /** Width of K and V: nEmbdHead · nHeadKv. */
  nEmbdKv: number;
  /**
   * RoPE position scale in effect: 1 / `<arch>.rope.scaling.factor`, or 1 when
   * `<arch>.rope.scaling.type` is `none` (llama.cpp never scales then).
   */
  ropeFreqScale: number;
}

/** Architectures this forward pass runs; all use the llama layout and normal RoPE. */
export const SUPPORTED_ARCHS = ["llama"];

/** RoPE scaling types this forward pass implements. */
const ROPE_SCALING_TYPES = ["none", "linear"];

function fail(file: GgufFile, key: string, found: string, expected: string): never {
  throw new ModelError("invalid hyperparameter", { source: file.source, key, found, expected });
}

/** `llamaHparams`, with its key errors retyped as `ModelError` (the GgufError is the cause). */
function readGgufHparams(file: GgufFile): GgufHparams {
  try {
    return llamaHparams(file);
  } catch (error) {
    if (!(error instanceof GgufError) || error.key === undefined) throw error;
    const message = error.found === undefined ? "missing hyperparameter" : "invalid hyperparameter";
    throw new ModelError(message, {
      source: file.source,
      key: error.key,
      found: error.found,
      expected: error.expected,
    }, { cause: error });
  }
}

/** Reads and checks the hyperparameters; throws `ModelError` naming the bad key. */
export function readLlamaHparams(file: GgufFile): LlamaHparams {
  // Checked first: another architecture's keys live under another prefix.
  const arch = file.metadata.get("general.architecture");
  if (typeof arch !== "string" || !SUPPORTED_ARCHS.includes(arch)) {
    throw new ModelError("unsupported architecture", {
      source: file.source,
      key: "general.architecture",
      found: JSON.stringify(arch),
      expected: SUPPORTED_ARCHS.map((a) => `"${a}"`).join(" or "),
    });
  }

  const hp = readGgufHparams(file);
  const k = (name: string) => `${arch}.${name}`;
  // The weights are square [n_embd, n_embd] for Q and O, so heads must tile n_embd.
  const nEmbdHead = hp.nEmbd / hp.nHead;
  if (hp.nEmbdHeadK !== nEmbdHead) {
    fail(file, k("attention.key_length"), String(hp.nEmbdHeadK), `n_embd / n_head = ${nEmbdHead}`);
  }
  if (hp.nEmbdHeadV !== nEmbdHead) {
    fail(
      file,
      k("attention.value_length"),
      String(hp.nEmbdHeadV),
      `n_embd / n_head = ${nEmbdHead}`,
    );
  }

  if (hp.nRot === 0) {
    fail(file, k("rope.dimension_count"), "0", `an even number up to ${nEmbdHead}`);
  }
  if (!ROPE_SCALING_TYPES.includes(hp.ropeScalingType)) {
    fail(
      file,
      k("rope.scaling.type"),
      JSON.stringify(hp.ropeScalingType),
      ROPE_SCALING_TYPES.map((t) => `"${t}"`).join(" or "),
    );
  }

  return {
    ...hp,
    nEmbdHead,
    nEmbdKv: nEmbdHead * hp.nHeadKv,
    ropeFreqScale: hp.ropeScalingType === "none" ? 1 : hp.ropeFreqScale,
  };
}
