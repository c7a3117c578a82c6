/*
 * Batched matrix × matrix products that round like llama.cpp's x86 CPU backend (the
 * AVX2 and AVX-512 paths that an AVX-512 build with FMA takes for these types), so that
 * prompt logits match ggml's. ggml quantizes every matmul input to Q8, and one ULP of difference in
 * a float that feeds that quantization can flip a code and move a row of logits by
 * about 0.01.
 *
 * For Q4_1, Q5_1 (ggml_vec_dot_*_q8_1) and Q5_0, Q8_0 (llamafile's tinyBLAS_Q0_AVX,
 * which performs the same per-block steps) one output is:
 *   8 float lanes, lane k = Σ over blocks of (block scale) × (integer sum of elements
 *   4k..4k+3 of the block), accumulated with a fused multiply-add per block in block
 *   order; the block scale is the float product fp16(d_w)·fp16(d_y);
 *   then lanes (k + k+4), then (0 + 2) + (1 + 3);
 *   Q4_1 and Q5_1 finally add Σ fp16(m_w)·fp16(s_y), one fused multiply-add per block.
 * The super-block types (Q3_K, Q5_K, Q6_K, IQ4_XS) follow in dot_decoded_q8_K, Q2_K and
 * Q4_K (which llama.cpp repacks) in their own functions, and F32 in dot_f32.
 *
 * The scalar `sum += a * b` steps of ggml's quantized dot products are fused too: GCC
 * contracts them on x86 with FMA, and the micro goldens match only with fused Q5_K min
 * sums. Fused multiply-adds
 * are evaluated in double and rounded once to float, which is exact except when the
 * double sum lies exactly on a float rounding midpoint (very rare).
 *
 * These kernels are slower than flint_matmul's and serve prompt batches only; single
 * tokens keep the faster flint_matvec order.
 */
#include "quants.h"

#define GGML_ORDER_OK 0
#define GGML_ORDER_E_TYPE (-1)

enum { G_F32 = 0, G_Q4_1 = 3, G_Q2_K = 10, G_Q5_0 = 6, G_Q5_1 = 7, G_Q8_0 = 8, G_Q3_K = 11, G_Q4_K = 12, G_Q5_K = 13, G_Q6_K = 14, G_IQ4_XS = 23 };

/* Maximum row length of a super-block type here (its decoded codes live on the stack). */
#define GGML_ORDER_MAX_COLS 32768

static inline uint32_t qh_bits(const uint8_t *qh) {
  return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

/* a·b + c per lane with one rounding of the exact result (see the file comment). */
/* a·b + c for floats with one rounding (see the file comment). */
static inline float fma_f32(float a, float b, float c) {
  return (float)((double)a * (double)b + (double)c);
}

static inline v128_t fma_f32x4(v128_t a, v128_t b, v128_t c) {
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

/* Lane k = Σ c[e]·y[e] over bytes e = 4k..4k+3 (c and y signed, |c·y| < 2^14). */
static inline v128_t lane_sums4(v128_t c, v128_t y) {
  v128_t a = wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extmul_low_i8x16(c, y));
  v128_t b = wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extmul_high_i8x16(c, y));
  return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), wasm_i32x4_shuffle(a, b, 1, 3, 5, 7));
}

/* hsum_float_8 of ggml: lanes (k + k+4), then (0 + 2) + (1 + 3). */
static inline float hsum8(v128_t lo, v128_t hi) {
  v128_t r = wasm_f32x4_add(hi, lo);
  return (wasm_f32x4_extract_lane(r, 0) + wasm_f32x4_extract_lane(r, 2)) +
         (wasm_f32x4_extract_lane(r, 1) + wasm_f32x4_extract_lane(r, 3));
}

/* Codes of elements 0..15 (c0) and 16..31 (c1) of a block with 4-bit codes plus an
   optional fifth bit from qh. */
static inline void nibble_codes(const uint8_t *qs, const uint8_t *qh, v128_t *c0, v128_t *c1) {
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t q = wasm_v128_load(qs);
  *c0 = wasm_v128_and(q, m4);
  *c1 = wasm_v128_and(wasm_u8x16_shr(q, 4), m4);
  if (qh) {
    uint32_t bits = qh_bits(qh);
    const v128_t sixteen = wasm_i8x16_splat(16);
    *c0 = wasm_v128_or(*c0, expand_bits16(bits, sixteen));
    *c1 = wasm_v128_or(*c1, expand_bits16(bits >> 16, sixteen));
  }
}

