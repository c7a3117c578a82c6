/*
 * Float operations of the llama forward pass: RMSNorm, RoPE, softmax, SwiGLU, add,
 * scale, F32<->F16 conversion and attention over a KV cache.
 *
 * Each op has a SIMD128 version (the one the model calls) and a scalar `_ref` version
 * kept as the test oracle. Neither uses relaxed SIMD, so both builds give the same bits.
 *
 * Threading contract: every exported op takes the range of rows (or elements) it
 * computes as its last two arguments, `row_begin` and `row_end`, and writes only those.
 * Each row is computed the same way whatever the range, so any split of the work over
 * threads gives bit-identical results.
 *
 * Numerics follow ggml's CPU backend where the order of operations changes the bits.
 * Sums of squares and of exponentials accumulate in double. RMSNorm scales x before
 * multiplying by the weight, and softmax multiplies by a float 1/sum. Attention over an
 * F16 cache rounds Q (for Q*K) and the softmax weights (for P*V) to F16 first, as
 * ggml_mul_mat does when its weight operand is F16.
 */
#include "flint.h"

#define NOVEC _Pragma("clang loop vectorize(disable) interleave(disable)")

static inline uint32_t bits_of_f32(float f) {
  union { float f; uint32_t u; } v = {.f = f};
  return v.u;
}

static inline float f32_of_bits(uint32_t u) {
  union { uint32_t u; float f; } v = {.u = u};
  return v.f;
}

static inline uint64_t bits_of_f64(double f) {
  union { double f; uint64_t u; } v = {.f = f};
  return v.u;
}

static inline double f64_of_bits(uint64_t u) {
  union { uint64_t u; double f; } v = {.u = u};
  return v.f;
}

/* ------------------------------------------------------------------------------------ */
/* expf                                                                                  */
/* ------------------------------------------------------------------------------------ */

/*
 * expf evaluated in double: x = k*ln2 + r with |r| <= ln2/2, exp(r) by its Taylor
 * polynomial to degree 10 (truncation error below 2.3e-13 relative), times 2^k built
 * from the exponent bits, then one rounding to float. The double result is within about
 * 3e-13 relative of exp(x), so the float result is the correctly rounded one except
 * when exp(x) lies that close to a midpoint between two floats, and then it is 1 ULP
 * off. Float subnormals and overflow to infinity come out of the final rounding.
 * The scalar and SIMD versions perform the same operations in the same order and give
 * the same bits. Measured: 4,000,000 random inputs in [-104, 104] all equal
 * Math.fround(Math.exp(x)) in V8; ops_test.ts checks 200,000 of them.
 */
#define EXP_LOG2E 1.4426950408889634
#define EXP_LN2 0.6931471805599453
#define EXP_SHIFT 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer */
#define EXP_HI 89.0f                 /* exp(89) overflows float */
#define EXP_LO -104.0f               /* exp(-104) < 2^-150 rounds to 0 */
#define EXP_C2 (1.0 / 2)
#define EXP_C3 (1.0 / 6)
#define EXP_C4 (1.0 / 24)
#define EXP_C5 (1.0 / 120)
#define EXP_C6 (1.0 / 720)
#define EXP_C7 (1.0 / 5040)
#define EXP_C8 (1.0 / 40320)
#define EXP_C9 (1.0 / 362880)
#define EXP_C10 (1.0 / 3628800)

static inline float expf_scalar(float x) {
  /* Comparisons with NaN are false, so NaN passes through to the result. */
  if (x > EXP_HI) x = EXP_HI;
  if (x < EXP_LO) x = EXP_LO;
  double xd = x;
  double t = xd * EXP_LOG2E + EXP_SHIFT;
  double kd = t - EXP_SHIFT;
  double r = xd - kd * EXP_LN2;
  double p = EXP_C10;
  p = p * r + EXP_C9;
  p = p * r + EXP_C8;
  p = p * r + EXP_C7;
  p = p * r + EXP_C6;
  p = p * r + EXP_C5;
  p = p * r + EXP_C4;
  p = p * r + EXP_C3;
  p = p * r + EXP_C2;
  p = p * r + 1.0;
  p = p * r + 1.0;
  uint64_t k = bits_of_f64(t) - bits_of_f64(EXP_SHIFT);
  double scale = f64_of_bits((k + 1023) << 52);
  return (float)(p * scale);
}

static inline v128_t exp_f64x2(v128_t xd) {
  const v128_t shift = wasm_f64x2_splat(EXP_SHIFT);
  v128_t t = wasm_f64x2_add(wasm_f64x2_mul(xd, wasm_f64x2_splat(EXP_LOG2E)), shift);
  v128_t kd = wasm_f64x2_sub(t, shift);
  v128_t r = wasm_f64x2_sub(xd, wasm_f64x2_mul(kd, wasm_f64x2_splat(EXP_LN2)));
  v128_t p = wasm_f64x2_splat(EXP_C10);
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C9));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C8));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C7));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C6));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C5));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C4));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C3));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(EXP_C2));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(1.0));
  p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(1.0));
  v128_t k = wasm_i64x2_sub(t, shift);
  v128_t scale = wasm_i64x2_shl(wasm_i64x2_add(k, wasm_i64x2_splat(1023)), 52);
  return wasm_f64x2_mul(p, scale);
}

static inline v128_t expf_f32x4(v128_t x) {
  /* f32x4.min/max return NaN when either operand is NaN, like the scalar clamp. */
  x = wasm_f32x4_min(x, wasm_f32x4_splat(EXP_HI));
  x = wasm_f32x4_max(x, wasm_f32x4_splat(EXP_LO));
  v128_t lo = exp_f64x2(wasm_f64x2_promote_low_f32x4(x));
  v128_t hi = exp_f64x2(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x, x, 2, 3, 0, 1)));
  return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo),
                            wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}

FLINT_EXPORT(flint_expf)
void flint_expf(float *y, const float *x, int row_begin, int row_end) {
  int i = row_begin;
  for (; i + 4 <= row_end; i += 4) wasm_v128_store(y + i, expf_f32x4(wasm_v128_load(x + i)));
  NOVEC for (; i < row_end; i++) y[i] = expf_scalar(x[i]);
}

FLINT_EXPORT(flint_expf_ref)
void flint_expf_ref(float *y, const float *x, int row_begin, int row_end) {
  NOVEC for (int i = row_begin; i < row_end; i++) y[i] = expf_scalar(x[i]);
}

/* ------------------------------------------------------------------------------------ */
/* ggml's vector expf                                                                    */
/* ------------------------------------------------------------------------------------ */

