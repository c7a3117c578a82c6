import type { GgmlType } from "./ggml_type.ts";
import type { GgufSource } from "./source.ts";

/**
 * GGUF metadata value type ids.
 *
 * @example Check how a key is stored
 * ```ts ignore
 * import { GgufValueType, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("models/stories260K.gguf");
 * const stored = file.metadataTypes.get("llama.context_length");
 * console.log(stored === GgufValueType.UINT32);
 * ```
 */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/**
 * A metadata value. Scalars of up to 32 bits and floats are numbers; 64-bit integers
 * are numbers when they are safe integers and bigints otherwise. Numeric arrays are
 * typed arrays, string and bool arrays are plain arrays. A nested array is a plain array
 * of its inner arrays, and inner arrays are plain arrays of values, numeric ones too.
 *
 * @example Read a string array
 * ```ts ignore
 * import { readGguf } from "@flint/flint";
 *
 * const { metadata } = await readGguf("models/stories260K.gguf");
 * const tokens = metadata.get("tokenizer.ggml.tokens");
 * if (Array.isArray(tokens)) console.log(tokens.length, tokens[0]);
 * ```
 */
export type GgufValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | string[]
  | boolean[]
  | GgufValue[];

/**
 * One tensor's entry in the tensor table.
 *
 * @example Find the largest tensor
 * ```ts ignore
 * import { readGguf } from "@flint/flint";
 *
 * const { tensors } = await readGguf("models/stories260K.gguf");
 * const largest = tensors.reduce((a, b) => (b.nBytes > a.nBytes ? b : a));
 * console.log(largest.name, largest.ne, largest.nBytes);
 * ```
 */
export interface GgufTensorInfo {
  /** Tensor name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  /** Dimensions `ne[0..n_dims-1]`; `ne[0]` is contiguous. */
  ne: number[];
  /** Element type. */
  type: GgmlType;
  /** Offset relative to the start of the data section, as stored. */
  offset: number;
  /** Absolute byte offset of the data in its file. */
  fileOffset: number;
  /** Element count. */
  nElements: number;
  /** Byte size of the data. */
  nBytes: number;
  /** Index into `GgufFile.sources` of the file that contains the data (0 for a single file). */
  split: number;
}

/**
 * Header facts of one file of a (possibly split) model.
 *
 * @example List the files of a split model
 * ```ts ignore
 * import { readGguf } from "@flint/flint";
 *
 * const file = await readGguf("model-00001-of-00003.gguf");
 * for (const part of file.parts) console.log(part.source, part.size, part.tensorCount);
 * ```
 */
export interface GgufPart {
  /** Path, URL or other name of the file. */
  source: string;
  /** File size in bytes. */
  size: number;
  /** GGUF format version (2 or 3). */
  version: number;
  /** Alignment of tensor data in bytes (`general.alignment`, default 32). */
  alignment: number;
  /** Absolute offset of this file's data section. */
  dataOffset: number;
  /** Tensors stored in this file. */
  tensorCount: number;
}

/**
 * A parsed GGUF header: metadata and tensor table. Tensor data is read on demand.
 *
 * @example Read metadata
 * ```ts ignore
 * import { readGguf } from "@flint/flint";
 *
 * const file = await readGguf("models/stories260K.gguf");
 * console.log(file.version, file.metadata.get("general.name"), file.tensors.length);
 * ```
 */
export interface GgufFile {
  /** Name of the (first) source. */
  source: string;
  /** GGUF format version of the (first) file. */
  version: number;
  /** Metadata of the (first) file, in file order. */
  metadata: Map<string, GgufValue>;
  /** Value type of each metadata key (for arrays, `ARRAY`). */
  metadataTypes: Map<string, GgufValueType>;
  /** Element type of each array-valued key (for nested arrays, `ARRAY`). */
  arrayTypes: Map<string, GgufValueType>;
  /** Every tensor of every part, in file order. */
  tensors: GgufTensorInfo[];
  /** Alignment of tensor data in bytes (`general.alignment`, default 32). */
  alignment: number;
  /** Absolute offset of the data section in the (first) file. */
  dataOffset: number;
  /** The sources: one per split file. */
  sources: GgufSource[];
  /** Header facts of each file, parallel to `sources`. */
  parts: GgufPart[];
}