/* One block's contribution: acc_lo/acc_hi += scale · lane sums of (c0, c1)·(y0, y1). */
static inline void block_fma(v128_t c0, v128_t c1, const int8_t *yq, float scale, v128_t *acc_lo,
                             v128_t *acc_hi) {
  v128_t s = wasm_f32x4_splat(scale);
  v128_t f0 = wasm_f32x4_convert_i32x4(lane_sums4(c0, wasm_v128_load(yq)));
  v128_t f1 = wasm_f32x4_convert_i32x4(lane_sums4(c1, wasm_v128_load(yq + 16)));
  *acc_lo = fma_f32x4(s, f0, *acc_lo);
  *acc_hi = fma_f32x4(s, f1, *acc_hi);
}

static float dot_q4_1(int n, const void *vx, const void *vy) {
  const block_q4_1 *x = vx;
  const block_q8_1 *y = vy;
  v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
  float summs = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t c0, c1;
    nibble_codes(x[i].qs, 0, &c0, &c1);
    summs = fma_f32(fp16_to_f32(x[i].m), fp16_to_f32(y[i].s), summs);
    block_fma(c0, c1, y[i].qs, fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d), &lo, &hi);
  }
  return hsum8(lo, hi) + summs;
}

static float dot_q5_1(int n, const void *vx, const void *vy) {
  const block_q5_1 *x = vx;
  const block_q8_1 *y = vy;
  v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
  float summs = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t c0, c1;
    nibble_codes(x[i].qs, x[i].qh, &c0, &c1);
    summs = fma_f32(fp16_to_f32(x[i].m), fp16_to_f32(y[i].s), summs);
    block_fma(c0, c1, y[i].qs, fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d), &lo, &hi);
  }
  return hsum8(lo, hi) + summs;
}

static float dot_q5_0(int n, const void *vx, const void *vy) {
  const block_q5_0 *x = vx;
  const block_q8_0 *y = vy;
  const v128_t sixteen = wasm_i8x16_splat(16);
  v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t c0, c1;
    nibble_codes(x[i].qs, x[i].qh, &c0, &c1);
    c0 = wasm_i8x16_sub(c0, sixteen);
    c1 = wasm_i8x16_sub(c1, sixteen);
    block_fma(c0, c1, y[i].qs, fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d), &lo, &hi);
  }
  return hsum8(lo, hi);
}

static float dot_q8_0(int n, const void *vx, const void *vy) {
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
  for (int i = 0; i < n / QK8_0; i++) {
    v128_t c0 = wasm_v128_load(x[i].qs), c1 = wasm_v128_load(x[i].qs + 16);
    block_fma(c0, c1, y[i].qs, fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d), &lo, &hi);
  }
  return hsum8(lo, hi);
}

/*
 * F32 as llamafile's AVX-512 sgemm (tinyBLAS) computes one output of a prompt batch:
 * 16 float lanes, lane l = fused multiply-adds of elements 16i + l in order of i, then
 * the lanes reduced as _mm512_reduce_add_ps does (l + l+8, then + 4, then (0 + 2) +
 * (1 + 3)). Rows must be a multiple of 16 long.
 */
static float dot_f32(int n, const void *vx, const void *vy) {
  const float *x = vx;
  const float *y = vy;
  v128_t acc[4];
  for (int q = 0; q < 4; q++) acc[q] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n; i += 16) {
    for (int q = 0; q < 4; q++) {
      acc[q] = fma_f32x4(wasm_v128_load(x + i + 4 * q), wasm_v128_load(y + i + 4 * q), acc[q]);
    }
  }
  v128_t s = wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[2]), wasm_f32x4_add(acc[1], acc[3]));
  return (wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 2)) +
         (wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 3));
}

typedef float (*row_dot)(int n, const void *x, const void *y);

static row_dot ggml_order_dot(int type) {
  switch (type) {
    case G_F32: return dot_f32;
    case G_Q4_1: return dot_q4_1;
    case G_Q5_0: return dot_q5_0;
    case G_Q5_1: return dot_q5_1;
    case G_Q8_0: return dot_q8_0;
    default: return 0;
  }
}