/*
 * The expf approximation of ggml's AVX-512 CPU backend, which llama.cpp applies to
 * SiLU/SwiGLU and to softmax rows in groups of 16. It differs from a correctly rounded
 * expf by up to about 2 ULP. Its outputs feed the activation quantization of ffn_down
 * and attn_output, so these ops use it to give the same codes as ggml.
 * Steps: n = round(x·log2 e) through the 1.5·2^23 shift, b = x − n·ln2 with ln2 split
 * into a high and a low part, a degree-5 polynomial p(b) ≈ e^b evaluated as
 * (1 + c1·b) + u·((c2 + c3·b) + u·(c4 + c5·b)) with u = b², and p·2^n. Every multiply-add
 * is fused in ggml. Here each one is one double multiply and add, rounded once to float.
 * The product of two floats is exact in double, so the result differs from a fused float
 * multiply-add only when the double sum lands exactly on a float rounding midpoint
 * (rare). |n| > 192 gives 0 (n < 0) or infinity, as in ggml.
 */
#define GEXP_SHIFT 0x1.8p23f
#define GEXP_LOG2E 0x1.715476p+0f
#define GEXP_LN2_HI 0x1.62e4p-1f
#define GEXP_LN2_LO 0x1.7f7d1cp-20f
#define GEXP_C1 0x1.ffffecp-1f
#define GEXP_C2 0x1.fffdb6p-2f
#define GEXP_C3 0x1.555e66p-3f
#define GEXP_C4 0x1.573e2ep-5f
#define GEXP_C5 0x1.0e4020p-7f

static inline float fmadd_f32(float a, float b, float c) {
#pragma clang fp contract(off)
  double p = (double)a * (double)b;
  return (float)(p + (double)c);
}

static inline float ggml_expf_scalar(float x) {
#pragma clang fp contract(off)
  float z = fmadd_f32(x, GEXP_LOG2E, GEXP_SHIFT);
  float n = z - GEXP_SHIFT;
  float b = fmadd_f32(-n, GEXP_LN2_HI, x);
  b = fmadd_f32(-n, GEXP_LN2_LO, b);
  float u = b * b;
  float hi = fmadd_f32(GEXP_C5, b, GEXP_C4);
  float mid = fmadd_f32(GEXP_C3, b, GEXP_C2);
  float lo = fmadd_f32(GEXP_C1, b, 1.0f);
  float j = fmadd_f32(fmadd_f32(hi, u, mid), u, lo);
  if (__builtin_fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : __builtin_inff();
  /* j·2^n with one rounding (also into the subnormal range), as AVX-512 scalef does. */
  double scale = f64_of_bits((uint64_t)((int64_t)n + 1023) << 52);
  return (float)((double)j * scale);
}

/* fmadd_f32 on four lanes. */
static inline v128_t fmadd_f32x4(v128_t a, v128_t b, v128_t c) {
  v128_t a_hi = wasm_i32x4_shuffle(a, a, 2, 3, 0, 1);
  v128_t b_hi = wasm_i32x4_shuffle(b, b, 2, 3, 0, 1);
  v128_t c_hi = wasm_i32x4_shuffle(c, c, 2, 3, 0, 1);
  v128_t lo = wasm_f64x2_add(
      wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(a), wasm_f64x2_promote_low_f32x4(b)),
      wasm_f64x2_promote_low_f32x4(c));
  v128_t hi = wasm_f64x2_add(
      wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(a_hi), wasm_f64x2_promote_low_f32x4(b_hi)),
      wasm_f64x2_promote_low_f32x4(c_hi));
  return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi),
                            0, 1, 4, 5);
}

static inline v128_t ggml_expf_f32x4(v128_t x) {
  const v128_t shift = wasm_f32x4_splat(GEXP_SHIFT);
  v128_t z = fmadd_f32x4(x, wasm_f32x4_splat(GEXP_LOG2E), shift);
  v128_t n = wasm_f32x4_sub(z, shift);
  v128_t neg_n = wasm_f32x4_neg(n);
  v128_t b = fmadd_f32x4(neg_n, wasm_f32x4_splat(GEXP_LN2_HI), x);
  b = fmadd_f32x4(neg_n, wasm_f32x4_splat(GEXP_LN2_LO), b);
  v128_t u = wasm_f32x4_mul(b, b);
  v128_t hi = fmadd_f32x4(wasm_f32x4_splat(GEXP_C5), b, wasm_f32x4_splat(GEXP_C4));
  v128_t mid = fmadd_f32x4(wasm_f32x4_splat(GEXP_C3), b, wasm_f32x4_splat(GEXP_C2));
  v128_t lo = fmadd_f32x4(wasm_f32x4_splat(GEXP_C1), b, wasm_f32x4_splat(1.0f));
  v128_t j = fmadd_f32x4(fmadd_f32x4(hi, u, mid), u, lo);
  /* 2^n as doubles; lanes with |n| > 192 (or NaN) are replaced below, so their bits here
     do not matter, but n is clamped to keep the shift in range. */
  v128_t nc = wasm_f32x4_min(wasm_f32x4_max(n, wasm_f32x4_splat(-193.0f)), wasm_f32x4_splat(193.0f));
  v128_t ni = wasm_i32x4_trunc_sat_f32x4(nc);
  v128_t e_lo = wasm_i64x2_shl(wasm_i64x2_add(wasm_i64x2_extend_low_i32x4(ni), wasm_i64x2_splat(1023)), 52);
  v128_t e_hi = wasm_i64x2_shl(wasm_i64x2_add(wasm_i64x2_extend_high_i32x4(ni), wasm_i64x2_splat(1023)), 52);
  v128_t r_lo = wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(j), e_lo);
  v128_t r_hi = wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(j, j, 2, 3, 0, 1)), e_hi);
  v128_t res = wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(r_lo),
                                  wasm_f32x4_demote_f64x2_zero(r_hi), 0, 1, 4, 5);
  v128_t big = wasm_f32x4_gt(wasm_f32x4_abs(n), wasm_f32x4_splat(192.0f));
  v128_t alt = wasm_v128_and(wasm_f32x4_gt(n, wasm_f32x4_splat(0.0f)),
                             wasm_f32x4_splat(__builtin_inff()));
  return wasm_v128_bitselect(alt, res, big);
}

/* ------------------------------------------------------------------------------------ */
/* F32 <-> F16                                                                           */
/* ------------------------------------------------------------------------------------ */

/*
 * f32 -> f16 with round-to-nearest-even, as x86's F16C conversion that ggml uses:
 * overflow gives infinity, NaN stays NaN (quiet, top payload bits kept), results below
 * 2^-14 become subnormals or zero.
 */
static inline uint16_t f16_of_f32_scalar(float f) {
  uint32_t b = bits_of_f32(f);
  uint32_t sign = (b >> 16) & 0x8000u;
  uint32_t a = b & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
  if (a >= 0x38800000u) {                                  /* normal half: >= 2^-14 */
    uint32_t m = a - 0x38000000u;                          /* rebias 127 -> 15 */
    m += 0xfffu + ((m >> 13) & 1u);                        /* round to nearest even */
    return (uint16_t)(sign | (m >> 13));
  }
  /* Below 2^-14 the half spacing is 2^-24, which is the float spacing at 0.5: adding
     0.5 rounds |f| to a multiple of 2^-24 (nearest even) and leaves the count in the
     low mantissa bits. */
  float r = f32_of_bits(a) + 0.5f;
  return (uint16_t)(sign | (bits_of_f32(r) - 0x3f000000u));
}

