/*
 * Block layouts of the GGML weight and activation types, fp16/bf16 conversion, and
 * the prototypes of every row kernel in kernels/<type>.c.
 *
 * Every struct mirrors the on-disk bytes (little-endian, no padding); a
 * _Static_assert pins each size. Weight w[p] is position p of the block. f16(x) is
 * an IEEE binary16 value taken exactly as float32. Dequantizers evaluate each
 * formula in float32 in the order written here; the result matches ggml bit for bit.
 *
 * Row kernels share one shape:
 *   void  dequantize_row_<t>(const void *x, float *y, int n);
 *   float vec_dot_<t>_<act>(int n, const void *x, const void *y);         SIMD128
 *   float vec_dot_<t>_<act>_scalar(int n, const void *x, const void *y);  reference
 * n counts weights and is a multiple of the block size; x is the weight row and y the
 * activation row already quantized to <act>.
 */
#ifndef FLINT_QUANTS_H
#define FLINT_QUANTS_H

#include "flint.h"

#define QK4_0 32
#define QK8_0 32
#define QK_K 256

/* Q4_0, 4.5 bits per weight: w[j] = (lo(qs[j]) - 8)·d, w[j+16] = (hi(qs[j]) - 8)·d. */
typedef struct {
  ggml_fp16_t d;
  uint8_t qs[16];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 18, "Q4_0 block is 18 bytes");

/* Q4_1, 5 bits per weight: w[j] = lo(qs[j])·d + m, w[j+16] = hi(qs[j])·d + m. */
typedef struct {
  ggml_fp16_t d;
  ggml_fp16_t m;
  uint8_t qs[16];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 20, "Q4_1 block is 20 bytes");

/*
 * Q5_0, 5.5 bits per weight: qh (little-endian uint32) bit p is the fifth bit of
 * weight p; w[j] = ((lo(qs[j]) | bit_j << 4) - 16)·d, w[j+16] likewise with hi and
 * bit j+16. qh is a byte array because the block is only 2-byte aligned.
 */
typedef struct {
  ggml_fp16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 22, "Q5_0 block is 22 bytes");

/* Q5_1, 6 bits per weight: codes as in Q5_0 without the -16, w[p] = q_p·d + m. */
typedef struct {
  ggml_fp16_t d;
  ggml_fp16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 24, "Q5_1 block is 24 bytes");

/* Q8_0, 8.5 bits per weight (also the activation type of Q4_0, Q5_0, Q8_0, IQ4_NL):
 * w[p] = qs[p]·d. */
