/**
 * Typed wrappers over the quantized-weight kernels (kernels/matmul.c). Addresses and
 * byte sizes are plain numbers; the wrappers convert them for the wasm64 build.
 *
 * A matrix product runs in two steps. `quantizeRow` turns a float32 activation row
 * into the weight type's activation type (Q8_0, Q8_1, Q8_K, F16, BF16 or F32, as
 * ggml's CPU backend does). Then `matvec` or `matmul` takes the dot of each weight row
 * with it. Parallel entry points take `[rowBegin, rowEnd)` last and write only those
 * rows, so any split over threads gives identical results.
 */
import { GGML_TYPES, GgmlType, ggmlTypeName } from "../gguf/ggml_type.ts";
import type { Kernels } from "./runtime.ts";

/** Status codes the C entry points return. */
export const KERNEL_OK = 0;
/** The weight type has no kernels. */
export const KERNEL_E_TYPE = -1;
/** A length is not a multiple of the block size, or a row range or id is invalid. */
export const KERNEL_E_SIZE = -2;

/**
 * Flag for a weight type id whose matrix was interleaved by `repackRows4`: pass
 * `type | INTERLEAVED_4` to `matvec`, `matmul` and `getRows` for such a matrix.
 */
export const INTERLEAVED_4 = 256;

/**
 * Flag for a weight type id whose matrix was rewritten by `repackSegments`: pass
 * `type | SEGMENTED` to `matvec`, `matmul` and `getRows` for such a matrix.
 */
export const SEGMENTED = 512;

/**
 * Flag for K-quant blocks rewritten by `repackLanes`: a block format of its own whose
 * activations are permuted too, so pass `type | LANES` to `quantizeRow` as well as to
 * `matvec`, `matmul` and `getRows`. It combines with `SEGMENTED`.
 */
export const LANES = 1024;

/** A kernel rejected its arguments. */
export class KernelError extends Error {
  readonly op: string;
  readonly type: number;
  readonly code: number;

  constructor(op: string, type: number, code: number, detail: string) {
    const base = ggmlTypeName(type & ~(INTERLEAVED_4 | SEGMENTED | LANES));
    const flags = [
      type & INTERLEAVED_4 ? "interleaved" : "",
      type & SEGMENTED ? "segmented" : "",
      type & LANES ? "lanes" : "",
    ].filter((f) => f !== "");
    const name = flags.length > 0 ? `${base} (${flags.join(", ")})` : base;
    const reason = code === KERNEL_E_TYPE
      ? `weight type ${name} is not supported`
      : `invalid size or row range for ${name}: ${detail}`;
    super(`${op} failed: ${reason}`);
    this.name = "KernelError";
    this.op = op;
    this.type = type;
    this.code = code;
  }
}

/** Weight types with a dequantizer and a dot product, mapped to their activation type. */
const ACTIVATION_TYPE: ReadonlyMap<GgmlType, GgmlType> = new Map([
  [GgmlType.F32, GgmlType.F32],
  [GgmlType.F16, GgmlType.F16],
  [GgmlType.BF16, GgmlType.BF16],
  [GgmlType.Q4_0, GgmlType.Q8_0],
  [GgmlType.Q5_0, GgmlType.Q8_0],
  [GgmlType.Q8_0, GgmlType.Q8_0],
  [GgmlType.IQ4_NL, GgmlType.Q8_0],
  [GgmlType.Q4_1, GgmlType.Q8_1],
  [GgmlType.Q5_1, GgmlType.Q8_1],
  [GgmlType.Q2_K, GgmlType.Q8_K],
  [GgmlType.Q3_K, GgmlType.Q8_K],
  [GgmlType.Q4_K, GgmlType.Q8_K],
  [GgmlType.Q5_K, GgmlType.Q8_K],
  [GgmlType.Q6_K, GgmlType.Q8_K],
  [GgmlType.IQ4_XS, GgmlType.Q8_K],
]);

/** Weight types the kernels implement, in GGML id order. */
export const SUPPORTED_WEIGHT_TYPES: readonly GgmlType[] = [...ACTIVATION_TYPE.keys()].sort(
  (a, b) => a - b,
);

/** True when `type` has a dequantizer and a matrix product. */
export function isSupportedWeightType(type: number): type is GgmlType {
  return ACTIVATION_TYPE.has(type as GgmlType);
}

/** Returns the type that activations take before a dot with weights of `weightType`. */
export function activationType(weightType: GgmlType): GgmlType {
  const act = ACTIVATION_TYPE.get(weightType);
  if (act === undefined) {
    throw new KernelError("activationType", weightType, KERNEL_E_TYPE, "");
  }
  return act;
}

/** Bytes that `quantizeRow` writes for `n` activations against weights of `weightType`. */
export function activationRowBytes(weightType: GgmlType, n: number): number {
  const act = GGML_TYPES[activationType(weightType)];
  const weight = GGML_TYPES[weightType];
  if (!Number.isInteger(n) || n < 0 || n % weight.blockSize !== 0) {
    throw new KernelError(
      "activationRowBytes",
      weightType,
      KERNEL_E_SIZE,
      `n = ${n}, expected a multiple of ${weight.blockSize}`,
    );
  }
  return (n / act.blockSize) * act.typeSize;
}