/* f16 -> f32 is exact: shift into a float's fields, and rescale the exponent bias by
   multiplying with 2^112, which also normalizes half subnormals. */
static inline float f32_of_f16_scalar(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t a = (uint32_t)(h & 0x7fffu) << 13;
  if ((h & 0x7c00u) == 0x7c00u) return f32_of_bits(sign | 0x7f800000u | a); /* inf, NaN */
  return f32_of_bits(sign | bits_of_f32(f32_of_bits(a) * 0x1p112f));
}

static inline v128_t f16_of_f32x4(v128_t x) {
  const v128_t abs_mask = wasm_i32x4_splat(0x7fffffff);
  v128_t sign = wasm_v128_and(wasm_u32x4_shr(x, 16), wasm_i32x4_splat(0x8000));
  v128_t a = wasm_v128_and(x, abs_mask);

  v128_t m = wasm_i32x4_sub(a, wasm_i32x4_splat(0x38000000));
  v128_t odd = wasm_v128_and(wasm_u32x4_shr(m, 13), wasm_i32x4_splat(1));
  v128_t normal = wasm_u32x4_shr(wasm_i32x4_add(m, wasm_i32x4_add(odd, wasm_i32x4_splat(0xfff))), 13);

  v128_t sub = wasm_i32x4_sub(wasm_f32x4_add(a, wasm_f32x4_splat(0.5f)), wasm_i32x4_splat(0x3f000000));

  v128_t nan = wasm_v128_or(wasm_i32x4_splat(0x7e00),
                            wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(0x3ff)));

  /* All of a's values are below 2^31, so signed comparisons order them correctly. */
  v128_t r = wasm_v128_bitselect(normal, sub, wasm_i32x4_ge(a, wasm_i32x4_splat(0x38800000)));
  r = wasm_v128_bitselect(wasm_i32x4_splat(0x7c00), r, wasm_i32x4_ge(a, wasm_i32x4_splat(0x477ff000)));
  r = wasm_v128_bitselect(nan, r, wasm_i32x4_gt(a, wasm_i32x4_splat(0x7f800000)));
  return wasm_v128_or(r, sign);
}

/* Converts 4 halves in the low lanes of an i32x4 (zero-extended) to floats. */
static inline v128_t f32x4_of_f16(v128_t h) {
  v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
  v128_t a = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
  v128_t finite = wasm_f32x4_mul(a, wasm_f32x4_splat(0x1p112f));
  v128_t special = wasm_v128_or(a, wasm_i32x4_splat(0x7f800000));
  v128_t is_special = wasm_i32x4_ge(a, wasm_i32x4_splat(0x7c00 << 13));
  return wasm_v128_or(sign, wasm_v128_bitselect(special, finite, is_special));
}

static inline v128_t load_f16x4(const uint16_t *p) {
  return wasm_u32x4_load16x4(p);
}

FLINT_EXPORT(flint_f32_to_f16)
void flint_f32_to_f16(uint16_t *y, const float *x, int row_begin, int row_end) {
  int i = row_begin;
  for (; i + 8 <= row_end; i += 8) {
    v128_t a = f16_of_f32x4(wasm_v128_load(x + i));
    v128_t b = f16_of_f32x4(wasm_v128_load(x + i + 4));
    wasm_v128_store(y + i, wasm_u16x8_narrow_i32x4(a, b));
  }
  NOVEC for (; i < row_end; i++) y[i] = f16_of_f32_scalar(x[i]);
}

FLINT_EXPORT(flint_f32_to_f16_ref)
void flint_f32_to_f16_ref(uint16_t *y, const float *x, int row_begin, int row_end) {
  NOVEC for (int i = row_begin; i < row_end; i++) y[i] = f16_of_f32_scalar(x[i]);
}

FLINT_EXPORT(flint_f16_to_f32)
void flint_f16_to_f32(float *y, const uint16_t *x, int row_begin, int row_end) {
  int i = row_begin;
  for (; i + 4 <= row_end; i += 4) wasm_v128_store(y + i, f32x4_of_f16(load_f16x4(x + i)));
  NOVEC for (; i < row_end; i++) y[i] = f32_of_f16_scalar(x[i]);
}