typedef struct {
  ggml_fp16_t d;
  int8_t qs[32];
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 block is 34 bytes");

/* Q8_1, activations for Q4_1 and Q5_1: Q8_0 plus s = f16(d_f32·Σqs) for the mins. */
typedef struct {
  ggml_fp16_t d;
  ggml_fp16_t s;
  int8_t qs[32];
} block_q8_1;
_Static_assert(sizeof(block_q8_1) == 36, "Q8_1 block is 36 bytes");

/*
 * Q2_K, 256 weights, 2.625 bits per weight. scales[k] covers weights 16k..16k+15:
 * low nibble scale, high nibble min. For p = 128h + 32j + l the code is
 * (qs[32h + l] >> 2j) & 3 and w = (d·lo(sc))·q - dmin·hi(sc).
 */
typedef struct {
  uint8_t scales[16];
  uint8_t qs[64];
  ggml_fp16_t d;
  ggml_fp16_t dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == 84, "Q2_K block is 84 bytes");

/*
 * Q3_K, 256 weights, 3.4375 bits per weight. Low two bits as in Q2_K; bit 4h + j of
 * hmask[l] set means q = low, clear means q = low - 4 (so q is in -4..3). Sixteen
 * signed 6-bit scales s_k (one per 16 weights, stored +32) are packed in 12 bytes:
 * low nibble from scales[k] (k < 8) or hi(scales[k-8]), top two bits from
 * scales[8 + k%4] >> 2(k/4). w = (d·s_{p/16})·q.
 */
typedef struct {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  ggml_fp16_t d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == 110, "Q3_K block is 110 bytes");

/*
 * Q4_K, 256 weights, 4.5 bits per weight. Eight 32-weight sub-blocks b with 6-bit
 * scale sc_b and min m_b packed in 12 bytes (see unpack_scale_min_k4). Chunk c = p/64
 * uses qs[32c..32c+31]: low nibbles for its first 32 weights, high nibbles for the
 * next 32. w = (d·sc_b)·q - dmin·m_b.
 */
typedef struct {
  ggml_fp16_t d;
  ggml_fp16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 144, "Q4_K block is 144 bytes");

/* Q5_K, 5.5 bits per weight: Q4_K plus a fifth bit, bit p/32 of qh[p % 32];
 * q = low4 + 16·bit and w = (d·sc_b)·q - dmin·m_b. */
typedef struct {
  ggml_fp16_t d;
  ggml_fp16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 176, "Q5_K block is 176 bytes");

/*
 * Q6_K, 256 weights, 6.5625 bits per weight. For p = 128h + 32k + l: low nibble of
 * ql[64h + l + 32(k%2)] (k < 2) or its high nibble (k >= 2), high two bits
 * (qh[32h + l] >> 2k) & 3, q = code - 32 and w = (d·scales[p/16])·q.
 */
typedef struct {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  ggml_fp16_t d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == 210, "Q6_K block is 210 bytes");

/* Q8_K, activations for the k-quants and IQ4_XS: float32 d, w[p] = d·qs[p], and
 * bsums[i] = Σ qs[16i..16i+15]. */
typedef struct {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 292, "Q8_K block is 292 bytes");

/* IQ4_NL, 4.5 bits per weight: nibbles as in Q4_0 index the table kvalues_iq4nl;
 * w = d·K[code]. */
typedef struct {
  ggml_fp16_t d;
  uint8_t qs[16];
} block_iq4_nl;
_Static_assert(sizeof(block_iq4_nl) == 18, "IQ4_NL block is 18 bytes");

/*
 * IQ4_XS, 256 weights, 4.25 bits per weight. Sub-block b (32 weights, bytes
 * qs[16b..16b+15], nibbles as in Q4_0) has the 6-bit scale
 * ls = ((scales_l[b/2] >> 4(b%2)) & 15) | ((scales_h >> 2b) & 3) << 4 and
 * w = (d·(ls - 32))·K[code].
 */
typedef struct {
  ggml_fp16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
} block_iq4_xs;
_Static_assert(sizeof(block_iq4_xs) == 136, "IQ4_XS block is 136 bytes");

/* The 16 non-uniform levels of IQ4_NL and IQ4_XS. */
extern const int8_t kvalues_iq4nl[16];

/* ---- fp16 / bf16 ---- */

static inline uint32_t f32_bits(float f) {
  union {
    float f;
    uint32_t u;
  } v = {.f = f};
  return v.u;
}

static inline float f32_from_bits(uint32_t u) {
  union {
    uint32_t u;
    float f;
  } v = {.u = u};
  return v.f;
}

/*
 * Exact binary16 → float32. Normal values only need their exponent rebased (+112), so
 * the work is integer. Subnormals are m·2^-24, computed from the integer m so that no
 * float operation gets a subnormal operand. x86 takes a slow microcode assist on those,
 * and k-quant scales of small weights are often subnormal (multiplying such scales by
 * 2^112 halved Q6_K matvec speed).
 */
static inline float fp16_to_f32(ggml_fp16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t e = (h >> 10) & 31, m = h & 0x3ff;
  uint32_t bits;
  if (e == 0) {
    bits = f32_bits((float)m * 0x1p-24f);
  } else if (e == 31) {
    bits = 0x7f800000 | m << 13;
  } else {
    bits = (e + 112) << 23 | m << 13;
  }
  return f32_from_bits(bits | sign);
}

/* float32 → binary16, round to nearest even; NaN stays NaN (quiet), overflow gives inf. */
static inline ggml_fp16_t f32_to_fp16(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t ax = x & 0x7fffffff;
  if (ax > 0x7f800000) return (ggml_fp16_t)(sign | 0x7e00);
  /* 65520 is halfway between the largest half (65504) and 2^16; ties go to even = inf. */
  if (ax >= 0x477ff000) return (ggml_fp16_t)(sign | 0x7c00);
  if (ax < 0x38800000) {
    /* Below 2^-14 the result is subnormal. Adding 0.5 leaves a float whose ulp is 2^-24,
     * the subnormal step, so the hardware does the round-to-nearest-even. */
    float r = f32_from_bits(ax) + 0.5f;
    return (ggml_fp16_t)(sign | (f32_bits(r) - 0x3f000000));
  }
  uint32_t odd = (ax >> 13) & 1;
  ax += 0xc8000fffu + odd; /* rebias exponent by -112 and round to nearest even */
  return (ggml_fp16_t)(sign | (ax >> 13));
}

static inline float bf16_to_f32(uint16_t h) {
  return f32_from_bits((uint32_t)h << 16);
}

/* float32 → bfloat16, round to nearest even; NaN becomes a quiet NaN. */
static inline uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64);
  return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

/* Unpacks the 6-bit scale and min of Q4_K/Q5_K sub-block b from the 12 scale bytes. */
static inline void unpack_scale_min_k4(int b, const uint8_t *s, uint8_t *sc, uint8_t *m) {
  if (b < 4) {
    *sc = s[b] & 63;
    *m = s[b + 4] & 63;
  } else {
    *sc = (uint8_t)((s[b + 4] & 15) | ((s[b - 4] >> 6) << 4));
    *m = (uint8_t)((s[b + 4] >> 4) | ((s[b] >> 6) << 4));
  }
}

/* The unsigned quant at position p (0..255) of a Q4_K or Q5_K super-block. */
typedef int (*k4_code_fn)(const void *block, int p);

/* Scalar reference dequantization of one Q4_K/Q5_K super-block: y = d·sc_b·q − dmin·m_b. */
static inline void dequantize_k4_block_scalar(const void *block, ggml_fp16_t d16,
                                              ggml_fp16_t dmin16, const uint8_t *scales,
                                              k4_code_fn code, float *y) {
  float d = fp16_to_f32(d16);
  float dmin = fp16_to_f32(dmin16);
  for (int b = 0; b < 8; b++) {
    uint8_t sc, m;
    unpack_scale_min_k4(b, scales, &sc, &m);
    float dl = d * (float)sc, ml = dmin * (float)m;
    for (int l = 0; l < 32; l++) y[32 * b + l] = dl * (float)code(block, 32 * b + l) - ml;
  }
}

/* Scalar reference dot of one Q4_K/Q5_K super-block with a Q8_K block:
 * dy·(d·Σ_b sc_b·Σ q·yq − dmin·Σ_b m_b·(bsum_2b + bsum_2b+1)). */