/*
 * Super-block types (256 weights against Q8_K). ggml's AVX2 vec_dot keeps 8 int32
 * lanes per super-block: lane k = Σ over the eight 32-weight groups g of
 * (scale of the 16 weights that hold 32g + 4k) × Σ_{l=4k..4k+3} q[32g+l]·y[32g+l],
 * then acc_k = fma(y.d·fp16(x.d), lane k, acc_k) and hsum8 at the end. Q5_K adds
 * summs = fma(-y.d·fp16(x.dmin), Σ_b m_b·(activation sum of sub-block b), summs) per
 * super-block and returns hsum8 + summs. Q6_K sums its codes as unsigned q + 32 in
 * these lanes and subtracts the offset afterwards, per 32-weight group:
 * lane k -= 32·Σ_{b=2k,2k+1} scale_b·(activation sum of the 16 weights b). The integer
 * total is the same, but the lanes, and so the float rounding, differ. With this split
 * the micro goldens' Q6_K output logits have llama.cpp b10573's bits; without it about
 * 75% of them differ in the last bits. A row is decoded once into int8 codes and
 * per-16 scales, then meets every token.
 */
typedef struct {
  int8_t *codes;   /* [n] */
  int16_t *scales; /* [n / 16] */
  float *d;        /* [n / 256], fp16(x.d) */
  int16_t *mins;   /* [n / 32] for Q4_K and Q5_K, [n / 16] for Q2_K, else unused */
  float *dmin;     /* [n / 256], fp16(x.dmin) for Q2_K, Q4_K and Q5_K, else 0 */
} decoded_row;

static void decode_q3_K(const void *vx, int n, decoded_row *out) {
  const block_q3_K *x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    int8_t sc[16];
    unpack_scales_q3_K(x[i].scales, sc);
    for (int k = 0; k < 16; k++) out->scales[16 * i + k] = sc[k];
    out->d[i] = fp16_to_f32(x[i].d);
    int8_t *q = out->codes + QK_K * i;
    for (int p = 0; p < QK_K; p++) {
      int h = p / 128, j = (p % 128) / 32, l = p % 32;
      int low = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
      q[p] = (int8_t)(((x[i].hmask[l] >> (4 * h + j)) & 1) ? low : low - 4);
    }
  }
}

static void decode_iq4_xs(const void *vx, int n, decoded_row *out) {
  const block_iq4_xs *x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    out->d[i] = fp16_to_f32(x[i].d);
    int8_t *q = out->codes + QK_K * i;
    for (int b = 0; b < 8; b++) {
      int ls = ((x[i].scales_l[b / 2] >> (4 * (b % 2))) & 15) | ((x[i].scales_h >> (2 * b)) & 3) << 4;
      out->scales[16 * i + 2 * b] = out->scales[16 * i + 2 * b + 1] = (int16_t)(ls - 32);
      for (int j = 0; j < 16; j++) {
        q[32 * b + j] = kvalues_iq4nl[x[i].qs[16 * b + j] & 15];
        q[32 * b + 16 + j] = kvalues_iq4nl[x[i].qs[16 * b + j] >> 4];
      }
    }
  }
}

static void decode_q5_K(const void *vx, int n, decoded_row *out) {
  const block_q5_K *x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    out->d[i] = fp16_to_f32(x[i].d);
    out->dmin[i] = fp16_to_f32(x[i].dmin);
    for (int b = 0; b < 8; b++) {
      uint8_t sc, m;
      unpack_scale_min_k4(b, x[i].scales, &sc, &m);
      out->scales[16 * i + 2 * b] = out->scales[16 * i + 2 * b + 1] = sc;
      out->mins[8 * i + b] = m;
    }
    int8_t *q = out->codes + QK_K * i;
    for (int p = 0; p < QK_K; p++) {
      int c = p / 64, h = (p % 64) / 32, l = p % 32;
      int low = (x[i].qs[32 * c + l] >> (4 * h)) & 15;
      q[p] = (int8_t)(low + 16 * ((x[i].qh[l] >> (p / 32)) & 1));
    }
  }
}

