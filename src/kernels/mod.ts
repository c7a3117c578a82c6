/**
 * WebAssembly SIMD kernels: loading, memory and the compute entry points.
 *
 * @module
 */
export { type KernelBuild, Kernels, loadKernels, type LoadKernelsOptions } from "./runtime.ts";