function check(op: string, type: number, code: number, detail: string): void {
  if (code !== KERNEL_OK) throw new KernelError(op, type, code, detail);
}

/** Quantizes `n` float32 activations at `x` into `xq` for weights of `type`. */
export function quantizeRow(k: Kernels, type: GgmlType, x: number, xq: number, n: number): void {
  const code = k.exports.flint_quantize_row(type, k.ptr(x), k.ptr(xq), n);
  check("quantizeRow", type, code, `n = ${n}`);
}

/** Dequantizes `n` weights (whole blocks) at `w` into float32 at `out`. */
export function dequantizeRows(
  k: Kernels,
  type: GgmlType,
  w: number,
  out: number,
  n: number,
): void {
  const code = k.exports.flint_dequantize_rows(type, k.ptr(w), k.ptr(out), n);
  check("dequantizeRows", type, code, `n = ${n}`);
}

/** `dequantizeRows` through the scalar reference kernel. */
export function dequantizeRowsScalar(
  k: Kernels,
  type: GgmlType,
  w: number,
  out: number,
  n: number,
): void {
  const code = k.exports.flint_dequantize_rows_scalar(type, k.ptr(w), k.ptr(out), n);
  check("dequantizeRowsScalar", type, code, `n = ${n}`);
}

/**
 * Embedding lookup: for i in [rowBegin, rowEnd), dequantizes row `ids[i]` of the matrix
 * at `w` into `out + i·outStrideFloats·4`. `ids` is the address of int32 row ids.
 */
export function getRows(
  k: Kernels,
  type: GgmlType | number,
  w: number,
  rowStrideBytes: number,
  ids: number,
  out: number,
  outStrideFloats: number,
  nCols: number,
  rowBegin: number,
  rowEnd: number,
): void {
  const code = k.exports.flint_get_rows(
    type,
    k.ptr(w),
    k.ptr(rowStrideBytes),
    k.ptr(ids),
    k.ptr(out),
    k.ptr(outStrideFloats),
    nCols,
    rowBegin,
    rowEnd,
  );
  check("getRows", type, code, `nCols = ${nCols}, rows ${rowBegin}..${rowEnd}`);
}

const scratch = new WeakMap<Kernels, number>();

function scratchFloat(k: Kernels): number {
  let at = scratch.get(k);
  if (at === undefined) {
    at = k.alloc(4, 4);
    scratch.set(k, at);
  }
  return at;
}

function dot(
  op: string,
  fn: string,
  k: Kernels,
  type: GgmlType,
  n: number,
  w: number,
  xq: number,
): number {
  const out = scratchFloat(k);
  const code = k.exports[fn](type, n, k.ptr(w), k.ptr(xq), k.ptr(out));
  check(op, type, code, `n = ${n}`);
  return new Float32Array(k.memory.buffer, out, 1)[0];
}

/** Dot product of one weight row at `w` with a quantized activation row at `xq`. */
export function vecDot(k: Kernels, type: GgmlType, n: number, w: number, xq: number): number {
  return dot("vecDot", "flint_vec_dot", k, type, n, w, xq);
}

/** `vecDot` through the scalar reference kernel. */
export function vecDotScalar(
  k: Kernels,
  type: GgmlType,
  n: number,
  w: number,
  xq: number,
): number {
  return dot("vecDotScalar", "flint_vec_dot_scalar", k, type, n, w, xq);
}

/**
 * Matrix × vector: `y[r]` (float32 at `y + 4r`) = row r of `w` · `xq` for r in
 * [rowBegin, rowEnd). Rows are `rowStrideBytes` apart; `xq` comes from `quantizeRow`.
 */
export function matvec(
  k: Kernels,
  type: GgmlType | number,
  w: number,
  rowStrideBytes: number,
  xq: number,
  y: number,
  nCols: number,
  rowBegin: number,
  rowEnd: number,
): void {
  const code = k.exports.flint_matvec(
    type,
    k.ptr(w),
    k.ptr(rowStrideBytes),
    k.ptr(xq),
    k.ptr(y),
    nCols,
    rowBegin,
    rowEnd,
  );
  check("matvec", type, code, `nCols = ${nCols}, rows ${rowBegin}..${rowEnd}`);
}

/** `matvec` through the scalar reference kernel (the benchmark baseline). */
export function matvecScalar(
  k: Kernels,
  type: GgmlType,
  w: number,
  rowStrideBytes: number,
  xq: number,
  y: number,
  nCols: number,
  rowBegin: number,
  rowEnd: number,
): void {
  const code = k.exports.flint_matvec_scalar(
    type,
    k.ptr(w),
    k.ptr(rowStrideBytes),
    k.ptr(xq),
    k.ptr(y),
    nCols,
    rowBegin,
    rowEnd,
  );
  check("matvecScalar", type, code, `nCols = ${nCols}, rows ${rowBegin}..${rowEnd}`);
}

