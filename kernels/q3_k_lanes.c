/*
 * Q3_K in a lanes layout: the code order of q2_k_lanes.c (half h, code vector u, byte pair
 * 2p, 2p+1 = weights 2u, 2u+1 of sub-block 8h + p), with the same Q8_K activations.
 *
 * Codes are taken as c = low | high << 2 in 0..7, and ggml's value is c − 4; the −4 returns
 * as 4·Σ_k s_k·bsum_k, as in q3_k.c. Storage: qs (64 bytes) packs the low two bits like
 * Q2_K lanes (vector k of half h at qs + 32h + 16k, code vector 4k + j in bits 2j, 2j+1);
 * hmask (32 bytes) contains the high bit of code vector u of half h as bit u of
 * hmask[16h + m], byte m of the vector. Scales and d stay where they are. A lane adds at
 * most eight pairs of products of at most 7·127 each, so int16 does not overflow.
 */
#include "quants.h"

/* ggml's code (−4..3) of original weight j of a lanes-ordered Q3_K block. */
static inline int q3kl_code(const block_q3_K *b, int j) {
  int pos = lanes16_pos(j), h = pos >> 7, u = (pos >> 4) & 7, m = pos & 15;
  int low = (b->qs[32 * h + 16 * (u >> 2) + m] >> (2 * (u & 3))) & 3;
  int high = (b->hmask[16 * h + m] >> u) & 1;
  return (low | high << 2) - 4;
}

/* Reorders the codes of n_blocks Q3_K blocks at w into the lanes layout, in place. */
void repack_q3_K_lanes(void *w, size_t n_blocks) {
  block_q3_K *x = w;
  for (size_t b = 0; b < n_blocks; b++) {
    /* Codes c = ggml code + 4 (0..7) as bytes in original order, then the transpose:
     * value 128h + 32j + 16v + l has low bits (qs[32h + 16v + l] >> 2j) & 3 and high bit
     * 4h + j of hmask[16v + l]. */
    uint8_t codes[QK_K] __attribute__((aligned(16)));
    const v128_t m3 = wasm_i8x16_splat(3), four = wasm_i8x16_splat(4);
    for (int h = 0; h < 2; h++) {
      for (int j = 0; j < 4; j++) {
        v128_t bit = wasm_i8x16_splat((int8_t)(1 << (4 * h + j)));
        for (int v = 0; v < 2; v++) {
          v128_t low = wasm_v128_and(wasm_u16x8_shr(wasm_v128_load(x[b].qs + 32 * h + 16 * v), 2 * j), m3);
          v128_t hb = wasm_v128_and(wasm_v128_load(x[b].hmask + 16 * v), bit);
          wasm_v128_store(codes + 128 * h + 32 * j + 16 * v,
                          wasm_v128_or(low, wasm_v128_and(wasm_i8x16_eq(hb, bit), four)));
        }
      }
    }
    v128_t rows[8][2], cols[16];
    for (int h = 0; h < 2; h++) {
      for (int p = 0; p < 8; p++) rows[p][h] = wasm_v128_load(codes + 128 * h + 16 * p);
    }
    lanes_transpose(rows, cols);
    const v128_t one = wasm_i8x16_splat(1);
    for (int h = 0; h < 2; h++) {
      v128_t high = wasm_i8x16_splat(0);
      for (int k = 0; k < 2; k++) {
        v128_t low = wasm_i8x16_splat(0);
        for (int j = 0; j < 4; j++) {
          v128_t c = cols[8 * h + 4 * k + j];
          low = wasm_v128_or(low, wasm_i16x8_shl(wasm_v128_and(c, m3), 2 * j));
          /* Bit 2 of code vector u = 4k + j goes to bit u of the mask byte. */
          v128_t bit = wasm_v128_and(wasm_u16x8_shr(c, 2), one);
          high = wasm_v128_or(high, wasm_i16x8_shl(bit, 4 * k + j));
        }
        wasm_v128_store(x[b].qs + 32 * h + 16 * k, low);
      }
      wasm_v128_store(x[b].hmask + 16 * h, high);
    }
  }
}

