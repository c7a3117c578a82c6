/**
 * GGML tensor types, numbered as ggml numbers them, with the block size and bytes per
 * block ggml uses. Retired ids (4, 5, 31–33, 36–38) are absent on purpose: a file that
 * uses them is rejected.
 *
 * @example Count Q4_K tensors
 * ```ts ignore
 * import { GgmlType, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("model.Q4_K_M.gguf");
 * console.log(file.tensors.filter((t) => t.type === GgmlType.Q4_K).length);
 * ```
 */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

/** Layout facts of one GGML type. */
export interface GgmlTypeInfo {
  /** Name as ggml spells it, e.g. `Q4_K`. */
  name: string;
  /** Weights per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

function info(name: string, blockSize: number, typeSize: number): GgmlTypeInfo {
  return { name, blockSize, typeSize };
}

/** Block size and bytes per block of every GGML type ggml defines. */
export const GGML_TYPES: Readonly<Record<GgmlType, GgmlTypeInfo>> = {
  [GgmlType.F32]: info("F32", 1, 4),
  [GgmlType.F16]: info("F16", 1, 2),
  [GgmlType.Q4_0]: info("Q4_0", 32, 18),
  [GgmlType.Q4_1]: info("Q4_1", 32, 20),
  [GgmlType.Q5_0]: info("Q5_0", 32, 22),
  [GgmlType.Q5_1]: info("Q5_1", 32, 24),
  [GgmlType.Q8_0]: info("Q8_0", 32, 34),
  [GgmlType.Q8_1]: info("Q8_1", 32, 36),
  [GgmlType.Q2_K]: info("Q2_K", 256, 84),
  [GgmlType.Q3_K]: info("Q3_K", 256, 110),
  [GgmlType.Q4_K]: info("Q4_K", 256, 144),
  [GgmlType.Q5_K]: info("Q5_K", 256, 176),
  [GgmlType.Q6_K]: info("Q6_K", 256, 210),
  [GgmlType.Q8_K]: info("Q8_K", 256, 292),
  [GgmlType.IQ2_XXS]: info("IQ2_XXS", 256, 66),
  [GgmlType.IQ2_XS]: info("IQ2_XS", 256, 74),
  [GgmlType.IQ3_XXS]: info("IQ3_XXS", 256, 98),
  [GgmlType.IQ1_S]: info("IQ1_S", 256, 50),
  [GgmlType.IQ4_NL]: info("IQ4_NL", 32, 18),
  [GgmlType.IQ3_S]: info("IQ3_S", 256, 110),
  [GgmlType.IQ2_S]: info("IQ2_S", 256, 82),
  [GgmlType.IQ4_XS]: info("IQ4_XS", 256, 136),
  [GgmlType.I8]: info("I8", 1, 1),
  [GgmlType.I16]: info("I16", 1, 2),
  [GgmlType.I32]: info("I32", 1, 4),
  [GgmlType.I64]: info("I64", 1, 8),
  [GgmlType.F64]: info("F64", 1, 8),
  [GgmlType.IQ1_M]: info("IQ1_M", 256, 56),
  [GgmlType.BF16]: info("BF16", 1, 2),
  [GgmlType.TQ1_0]: info("TQ1_0", 256, 54),
  [GgmlType.TQ2_0]: info("TQ2_0", 256, 66),
  [GgmlType.MXFP4]: info("MXFP4", 32, 17),
  [GgmlType.NVFP4]: info("NVFP4", 64, 36),
  [GgmlType.Q1_0]: info("Q1_0", 128, 18),
  [GgmlType.Q2_0]: info("Q2_0", 64, 18),
};

/** Returns true when `id` is a GGML type id in use today. */
export function isGgmlType(id: number): id is GgmlType {
  return Object.hasOwn(GGML_TYPES, id);
}

/**
 * Returns the ggml name of a type id, or `type <id>` for an unknown one.
 *
 * @example Name each tensor type
 * ```ts ignore
 * import { ggmlTypeName, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("models/stories260K.gguf");
 * for (const t of file.tensors) console.log(t.name, ggmlTypeName(t.type));
 * ```
 */
export function ggmlTypeName(id: number): string {
  return isGgmlType(id) ? GGML_TYPES[id].name : `type ${id}`;
}

/** Looks a type up by its ggml name (`"Q4_K"`); undefined when there is none. */
export function ggmlTypeFromName(name: string): GgmlType | undefined {
  for (const [id, entry] of Object.entries(GGML_TYPES)) {
    if (entry.name === name) return Number(id) as GgmlType;
  }
  return undefined;
}

/** Bytes taken by one row of `ne0` elements; `ne0` must be a multiple of the block size. */
export function rowBytes(type: GgmlType, ne0: number): number {
  const { blockSize, typeSize } = GGML_TYPES[type];
  return (ne0 / blockSize) * typeSize;
}
