/**
 * Typed wrappers for the float kernels in `kernels/ops.c`: RMSNorm, RoPE, softmax,
 * SwiGLU, element-wise add/mul/scale, F32<->F16 conversion and attention over a KV cache.
 *
 * Every address is a byte offset into the kernels' memory (from `Kernels.alloc`); sizes
 * count elements. With a `KernelPool` the work is split by rows over its threads, and
 * the results are bit-identical to a single-threaded run.
 */
import type { Kernels } from "./runtime.ts";

/** Runs a kernel over rows `[0, nRows)`, possibly split over threads. */
export interface Dispatcher {
  /**
   * Calls the export `name` with `args` followed by a row range, once per part of
   * `[0, nRows)`. Part boundaries are multiples of `grain` rows. Returns the first
   * nonzero integer a part returned (kernels return negative error codes), else 0.
   */
  run(name: string, args: readonly (number | bigint)[], nRows: number, grain?: number): number;
}

/** Runs every kernel on the calling thread. */
export class SingleThread implements Dispatcher {
  readonly #exports: Kernels["exports"];

  constructor(kernels: Kernels) {
    this.#exports = kernels.exports;
  }

  run(name: string, args: readonly (number | bigint)[], nRows: number): number {
    if (nRows <= 0) return 0;
    const result = this.#exports[name](...args, 0, nRows);
    return typeof result === "number" ? result : 0;
  }
}

/** Elements per chunk of a cheap element-wise op (add, mul, scale, conversion). */
const ELEMENT_GRAIN = 16384;
/** Elements per chunk of an op that computes expf (about 5 ns each). */
const EXP_GRAIN = 2048;

/** Arguments of `Ops.attention`; addresses are byte offsets. */
export interface AttentionArgs {
  /** Output `[nTokens][nHead * headDim]` float32. */
  out: number;
  /** Queries `[nTokens][nHead * headDim]` float32, RoPE applied. */
  q: number;
  /** This layer's K cache `[nCtx][nHeadKv * headDim]`, F32 or F16. */
  k: number;
  /** This layer's V cache, same layout and type as `k`. */
  v: number;
  /** True for an F16 cache, false for F32. */
  kvF16: boolean;
  /**
   * With `kvF16`: `k` and `v` hold the F16 cache rows widened to float32 (`f16ToF32`), so
   * the kernel skips the conversion. Results are the same bits as from the F16 rows.
   */
  kvWidened?: boolean;
  /** int32 `[nTokens]`: token t attends to cache positions `0..positions[t]`. */
  positions: number;
  nTokens: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Float32 `[nHead][scratchStride]` work area for the attention weights. */
  scratch: number;
  /** Floats per head in `scratch`; must exceed every position. */
  scratchStride: number;
}

/** The kernel's cache mode: 0 F32, 1 F16, 2 F16 rows widened to float. */
function kvMode(a: AttentionArgs): number {
  if (!a.kvF16) return 0;
  return a.kvWidened ? 2 : 1;
}

/** Largest head size `flint_attention` accepts. */
export const ATTENTION_MAX_HEAD_DIM = 1024;

/** The float ops of the forward pass, bound to one kernel instance and dispatcher. */
export class Ops {
  readonly kernels: Kernels;
  readonly dispatcher: Dispatcher;

  constructor(kernels: Kernels, dispatcher: Dispatcher = new SingleThread(kernels)) {
    this.kernels = kernels;
    this.dispatcher = dispatcher;
  }

