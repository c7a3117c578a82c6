/**
 * Token sampling in llama.cpp's default order: logit bias, repetition penalties, top-k,
 * top-p, min-p, temperature, then a seeded random draw. Temperature 0 picks the most
 * likely token after bias and penalties, breaking ties toward the lowest id.
 */
import { Rng } from "./rng.ts";

/** Sampling parameters; every field has llama.cpp's default. */
export interface SamplerParams {
  /** 0 (or below) is greedy. Default 0.8. */
  temperature: number;
  /** Keep the k most likely tokens; 0 or below disables. Default 40. */
  topK: number;
  /** Nucleus mass; 1 disables. Default 0.95. */
  topP: number;
  /** Drop tokens whose probability is below minP times the top one; 0 disables. Default 0.05. */
  minP: number;
  /** Divides positive and multiplies negative logits of recent tokens; 1 disables. Default 1. */
  repeatPenalty: number;
  /** Window of recent tokens the penalties look at; -1 is the whole context, 0 disables. Default 64. */
  repeatLastN: number;
  /** Subtracted once from the logit of every token seen in the window. Default 0. */
  presencePenalty: number;
  /** Subtracted per occurrence in the window. Default 0. */
  frequencyPenalty: number;
  /** Added to the logit of a token id before anything else. */
  logitBias: Record<number, number>;
  /** Seed of the random draw; default a random seed. */
  seed: number;
}

/** llama.cpp's defaults (common_params_sampling). */
export const DEFAULT_SAMPLER_PARAMS: Readonly<Omit<SamplerParams, "seed">> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
  repeatLastN: 64,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logitBias: {},
};

/** A sampling parameter outside its valid range. */
export class SamplerParamError extends RangeError {
  constructor(readonly param: string, readonly value: unknown, readonly expected: string) {
    super(`invalid sampling parameter "${param}": found ${String(value)}, expected ${expected}`);
    this.name = "SamplerParamError";
  }
}

function checkNumber(name: string, value: number, ok: boolean, expected: string): void {
  if (typeof value !== "number" || Number.isNaN(value) || !ok) {
    throw new SamplerParamError(name, value, expected);
  }
}

/** Fills in defaults and validates; throws `SamplerParamError` on a bad value. */
export function resolveSamplerParams(
  options: Partial<SamplerParams> = {},
): SamplerParams {
  const p: SamplerParams = {
    ...DEFAULT_SAMPLER_PARAMS,
    seed: Math.floor(Math.random() * 0x100000000),
  };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (p as unknown as Record<string, unknown>)[key] = value;
  }
  checkNumber("temperature", p.temperature, Number.isFinite(p.temperature), "a finite number");
  checkNumber("topK", p.topK, Number.isInteger(p.topK), "an integer");
  checkNumber("topP", p.topP, p.topP >= 0 && p.topP <= 1, "a number in [0, 1]");
  checkNumber("minP", p.minP, p.minP >= 0 && p.minP <= 1, "a number in [0, 1]");
  checkNumber(
    "repeatPenalty",
    p.repeatPenalty,
    Number.isFinite(p.repeatPenalty) && p.repeatPenalty > 0,
    "a positive number",
  );
  checkNumber(
    "repeatLastN",
    p.repeatLastN,
    Number.isInteger(p.repeatLastN) && p.repeatLastN >= -1,
    "an integer of at least -1",
  );
  checkNumber(
    "presencePenalty",
    p.presencePenalty,
    Number.isFinite(p.presencePenalty),
    "a finite number",
  );
  checkNumber(
    "frequencyPenalty",
    p.frequencyPenalty,
    Number.isFinite(p.frequencyPenalty),
    "a finite number",
  );
  checkNumber("seed", p.seed, Number.isInteger(p.seed), "an integer");
  if (typeof p.logitBias !== "object" || p.logitBias === null) {
    throw new SamplerParamError("logitBias", p.logitBias, "an object of token id to number");
  }
  for (const [id, bias] of Object.entries(p.logitBias)) {
    const n = Number(id);
    if (!Number.isInteger(n) || n < 0 || typeof bias !== "number" || Number.isNaN(bias)) {
      throw new SamplerParamError(
        `logitBias[${id}]`,
        bias,
        "a non-negative integer token id mapped to a number",
      );
    }
  }
  return p;
}

/** Index of the largest value; the lowest index wins a tie. NaN never wins. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/**
 * Chooses tokens from logits. Keeps the penalty window of recent tokens (prompt tokens
 * included, as llama-server feeds them in) and the random state, so one sampler serves
 * one generation.
 */
export class Sampler {
  readonly params: SamplerParams;
  readonly #rng: Rng;
  /** Recent token ids, oldest first; at most `#window` long. */
  #recent: number[] = [];
  readonly #window: number;