static inline float vec_dot_k4_block_scalar(const void *block, ggml_fp16_t d, ggml_fp16_t dmin,
                                            const uint8_t *scales, k4_code_fn code,
                                            const block_q8_K *y) {
  int isum = 0, msum = 0;
  for (int b = 0; b < 8; b++) {
    uint8_t sc, m;
    unpack_scale_min_k4(b, scales, &sc, &m);
    int s = 0;
    for (int l = 0; l < 32; l++) s += code(block, 32 * b + l) * y->qs[32 * b + l];
    isum += sc * s;
    msum += m * (y->bsums[2 * b] + y->bsums[2 * b + 1]);
  }
  return y->d * (fp16_to_f32(d) * (float)isum - fp16_to_f32(dmin) * (float)msum);
}

/* Unpacks the sixteen signed Q3_K scales (-32..31). */
static inline void unpack_scales_q3_K(const uint8_t *s, int8_t out[16]) {
  for (int k = 0; k < 16; k++) {
    int low = k < 8 ? (s[k] & 15) : (s[k - 8] >> 4);
    int high = (s[8 + (k & 3)] >> (2 * (k >> 2))) & 3;
    out[k] = (int8_t)((low | high << 4) - 32);
  }
}

/* All sixteen signed Q3_K scales as int8 lanes, computed on 32-bit words. */
static inline v128_t unpack_scales_q3_K_v(const uint8_t *s) {
  uint32_t a = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
  uint32_t b = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 | (uint32_t)s[7] << 24;
  uint32_t h =
      (uint32_t)s[8] | (uint32_t)s[9] << 8 | (uint32_t)s[10] << 16 | (uint32_t)s[11] << 24;
  uint32_t w0 = (a & 0x0f0f0f0f) | ((h << 4) & 0x30303030);
  uint32_t w1 = (b & 0x0f0f0f0f) | ((h << 2) & 0x30303030);
  uint32_t w2 = ((a >> 4) & 0x0f0f0f0f) | (h & 0x30303030);
  uint32_t w3 = ((b >> 4) & 0x0f0f0f0f) | ((h >> 2) & 0x30303030);
  return wasm_i8x16_sub(wasm_i32x4_make((int32_t)w0, (int32_t)w1, (int32_t)w2, (int32_t)w3),
                        wasm_i8x16_splat(32));
}

/* ---- SIMD helpers ---- */

/* Horizontal sum of four int32 lanes. */
static inline int32_t hsum_i32x4(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
         wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

static inline float hsum_f32x4(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/* a·b + c, fused in the relaxed build (products here are exact or summed anyway). */
static inline v128_t madd_f32x4(v128_t a, v128_t b, v128_t c) {
#ifdef FLINT_RELAXED
  return wasm_f32x4_relaxed_madd(a, b, c);
#else
  return wasm_f32x4_add(wasm_f32x4_mul(a, b), c);
#endif
}

/*
 * Eight int16 lanes, each the sum of two products a[i]·b[i] of int8 lanes. b must lie in
 * 0..127 because the relaxed instruction may read it as unsigned; then no lane exceeds
 * 2·128·127 and nothing saturates.
 */
static inline v128_t dot16_i8_u7(v128_t a, v128_t b) {
#ifdef FLINT_RELAXED
  return wasm_i16x8_relaxed_dot_i8x16_i7x16(a, b);
#else
  return wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(a, b), wasm_i16x8_extmul_high_i8x16(a, b));
#endif
}

/*
 * As dot16_i8_u7, but lane i is always a[2i]·b[2i] + a[2i+1]·b[2i+1] (adjacent bytes), as
 * the relaxed instruction defines it. dot16_i8_u7's plain form pairs bytes i and i + 8
 * instead, which mixes sub-blocks in the lanes layouts.
 */
static inline v128_t dot16_pairs_i8_u7(v128_t a, v128_t b) {
#ifdef FLINT_RELAXED
  return wasm_i16x8_relaxed_dot_i8x16_i7x16(a, b);
#else
  v128_t a_even = wasm_i16x8_shr(wasm_i16x8_shl(a, 8), 8), a_odd = wasm_i16x8_shr(a, 8);
  v128_t b_even = wasm_v128_and(b, wasm_i16x8_splat(0xff)), b_odd = wasm_u16x8_shr(b, 8);
  return wasm_i16x8_add(wasm_i16x8_mul(a_even, b_even), wasm_i16x8_mul(a_odd, b_odd));
#endif
}

/*
 * Sum of four dot16_pairs_i8_u7 over 64 consecutive activation bytes at q8 against code
 * vectors c[0..3]: one quarter of a lanes-layout super-block.
 */
static inline v128_t dot64_pairs_i8_u7(const int8_t *q8, const v128_t c[4]) {
  return wasm_i16x8_add(wasm_i16x8_add(dot16_pairs_i8_u7(wasm_v128_load(q8), c[0]),
                                       dot16_pairs_i8_u7(wasm_v128_load(q8 + 16), c[1])),
                        wasm_i16x8_add(dot16_pairs_i8_u7(wasm_v128_load(q8 + 32), c[2]),
                                       dot16_pairs_i8_u7(wasm_v128_load(q8 + 48), c[3])));
}

/* As dot16_i8_u7 for two signed operands with |a|, |b| ≤ 127 (plain SIMD128 only). */
static inline v128_t dot16_i8_i8(v128_t a, v128_t b) {
  return wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(a, b), wasm_i16x8_extmul_high_i8x16(a, b));
}

/*
 * A zero the compiler cannot see. With a literal zero clang turns i8x16.lt_s(w, 0) into
 * i8x16.shr_s(w, 7), which V8 lowers to a slow multi-instruction sequence on x86.
 */
