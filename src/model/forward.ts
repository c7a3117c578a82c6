/**
 * The llama forward pass. `LlamaForward.eval` runs a batch of tokens at consecutive
 * positions through every layer, appends their K and V to a cache and returns logits.
 * Batches go through the matrix × matrix kernels and single tokens through matrix ×
 * vector. Activations are first quantized to each weight's activation type, as
 * ggml's CPU backend does.
 */
import type { Dispatcher } from "../kernels/ops.ts";
import { Ops, ropeCache } from "../kernels/ops.ts";
import {
  activationRowBytes,
  activationType,
  getRows,
  INTERLEAVED_4,
  KernelError,
  LANES,
  SEGMENT_ROWS,
  SEGMENTED,
} from "../kernels/quant.ts";
import type { Kernels } from "../kernels/runtime.ts";
import type { GgmlType } from "../gguf/mod.ts";
import { ContextError } from "./errors.ts";
import type { LlamaHparams } from "./hparams.ts";
import type { KvCache } from "./kv_cache.ts";
import type { LlamaWeights, Weight } from "./weights.ts";

/** The logits `eval` returns: the last token's, every token's or none. */
export type LogitsMode = "last" | "all" | "none";

/** Rows per thread part for matrix × vector; a multiple of the kernels' tile. */
const MATVEC_GRAIN = 16;
/** Rows per thread part for matrix × matrix. */
const MATMUL_GRAIN = 4;
/**
 * Rows per thread part for matrix × matrix on segmented weights. The kernel computes whole
 * row groups, so a part boundary inside a group would compute that group twice.
 */
const MATMUL_GRAIN_SEGMENTED = SEGMENT_ROWS;
/** Smallest batch whose attention widens the F16 cache rows first. */
const WIDEN_MIN_BATCH = 16;

/**
 * Summation order of prompt-batch matmuls: flint's fastest, or llama.cpp's x86 order
 * (kernels/ggml_order.c) for the types that have it.
 */
export type MatmulOrder = "flint" | "ggml";

/**
 * Optional callback that receives every named activation, for comparing with a reference.
 * It may change the floats in place: the pass goes on with the changed values, which is
 * how tools/flip_probe.ts tests a single quantized code.
 */
export type ActivationHook = (name: string, layer: number, ptr: number, floats: number) => void;

/** Scratch buffers for one batch of up to `maxBatch` tokens; shapes are per batch. */
interface Scratch {
  /** int32 [maxBatch] token ids */
  ids: number;
  /** int32 [maxBatch] positions */
  positions: number;
  /** float [maxBatch][n_rot] RoPE (cos, sin) pairs */
  rope: number;
  /** float [maxBatch][n_embd] residual stream */
  x: number;
  /** float [maxBatch][n_embd] normed input of a sub-layer */
  xNorm: number;
  /** float [maxBatch][n_embd] queries */
  q: number;
  /** float [maxBatch][n_embd_kv] keys of this batch */
  k: number;
  /** float [maxBatch][n_embd_kv] values of this batch */
  v: number;
  /** float [maxBatch][n_embd] attention output (before the output projection) */
  attn: number;
  /** float [maxBatch][n_embd] output of a sub-layer's last projection */
  proj: number;
  /** float [maxBatch][n_ff] FFN gate, then silu(gate)·up */
  gate: number;
  /** float [maxBatch][n_ff] FFN up */
  up: number;
  /** quantized activations [maxBatch][max activation row bytes] */
  xq: number;
  /** float [maxBatch][n_vocab] logits */
  logits: number;
}

/** A llama model bound to kernels: weights, scratch and the forward pass. */
export class LlamaForward {
  readonly hp: LlamaHparams;
  readonly weights: LlamaWeights;
  readonly kernels: Kernels;
  readonly ops: Ops;
  readonly dispatcher: Dispatcher;
  /** Largest batch one `#evalBatch` call takes; longer inputs are split. */
  readonly maxBatch: number;
  hook?: ActivationHook;
  readonly #s: Scratch;
  readonly matmulOrder: MatmulOrder;
  /** Source buffer and activation type of the rows now in the quantized buffer. */
  #xqFor: { src: number; act: number; n: number } | null = null;

