/**
 * Random but valid tensor data for every block type synth writes: random quant bits
 * with small finite fp16 scales, so dequantized weights are of order 0.01 to 0.1.
 */
import { GGML_TYPES, GgmlType } from "../gguf/mod.ts";

/** Rounds a float32 to IEEE binary16 bits (nearest even); finite inputs only. */
export function f32ToF16Bits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** xorshift32: fast, seeded, good enough for filler bytes. */
export class FillRng {
  #x: number;
  constructor(seed: number) {
    this.#x = (seed >>> 0) || 0x9e3779b9;
  }
  next(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    return this.#x;
  }
  /** Uniform in [-1, 1). */
  signed(): number {
    return this.next() / 2147483648 - 1;
  }
}

/** Where each type keeps its fp16 scales (byte offsets in a block) and their magnitudes. */
const SCALES: Partial<Record<GgmlType, { offset: number; magnitude: number }[]>> = {
  [GgmlType.Q4_0]: [{ offset: 0, magnitude: 0.005 }],
  [GgmlType.Q4_1]: [{ offset: 0, magnitude: 0.005 }, { offset: 2, magnitude: 0.04 }],
  [GgmlType.Q5_0]: [{ offset: 0, magnitude: 0.003 }],
  [GgmlType.Q5_1]: [{ offset: 0, magnitude: 0.003 }, { offset: 2, magnitude: 0.04 }],
  [GgmlType.Q8_0]: [{ offset: 0, magnitude: 0.0004 }],
  [GgmlType.Q2_K]: [{ offset: 80, magnitude: 0.002 }, { offset: 82, magnitude: 0.001 }],
  [GgmlType.Q3_K]: [{ offset: 108, magnitude: 0.0005 }],
  [GgmlType.Q4_K]: [{ offset: 0, magnitude: 0.0005 }, { offset: 2, magnitude: 0.0005 }],
  [GgmlType.Q5_K]: [{ offset: 0, magnitude: 0.0003 }, { offset: 2, magnitude: 0.0003 }],
  [GgmlType.Q6_K]: [{ offset: 208, magnitude: 0.00005 }],
  [GgmlType.IQ4_NL]: [{ offset: 0, magnitude: 0.0002 }],
  [GgmlType.IQ4_XS]: [{ offset: 0, magnitude: 0.00002 }],
};

/** Block types synth can fill. */
export function canFill(type: GgmlType): boolean {
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16 ||
    SCALES[type] !== undefined;
}

/**
 * Fills `dest` with whole blocks of `type` (its length must be a multiple of the block
 * bytes). Values are drawn from `rng`; `std` is the weights' rough spread for float types.
 */
export function fillBlocks(type: GgmlType, dest: Uint8Array, rng: FillRng, std = 0.02): void {
  const view = new DataView(dest.buffer, dest.byteOffset, dest.byteLength);
  if (type === GgmlType.F32) {
    for (let i = 0; i + 4 <= dest.length; i += 4) {
      view.setFloat32(i, rng.signed() * std * 1.7, true);
    }
    return;
  }
  if (type === GgmlType.F16) {
    for (let i = 0; i + 2 <= dest.length; i += 2) {
      view.setUint16(i, f32ToF16Bits(rng.signed() * std * 1.7), true);
    }
    return;
  }
  if (type === GgmlType.BF16) {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i + 2 <= dest.length; i += 2) {
      f[0] = rng.signed() * std * 1.7;
      view.setUint16(i, u[0] >>> 16, true);
    }
    return;
  }
  const scales = SCALES[type];
  if (!scales) throw new RangeError(`synth cannot write ${GGML_TYPES[type].name} blocks`);
  const words = new Uint32Array(dest.buffer, dest.byteOffset, dest.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = rng.next();
  for (let i = words.length * 4; i < dest.length; i++) dest[i] = rng.next() & 0xff;
  const blockBytes = GGML_TYPES[type].typeSize;
  for (let b = 0; b + blockBytes <= dest.length; b += blockBytes) {
    for (const s of scales) {
      const value = s.magnitude * (0.5 + (rng.next() / 4294967296));
      view.setUint16(b + s.offset, f32ToF16Bits(value), true);
    }
  }
}