FLINT_EXPORT(flint_f16_to_f32_ref)
void flint_f16_to_f32_ref(float *y, const uint16_t *x, int row_begin, int row_end) {
  NOVEC for (int i = row_begin; i < row_end; i++) y[i] = f32_of_f16_scalar(x[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Element-wise: add, mul, scale, silu, swiglu. Ranges count elements.                   */
/* ------------------------------------------------------------------------------------ */

FLINT_EXPORT(flint_add)
void flint_add(float *y, const float *a, const float *b, int row_begin, int row_end) {
  int i = row_begin;
  for (; i + 4 <= row_end; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  NOVEC for (; i < row_end; i++) y[i] = a[i] + b[i];
}

FLINT_EXPORT(flint_mul)
void flint_mul(float *y, const float *a, const float *b, int row_begin, int row_end) {
  int i = row_begin;
  for (; i + 4 <= row_end; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  NOVEC for (; i < row_end; i++) y[i] = a[i] * b[i];
}

FLINT_EXPORT(flint_scale)
void flint_scale(float *y, const float *x, float s, int row_begin, int row_end) {
  v128_t vs = wasm_f32x4_splat(s);
  int i = row_begin;
  for (; i + 4 <= row_end; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(x + i), vs));
  NOVEC for (; i < row_end; i++) y[i] = x[i] * s;
}

/* silu(x) = x / (1 + expf(-x)) in float, with ggml's vector expf as in ggml_v_silu. */
static inline float silu_scalar(float x) {
  return x / (1.0f + ggml_expf_scalar(-x));
}

static inline v128_t silu_f32x4(v128_t x) {
  v128_t e = ggml_expf_f32x4(wasm_f32x4_neg(x));
  return wasm_f32x4_div(x, wasm_f32x4_add(wasm_f32x4_splat(1.0f), e));
}

FLINT_EXPORT(flint_silu)
void flint_silu(float *y, const float *x, int row_begin, int row_end) {
  int i = row_begin;
  for (; i + 4 <= row_end; i += 4) wasm_v128_store(y + i, silu_f32x4(wasm_v128_load(x + i)));
  NOVEC for (; i < row_end; i++) y[i] = silu_scalar(x[i]);
}

FLINT_EXPORT(flint_silu_ref)
void flint_silu_ref(float *y, const float *x, int row_begin, int row_end) {
  NOVEC for (int i = row_begin; i < row_end; i++) y[i] = silu_scalar(x[i]);
}

/* y = silu(gate) * up; y may alias gate or up. */
FLINT_EXPORT(flint_swiglu)
void flint_swiglu(float *y, const float *gate, const float *up, int row_begin, int row_end) {
  int i = row_begin;
  for (; i + 4 <= row_end; i += 4) {
    v128_t g = silu_f32x4(wasm_v128_load(gate + i));
    wasm_v128_store(y + i, wasm_f32x4_mul(g, wasm_v128_load(up + i)));
  }
  NOVEC for (; i < row_end; i++) y[i] = silu_scalar(gate[i]) * up[i];
}

FLINT_EXPORT(flint_swiglu_ref)
void flint_swiglu_ref(float *y, const float *gate, const float *up, int row_begin, int row_end) {
  NOVEC for (int i = row_begin; i < row_end; i++) y[i] = silu_scalar(gate[i]) * up[i];
}

/* ------------------------------------------------------------------------------------ */
/* Row-wise: RMSNorm, softmax                                                            */
/* ------------------------------------------------------------------------------------ */

static inline double hsum_f64x2(v128_t v) {
  return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1);
}

static inline float hmax_f32x4(v128_t v) {
  v = wasm_f32x4_max(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_max(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

static inline float hsum_f32x4(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/* Adds the four lanes of a float vector, each widened to double, into two accumulators. */
static inline void accumulate_f64(v128_t *lo, v128_t *hi, v128_t v) {
  *lo = wasm_f64x2_add(*lo, wasm_f64x2_promote_low_f32x4(v));
  *hi = wasm_f64x2_add(*hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)));
}

/*
 * y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for rows r of n floats. Squares are
 * float, summed in double; the normalized row is rounded to float before the weight
 * multiply. w may be null for no weight. y may alias x.
 */
FLINT_EXPORT(flint_rms_norm)
void flint_rms_norm(float *y, const float *x, const float *w, int n, float eps,
                    int row_begin, int row_end) {
  for (int r = row_begin; r < row_end; r++) {
    const float *xr = x + (size_t)r * n;
    float *yr = y + (size_t)r * n;
    /* One sequential double sum, as ggml's rms_norm: the bits of the mean feed the
       activation quantization of the next matmul. */
    double sum = 0.0;
    int i = 0;
    NOVEC for (; i < n; i++) sum += (double)(xr[i] * xr[i]);
    float mean = (float)(sum / n);
    float scale = 1.0f / __builtin_sqrtf(mean + eps);
    v128_t vs = wasm_f32x4_splat(scale);
    i = 0;
    if (w) {
      for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_f32x4_mul(wasm_v128_load(xr + i), vs);
        wasm_v128_store(yr + i, wasm_f32x4_mul(v, wasm_v128_load(w + i)));
      }
      for (; i < n; i++) yr[i] = (xr[i] * scale) * w[i];
    } else {
      for (; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_mul(wasm_v128_load(xr + i), vs));
      for (; i < n; i++) yr[i] = xr[i] * scale;
    }
  }
}

FLINT_EXPORT(flint_rms_norm_ref)
void flint_rms_norm_ref(float *y, const float *x, const float *w, int n, float eps,
                        int row_begin, int row_end) {
  NOVEC for (int r = row_begin; r < row_end; r++) {
    const float *xr = x + (size_t)r * n;
    float *yr = y + (size_t)r * n;
    double sum = 0.0;
    NOVEC for (int i = 0; i < n; i++) sum += (double)(xr[i] * xr[i]);
    float mean = (float)(sum / n);
    float scale = 1.0f / __builtin_sqrtf(mean + eps);
    NOVEC for (int i = 0; i < n; i++) yr[i] = w ? (xr[i] * scale) * w[i] : xr[i] * scale;
  }
}

/* Softmax of one row in place or from x to y: e = expf(x - max), sum in double. */
static void softmax_row(float *y, const float *x, int n) {
  v128_t vmax = wasm_f32x4_splat(-__builtin_inff());
  int i = 0;
  for (; i + 4 <= n; i += 4) vmax = wasm_f32x4_max(vmax, wasm_v128_load(x + i));
  float max = hmax_f32x4(vmax);
  for (; i < n; i++) max = x[i] > max ? x[i] : max;

  v128_t vm = wasm_f32x4_splat(max);
  v128_t lo = wasm_f64x2_splat(0.0), hi = wasm_f64x2_splat(0.0);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t e = expf_f32x4(wasm_f32x4_sub(wasm_v128_load(x + i), vm));
    wasm_v128_store(y + i, e);
    accumulate_f64(&lo, &hi, e);
  }
  double sum = hsum_f64x2(wasm_f64x2_add(lo, hi));
  for (; i < n; i++) {
    float e = expf_scalar(x[i] - max);
    y[i] = e;
    sum += (double)e;
  }

  float inv = (float)(1.0 / sum);
  v128_t vi = wasm_f32x4_splat(inv);
  i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(y + i), vi));
  for (; i < n; i++) y[i] *= inv;
}

static void softmax_row_ref(float *y, const float *x, int n) {
  float max = -__builtin_inff();
  NOVEC for (int i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  NOVEC for (int i = 0; i < n; i++) {
    float e = expf_scalar(x[i] - max);
    y[i] = e;
    sum += (double)e;
  }
  float inv = (float)(1.0 / sum);
  NOVEC for (int i = 0; i < n; i++) y[i] *= inv;
}

/* Softmax over each row of n floats; y may alias x. */
FLINT_EXPORT(flint_softmax)
void flint_softmax(float *y, const float *x, int n, int row_begin, int row_end) {
  for (int r = row_begin; r < row_end; r++) softmax_row(y + (size_t)r * n, x + (size_t)r * n, n);
}

FLINT_EXPORT(flint_softmax_ref)
void flint_softmax_ref(float *y, const float *x, int n, int row_begin, int row_end) {
  NOVEC for (int r = row_begin; r < row_end; r++)
    softmax_row_ref(y + (size_t)r * n, x + (size_t)r * n, n);
}

/* ------------------------------------------------------------------------------------ */
/* RoPE                                                                                  */
/* ------------------------------------------------------------------------------------ */

/*
 * Rotary position embedding of x [n_tokens][n_head][head_dim] into y (may alias x).
 * Row r is head (r % n_head) of token (r / n_head). `cache` holds, for each token,
 * n_rot/2 pairs (cos theta_i, sin theta_i); the caller computes them (ops.ts ropeCache)
 * because they need accurate cos/sin. Pair i rotates elements (2i, 2i+1) in the normal
 * layout and (i, i + n_rot/2) in the NeoX layout. Elements from n_rot to head_dim are
 * copied unchanged.
 * The rotation rounds as ggml's C code does once the compiler contracts it to FMA:
 * y0 = fma(x0, cos, -(x1·sin)) and y1 = fma(x0, sin, x1·cos), where the product
 * inside is rounded first (GCC and clang fuse the left product of a·b ± c·d). With
 * this form micro-Q5_K_S, Q5_K_M and IQ4_XS match llama.cpp on the 101-token goldens.
 */
FLINT_EXPORT(flint_rope)
void flint_rope(float *y, const float *x, const float *cache, int n_head, int head_dim,
                int n_rot, int neox, int row_begin, int row_end) {
  int half = n_rot / 2;
  for (int r = row_begin; r < row_end; r++) {
    const float *xr = x + (size_t)r * head_dim;
    float *yr = y + (size_t)r * head_dim;
    const float *cs = cache + (size_t)(r / n_head) * n_rot;
    int i = 0;
    if (neox) {
      for (; i + 4 <= half; i += 4) {
        v128_t c01 = wasm_v128_load(cs + 2 * i), c23 = wasm_v128_load(cs + 2 * i + 4);
        v128_t c = wasm_i32x4_shuffle(c01, c23, 0, 2, 4, 6);
        v128_t s = wasm_i32x4_shuffle(c01, c23, 1, 3, 5, 7);
        v128_t x0 = wasm_v128_load(xr + i), x1 = wasm_v128_load(xr + i + half);
        wasm_v128_store(yr + i, fmadd_f32x4(x0, c, wasm_f32x4_neg(wasm_f32x4_mul(x1, s))));
        wasm_v128_store(yr + i + half, fmadd_f32x4(x0, s, wasm_f32x4_mul(x1, c)));
      }
      for (; i < half; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1], x0 = xr[i], x1 = xr[i + half];
        yr[i] = fmadd_f32(x0, c, -(x1 * s));
        yr[i + half] = fmadd_f32(x0, s, x1 * c);
      }
    } else {
      /* Lanes hold (x0, x1, x0', x1') and (cos, sin, cos', sin'). */
      for (; i + 2 <= half; i += 2) {
        v128_t v = wasm_v128_load(xr + 2 * i);
        v128_t cs4 = wasm_v128_load(cs + 2 * i);
        v128_t x0 = wasm_i32x4_shuffle(v, v, 0, 0, 2, 2);
        v128_t x1 = wasm_i32x4_shuffle(v, v, 1, 1, 3, 3);
        /* (-(x1 s), x1 c, ...): the product that is rounded before the fused step. */
        v128_t t = wasm_f32x4_mul(x1, wasm_i32x4_shuffle(cs4, cs4, 1, 0, 3, 2));
        t = wasm_v128_xor(t, wasm_i32x4_make((int32_t)0x80000000, 0, (int32_t)0x80000000, 0));
        wasm_v128_store(yr + 2 * i, fmadd_f32x4(x0, cs4, t));
      }
      for (; i < half; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1], x0 = xr[2 * i], x1 = xr[2 * i + 1];
        yr[2 * i] = fmadd_f32(x0, c, -(x1 * s));
        yr[2 * i + 1] = fmadd_f32(x0, s, x1 * c);
      }
    }
    if (yr != xr) for (int j = n_rot; j < head_dim; j++) yr[j] = xr[j];
  }
}