  constructor(
    kernels: Kernels,
    dispatcher: Dispatcher,
    hp: LlamaHparams,
    weights: LlamaWeights,
    maxBatch: number,
    options: { matmulOrder?: MatmulOrder } = {},
  ) {
    this.kernels = kernels;
    this.matmulOrder = options.matmulOrder ?? "flint";
    this.dispatcher = dispatcher;
    this.ops = new Ops(kernels, dispatcher);
    this.hp = hp;
    this.weights = weights;
    this.maxBatch = maxBatch;
    const f = (n: number) => kernels.alloc(n * 4, 64);
    const B = maxBatch;
    let xqRow = 0;
    for (const w of allMatrices(weights)) {
      xqRow = Math.max(xqRow, activationRowBytes(w.type, w.ne0));
    }
    this.#s = {
      ids: f(B),
      positions: f(B),
      rope: f(B * hp.nRot),
      x: f(B * hp.nEmbd),
      xNorm: f(B * hp.nEmbd),
      q: f(B * hp.nEmbd),
      k: f(B * hp.nEmbdKv),
      v: f(B * hp.nEmbdKv),
      attn: f(B * hp.nEmbd),
      proj: f(B * hp.nEmbd),
      gate: f(B * hp.nFf),
      up: f(B * hp.nFf),
      xq: kernels.alloc(B * xqRow, 64),
      logits: f(B * hp.nVocab),
    };
  }

  /** Bytes of scratch a model with these hyperparameters allocates (an estimate for sizing). */
  static scratchBytes(hp: LlamaHparams, maxBatch: number): number {
    const B = maxBatch;
    const floats = B * (3 + hp.nRot + 5 * hp.nEmbd + 2 * hp.nEmbdKv + 2 * hp.nFf + hp.nVocab);
    return floats * 4 + B * Math.max(hp.nEmbd, hp.nFf) * 2 + 1024 * 64;
  }

  /**
   * Runs `tokens` at positions `pos0, pos0 + 1, …`, writing their K and V into `cache`.
   * Returns the logits of the last token (`last`, [n_vocab]), of every token (`all`,
   * [tokens.length][n_vocab]) or none. Throws `ContextError` when the positions do not
   * fit the cache.
   */
  eval(
    cache: KvCache,
    tokens: ArrayLike<number>,
    pos0: number,
    mode: LogitsMode = "last",
  ): Float32Array {
    const n = tokens.length;
    if (!Number.isInteger(pos0) || pos0 < 0 || pos0 + n > cache.nCtx) {
      throw new ContextError(
        `cannot evaluate ${n} tokens at position ${pos0}: the KV cache holds ${cache.nCtx} positions`,
      );
    }
    let outFloats = 0;
    if (mode === "all") outFloats = n * this.hp.nVocab;
    else if (mode === "last") outFloats = this.hp.nVocab;
    const out = new Float32Array(outFloats);
    for (let start = 0; start < n; start += this.maxBatch) {
      const end = Math.min(n, start + this.maxBatch);
      const batch = Array.prototype.slice.call(tokens, start, end) as number[];
      const isLast = end === n;
      const batchMode: LogitsMode = mode === "all"
        ? "all"
        : mode === "last" && isLast
        ? "last"
        : "none";
      const logits = this.#evalBatch(cache, batch, pos0 + start, batchMode);
      if (batchMode === "all") out.set(logits, start * this.hp.nVocab);
      else if (batchMode === "last") out.set(logits);
    }
    return out;
  }

  /** One batch of at most `maxBatch` tokens; returns a view of the logits it computed. */
  #evalBatch(cache: KvCache, tokens: number[], pos0: number, mode: LogitsMode): Float32Array {
    const { hp, weights: w, ops, kernels: k } = this;
    const s = this.#s;
    const n = tokens.length;
    const hook = this.hook;

    // Inputs: token ids, positions and the RoPE angles of each position.
    const positions = Array.from({ length: n }, (_, i) => pos0 + i);
    new Int32Array(k.memory.buffer, s.ids, n).set(tokens);
    new Int32Array(k.memory.buffer, s.positions, n).set(positions);
    k.f32(s.rope, n * hp.nRot).set(
      ropeCache(positions, hp.nRot, hp.ropeFreqBase, hp.ropeFreqScale),
    );

    // x [n][n_embd] = token_embd rows of the ids (dequantized exactly).
    getRows(
      k,
      w.tokenEmbd.kernelType as GgmlType,
      w.tokenEmbd.ptr,
      w.tokenEmbd.rowBytes,
      s.ids,
      s.x,
      hp.nEmbd,
      hp.nEmbd,
      0,
      n,
    );
    hook?.("inp_embd", -1, s.x, n * hp.nEmbd);

    // The last layer needs K and V of every token. The rest of it runs only for the rows
    // whose logits are returned, none for an inner batch of a long prompt, as llama.cpp
    // prunes its output rows. Other rows of x keep their values from the layer before.
    // With a hook every row goes through, so the hook gets whole batches.
    let firstKept = 0;
    if (!hook && mode === "last") firstKept = n - 1;
    else if (!hook && mode === "none") firstKept = n;
    const f32 = 4;
    for (let il = 0; il < hp.nLayer; il++) {
      const L = w.layers[il];
      // Rows r0..n-1 (m of them) continue past the K/V store.
      const r0 = il === hp.nLayer - 1 ? firstKept : 0;
      const m = n - r0;
      const x = s.x + r0 * hp.nEmbd * f32;

      // 1. Attention norm: xNorm [n][n_embd] = rms_norm(x) · attn_norm.
      ops.rmsNorm(s.xNorm, s.x, L.attnNorm.ptr, hp.nEmbd, n, hp.fNormRmsEps);
      hook?.("attn_norm", il, s.xNorm, n * hp.nEmbd);

      // 2. Q [m][n_embd] from rows r0.., K [n][n_embd_kv], V [n][n_embd_kv].
      if (m > 0) this.#matmul(L.attnQ, s.xNorm + r0 * hp.nEmbd * f32, s.q, m);
      this.#matmul(L.attnK, s.xNorm, s.k, n, true);
      this.#matmul(L.attnV, s.xNorm, s.v, n, true);

      // 3. RoPE on Q and K, in place (normal pairing: elements 2i and 2i+1).
      if (m > 0) {
        ops.rope(s.q, s.q, s.rope + r0 * hp.nRot * f32, m, hp.nHead, hp.nEmbdHead, hp.nRot, false);
      }
      ops.rope(s.k, s.k, s.rope, n, hp.nHeadKv, hp.nEmbdHead, hp.nRot, false);
      hook?.("Qcur", il, s.q, m * hp.nEmbd);
      hook?.("Kcur", il, s.k, n * hp.nEmbdKv);
      hook?.("Vcur", il, s.v, n * hp.nEmbdKv);

      // 4. Store K and V at positions pos0..pos0+n-1 of this layer's cache.
      this.#storeKv(cache, cache.k[il], s.k, pos0, n);
      this.#storeKv(cache, cache.v[il], s.v, pos0, n);
      if (m === 0) continue;

      // 5. Attention with grouped-query heads: attn [m][n_embd]. A prompt batch widens
      // the F16 rows it attends to once into the (idle) FFN buffers, not once per query
      // token inside the kernel. The bits do not change.
      const nKv = pos0 + n;
      const widen = cache.type === "f16" && m >= WIDEN_MIN_BATCH &&
        nKv * hp.nEmbdKv <= this.maxBatch * hp.nFf;
      if (widen) {
        ops.f16ToF32(s.gate, cache.k[il], nKv * hp.nEmbdKv);
        ops.f16ToF32(s.up, cache.v[il], nKv * hp.nEmbdKv);
      }
      ops.attention({
        out: s.attn,
        q: s.q,
        k: widen ? s.gate : cache.k[il],
        v: widen ? s.up : cache.v[il],
        kvF16: cache.type === "f16",
        kvWidened: widen,
        positions: s.positions + r0 * f32,
        nTokens: m,
        nHead: hp.nHead,
        nHeadKv: hp.nHeadKv,
        headDim: hp.nEmbdHead,
        scratch: cache.scores,
        scratchStride: cache.nCtx,
      });
      hook?.("kqv_out", il, s.attn, m * hp.nEmbd);

      // 6. Output projection and residual: x += attn_output · attn (rows r0..).
      this.#matmul(L.attnOutput, s.attn, s.proj, m);
      ops.add(x, x, s.proj, m * hp.nEmbd);
      hook?.("ffn_inp", il, x, m * hp.nEmbd);

      // 7. FFN norm: xNorm = rms_norm(x) · ffn_norm.
      ops.rmsNorm(s.xNorm, x, L.ffnNorm.ptr, hp.nEmbd, m, hp.fNormRmsEps);
      hook?.("ffn_norm", il, s.xNorm, m * hp.nEmbd);

      // 8. SwiGLU: gate [m][n_ff] = silu(ffn_gate · xNorm) · (ffn_up · xNorm).
      this.#matmul(L.ffnGate, s.xNorm, s.gate, m);
      this.#matmul(L.ffnUp, s.xNorm, s.up, m, true);
      hook?.("ffn_gate", il, s.gate, m * hp.nFf);
      hook?.("ffn_up", il, s.up, m * hp.nFf);
      ops.swiglu(s.gate, s.gate, s.up, m * hp.nFf);
      hook?.("ffn_swiglu", il, s.gate, m * hp.nFf);

      // 9. Down projection and residual: x += ffn_down · gate.
      this.#matmul(L.ffnDown, s.gate, s.proj, m);
      ops.add(x, x, s.proj, m * hp.nEmbd);
      hook?.("l_out", il, x, m * hp.nEmbd);
    }
    if (mode === "none") return new Float32Array(0);

    // Final norm and output matrix, only for the rows whose logits are wanted.
    const first = mode === "last" ? n - 1 : 0;
    const rows = n - first;
    const xRows = s.x + first * hp.nEmbd * 4;
    ops.rmsNorm(s.xNorm, xRows, w.outputNorm.ptr, hp.nEmbd, rows, hp.fNormRmsEps);
    hook?.("result_norm", -1, s.xNorm, rows * hp.nEmbd);
    this.#matmul(w.output, s.xNorm, s.logits, rows);
    return k.f32(s.logits, rows * hp.nVocab);
  }

  /**
   * Computes y [n][w.ne1] = w · x for `n` rows of x [n][w.ne0], after quantizing x for
   * the weight's activation type. With `reuseInput` (x unchanged since the previous
   * call), rows already quantized to the same activation type are reused.
   */
  #matmul(wt: Weight, x: number, y: number, n: number, reuseInput = false): void {
    const k = this.kernels;
    // The id activations are quantized with: the block format, without a row layout flag.
    // Each lanes format permutes its activations its own way, so it keys the reuse by
    // itself; plain formats share their activation type.
    const quantType = wt.kernelType & ~(SEGMENTED | INTERLEAVED_4);
    const act = quantType & LANES ? quantType : activationType(wt.type);
    const xqStride = activationRowBytes(wt.type, wt.ne0);
    const s = this.#s;
    const held = this.#xqFor;
    if (!reuseInput || !held || held.src !== x || held.act !== act || held.n !== n) {
      const code = n === 1
        ? k.exports.flint_quantize_row(quantType, k.ptr(x), k.ptr(s.xq), wt.ne0)
        : this.dispatcher.run(
          "flint_quantize_rows",
          [quantType, k.ptr(x), k.ptr(wt.ne0), k.ptr(s.xq), k.ptr(xqStride), wt.ne0],
          n,
          1,
        );
      if (code !== 0) {
        throw new KernelError("quantize activations", quantType, code, `${wt.name}, n ${n}`);
      }
      this.#xqFor = { src: x, act, n };
    }
    let code: number;
    if (n === 1) {
      code = this.dispatcher.run(
        "flint_matvec",
        [wt.kernelType, k.ptr(wt.ptr), k.ptr(wt.rowBytes), k.ptr(s.xq), k.ptr(y), wt.ne0],
        wt.ne1,
        MATVEC_GRAIN,
      );
    } else {
      // The ggml-order kernels read row-major weights only.
      const ggml = this.matmulOrder === "ggml" && wt.kernelType === wt.type &&
        k.exports.flint_ggml_order_supported(wt.type, wt.ne0) === 1;
      const kernel = ggml ? "flint_matmul_ggml" : "flint_matmul";
      code = this.dispatcher.run(
        kernel,
        [
          wt.kernelType,
          k.ptr(wt.ptr),
          k.ptr(wt.rowBytes),
          k.ptr(s.xq),
          k.ptr(xqStride),
          k.ptr(y),
          wt.ne0,
          n,
          k.ptr(wt.ne1),
        ],
        wt.ne1,
        wt.kernelType & SEGMENTED ? MATMUL_GRAIN_SEGMENTED : MATMUL_GRAIN,
      );
    }
    if (code !== 0) {
      throw new KernelError("matrix product", wt.kernelType, code, `${wt.name}, n ${n}`);
    }
  }

  /** Copies `n` rows [n_embd_kv] floats from `src` into cache rows pos0.. (F16 or F32). */
  #storeKv(cache: KvCache, layerBase: number, src: number, pos0: number, n: number): void {
    const count = n * this.hp.nEmbdKv;
    const dest = layerBase + pos0 * cache.rowBytes;
    if (cache.type === "f16") {
      this.ops.f32ToF16(dest, src, count);
    } else {
      const bytes = new Uint8Array(this.kernels.memory.buffer);
      bytes.copyWithin(dest, src, src + count * 4);
    }
  }
}

function* allMatrices(w: LlamaWeights): Iterable<Weight> {
  yield w.output;
  for (const l of w.layers) {
    yield l.attnQ;
    yield l.attnK;
    yield l.attnV;
    yield l.attnOutput;
    yield l.ffnGate;
    yield l.ffnUp;
    yield l.ffnDown;
  }
}
