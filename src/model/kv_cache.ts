/**
 * Per-layer K and V caches in kernel memory: `[nCtx][n_embd_kv]` each, F16 or F32.
 * Position j of the cache holds the token at position j of the sequence.
 */
import type { Kernels } from "../kernels/runtime.ts";
import type { LlamaHparams } from "./hparams.ts";

/**
 * Element type of the KV cache.
 *
 * @example An F32 cache for a session
 * ```ts ignore
 * import { type CacheType, loadModel } from "@flint/flint";
 *
 * const cacheType: CacheType = "f32";
 * const model = await loadModel("models/stories260K.gguf", { cacheType });
 * ```
 */
export type CacheType = "f16" | "f32";

/** One sequence's KV cache. */
export interface KvCache {
  readonly type: CacheType;
  /** Positions the cache holds. */
  readonly nCtx: number;
  /** Byte address of each layer's K cache. */
  readonly k: number[];
  /** Byte address of each layer's V cache. */
  readonly v: number[];
  /** Bytes of one position's K (or V) row: n_embd_kv · element size. */
  readonly rowBytes: number;
  /** Float32 [n_head][nCtx] work area for attention weights. */
  readonly scores: number;
}

/** Bytes a cache of `nCtx` positions takes for the model. */
export function kvCacheBytes(hp: LlamaHparams, nCtx: number, type: CacheType): number {
  return 2 * hp.nLayer * nCtx * hp.nEmbdKv * (type === "f16" ? 2 : 4) + hp.nHead * nCtx * 4;
}

/** Allocates a cache; kernel memory is never freed, so callers reuse caches. */
export function allocKvCache(
  kernels: Kernels,
  hp: LlamaHparams,
  nCtx: number,
  type: CacheType,
): KvCache {
  const rowBytes = hp.nEmbdKv * (type === "f16" ? 2 : 4);
  const k: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < hp.nLayer; i++) {
    k.push(kernels.alloc(nCtx * rowBytes, 64));
    v.push(kernels.alloc(nCtx * rowBytes, 64));
  }
  const scores = kernels.alloc(hp.nHead * nCtx * 4, 64);
  return { type, nCtx, k, v, rowBytes, scores };
}
