/**
 * WebAssembly SIMD kernels: loading, memory and the compute entry points.
 *
 * @module
 */
export { type KernelBuild, Kernels, loadKernels, type LoadKernelsOptions } from "./runtime.ts";
export {
  activationRowBytes,
  activationType,
  dequantizeRows,
  dequantizeRowsScalar,
  getRows,
  INTERLEAVED_4,
  isInterleaveSupported,
  isSupportedWeightType,
  KERNEL_E_SIZE,
  KERNEL_E_TYPE,
  KERNEL_OK,
  KernelError,
  matmul,
  matvec,
  matvecScalar,
  quantizeRow,
  repackRows4,
  SUPPORTED_WEIGHT_TYPES,
  vecDot,
  vecDotScalar,
} from "./quant.ts";
export {
  ATTENTION_MAX_HEAD_DIM,
  type AttentionArgs,
  type Dispatcher,
  Ops,
  ropeCache,
  SingleThread,
} from "./ops.ts";
export { KernelPool, KernelPoolError, type KernelPoolOptions, partRange } from "./pool.ts";