extern volatile int32_t flint_opaque_zero;

/* acc + Σ a·b over 16 int8 lanes into four int32 lanes; |a|, |b| ≤ 127. `zero` must come
 * from flint_opaque_zero. */
static inline v128_t dot32_i8_i8_acc(v128_t a, v128_t b, v128_t zero, v128_t acc) {
#ifdef FLINT_RELAXED
  v128_t neg = wasm_i8x16_lt(b, zero);
  v128_t a_signed = wasm_i8x16_sub(wasm_v128_xor(a, neg), neg);
  return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(a_signed, wasm_i8x16_abs(b), acc);
#else
  (void)zero;
  return wasm_i32x4_add(acc, wasm_i32x4_extadd_pairwise_i16x8(dot16_i8_i8(a, b)));
#endif
}

/*
 * Σ w·y over 32 int8 lanes (w0|w1 against y0|y1) into four int32 lanes, for a block whose
 * activation operands were prepared once for several rows. In the relaxed build a0, a1
 * are |y| and s0, s1 the sign masks of y, so the sign moves onto w; in the plain build
 * a0, a1 are y itself and s0, s1 are unused.
 */
static inline v128_t dot32_i8_act_signed(v128_t w0, v128_t w1, v128_t a0, v128_t a1, v128_t s0,
                                         v128_t s1) {
#ifdef FLINT_RELAXED
  v128_t acc = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_i8x16_sub(wasm_v128_xor(w0, s0), s0), a0,
                                                     wasm_i32x4_splat(0));
  return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_i8x16_sub(wasm_v128_xor(w1, s1), s1), a1, acc);
#else
  (void)s0;
  (void)s1;
  return wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(dot16_i8_i8(a0, w0)),
                        wasm_i32x4_extadd_pairwise_i16x8(dot16_i8_i8(a1, w1)));
#endif
}

/* Scales int16 lane sums by one int16 factor into four int32 lanes. */
static inline v128_t scale_i16_acc(v128_t s16, v128_t factor, v128_t acc) {
  return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(s16, factor));
}

/* Broadcasts int16 lane k of v (k a constant). */
#define SPLAT_I16(v, k) wasm_i16x8_shuffle(v, v, k, k, k, k, k, k, k, k)

/* High nibbles of 16 bytes (a 16-bit shift is one x86 instruction; the mask drops the
 * bits shifted in from the neighbouring byte). */
static inline v128_t high_nibbles(v128_t q, v128_t m4) {
  return wasm_v128_and(wasm_u16x8_shr(q, 4), m4);
}

/* Bit j (0..7) of each byte of h, moved to bit 4 (value 16) by one 16-bit shift and a mask:
 * the fifth bit of a Q5_K code. */
static inline v128_t bit_to_sixteen(v128_t h, int j) {
  v128_t moved = j <= 4 ? wasm_i16x8_shl(h, 4 - j) : wasm_u16x8_shr(h, j - 4);
  return wasm_v128_and(moved, wasm_i8x16_splat(16));
}

/* Writes 16 int8 lanes as float32: q·d. */
static inline void store_q_mul(float *y, v128_t q, v128_t d) {
  v128_t lo = wasm_i16x8_extend_low_i8x16(q), hi = wasm_i16x8_extend_high_i8x16(q);
  wasm_v128_store(y, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo)), d));
  wasm_v128_store(y + 4,
                  wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo)), d));
  wasm_v128_store(y + 8,
                  wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi)), d));
  wasm_v128_store(y + 12,
                  wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi)), d));
}

/* Writes 16 int8 lanes as float32: d·q − m, rounded as the scalar formula. */
static inline void store_q_mul_sub(float *y, v128_t q, v128_t d, v128_t m) {
  v128_t lo = wasm_i16x8_extend_low_i8x16(q), hi = wasm_i16x8_extend_high_i8x16(q);
  v128_t f0 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo));
  v128_t f1 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo));
  v128_t f2 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi));
  v128_t f3 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi));
  wasm_v128_store(y, wasm_f32x4_sub(wasm_f32x4_mul(d, f0), m));
  wasm_v128_store(y + 4, wasm_f32x4_sub(wasm_f32x4_mul(d, f1), m));
  wasm_v128_store(y + 8, wasm_f32x4_sub(wasm_f32x4_mul(d, f2), m));
  wasm_v128_store(y + 12, wasm_f32x4_sub(wasm_f32x4_mul(d, f3), m));
}

/* Writes 16 int8 lanes as float32: q·d + m. */
static inline void store_q_mul_add(float *y, v128_t q, v128_t d, v128_t m) {
  v128_t lo = wasm_i16x8_extend_low_i8x16(q), hi = wasm_i16x8_extend_high_i8x16(q);
  v128_t f0 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo));
  v128_t f1 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo));
  v128_t f2 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi));
  v128_t f3 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi));
  wasm_v128_store(y, wasm_f32x4_add(wasm_f32x4_mul(f0, d), m));
  wasm_v128_store(y + 4, wasm_f32x4_add(wasm_f32x4_mul(f1, d), m));
  wasm_v128_store(y + 8, wasm_f32x4_add(wasm_f32x4_mul(f2, d), m));
  wasm_v128_store(y + 12, wasm_f32x4_add(wasm_f32x4_mul(f3, d), m));
}