FLINT_EXPORT(flint_rope_ref)
void flint_rope_ref(float *y, const float *x, const float *cache, int n_head, int head_dim,
                    int n_rot, int neox, int row_begin, int row_end) {
  int half = n_rot / 2;
  NOVEC for (int r = row_begin; r < row_end; r++) {
    const float *xr = x + (size_t)r * head_dim;
    float *yr = y + (size_t)r * head_dim;
    const float *cs = cache + (size_t)(r / n_head) * n_rot;
    NOVEC for (int i = 0; i < half; i++) {
      int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
      float c = cs[2 * i], s = cs[2 * i + 1], x0 = xr[a], x1 = xr[b];
      yr[a] = fmadd_f32(x0, c, -(x1 * s));
      yr[b] = fmadd_f32(x0, s, x1 * c);
    }
    NOVEC for (int j = n_rot; j < head_dim; j++) yr[j] = xr[j];
  }
}

/* ------------------------------------------------------------------------------------ */
/* Attention over a KV cache                                                             */
/* ------------------------------------------------------------------------------------ */

/* Rounds a float vector to F16 precision and back (the value ggml's F16 operand holds). */
static inline v128_t round_f16_f32x4(v128_t v) {
  v128_t h = f16_of_f32x4(v);
  return f32x4_of_f16(h);
}

static inline float round_f16_scalar(float v) {
  return f32_of_f16_scalar(f16_of_f32_scalar(v));
}

/*
 * Turns scores[0..n) into softmax weights of scores*scale, as ggml_soft_max_ext does on
 * ggml's AVX-512 backend: e = expf(s - max) with ggml's vector expf, in groups of 16
 * whose 16 lanes are added as a tree (i + 8, then + 4, + 2, + 1) in float before each
 * group total is added to a double sum, and then a multiply by float(1/sum). llama.cpp
 * pads the KV length and masks the padding with -inf, which contributes exp = 0, so a
 * partial last group is summed as if zero-filled.
 */
static void attention_softmax(float *p, int n, float scale) {
  v128_t vs = wasm_f32x4_splat(scale);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, wasm_f32x4_mul(wasm_v128_load(p + i), vs));
  for (; i < n; i++) p[i] *= scale;

  float max = -__builtin_inff();
  for (i = 0; i < n; i++) max = p[i] > max ? p[i] : max;

  v128_t vm = wasm_f32x4_splat(max);
  double sum = 0.0;
  for (int g = 0; g < n; g += 16) {
    v128_t e[4];
    for (int q = 0; q < 4; q++) {
      int at = g + 4 * q;
      if (at + 4 <= n) {
        e[q] = ggml_expf_f32x4(wasm_f32x4_sub(wasm_v128_load(p + at), vm));
        wasm_v128_store(p + at, e[q]);
      } else {
        float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int m = 0; m < 4 && at + m < n; m++) t[m] = p[at + m] = ggml_expf_scalar(p[at + m] - max);
        e[q] = wasm_v128_load(t);
      }
    }
    v128_t s4 = wasm_f32x4_add(wasm_f32x4_add(e[0], e[2]), wasm_f32x4_add(e[1], e[3]));
    float s = (wasm_f32x4_extract_lane(s4, 0) + wasm_f32x4_extract_lane(s4, 2)) +
              (wasm_f32x4_extract_lane(s4, 1) + wasm_f32x4_extract_lane(s4, 3));
    sum += (double)s;
  }

  float inv = (float)(1.0 / sum);
  v128_t vi = wasm_f32x4_splat(inv);
  i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, wasm_f32x4_mul(wasm_v128_load(p + i), vi));
  for (; i < n; i++) p[i] *= inv;
}

/* Largest head_dim the kernel accepts (F16 copies of the query heads live on the stack). */
#define ATTN_MAX_HEAD_DIM 1024
/* Query heads of one KV group computed together, so each K/V element is loaded (and
   converted from F16) once for all of them. */
#define ATTN_HEADS 4
/* Query heads per pass over the cache: their K/V slices of a cache row are adjacent, so
   a pass reads memory mostly in sequence. Uses ATTN_CHUNK * ATTN_MAX_HEAD_DIM * 4 bytes
   (64 KiB) of stack. */
#define ATTN_CHUNK 16

/* Loads 4 cache values at element `d` of a row as floats. */
static inline v128_t load_kv4(const void *row, int kv_f16, int d) {
  return kv_f16 ? f32x4_of_f16(load_f16x4((const uint16_t *)row + d))
                : wasm_v128_load((const float *)row + d);
}