/**
 * Matrix × matrix for a batch of `nTokens` activation rows, `xqStrideBytes` apart:
 * `y[t·yStrideFloats + r]` = row r of `w` · activation row t, for r in [rowBegin, rowEnd).
 */
export function matmul(
  k: Kernels,
  type: GgmlType | number,
  w: number,
  rowStrideBytes: number,
  xq: number,
  xqStrideBytes: number,
  y: number,
  nCols: number,
  nTokens: number,
  yStrideFloats: number,
  rowBegin: number,
  rowEnd: number,
): void {
  const code = k.exports.flint_matmul(
    type,
    k.ptr(w),
    k.ptr(rowStrideBytes),
    k.ptr(xq),
    k.ptr(xqStrideBytes),
    k.ptr(y),
    nCols,
    nTokens,
    k.ptr(yStrideFloats),
    rowBegin,
    rowEnd,
  );
  check(
    "matmul",
    type,
    code,
    `nCols = ${nCols}, nTokens = ${nTokens}, rows ${rowBegin}..${rowEnd}`,
  );
}

/** True when `repackRows4` and `INTERLEAVED_4` apply to weights of `type`. */
export function isInterleaveSupported(k: Kernels, type: GgmlType): boolean {
  return k.exports.flint_interleave_supported(type) === 1;
}

/**
 * Rewrites `nRows` row-major rows at `w` in place so that each group of four rows is read
 * as one stream: block i of row 4g + j moves to group g's start + (4i + j)·block bytes.
 * The four-row kernels lose a third of their speed on separate row streams once a matrix
 * outgrows the caches. `nRows` must be a multiple of 4 and `tmp` must hold
 * 4·rowStrideBytes bytes. Afterwards use `type | INTERLEAVED_4`.
 */
export function repackRows4(
  k: Kernels,
  type: GgmlType,
  w: number,
  rowStrideBytes: number,
  nRows: number,
  tmp: number,
): void {
  const code = k.exports.flint_repack_rows4(
    type,
    k.ptr(w),
    k.ptr(rowStrideBytes),
    nRows,
    k.ptr(tmp),
  );
  check("repackRows4", type, code, `nRows = ${nRows}, row stride ${rowStrideBytes} bytes`);
}

/** Rows per group of the `SEGMENTED` layout; a matrix's row count must be a multiple. */
export const SEGMENT_ROWS = 16;

/** True when `repackSegments` and `SEGMENTED` apply to weights of `type`. */
export function isSegmentSupported(k: Kernels, type: GgmlType): boolean {
  return k.exports.flint_segments_supported(type) === 1;
}

/**
 * Rewrites `nRows` row-major rows of `nCols` weights at `w` in place into the segmented
 * layout: in each group of 16 rows, the first 32 blocks of every row, then the next 32,
 * and so on. Matrix × vector then runs a group segment by segment against activations
 * that stay in L1, while reading the weights as one stream. On this machine's 32 KiB L1
 * that keeps 14336-wide rows (ffn_down) at the speed of 4096-wide ones. Results are the
 * same bits as on the row-major matrix. `nRows` must be a multiple of 16, `rowStrideBytes`
 * exactly one row, and `tmp` must hold 16·rowStrideBytes bytes. Afterwards use
 * `type | SEGMENTED`.
 */
export function repackSegments(
  k: Kernels,
  type: GgmlType,
  w: number,
  rowStrideBytes: number,
  nCols: number,
  nRows: number,
  tmp: number,
): void {
  const code = k.exports.flint_repack_segments(
    type,
    k.ptr(w),
    k.ptr(rowStrideBytes),
    nCols,
    nRows,
    k.ptr(tmp),
  );
  check(
    "repackSegments",
    type,
    code,
    `nCols = ${nCols}, nRows = ${nRows}, row stride ${rowStrideBytes} bytes`,
  );
}

/** True when `repackLanes` and `LANES` apply to weights of `type` (Q2_K to Q6_K). */
export function isLanesSupported(k: Kernels, type: GgmlType): boolean {
  return k.exports.flint_lanes_supported(type) === 1;
}

/**
 * Rewrites `nBlocks` blocks of a K-quant type at `w` in place into its lanes layout (see
 * kernels/q*_k_lanes.c): every int16 lane of a code vector stays within one sub-block, so
 * one scale dot covers several sub-blocks. For Q4_K about 12 % faster matrix × vector and
 * 15–20 % faster matrix × matrix on this machine. Results differ from the ggml layout's
 * only by float rounding (lanes hold other partial sums). Afterwards use `type | LANES`,
 * also for the activations.
 */
export function repackLanes(k: Kernels, type: GgmlType, w: number, nBlocks: number): void {
  const code = k.exports.flint_repack_lanes(type, k.ptr(w), k.ptr(nBlocks));
  check("repackLanes", type, code, `nBlocks = ${nBlocks}`);
}