static void decode_q6_K(const void *vx, int n, decoded_row *out) {
  const block_q6_K *x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    out->d[i] = fp16_to_f32(x[i].d);
    for (int k = 0; k < 16; k++) out->scales[16 * i + k] = x[i].scales[k];
    int8_t *q = out->codes + QK_K * i;
    for (int p = 0; p < QK_K; p++) {
      int h = p / 128, k = (p % 128) / 32, l = p % 32;
      int low = (x[i].ql[64 * h + l + 32 * (k % 2)] >> (4 * (k / 2))) & 15;
      int high = (x[i].qh[32 * h + l] >> (2 * k)) & 3;
      q[p] = (int8_t)((low | high << 4) - 32);
    }
  }
}

static void decode_q2_K(const void *vx, int n, decoded_row *out) {
  const block_q2_K *x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    out->d[i] = fp16_to_f32(x[i].d);
    out->dmin[i] = fp16_to_f32(x[i].dmin);
    for (int b = 0; b < 16; b++) {
      out->scales[16 * i + b] = x[i].scales[b] & 15;
      out->mins[16 * i + b] = x[i].scales[b] >> 4;
    }
    int8_t *q = out->codes + QK_K * i;
    for (int p = 0; p < QK_K; p++) {
      int h = p / 128, j = (p % 128) / 32, l = p % 32;
      q[p] = (int8_t)((x[i].qs[32 * h + l] >> (2 * j)) & 3);
    }
  }
}

static void decode_q4_K(const void *vx, int n, decoded_row *out) {
  const block_q4_K *x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    out->d[i] = fp16_to_f32(x[i].d);
    out->dmin[i] = fp16_to_f32(x[i].dmin);
    for (int b = 0; b < 8; b++) {
      uint8_t sc, m;
      unpack_scale_min_k4(b, x[i].scales, &sc, &m);
      out->scales[16 * i + 2 * b] = out->scales[16 * i + 2 * b + 1] = sc;
      out->mins[8 * i + b] = m;
    }
    int8_t *q = out->codes + QK_K * i;
    for (int p = 0; p < QK_K; p++) {
      int c = p / 64, h = (p % 64) / 32, l = p % 32;
      q[p] = (int8_t)((x[i].qs[32 * c + l] >> (4 * h)) & 15);
    }
  }
}

/*
 * Q4_K as ggml's repacked q4_K_8x8 kernels compute one output (llama.cpp repacks Q4_K
 * weights on x86 with AVX2). Per group of sub-blocks the integer sums
 * isum = Σ_b sc_b·Σ q·y and imin = Σ_b m_b·(activation sum of b) feed
 * acc = fma(isum, fp16(x.d)·y.d, acc) and accmin = fma(imin, fp16(x.dmin)·y.d, accmin);
 * the output is acc - accmin. The gemm takes a batch's rows in groups of four, and its
 * AVX-512 path does this per pair of sub-blocks (64 weights). The gemv takes the
 * n_tokens % 4 rows left over and does it once per super-block. `group` is the number
 * of sub-blocks per step: 2 or 8.
 */
static float dot_decoded_q4_K_repacked(int n, const decoded_row *row, const block_q8_K *y,
                                       int group) {
  float acc = 0.0f, accmin = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    const int8_t *q = row->codes + QK_K * i;
    const int16_t *sc = row->scales + 16 * i;
    const float d = row->d[i] * y[i].d;
    const float dmin = row->dmin[i] * y[i].d;
    for (int g0 = 0; g0 < 8; g0 += group) {
      v128_t s = wasm_i32x4_splat(0);
      int imin = 0;
      for (int g = g0; g < g0 + group; g++) {
        v128_t a = lane_sums4(wasm_v128_load(q + 32 * g), wasm_v128_load(y[i].qs + 32 * g));
        v128_t b = lane_sums4(wasm_v128_load(q + 32 * g + 16), wasm_v128_load(y[i].qs + 32 * g + 16));
        s = wasm_i32x4_add(s, wasm_i32x4_mul(wasm_i32x4_add(a, b), wasm_i32x4_splat(sc[2 * g])));
        imin += row->mins[8 * i + g] * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
      }
      int isum = wasm_i32x4_extract_lane(s, 0) + wasm_i32x4_extract_lane(s, 1) +
                 wasm_i32x4_extract_lane(s, 2) + wasm_i32x4_extract_lane(s, 3);
      acc = fma_f32((float)isum, d, acc);
      accmin = fma_f32((float)imin, dmin, accmin);
    }
  }
  return acc - accmin;
}