/*
 * p[h][j] = q[h] . krow for nh heads that share one KV head, one accumulator per head
 * over groups of 4 dims. attention_score2 sums in the same order, so neither the
 * grouping of heads nor the pairing of rows changes the bits. nh is a constant after
 * inlining.
 */
static inline __attribute__((always_inline)) void attention_score(
    int nh, float *const *p, const float *const *q, int j, const void *krow, int kv_f16,
    int head_dim) {
  v128_t acc[ATTN_HEADS];
  for (int h = 0; h < nh; h++) acc[h] = wasm_f32x4_splat(0.0f);
  for (int d = 0; d < head_dim; d += 4) {
    v128_t k0 = load_kv4(krow, kv_f16, d);
    for (int h = 0; h < nh; h++)
      acc[h] = wasm_f32x4_add(acc[h], wasm_f32x4_mul(wasm_v128_load(q[h] + d), k0));
  }
  for (int h = 0; h < nh; h++) p[h][j] = hsum_f32x4(acc[h]);
}

/* The same for rows j and j + 1 (krow1), sharing the loads of q. */
static inline __attribute__((always_inline)) void attention_score2(
    int nh, float *const *p, const float *const *q, int j, const void *krow, const void *krow1,
    int kv_f16, int head_dim) {
  v128_t acc[ATTN_HEADS], acc1[ATTN_HEADS];
  for (int h = 0; h < nh; h++) acc[h] = acc1[h] = wasm_f32x4_splat(0.0f);
  for (int d = 0; d < head_dim; d += 4) {
    v128_t k0 = load_kv4(krow, kv_f16, d), k1 = load_kv4(krow1, kv_f16, d);
    for (int h = 0; h < nh; h++) {
      v128_t qd = wasm_v128_load(q[h] + d);
      acc[h] = wasm_f32x4_add(acc[h], wasm_f32x4_mul(qd, k0));
      acc1[h] = wasm_f32x4_add(acc1[h], wasm_f32x4_mul(qd, k1));
    }
  }
  for (int h = 0; h < nh; h++) {
    p[h][j] = hsum_f32x4(acc[h]);
    p[h][j + 1] = hsum_f32x4(acc1[h]);
  }
}

/* o[h] += p[h][j] * vrow for nh heads that share one KV head. */
static inline __attribute__((always_inline)) void attention_value(
    int nh, float *const *o, const float *const *p, int j, const void *vrow, int kv_f16,
    int head_dim) {
  v128_t ph[ATTN_HEADS];
  for (int h = 0; h < nh; h++) ph[h] = wasm_f32x4_splat(p[h][j]);
  for (int d = 0; d < head_dim; d += 4) {
    v128_t v0 = load_kv4(vrow, kv_f16, d);
    for (int h = 0; h < nh; h++) {
      float *oh = o[h] + d;
      wasm_v128_store(oh, wasm_f32x4_add(wasm_v128_load(oh), wasm_f32x4_mul(ph[h], v0)));
    }
  }
}

/* The same for rows j and j + 1 (vrow1), added in that order, with one load and store
   of o per pair: the sums get the same bits as two single steps. */
static inline __attribute__((always_inline)) void attention_value2(
    int nh, float *const *o, const float *const *p, int j, const void *vrow, const void *vrow1,
    int kv_f16, int head_dim) {
  v128_t ph[ATTN_HEADS], ph1[ATTN_HEADS];
  for (int h = 0; h < nh; h++) {
    ph[h] = wasm_f32x4_splat(p[h][j]);
    ph1[h] = wasm_f32x4_splat(p[h][j + 1]);
  }
  for (int d = 0; d < head_dim; d += 4) {
    v128_t v0 = load_kv4(vrow, kv_f16, d), v1 = load_kv4(vrow1, kv_f16, d);
    for (int h = 0; h < nh; h++) {
      float *oh = o[h] + d;
      v128_t acc = wasm_f32x4_add(wasm_v128_load(oh), wasm_f32x4_mul(ph[h], v0));
      wasm_v128_store(oh, wasm_f32x4_add(acc, wasm_f32x4_mul(ph1[h], v1)));
    }
  }
}

#define ATTN_DISPATCH(fn, nh, ...)      \
  switch (nh) {                         \
    case 4: fn(4, __VA_ARGS__); break;  \
    case 3: fn(3, __VA_ARGS__); break;  \
    case 2: fn(2, __VA_ARGS__); break;  \
    default: fn(1, __VA_ARGS__); break; \
  }

/* A run of at most ATTN_HEADS query heads of one chunk that share a KV head. */
typedef struct {
  int first;  /* index of the run's first head within the chunk */
  int count;
  size_t kv_offset_bytes;  /* offset of the KV head's slice within a cache row */
} attention_run;

/*
 * Attention over an F32 cache in ggml's order of operations (AVX-512 build, flash
 * attention off), so that the output, which llama.cpp quantizes for attn_output,
 * has the same bits:
 * - Q·K for a batch goes through ggml_vec_dot_f32, because Q is a permuted,
 *   non-contiguous view and llamafile's sgemm does not take it. That function feeds 64
 *   elements per step into four 16-lane fused multiply-add accumulators, adds them
 *   (0+2, 1+3, then 0+1) and reduces the lanes as a tree. It then adds the remaining
 *   head_dim % 64 elements in order, each product rounded to float before the add.
 *   That tail is not fused: with a fused tail, 3 of the 16 quantized micro goldens
 *   flip a code, and the F32 golden is not bit-exact after position 0. For a single
 *   token Q is contiguous and goes through sgemm instead (see dot_f32_lanes16).
 * - softmax as in attention_softmax.
 * - P·V through llamafile's sgemm (V is stored transposed and the KV length is padded
 *   to a multiple of 16): 16 lanes over cache positions (lane j % 16), fused
 *   multiply-adds in position order, then a tree reduction of the lanes.
 */

/* The 16-lane tree reduction of _mm512_reduce_add_ps: lane l + lane l+8, then +4, +2, +1. */
static inline float reduce16(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t s4 = wasm_f32x4_add(wasm_f32x4_add(a, c), wasm_f32x4_add(b, d));
  return (wasm_f32x4_extract_lane(s4, 0) + wasm_f32x4_extract_lane(s4, 2)) +
         (wasm_f32x4_extract_lane(s4, 1) + wasm_f32x4_extract_lane(s4, 3));
}