/*
 * Q4_K/Q5_K scales and mins of all eight sub-blocks at once: bytes 0-7 of the result are
 * sc_0..sc_7 and bytes 8-15 are m_0..m_7. Works on 32-bit words: the top two bits of
 * bytes 0-3 (4-7) become bits 4-5 of scales (mins) 4-7.
 */
static inline v128_t unpack_scales_mins_k4(const uint8_t *s) {
  uint32_t a = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
  uint32_t b = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 | (uint32_t)s[7] << 24;
  uint32_t c =
      (uint32_t)s[8] | (uint32_t)s[9] << 8 | (uint32_t)s[10] << 16 | (uint32_t)s[11] << 24;
  uint32_t sc_lo = a & 0x3f3f3f3f;
  uint32_t m_lo = b & 0x3f3f3f3f;
  uint32_t sc_hi = (c & 0x0f0f0f0f) | ((a >> 2) & 0x30303030);
  uint32_t m_hi = ((c >> 4) & 0x0f0f0f0f) | ((b >> 2) & 0x30303030);
  return wasm_i32x4_make((int32_t)sc_lo, (int32_t)sc_hi, (int32_t)m_lo, (int32_t)m_hi);
}

/*
 * unpack_scales_mins_k4 on vectors. h holds the first 16 bytes of a Q4_K or Q5_K block
 * (d, dmin, then the 12 scale bytes as words a, b, c in lanes 1-3); the result has the
 * same bytes as unpack_scales_mins_k4 and needs no scalar loads.
 */
static inline v128_t unpack_scales_mins_k4_v(v128_t h) {
  v128_t p = wasm_i32x4_shuffle(h, wasm_u32x4_shr(h, 4), 1, 3, 2, 7); /* a, c, b, c >> 4 */
  v128_t lo = wasm_v128_and(p, wasm_i32x4_const(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  v128_t q = wasm_u32x4_shr(wasm_i32x4_shuffle(h, h, 1, 1, 2, 2), 2);
  return wasm_v128_or(lo, wasm_v128_and(q, wasm_i32x4_const(0, 0x30303030, 0, 0x30303030)));
}

/* Four binary16 values (zero-extended to uint32 lanes) to float32, exactly as
 * fp16_to_f32 does, infinities, NaNs and subnormals included. */
static inline v128_t f16x4_to_f32x4(v128_t u) {
  v128_t sign = wasm_i32x4_shl(wasm_v128_and(u, wasm_i32x4_splat(0x8000)), 16);
  v128_t em = wasm_v128_and(u, wasm_i32x4_splat(0x7fff));
  v128_t shifted = wasm_i32x4_shl(em, 13);
  v128_t normal = wasm_i32x4_add(shifted, wasm_i32x4_splat(112 << 23));
  v128_t subnormal = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_v128_and(u, wasm_i32x4_splat(0x3ff))),
                                    wasm_f32x4_splat(0x1p-24f));
  v128_t special = wasm_v128_or(shifted, wasm_i32x4_splat(0x7f800000));
  v128_t v = wasm_v128_bitselect(subnormal, normal, wasm_i32x4_lt(em, wasm_i32x4_splat(0x400)));
  v = wasm_v128_bitselect(special, v, wasm_i32x4_gt(em, wasm_i32x4_splat(0x7bff)));
  return wasm_v128_or(v, sign);
}

/* Expands 16 bits of `bits` (bit i for lane i) into 0 or `value` per byte lane. */
static inline v128_t expand_bits16(uint32_t bits, v128_t value) {
  const v128_t bit_of_lane = wasm_u8x16_make(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
  v128_t v = wasm_i16x8_splat((int16_t)bits);
  v = wasm_i8x16_shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(v, bit_of_lane), bit_of_lane), value);
}

/*
 * Defines the exported entry points of a lanes type NAME (q4_K_lanes, …): one token, four
 * and eight tokens, and the segment parts of each. They all call the type's kernel
 * DOT_BLOCKS(nb, x, ys, state, nt), which runs one row against nt tokens (a compile-time
 * 1, 4 or 8) over nb blocks and carries each token's float sums in state[t][0]. The
 * result is the sum of the four lanes of state[t][0].
 */
#define LANES_ENTRY_POINTS(NAME, DOT_BLOCKS)                                                    \
  static inline __attribute__((always_inline)) void NAME##_dot_xn(int n, const void *vx,      \
                                                                  const void *const *ys,      \
                                                                  float *out, int nt) {       \
    v128_t state[8][2];                                                                       \
    for (int t = 0; t < nt; t++) state[t][0] = state[t][1] = wasm_f32x4_splat(0.0f);          \
    DOT_BLOCKS(n / QK_K, vx, ys, state, nt);                                                  \
    for (int t = 0; t < nt; t++) out[t] = hsum_f32x4(state[t][0]);                            \
  }                                                                                           \
  float vec_dot_##NAME##_q8_K(int n, const void *vx, const void *vy) {                        \
    const void *ys[1] = {vy};                                                                 \
    float out[1];                                                                             \
    NAME##_dot_xn(n, vx, ys, out, 1);                                                         \
    return out[0];                                                                            \
  }                                                                                           \
  void vec_dot_##NAME##_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) { \
    NAME##_dot_xn(n, vx, ys, out, 4);                                                         \
  }                                                                                           \
  void vec_dot_##NAME##_q8_K_x8(int n, const void *vx, const void *const ys[8], float out[8]) { \
    NAME##_dot_xn(n, vx, ys, out, 8);                                                         \
  }                                                                                           \
  void vec_dot_part_##NAME##_q8_K(int nb, const void *vx, const void *vy, v128_t state[2]) {  \
    const void *ys[1] = {vy};                                                                 \
    DOT_BLOCKS(nb, vx, ys, (v128_t(*)[2])state, 1);                                           \
  }                                                                                           \
  float vec_dot_finish_##NAME##_q8_K(const v128_t state[2]) { return hsum_f32x4(state[0]); } \
  void vec_dot_part_##NAME##_q8_K_x4(int nb, const void *vx, const void *const ys[4],         \
                                     v128_t state[4][2]) {                                    \
    DOT_BLOCKS(nb, vx, ys, state, 4);                                                         \
  }                                                                                           \
  void vec_dot_part_##NAME##_q8_K_x8(int nb, const void *vx, const void *const ys[8],         \
                                     v128_t state[8][2]) {                                    \
    DOT_BLOCKS(nb, vx, ys, state, 8);                                                         \
  }