/*
 * Q2_K as ggml's repacked q2_K_8x8 kernels compute one output (llama.cpp repacks Q2_K
 * on x86 with AVX-512): as Q4_K's, with 16-weight sub-blocks. The gemm adds 8
 * sub-blocks (128 weights) per step, the gemv a whole super-block. `group` is the
 * number of sub-blocks per step: 8 or 16.
 */
static float dot_decoded_q2_K_repacked(int n, const decoded_row *row, const block_q8_K *y,
                                       int group) {
  float acc = 0.0f, accmin = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    const int8_t *q = row->codes + QK_K * i;
    const int16_t *sc = row->scales + 16 * i;
    const float d = row->d[i] * y[i].d;
    const float dmin = row->dmin[i] * y[i].d;
    for (int b0 = 0; b0 < 16; b0 += group) {
      v128_t s = wasm_i32x4_splat(0);
      int imin = 0;
      for (int b = b0; b < b0 + group; b++) {
        v128_t lanes = lane_sums4(wasm_v128_load(q + 16 * b), wasm_v128_load(y[i].qs + 16 * b));
        s = wasm_i32x4_add(s, wasm_i32x4_mul(lanes, wasm_i32x4_splat(sc[b])));
        imin += row->mins[16 * i + b] * y[i].bsums[b];
      }
      int isum = wasm_i32x4_extract_lane(s, 0) + wasm_i32x4_extract_lane(s, 1) +
                 wasm_i32x4_extract_lane(s, 2) + wasm_i32x4_extract_lane(s, 3);
      acc = fma_f32((float)isum, d, acc);
      accmin = fma_f32((float)imin, dmin, accmin);
    }
  }
  return acc - accmin;
}

static float dot_decoded_q8_K(int n, const decoded_row *row, const block_q8_K *y, int type) {
  const v128_t offset = wasm_i8x16_splat(type == G_Q6_K ? 32 : 0);
  v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
  float summs = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    const int8_t *q = row->codes + QK_K * i;
    const int16_t *sc = row->scales + 16 * i;
    if (type == G_Q5_K) {
      /* Q5_K: summs += dmin·Σ_b m_b·(bsums of sub-block b), dmin = -y.d·fp16(x.dmin). */
      int prod = 0;
      for (int b = 0; b < 8; b++) {
        prod += row->mins[8 * i + b] * (y[i].bsums[2 * b] + y[i].bsums[2 * b + 1]);
      }
      summs = fma_f32(-y[i].d * row->dmin[i], (float)prod, summs);
    }
    v128_t s0 = wasm_i32x4_splat(0), s1 = s0;
    for (int g = 0; g < 8; g++) {
      v128_t c0 = wasm_i8x16_add(wasm_v128_load(q + 32 * g), offset);
      v128_t c1 = wasm_i8x16_add(wasm_v128_load(q + 32 * g + 16), offset);
      v128_t a = lane_sums4(c0, wasm_v128_load(y[i].qs + 32 * g));
      v128_t b = lane_sums4(c1, wasm_v128_load(y[i].qs + 32 * g + 16));
      s0 = wasm_i32x4_add(s0, wasm_i32x4_mul(a, wasm_i32x4_splat(sc[2 * g])));
      s1 = wasm_i32x4_add(s1, wasm_i32x4_mul(b, wasm_i32x4_splat(sc[2 * g + 1])));
    }
    if (type == G_Q6_K) {
      int32_t sub[8];
      for (int m = 0; m < 8; m++) {
        sub[m] = 32 * (y[i].bsums[2 * m] * sc[2 * m] + y[i].bsums[2 * m + 1] * sc[2 * m + 1]);
      }
      s0 = wasm_i32x4_sub(s0, wasm_i32x4_make(sub[0], sub[1], sub[2], sub[3]));
      s1 = wasm_i32x4_sub(s1, wasm_i32x4_make(sub[4], sub[5], sub[6], sub[7]));
    }
    v128_t d = wasm_f32x4_splat(y[i].d * row->d[i]);
    lo = fma_f32x4(d, wasm_f32x4_convert_i32x4(s0), lo);
    hi = fma_f32x4(d, wasm_f32x4_convert_i32x4(s1), hi);
  }
  return hsum8(lo, hi) + summs;
}