  /** `nCtx` sizes the penalty window when `repeatLastN` is -1. */
  constructor(params: SamplerParams, nCtx: number) {
    this.params = params;
    this.#rng = new Rng(params.seed);
    this.#window = params.repeatLastN === -1 ? nCtx : params.repeatLastN;
  }

  /** Records a token in the penalty window (prompt or generated). */
  accept(token: number): void {
    if (this.#window <= 0) return;
    this.#recent.push(token);
    if (this.#recent.length > this.#window * 2) {
      this.#recent = this.#recent.slice(-this.#window);
    }
  }

  /**
   * Applies bias and penalties to a copy of `logits` and returns it; the distribution
   * every later step starts from.
   */
  adjustedLogits(logits: Float32Array): Float32Array {
    const out = new Float32Array(logits);
    const p = this.params;
    for (const [id, bias] of Object.entries(p.logitBias)) {
      const i = Number(id);
      if (i < out.length) out[i] += bias;
    }
    const penalize = p.repeatPenalty !== 1 || p.presencePenalty !== 0 ||
      p.frequencyPenalty !== 0;
    if (penalize && this.#window > 0 && this.#recent.length > 0) {
      const counts = new Map<number, number>();
      const start = Math.max(0, this.#recent.length - this.#window);
      for (let i = start; i < this.#recent.length; i++) {
        const t = this.#recent[i];
        counts.set(t, (counts.get(t) ?? 0) + 1);
      }
      for (const [t, count] of counts) {
        if (t < 0 || t >= out.length) continue;
        // Dividing a negative logit would raise its probability, so it is multiplied.
        out[t] = out[t] <= 0 ? out[t] * p.repeatPenalty : out[t] / p.repeatPenalty;
        out[t] -= count * p.frequencyPenalty + p.presencePenalty;
      }
    }
    return out;
  }

  /** Picks the next token from raw logits (one row, `nVocab` values). */
  sample(logits: Float32Array): number {
    const z = this.adjustedLogits(logits);
    const p = this.params;
    if (p.temperature <= 0) return argmax(z);

    // Candidates sorted by logit, descending; ties keep the lower id first.
    let ids = topCandidates(z, p.topK > 0 ? Math.min(p.topK, z.length) : z.length);

    // top-p: keep the smallest prefix whose probability mass reaches topP.
    if (p.topP < 1) {
      const probs = softmaxOf(z, ids);
      let cum = 0;
      let keep = ids.length;
      for (let i = 0; i < ids.length; i++) {
        cum += probs[i];
        if (cum >= p.topP) {
          keep = i + 1;
          break;
        }
      }
      ids = ids.subarray(0, keep);
    }

    // min-p: drop tokens whose probability is below minP times the top one's.
    if (p.minP > 0) {
      const minLogit = z[ids[0]] + Math.log(p.minP);
      let keep = 1;
      while (keep < ids.length && z[ids[keep]] >= minLogit) keep++;
      ids = ids.subarray(0, keep);
    }

    // Temperature, then a draw from the remaining distribution.
    const scaled = new Float32Array(ids.length);
    for (let i = 0; i < ids.length; i++) scaled[i] = z[ids[i]] / p.temperature;
    const probs = softmaxOf(scaled, null);
    const r = this.#rng.nextFloat();
    let cum = 0;
    for (let i = 0; i < ids.length; i++) {
      cum += probs[i];
      if (r < cum) return ids[i];
    }
    return ids[ids.length - 1];
  }
}

/** Ids of the `k` largest logits, sorted descending; ties keep the lower id first. */
function topCandidates(z: Float32Array, k: number): Int32Array {
  const n = z.length;
  if (k >= n / 4) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    all.sort((a, b) => z[b] - z[a] || a - b);
    return all.subarray(0, k);
  }
  // Insertion into a small sorted buffer: O(n·k) worst case, O(n) typical for k ≪ n.
  const ids = new Int32Array(k);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const v = z[i];
    if (Number.isNaN(v)) continue;
    if (size === k && v <= z[ids[k - 1]]) continue;
    let j = size < k ? size++ : k - 1;
    while (j > 0 && z[ids[j - 1]] < v) {
      ids[j] = ids[j - 1];
      j--;
    }
    ids[j] = i;
  }
  return ids.subarray(0, size);
}

/** Softmax of `z[ids[i]]` (or of `z` itself when `ids` is null), in float64. */
function softmaxOf(z: Float32Array, ids: Int32Array | null): Float64Array {
  const n = ids ? ids.length : z.length;
  const out = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, ids ? z[ids[i]] : z[i]);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((ids ? z[ids[i]] : z[i]) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/** Log-softmax of one row of logits, in float64. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/** The `n` most likely token ids with their log-probabilities, most likely first. */
export function topLogprobs(
  logprobs: Float64Array,
  n: number,
): { token: number; logprob: number }[] {
  const f32 = Float32Array.from(logprobs);
  const ids = topCandidates(f32, Math.min(n, f32.length));
  return Array.from(ids, (token) => ({ token, logprob: logprobs[token] }));
}