void dequantize_row_q3_K_lanes_scalar(const void *vx, float *y, int n) {
  const block_q3_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    int8_t s[16];
    unpack_scales_q3_K(x[i].scales, s);
    for (int p = 0; p < QK_K; p++) y[p] = (d * (float)s[p / 16]) * (float)q3kl_code(&x[i], p);
  }
}

/* Exact as the scalar form; only token lookups use it. */
void dequantize_row_q3_K_lanes(const void *vx, float *y, int n) {
  dequantize_row_q3_K_lanes_scalar(vx, y, n);
}

float vec_dot_q3_K_lanes_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int8_t s[16];
    unpack_scales_q3_K(x[i].scales, s);
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) group[p / 16] += q3kl_code(&x[i], p) * y[i].qs[lanes16_pos(p)];
    int isum = 0;
    for (int k = 0; k < 16; k++) isum += s[k] * group[k];
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum);
  }
  return sum;
}

/*
 * One row against nt tokens (a compile-time 1, 4 or 8): per half, each qs vector and the
 * half's mask vector are decoded into four code vectors once and used by every token.
 * Every nt runs the same float steps per token, so all entry points give the same bits.
 */
static inline __attribute__((always_inline)) void q3kl_dot_xn(int n, const void *vx,
                                                              const void *const *ys,
                                                              float *out, const int nt) {
  const block_q3_K *x = vx;
  const v128_t m3 = wasm_i8x16_splat(3), four = wasm_i8x16_splat(4);
  v128_t accf[8];
  for (int t = 0; t < nt; t++) accf[t] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    v128_t sc8 = unpack_scales_q3_K_v(x[i].scales);
    v128_t sc[2] = {wasm_i16x8_extend_low_i8x16(sc8), wasm_i16x8_extend_high_i8x16(sc8)};
    v128_t acc[8];
    for (int h = 0; h < 2; h++) {
      v128_t hm = wasm_v128_load(x[i].hmask + 16 * h);
      v128_t s[8];
      for (int k = 0; k < 2; k++) {
        v128_t q = wasm_v128_load(x[i].qs + 32 * h + 16 * k);
        /* Bit u = 4k + j of the mask byte to bit 2, by one 16-bit shift and a mask. */
        v128_t c[4];
        for (int j = 0; j < 4; j++) {
          int u = 4 * k + j;
          v128_t high = u >= 2 ? wasm_u16x8_shr(hm, u - 2) : wasm_i16x8_shl(hm, 2 - u);
          v128_t low = j == 0 ? q : wasm_u16x8_shr(q, 2 * j);
          c[j] = wasm_v128_or(wasm_v128_and(low, m3), wasm_v128_and(high, four));
        }
        for (int t = 0; t < nt; t++) {
          const int8_t *q8 = ((const block_q8_K *)ys[t])[i].qs + 128 * h + 64 * k;
          v128_t p = dot64_pairs_i8_u7(q8, c);
          s[t] = k == 0 ? p : wasm_i16x8_add(s[t], p);
        }
      }
      for (int t = 0; t < nt; t++) {
        v128_t d = wasm_i32x4_dot_i16x8(s[t], sc[h]);
        acc[t] = h == 0 ? d : wasm_i32x4_add(acc[t], d);
      }
    }
    float d = fp16_to_f32(x[i].d);
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *)ys[t] + i;
      v128_t offset = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums), sc[0]),
                                     wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums + 8), sc[1]));
      v128_t a = wasm_i32x4_sub(acc[t], wasm_i32x4_shl(offset, 2));
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(a), wasm_f32x4_splat(y->d * d), accf[t]);
    }
  }
  for (int t = 0; t < nt; t++) out[t] = hsum_f32x4(accf[t]);
}

float vec_dot_q3_K_lanes_q8_K(int n, const void *vx, const void *vy) {
  const void *ys[1] = {vy};
  float out[1];
  q3kl_dot_xn(n, vx, ys, out, 1);
  return out[0];
}

void vec_dot_q3_K_lanes_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) {
  q3kl_dot_xn(n, vx, ys, out, 4);
}

void vec_dot_q3_K_lanes_q8_K_x8(int n, const void *vx, const void *const ys[8], float out[8]) {
  q3kl_dot_xn(n, vx, ys, out, 8);
}