/* x·y over n floats as ggml_vec_dot_f32 computes it. */
static float dot_f32_ggml(const float *x, const float *y, int n) {
  const int np = n & ~63;
  float sum = 0.0f;
  if (np > 0) {
    v128_t acc[4][4];
    for (int a = 0; a < 4; a++)
      for (int q = 0; q < 4; q++) acc[a][q] = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < np; i += 64)
      for (int a = 0; a < 4; a++)
        for (int q = 0; q < 4; q++) {
          int at = i + 16 * a + 4 * q;
          acc[a][q] = fmadd_f32x4(wasm_v128_load(x + at), wasm_v128_load(y + at), acc[a][q]);
        }
    for (int q = 0; q < 4; q++) {
      acc[0][q] = wasm_f32x4_add(acc[0][q], acc[2][q]);
      acc[1][q] = wasm_f32x4_add(acc[1][q], acc[3][q]);
      acc[0][q] = wasm_f32x4_add(acc[0][q], acc[1][q]);
    }
    sum = reduce16(acc[0][0], acc[0][1], acc[0][2], acc[0][3]);
  }
  NOVEC for (int i = np; i < n; i++) {
    float product = x[i] * y[i];
    sum += product;
  }
  return sum;
}

/* x·y over n floats (a multiple of 16) as llamafile's AVX-512 sgemm computes one output. */
static float dot_f32_lanes16(const float *x, const float *y, int n) {
  v128_t acc[4];
  for (int q = 0; q < 4; q++) acc[q] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n; i += 16)
    for (int q = 0; q < 4; q++)
      acc[q] = fmadd_f32x4(wasm_v128_load(x + i + 4 * q), wasm_v128_load(y + i + 4 * q), acc[q]);
  return reduce16(acc[0], acc[1], acc[2], acc[3]);
}

static void attention_f32_ggml(float *out, const float *q, const float *k, const float *v,
                               const int32_t *positions, int n_tokens, int n_head,
                               int n_head_kv, int head_dim, float *scratch,
                               int scratch_stride, int row_begin, int row_end) {
  const int group = n_head / n_head_kv;
  const size_t q_stride = (size_t)n_head * head_dim;
  const size_t kv_stride = (size_t)n_head_kv * head_dim;
  const float scale = 1.0f / __builtin_sqrtf((float)head_dim);
  /* acc[lane][d]: the 16 sgemm lanes of every output element of one head. */
  float acc[16][ATTN_MAX_HEAD_DIM] __attribute__((aligned(16)));
  const int lanes16 = n_tokens == 1 && head_dim % 16 == 0;

  for (int h = row_begin; h < row_end; h++) {
    const size_t kv_off = (size_t)(h / group) * head_dim;
    float *p = scratch + (size_t)h * scratch_stride;
    for (int t = 0; t < n_tokens; t++) {
      const float *qt = q + t * q_stride + (size_t)h * head_dim;
      float *ot = out + t * q_stride + (size_t)h * head_dim;
      const int n_kv = positions[t] + 1;
      if (n_kv < 1 || n_kv > scratch_stride) __builtin_trap();

      for (int j = 0; j < n_kv; j++) {
        const float *kj = k + j * kv_stride + kv_off;
        p[j] = lanes16 ? dot_f32_lanes16(kj, qt, head_dim) : dot_f32_ggml(kj, qt, head_dim);
      }
      attention_softmax(p, n_kv, scale);

      const int lanes = n_kv < 16 ? n_kv : 16;
      for (int l = 0; l < lanes; l++)
        for (int d = 0; d < head_dim; d += 4) wasm_v128_store(acc[l] + d, wasm_f32x4_splat(0.0f));
      for (int j = 0; j < n_kv; j++) {
        const float *vj = v + j * kv_stride + kv_off;
        float *aj = acc[j & 15];
        v128_t pj = wasm_f32x4_splat(p[j]);
        for (int d = 0; d < head_dim; d += 4)
          wasm_v128_store(aj + d, fmadd_f32x4(pj, wasm_v128_load(vj + d), wasm_v128_load(aj + d)));
      }
      for (int l = lanes; l < 16; l++)
        for (int d = 0; d < head_dim; d += 4) wasm_v128_store(acc[l] + d, wasm_f32x4_splat(0.0f));
      for (int d = 0; d < head_dim; d += 4) {
        v128_t s[8];
        for (int l = 0; l < 8; l++)
          s[l] = wasm_f32x4_add(wasm_v128_load(acc[l] + d), wasm_v128_load(acc[l + 8] + d));
        for (int l = 0; l < 4; l++) s[l] = wasm_f32x4_add(s[l], s[l + 4]);
        for (int l = 0; l < 2; l++) s[l] = wasm_f32x4_add(s[l], s[l + 2]);
        wasm_v128_store(ot + d, wasm_f32x4_add(s[0], s[1]));
      }
    }
  }
}

/*
 * Causal attention with grouped-query heads over one layer's KV cache.
 *   out   [n_tokens][n_head * head_dim] float
 *   q     [n_tokens][n_head * head_dim] float, RoPE already applied
 *   k, v  [n_ctx][n_head_kv * head_dim], float (kv_f16 = 0) or F16 (kv_f16 = 1), or an F16
 *         cache already widened to float (kv_f16 = 2: F16 rounding, float rows); cache
 *         row j is the token at position j, and each query token's own K/V must
 *         already be stored
 *   positions [n_tokens]: token t attends to cache positions 0..positions[t]
 *   scratch [n_head][scratch_stride] floats, scratch_stride > max(positions)
 * Query head h reads KV head h / (n_head / n_head_kv). Scores are scaled by
 * 1/sqrt(head_dim). Rows are query heads: a thread computes heads [row_begin, row_end)
 * for every token and touches only their slices of out and scratch. Each head's result
 * does not depend on which other heads share its call. The call traps when head_dim is
 * not a multiple of 4 or exceeds ATTN_MAX_HEAD_DIM, or a position is negative or does
 * not fit in scratch_stride.
 */
/*
 * Attention with an F16 cache's rounding: Q and the softmax weights rounded to F16. With
 * `converted` the cache rows k and v were already widened to float (exactly), which a
 * prompt batch does once per layer instead of once per query token.
 */