/* Lane r of the result is the sum of the four lanes of s_r. */
static inline v128_t hsum4_i32x4(v128_t s0, v128_t s1, v128_t s2, v128_t s3) {
  v128_t a = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5), wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
  v128_t b = wasm_i32x4_add(wasm_i32x4_shuffle(s2, s3, 0, 4, 1, 5), wasm_i32x4_shuffle(s2, s3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
}

/* The fp16 values at p0..p3 as four float32 lanes. */
static inline v128_t load_f16x4(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2,
                                const uint8_t *p3) {
  v128_t v = wasm_v128_load16_splat(p0);
  v = wasm_v128_load16_lane(p1, v, 1);
  v = wasm_v128_load16_lane(p2, v, 2);
  v = wasm_v128_load16_lane(p3, v, 3);
  return f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(v));
}

/* ---- row kernels ---- */

void dequantize_row_q4_0(const void *x, float *y, int n);
void dequantize_row_q4_1(const void *x, float *y, int n);
void dequantize_row_q5_0(const void *x, float *y, int n);
void dequantize_row_q5_1(const void *x, float *y, int n);
void dequantize_row_q8_0(const void *x, float *y, int n);
void dequantize_row_q2_K(const void *x, float *y, int n);
void dequantize_row_q3_K(const void *x, float *y, int n);
void dequantize_row_q4_K(const void *x, float *y, int n);
void dequantize_row_q5_K(const void *x, float *y, int n);
void dequantize_row_q6_K(const void *x, float *y, int n);
void dequantize_row_iq4_nl(const void *x, float *y, int n);
void dequantize_row_iq4_xs(const void *x, float *y, int n);
void dequantize_row_f16(const void *x, float *y, int n);
void dequantize_row_bf16(const void *x, float *y, int n);
void dequantize_row_f32(const void *x, float *y, int n);

void dequantize_row_q4_0_scalar(const void *x, float *y, int n);
void dequantize_row_q4_1_scalar(const void *x, float *y, int n);
void dequantize_row_q5_0_scalar(const void *x, float *y, int n);
void dequantize_row_q5_1_scalar(const void *x, float *y, int n);
void dequantize_row_q8_0_scalar(const void *x, float *y, int n);
void dequantize_row_q2_K_scalar(const void *x, float *y, int n);
void dequantize_row_q3_K_scalar(const void *x, float *y, int n);
void dequantize_row_q4_K_scalar(const void *x, float *y, int n);
void dequantize_row_q5_K_scalar(const void *x, float *y, int n);
void dequantize_row_q6_K_scalar(const void *x, float *y, int n);
void dequantize_row_iq4_nl_scalar(const void *x, float *y, int n);
void dequantize_row_iq4_xs_scalar(const void *x, float *y, int n);
void dequantize_row_f16_scalar(const void *x, float *y, int n);
void dequantize_row_bf16_scalar(const void *x, float *y, int n);

float vec_dot_q4_0_q8_0(int n, const void *x, const void *y);
float vec_dot_q4_1_q8_1(int n, const void *x, const void *y);
float vec_dot_q5_0_q8_0(int n, const void *x, const void *y);
float vec_dot_q5_1_q8_1(int n, const void *x, const void *y);
float vec_dot_q8_0_q8_0(int n, const void *x, const void *y);
float vec_dot_q2_K_q8_K(int n, const void *x, const void *y);
float vec_dot_q3_K_q8_K(int n, const void *x, const void *y);
float vec_dot_q4_K_q8_K(int n, const void *x, const void *y);
float vec_dot_q5_K_q8_K(int n, const void *x, const void *y);
float vec_dot_q6_K_q8_K(int n, const void *x, const void *y);
float vec_dot_iq4_nl_q8_0(int n, const void *x, const void *y);
float vec_dot_iq4_xs_q8_K(int n, const void *x, const void *y);
float vec_dot_f16_f16(int n, const void *x, const void *y);
float vec_dot_bf16_bf16(int n, const void *x, const void *y);
float vec_dot_f32_f32(int n, const void *x, const void *y);

float vec_dot_q4_0_q8_0_scalar(int n, const void *x, const void *y);
float vec_dot_q4_1_q8_1_scalar(int n, const void *x, const void *y);
float vec_dot_q5_0_q8_0_scalar(int n, const void *x, const void *y);
float vec_dot_q5_1_q8_1_scalar(int n, const void *x, const void *y);
float vec_dot_q8_0_q8_0_scalar(int n, const void *x, const void *y);
float vec_dot_q2_K_q8_K_scalar(int n, const void *x, const void *y);
float vec_dot_q3_K_q8_K_scalar(int n, const void *x, const void *y);
float vec_dot_q4_K_q8_K_scalar(int n, const void *x, const void *y);
float vec_dot_q5_K_q8_K_scalar(int n, const void *x, const void *y);
float vec_dot_q6_K_q8_K_scalar(int n, const void *x, const void *y);
float vec_dot_iq4_nl_q8_0_scalar(int n, const void *x, const void *y);
float vec_dot_iq4_xs_q8_K_scalar(int n, const void *x, const void *y);
float vec_dot_f16_f16_scalar(int n, const void *x, const void *y);
float vec_dot_bf16_bf16_scalar(int n, const void *x, const void *y);
float vec_dot_f32_f32_scalar(int n, const void *x, const void *y);