  #p(address: number): number | bigint {
    return this.kernels.ptr(address);
  }

  /** `y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w` for `nRows` rows of `n`; `w` 0 for none. */
  rmsNorm(y: number, x: number, w: number, n: number, nRows: number, eps: number): void {
    this.dispatcher.run(
      "flint_rms_norm",
      [this.#p(y), this.#p(x), this.#p(w), n, eps],
      nRows,
      Math.max(1, Math.ceil(ELEMENT_GRAIN / 4 / n)),
    );
  }

  /**
   * Rotates `x [nTokens][nHead][headDim]` into `y` (may equal `x`) with the per-token
   * angles in `cache` (see `ropeCache`): NeoX pairing when `neox`, else normal pairing.
   */
  rope(
    y: number,
    x: number,
    cache: number,
    nTokens: number,
    nHead: number,
    headDim: number,
    nRot: number,
    neox: boolean,
  ): void {
    if (nRot % 2 !== 0 || nRot > headDim) {
      throw new RangeError(`rope: n_rot ${nRot} must be even and at most head_dim ${headDim}`);
    }
    this.dispatcher.run(
      "flint_rope",
      [this.#p(y), this.#p(x), this.#p(cache), nHead, headDim, nRot, neox ? 1 : 0],
      nTokens * nHead,
      Math.max(1, Math.ceil(ELEMENT_GRAIN / 4 / headDim)),
    );
  }

  /** Softmax over each of `nRows` rows of `n` floats; `y` may equal `x`. */
  softmax(y: number, x: number, n: number, nRows: number): void {
    this.dispatcher.run(
      "flint_softmax",
      [this.#p(y), this.#p(x), n],
      nRows,
      Math.max(1, Math.ceil(ELEMENT_GRAIN / 4 / n)),
    );
  }

  /** `y = silu(gate) * up` over `n` floats. */
  swiglu(y: number, gate: number, up: number, n: number): void {
    this.#elementwise("flint_swiglu", [this.#p(y), this.#p(gate), this.#p(up)], n, EXP_GRAIN);
  }

  /** `y = silu(x)` over `n` floats. */
  silu(y: number, x: number, n: number): void {
    this.#elementwise("flint_silu", [this.#p(y), this.#p(x)], n, EXP_GRAIN);
  }

  /** `y = a + b` over `n` floats. */
  add(y: number, a: number, b: number, n: number): void {
    this.#elementwise("flint_add", [this.#p(y), this.#p(a), this.#p(b)], n);
  }

  /** `y = a * b` over `n` floats. */
  mul(y: number, a: number, b: number, n: number): void {
    this.#elementwise("flint_mul", [this.#p(y), this.#p(a), this.#p(b)], n);
  }

  /** `y = x * s` over `n` floats. */
  scale(y: number, x: number, s: number, n: number): void {
    this.#elementwise("flint_scale", [this.#p(y), this.#p(x), s], n);
  }

  /** `y = expf(x)` over `n` floats (the kernels' own expf). */
  exp(y: number, x: number, n: number): void {
    this.#elementwise("flint_expf", [this.#p(y), this.#p(x)], n, EXP_GRAIN);
  }

  /** Converts `n` floats at `x` to F16 at `y` (not overlapping `x`), rounding to nearest even. */
  f32ToF16(y: number, x: number, n: number): void {
    this.#elementwise("flint_f32_to_f16", [this.#p(y), this.#p(x)], n);
  }

  /** Converts `n` F16 values at `x` to floats at `y` (not overlapping `x`), exactly. */
  f16ToF32(y: number, x: number, n: number): void {
    this.#elementwise("flint_f16_to_f32", [this.#p(y), this.#p(x)], n);
  }

  /**
   * Causal grouped-query attention over one layer's KV cache, scaled by
   * 1/sqrt(headDim); work is split by query head.
   */
  attention(a: AttentionArgs): void {
    if (a.nHead % a.nHeadKv !== 0) {
      throw new RangeError(
        `attention: n_head ${a.nHead} is not a multiple of n_head_kv ${a.nHeadKv}`,
      );
    }
    if (a.headDim % 4 !== 0 || a.headDim > ATTENTION_MAX_HEAD_DIM) {
      throw new RangeError(
        `attention: head_dim ${a.headDim} must be a multiple of 4 and at most ${ATTENTION_MAX_HEAD_DIM}`,
      );
    }
    this.dispatcher.run(
      "flint_attention",
      [
        this.#p(a.out),
        this.#p(a.q),
        this.#p(a.k),
        this.#p(a.v),
        kvMode(a),
        this.#p(a.positions),
        a.nTokens,
        a.nHead,
        a.nHeadKv,
        a.headDim,
        this.#p(a.scratch),
        a.scratchStride,
      ],
      a.nHead,
      // Chunks of whole runs of query heads that share a KV head (the kernel loads each
      // K/V row once for up to 4 of them).
      Math.min(4, a.nHead / a.nHeadKv),
    );
  }

  #elementwise(name: string, args: (number | bigint)[], n: number, grain = ELEMENT_GRAIN): void {
    this.dispatcher.run(name, args, n, grain);
  }
}

/**
 * Computes RoPE angles as ggml does and returns, for each position, `nRot / 2` pairs
 * `(cos theta_i, sin theta_i)` with theta_0 = pos * freqScale and each next theta the
 * float product of the previous one (before freqScale) and freqBase^(-2/nRot).
 * cos and sin are evaluated in double and rounded to float, which matches a correctly
 * rounded cosf/sinf except in rare 1-ULP cases.
 * NOTE: llama.cpp calls the C library's cosf/sinf, and glibc's are not correctly rounded.
 * For positions 0..511 with nRot 32 and base 10000, 194 of the 16384 values from glibc
 * 2.36 (x86-64) differ from these by one ULP, the first at position 11. Some later
 * positions of the micro goldens therefore miss llama.cpp's bits (all stay within
 * 4e-7); with glibc's values substituted, every micro golden was bit-exact.
 */
export function ropeCache(
  positions: ArrayLike<number>,
  nRot: number,
  freqBase: number,
  freqScale = 1,
): Float32Array {
  const f = Math.fround;
  const half = nRot / 2;
  const thetaScale = f(Math.pow(f(freqBase), f(-2 / nRot)));
  const cache = new Float32Array(positions.length * nRot);
  for (let t = 0; t < positions.length; t++) {
    let theta = f(positions[t]);
    for (let i = 0; i < half; i++) {
      const angle = f(f(freqScale) * theta);
      cache[t * nRot + 2 * i] = Math.cos(angle);
      cache[t * nRot + 2 * i + 1] = Math.sin(angle);
      theta = f(theta * thetaScale);
    }
  }
  return cache;
}