typedef void (*row_decoder)(const void *x, int n, decoded_row *out);

static row_decoder ggml_order_decoder(int type) {
  switch (type) {
    case G_Q2_K: return decode_q2_K;
    case G_Q3_K: return decode_q3_K;
    case G_Q4_K: return decode_q4_K;
    case G_Q5_K: return decode_q5_K;
    case G_Q6_K: return decode_q6_K;
    case G_IQ4_XS: return decode_iq4_xs;
    default: return 0;
  }
}

/* 1 when flint_matmul_ggml takes row-major weights of `type` with rows of n_cols, else 0. */
FLINT_EXPORT(flint_ggml_order_supported) int flint_ggml_order_supported(int type, int n_cols) {
  if (type == G_F32) return n_cols % 16 == 0;
  if (ggml_order_dot(type)) return n_cols % 32 == 0;
  if (ggml_order_decoder(type)) return n_cols % QK_K == 0 && n_cols <= GGML_ORDER_MAX_COLS;
  return 0;
}

/*
 * As flint_matmul for row-major weights of a type flint_ggml_order_supported accepts:
 * y[token·y_stride_floats + r] = row r of w · activation row `token`, for rows
 * [row_begin, row_end) and all n_tokens. Returns -1 for another type and -2 for a
 * row length the type does not take.
 */
FLINT_EXPORT(flint_matmul_ggml)
int flint_matmul_ggml(int type, const void *w, size_t row_stride_bytes, const void *xq,
                      size_t xq_stride_bytes, float *y, int n_cols, int n_tokens,
                      size_t y_stride_floats, int row_begin, int row_end) {
  if (!flint_ggml_order_supported(type, n_cols)) {
    return ggml_order_dot(type) || ggml_order_decoder(type) ? -2 : GGML_ORDER_E_TYPE;
  }
  if (n_tokens < 0) return -2;
  row_dot dot = ggml_order_dot(type);
  if (dot) {
    for (int r = row_begin; r < row_end; r++) {
      const uint8_t *row = (const uint8_t *)w + (size_t)r * row_stride_bytes;
      for (int t = 0; t < n_tokens; t++) {
        y[(size_t)t * y_stride_floats + r] = dot(n_cols, row, (const uint8_t *)xq + (size_t)t * xq_stride_bytes);
      }
    }
    return GGML_ORDER_OK;
  }
  row_decoder decode = ggml_order_decoder(type);
  int8_t codes[GGML_ORDER_MAX_COLS] __attribute__((aligned(16)));
  int16_t scales[GGML_ORDER_MAX_COLS / 16];
  float d[GGML_ORDER_MAX_COLS / QK_K], dmin[GGML_ORDER_MAX_COLS / QK_K];
  int16_t mins[GGML_ORDER_MAX_COLS / 16];
  decoded_row row = {codes, scales, d, mins, dmin};
  /* Tokens below gemm_rows go through ggml's repacked gemm, the rest through its gemv. */
  const int gemm_rows = n_tokens - n_tokens % 4;
  for (int r = row_begin; r < row_end; r++) {
    decode((const uint8_t *)w + (size_t)r * row_stride_bytes, n_cols, &row);
    for (int t = 0; t < n_tokens; t++) {
      const block_q8_K *yq = (const block_q8_K *)((const uint8_t *)xq + (size_t)t * xq_stride_bytes);
      float out;
      if (type == G_Q4_K) {
        out = dot_decoded_q4_K_repacked(n_cols, &row, yq, t < gemm_rows ? 2 : 8);
      } else if (type == G_Q2_K) {
        out = dot_decoded_q2_K_repacked(n_cols, &row, yq, t < gemm_rows ? 8 : 16);
      } else {
        out = dot_decoded_q8_K(n_cols, &row, yq, type);
      }
      y[(size_t)t * y_stride_floats + r] = out;
    }
  }
  return GGML_ORDER_OK;
}