/*
 * Four-row dot products: out[r] = rows[r] · y. Row pointers may repeat. Block i of a row
 * is block step·i from its pointer: step 1 for row-major rows, 4 for rows interleaved
 * by flint_repack_rows4. Each lane runs the same instructions, so a row gets the same
 * bits whichever lane, group or layout it is in.
 */
typedef void (*dot4_fn)(int n, const void *const rows[4], int step, const void *y, float out[4]);
void vec_dot4_q4_0_q8_0(int n, const void *const rows[4], int step, const void *y, float out[4]);
void vec_dot4_q8_0_q8_0(int n, const void *const rows[4], int step, const void *y, float out[4]);
void vec_dot4_q4_1_q8_1(int n, const void *const rows[4], int step, const void *y, float out[4]);
void vec_dot4_q5_1_q8_1(int n, const void *const rows[4], int step, const void *y, float out[4]);
void vec_dot4_iq4_nl_q8_0(int n, const void *const rows[4], int step, const void *y, float out[4]);

/*
 * One weight row against four activation rows (pointers may repeat): out[t] = x · ys[t],
 * bit-identical to the one-token vec_dot of the same type.
 */
typedef void (*dot_x4_fn)(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q4_K_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q6_K_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q5_K_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q3_K_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q2_K_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);

/* As dot_x4_fn for eight activation rows. */
typedef void (*dot_x8_fn)(int n, const void *x, const void *const ys[8], float out[8]);
void vec_dot_q4_K_q8_K_x8(int n, const void *x, const void *const ys[8], float out[8]);
/*
 * A row's dot product in segments of blocks. part runs nb blocks from x (weights) and y
 * (activations) on, carrying two float vectors of sums in state (zeroed before the first
 * segment), and finish turns them into the result. Any split gives the whole-row bits.
 */
typedef void (*dot_part_fn)(int nb, const void *x, const void *y, v128_t state[2]);
typedef float (*dot_finish_fn)(const v128_t state[2]);
void vec_dot_part_q4_K_q8_K(int nb, const void *x, const void *y, v128_t state[2]);
void vec_dot_part_q6_K_q8_K(int nb, const void *x, const void *y, v128_t state[2]);
float vec_dot_finish_q4_K_q8_K(const v128_t state[2]);
float vec_dot_finish_q6_K_q8_K(const v128_t state[2]);
/*
 * The transpose behind the lanes layouts (q*_k_lanes.c): two 8×8 matrices
 * of byte pairs, rows[p][h] holding row p of matrix h. Column u of matrix h (pair u of
 * every row) becomes cols[8h + u]. Three rounds of 16-, 32- and 64-bit interleaves.
 */
static inline void lanes_transpose(const v128_t rows[8][2], v128_t cols[16]) {
  for (int h = 0; h < 2; h++) {
    v128_t t[8], u[8];
    for (int k = 0; k < 4; k++) {
      v128_t a = rows[2 * k][h], b = rows[2 * k + 1][h];
      t[2 * k] = wasm_i16x8_shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
      t[2 * k + 1] = wasm_i16x8_shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
    }
    for (int k = 0; k < 2; k++) {
      for (int half = 0; half < 2; half++) {
        v128_t a = t[4 * k + half], b = t[4 * k + 2 + half];
        u[4 * k + 2 * half] = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5);
        u[4 * k + 2 * half + 1] = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
      }
    }
    for (int k = 0; k < 4; k++) {
      cols[8 * h + 2 * k] = wasm_i64x2_shuffle(u[k], u[4 + k], 0, 2);
      cols[8 * h + 2 * k + 1] = wasm_i64x2_shuffle(u[k], u[4 + k], 1, 3);
    }
  }
}

/*
 * Position of original value j of a super-block in the 16-weight lanes order (Q2_K, Q3_K
 * and Q6_K lanes): half h = j / 128, code vector u, byte pair 2p, 2p+1 of sub-block p.
 */
static inline int lanes16_pos(int j) {
  int h = j >> 7, p = (j >> 4) & 7, u = (j & 15) >> 1, e = j & 1;
  return 128 * h + 16 * u + 2 * p + e;
}

/* Q2_K in the lanes layout (q2_k_lanes.c) and its permuted Q8_K activations. */
void quantize_row_q8_K_lanes16(const float *x, void *y, int n);
void repack_q2_K_lanes(void *w, size_t n_blocks);
void dequantize_row_q2_K_lanes(const void *x, float *y, int n);
void dequantize_row_q2_K_lanes_scalar(const void *x, float *y, int n);
float vec_dot_q2_K_lanes_q8_K(int n, const void *x, const void *y);
float vec_dot_q2_K_lanes_q8_K_scalar(int n, const void *x, const void *y);
void vec_dot_q2_K_lanes_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q2_K_lanes_q8_K_x8(int n, const void *x, const void *const ys[8], float out[8]);