static inline __attribute__((always_inline)) void attention_f16(
    float *out, const float *q, const void *k, const void *v, const int converted,
    const int32_t *positions, int n_tokens, int n_head, int n_head_kv, int head_dim,
    float *scratch, int scratch_stride, int row_begin, int row_end) {
  const int kv_f16 = 1;
  const int load_f16 = !converted;
  const int group = n_head / n_head_kv;
  const size_t q_stride = (size_t)n_head * head_dim;
  const size_t elem = load_f16 ? 2 : 4;
  const size_t kv_stride_bytes = (size_t)n_head_kv * head_dim * elem;
  const float scale = 1.0f / __builtin_sqrtf((float)head_dim);
  float qh[ATTN_CHUNK][ATTN_MAX_HEAD_DIM] __attribute__((aligned(16)));

  for (int c0 = row_begin; c0 < row_end; c0 += ATTN_CHUNK) {
    const int c1 = row_end - c0 < ATTN_CHUNK ? row_end : c0 + ATTN_CHUNK;
    const int n_chunk = c1 - c0;

    attention_run runs[ATTN_CHUNK];
    int n_runs = 0;
    for (int h0 = c0; h0 < c1;) {
      const int g = h0 / group;
      int h1 = (g + 1) * group;
      if (h1 > c1) h1 = c1;
      if (h1 > h0 + ATTN_HEADS) h1 = h0 + ATTN_HEADS;
      runs[n_runs++] = (attention_run){h0 - c0, h1 - h0, (size_t)g * head_dim * elem};
      h0 = h1;
    }

    for (int t = 0; t < n_tokens; t++) {
      const int n_kv = positions[t] + 1;
      if (n_kv < 1 || n_kv > scratch_stride) __builtin_trap();
      const float *qv[ATTN_CHUNK];
      float *pv[ATTN_CHUNK];
      float *ov[ATTN_CHUNK];
      for (int i = 0; i < n_chunk; i++) {
        const float *qt = q + t * q_stride + (size_t)(c0 + i) * head_dim;
        if (kv_f16) {
          /* ggml rounds Q to F16 before a product with an F16 cache. */
          for (int d = 0; d < head_dim; d += 4)
            wasm_v128_store(qh[i] + d, round_f16_f32x4(wasm_v128_load(qt + d)));
          qv[i] = qh[i];
        } else {
          qv[i] = qt;
        }
        pv[i] = scratch + (size_t)(c0 + i) * scratch_stride;
        ov[i] = out + t * q_stride + (size_t)(c0 + i) * head_dim;
      }

      /* Cache rows in pairs, which share the loads of q (scores) and of o (values). */
      int j = 0;
      for (; j + 2 <= n_kv; j += 2) {
        const uint8_t *krow = (const uint8_t *)k + j * kv_stride_bytes;
        for (int r = 0; r < n_runs; r++) {
          const attention_run run = runs[r];
          ATTN_DISPATCH(attention_score2, run.count, pv + run.first, qv + run.first, j,
                        krow + run.kv_offset_bytes, krow + kv_stride_bytes + run.kv_offset_bytes, load_f16, head_dim);
        }
      }
      for (; j < n_kv; j++) {
        const uint8_t *krow = (const uint8_t *)k + j * kv_stride_bytes;
        for (int r = 0; r < n_runs; r++) {
          const attention_run run = runs[r];
          ATTN_DISPATCH(attention_score, run.count, pv + run.first, qv + run.first, j,
                        krow + run.kv_offset_bytes, load_f16, head_dim);
        }
      }

      for (int i = 0; i < n_chunk; i++) {
        float *p = pv[i];
        attention_softmax(p, n_kv, scale);
        if (kv_f16) {
          /* ggml rounds the softmax weights to F16 before the product with F16 V. */
          int m = 0;
          for (; m + 4 <= n_kv; m += 4) wasm_v128_store(p + m, round_f16_f32x4(wasm_v128_load(p + m)));
          for (; m < n_kv; m++) p[m] = round_f16_scalar(p[m]);
        }
        for (int d = 0; d < head_dim; d += 4) wasm_v128_store(ov[i] + d, wasm_f32x4_splat(0.0f));
      }

      j = 0;
      for (; j + 2 <= n_kv; j += 2) {
        const uint8_t *vrow = (const uint8_t *)v + j * kv_stride_bytes;
        for (int r = 0; r < n_runs; r++) {
          const attention_run run = runs[r];
          ATTN_DISPATCH(attention_value2, run.count, ov + run.first,
                        (const float *const *)pv + run.first, j, vrow + run.kv_offset_bytes,
                        vrow + kv_stride_bytes + run.kv_offset_bytes, load_f16, head_dim);
        }
      }
      for (; j < n_kv; j++) {
        const uint8_t *vrow = (const uint8_t *)v + j * kv_stride_bytes;
        for (int r = 0; r < n_runs; r++) {
          const attention_run run = runs[r];
          ATTN_DISPATCH(attention_value, run.count, ov + run.first,
                        (const float *const *)pv + run.first, j, vrow + run.kv_offset_bytes,
                        load_f16, head_dim);
        }
      }
    }
  }
}

FLINT_EXPORT(flint_attention)
void flint_attention(float *out, const float *q, const void *k, const void *v, int kv_f16,
                     const int32_t *positions, int n_tokens, int n_head, int n_head_kv,
                     int head_dim, float *scratch, int scratch_stride,
                     int row_begin, int row_end) {
  if (head_dim > ATTN_MAX_HEAD_DIM || head_dim % 4 != 0) __builtin_trap();
  if (kv_f16 == 0) {
    attention_f32_ggml(out, q, k, v, positions, n_tokens, n_head, n_head_kv, head_dim, scratch,
                       scratch_stride, row_begin, row_end);
  } else if (kv_f16 == 2) {
    attention_f16(out, q, k, v, 1, positions, n_tokens, n_head, n_head_kv, head_dim, scratch,
                  scratch_stride, row_begin, row_end);
  } else {
    attention_f16(out, q, k, v, 0, positions, n_tokens, n_head, n_head_kv, head_dim, scratch,
                  scratch_stride, row_begin, row_end);
  }
}

FLINT_EXPORT(flint_attention_ref)
void flint_attention_ref(float *out, const float *q, const void *k, const void *v, int kv_f16,
                         const int32_t *positions, int n_tokens, int n_head, int n_head_kv,
                         int head_dim, float *scratch, int scratch_stride,
                         int row_begin, int row_end) {
  const int group = n_head / n_head_kv;
  const size_t q_stride = (size_t)n_head * head_dim;
  const size_t kv_stride = (size_t)n_head_kv * head_dim;
  const float scale = 1.0f / __builtin_sqrtf((float)head_dim);
  const float *kf = (const float *)k, *vf = (const float *)v;
  const uint16_t *kh = (const uint16_t *)k, *vh = (const uint16_t *)v;

  NOVEC for (int h = row_begin; h < row_end; h++) {
    const size_t kv_off = (size_t)(h / group) * head_dim;
    float *p = scratch + (size_t)h * scratch_stride;
    NOVEC for (int t = 0; t < n_tokens; t++) {
      const float *qt = q + t * q_stride + (size_t)h * head_dim;
      float *ot = out + t * q_stride + (size_t)h * head_dim;
      const int n_kv = positions[t] + 1;
      NOVEC for (int j = 0; j < n_kv; j++) {
        float sum = 0.0f;
        size_t base = j * kv_stride + kv_off;
        NOVEC for (int d = 0; d < head_dim; d++) {
          sum += kv_f16 ? round_f16_scalar(qt[d]) * f32_of_f16_scalar(kh[base + d])
                        : qt[d] * kf[base + d];
        }
        p[j] = sum * scale;
      }
      softmax_row_ref(p, p, n_kv);
      if (kv_f16) NOVEC for (int j = 0; j < n_kv; j++) p[j] = round_f16_scalar(p[j]);
      NOVEC for (int d = 0; d < head_dim; d++) {
        float sum = 0.0f;
        NOVEC for (int j = 0; j < n_kv; j++) {
          size_t at = j * kv_stride + kv_off + d;
          sum += p[j] * (kv_f16 ? f32_of_f16_scalar(vh[at]) : vf[at]);
        }
        ot[d] = sum;
      }
    }
  }
}