/* Q3_K in the lanes layout (q3_k_lanes.c); activations as for Q2_K lanes. */
void repack_q3_K_lanes(void *w, size_t n_blocks);
void dequantize_row_q3_K_lanes(const void *x, float *y, int n);
void dequantize_row_q3_K_lanes_scalar(const void *x, float *y, int n);
float vec_dot_q3_K_lanes_q8_K(int n, const void *x, const void *y);
float vec_dot_q3_K_lanes_q8_K_scalar(int n, const void *x, const void *y);
void vec_dot_q3_K_lanes_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q3_K_lanes_q8_K_x8(int n, const void *x, const void *const ys[8], float out[8]);

/* Q6_K in the lanes layout (q6_k_lanes.c); activations as for Q2_K lanes. */
void repack_q6_K_lanes(void *w, size_t n_blocks);
void dequantize_row_q6_K_lanes(const void *x, float *y, int n);
void dequantize_row_q6_K_lanes_scalar(const void *x, float *y, int n);
float vec_dot_q6_K_lanes_q8_K(int n, const void *x, const void *y);
float vec_dot_q6_K_lanes_q8_K_scalar(int n, const void *x, const void *y);
void vec_dot_q6_K_lanes_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q6_K_lanes_q8_K_x8(int n, const void *x, const void *const ys[8], float out[8]);
void vec_dot_part_q6_K_lanes_q8_K(int nb, const void *x, const void *y, v128_t state[2]);
float vec_dot_finish_q6_K_lanes_q8_K(const v128_t state[2]);
void vec_dot_part_q6_K_lanes_q8_K_x4(int nb, const void *x, const void *const ys[4],
                                     v128_t state[4][2]);
void vec_dot_part_q6_K_lanes_q8_K_x8(int nb, const void *x, const void *const ys[8],
                                     v128_t state[8][2]);

/* Q4_K in the lanes layout (q4_k_lanes.c) and its permuted Q8_K activations. */
void quantize_row_q8_K_lanes(const float *x, void *y, int n);
void repack_q5_K_lanes(void *w, size_t n_blocks);
void dequantize_row_q5_K_lanes(const void *x, float *y, int n);
void dequantize_row_q5_K_lanes_scalar(const void *x, float *y, int n);
float vec_dot_q5_K_lanes_q8_K(int n, const void *x, const void *y);
float vec_dot_q5_K_lanes_q8_K_scalar(int n, const void *x, const void *y);
void vec_dot_q5_K_lanes_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q5_K_lanes_q8_K_x8(int n, const void *x, const void *const ys[8], float out[8]);
void vec_dot_part_q5_K_lanes_q8_K(int nb, const void *x, const void *y, v128_t state[2]);
float vec_dot_finish_q5_K_lanes_q8_K(const v128_t state[2]);
void vec_dot_part_q5_K_lanes_q8_K_x4(int nb, const void *x, const void *const ys[4],
                                     v128_t state[4][2]);
void vec_dot_part_q5_K_lanes_q8_K_x8(int nb, const void *x, const void *const ys[8],
                                     v128_t state[8][2]);
void repack_q4_K_lanes(void *w, size_t n_blocks);
void dequantize_row_q4_K_lanes(const void *x, float *y, int n);
void dequantize_row_q4_K_lanes_scalar(const void *x, float *y, int n);
float vec_dot_q4_K_lanes_q8_K(int n, const void *x, const void *y);
float vec_dot_q4_K_lanes_q8_K_scalar(int n, const void *x, const void *y);
void vec_dot_q4_K_lanes_q8_K_x4(int n, const void *x, const void *const ys[4], float out[4]);
void vec_dot_q4_K_lanes_q8_K_x8(int n, const void *x, const void *const ys[8], float out[8]);
void vec_dot_part_q4_K_lanes_q8_K(int nb, const void *x, const void *y, v128_t state[2]);
float vec_dot_finish_q4_K_lanes_q8_K(const v128_t state[2]);
void vec_dot_part_q4_K_lanes_q8_K_x4(int nb, const void *x, const void *const ys[4],
                                     v128_t state[4][2]);
void vec_dot_part_q4_K_lanes_q8_K_x8(int nb, const void *x, const void *const ys[8],
                                     v128_t state[8][2]);
/* dot_part for one weight row against four or eight tokens, each with its own state. */
typedef void (*dot_part_x4_fn)(int nb, const void *x, const void *const ys[4], v128_t state[4][2]);
typedef void (*dot_part_x8_fn)(int nb, const void *x, const void *const ys[8], v128_t state[8][2]);
void vec_dot_part_q4_K_q8_K_x4(int nb, const void *x, const void *const ys[4], v128_t state[4][2]);
void vec_dot_part_q4_K_q8_K_x8(int nb, const void *x, const void *const ys[8], v128_t state[8][2]);
void vec_dot_part_q6_K_q8_K_x4(int nb, const void *x, const void *const ys[4], v128_t state[4][2]);
void vec_dot_part_q6_K_q8_K_x8(int nb, const void *x, const void *const ys[8], v128_t state[8][2]);
void vec_dot_q6_K_q8_K_x8(int n, const void *x, const void *const ys[8], float out[8]);

/* Activation quantizers (kernels/quantize.c); n is a multiple of the block size. */
void quantize_row_q8_0(const float *x, void *y, int n);
void quantize_row_q8_1(const float *x, void *y, int n);
void quantize_row_q8_K(const float *x, void *y, int n);
void convert_row_f16(const float *x, void *y, int n);
void convert_row_bf16(const float *x, void *y, int n);

#endif
