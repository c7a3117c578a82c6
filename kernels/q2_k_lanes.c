/*
 * Q2_K in a lanes layout, and its Q8_K activations in the matching order (the idea of
 * q4_k_lanes.c for 16-weight sub-blocks).
 *
 * A Q2_K super-block has sixteen sub-blocks of 16 weights, each with a 4-bit scale. In
 * ggml's order each 16-byte code vector is one sub-block, so every int8 dot pays its own
 * i32x4.dot_i16x8 against a broadcast scale. Here half h (sub-blocks 8h..8h+7) has eight
 * code vectors u, and byte pair 2p, 2p+1 of vector u contains weights 2u, 2u+1 of sub-block
 * 8h + p. Eight dots add in int16 lanes that each stay within one sub-block, and one dot
 * against the half's eight scales applies them.
 *
 * Storage (qs, 64 bytes; scales, d and dmin stay where they are): vector k of half h
 * (qs + 32h + 16k) carries code vector 4k + j in bits 2j, 2j+1 (j = 0..3). Activations:
 * qs[128h + 16u + 2p + e] contains value 128h + 16p + 2u + e; d and bsums keep their meaning.
 * A lane adds at most eight pairs of products of at most 3·127 each, so int16 does not overflow.
 */
#include "quants.h"

/* Code of original weight j of a lanes-ordered Q2_K block. */
static inline int q2kl_code(const block_q2_K *b, int j) {
  int pos = lanes16_pos(j), h = pos >> 7, u = (pos >> 4) & 7;
  return (b->qs[32 * h + 16 * (u >> 2) + (pos & 15)] >> (2 * (u & 3))) & 3;
}

/* Rows of a super-block's 256 bytes as two 8×8 matrices of byte pairs, one per half. */
static inline void lanes16_rows(const uint8_t *bytes, v128_t rows[8][2]) {
  for (int h = 0; h < 2; h++) {
    for (int p = 0; p < 8; p++) rows[p][h] = wasm_v128_load(bytes + 128 * h + 16 * p);
  }
}

void quantize_row_q8_K_lanes16(const float *x, void *vy, int n) {
  quantize_row_q8_K(x, vy, n);
  block_q8_K *y = vy;
  for (int i = 0; i < n / QK_K; i++) {
    v128_t rows[8][2], cols[16];
    lanes16_rows((const uint8_t *)y[i].qs, rows);
    lanes_transpose(rows, cols);
    for (int u = 0; u < 16; u++) wasm_v128_store(y[i].qs + 16 * u, cols[u]);
  }
}

/* Reorders the codes of n_blocks Q2_K blocks at w into the lanes layout, in place. */
void repack_q2_K_lanes(void *w, size_t n_blocks) {
  block_q2_K *x = w;
  const v128_t m3 = wasm_i8x16_splat(3);
  for (size_t b = 0; b < n_blocks; b++) {
    /* Codes as bytes in original order: value 128h + 32j + l is bits 2j of qs[32h + l]. */
    uint8_t codes[QK_K] __attribute__((aligned(16)));
    for (int h = 0; h < 2; h++) {
      for (int k = 0; k < 2; k++) {
        v128_t q = wasm_v128_load(x[b].qs + 32 * h + 16 * k);
        for (int j = 0; j < 4; j++) {
          wasm_v128_store(codes + 128 * h + 32 * j + 16 * k,
                          wasm_v128_and(wasm_u16x8_shr(q, 2 * j), m3));
        }
      }
    }
    v128_t rows[8][2], cols[16];
    lanes16_rows(codes, rows);
    lanes_transpose(rows, cols);
    for (int h = 0; h < 2; h++) {
      for (int k = 0; k < 2; k++) {
        v128_t c = cols[8 * h + 4 * k];
        for (int j = 1; j < 4; j++) {
          c = wasm_v128_or(c, wasm_i16x8_shl(cols[8 * h + 4 * k + j], 2 * j));
        }
        wasm_v128_store(x[b].qs + 32 * h + 16 * k, c);
      }
    }
  }
}

void dequantize_row_q2_K_lanes_scalar(const void *vx, float *y, int n) {
  const block_q2_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    float dmin = fp16_to_f32(x[i].dmin);
    for (int p = 0; p < QK_K; p++) {
      uint8_t sc = x[i].scales[p / 16];
      y[p] = (d * (float)(sc & 15)) * (float)q2kl_code(&x[i], p) - dmin * (float)(sc >> 4);
    }
  }
}

/* Exact as the scalar form; only token lookups use it. */
void dequantize_row_q2_K_lanes(const void *vx, float *y, int n) {
  dequantize_row_q2_K_lanes_scalar(vx, y, n);
}

float vec_dot_q2_K_lanes_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) group[p / 16] += q2kl_code(&x[i], p) * y[i].qs[lanes16_pos(p)];
    int isum = 0, msum = 0;
    for (int k = 0; k < 16; k++) {
      isum += (x[i].scales[k] & 15) * group[k];
      msum += (x[i].scales[k] >> 4) * y[i].bsums[k];
    }
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum - fp16_to_f32(x[i].dmin) * (float)msum);
  }
  return sum;
}

/*
 * One row against nt tokens (a compile-time 1, 4 or 8): per half, each stored vector is
 * decoded into four code vectors once and used by every token. Every nt runs the same
 * float steps per token, so all entry points give the same bits.
 */
static inline __attribute__((always_inline)) void q2kl_dot_xn(int n, const void *vx,
                                                              const void *const *ys,
                                                              float *out, const int nt) {
  const block_q2_K *x = vx;
  const v128_t m3 = wasm_i8x16_splat(3), m4 = wasm_i8x16_splat(15);
  v128_t accf[8], accm[8];
  for (int t = 0; t < nt; t++) accf[t] = accm[t] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    v128_t sc8 = wasm_v128_load(x[i].scales);
    v128_t scales = wasm_v128_and(sc8, m4), mins = high_nibbles(sc8, m4);
    v128_t sc[2] = {wasm_u16x8_extend_low_u8x16(scales), wasm_u16x8_extend_high_u8x16(scales)};
    v128_t acc[8];
    for (int h = 0; h < 2; h++) {
      v128_t s[8];
      for (int k = 0; k < 2; k++) {
        v128_t q = wasm_v128_load(x[i].qs + 32 * h + 16 * k);
        v128_t c[4] = {wasm_v128_and(q, m3), wasm_v128_and(wasm_u16x8_shr(q, 2), m3),
                       wasm_v128_and(wasm_u16x8_shr(q, 4), m3), wasm_u16x8_shr(q, 6)};
        /* The last shift leaves bits from the byte above in the high byte: mask it. */
        c[3] = wasm_v128_and(c[3], m3);
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
    v128_t mins_lo = wasm_u16x8_extend_low_u8x16(mins), mins_hi = wasm_u16x8_extend_high_u8x16(mins);
    float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *)ys[t] + i;
      v128_t msum = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums), mins_lo),
                                   wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums + 8), mins_hi));
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(acc[t]), wasm_f32x4_splat(y->d * d), accf[t]);
      accm[t] = madd_f32x4(wasm_f32x4_convert_i32x4(msum), wasm_f32x4_splat(y->d * dmin), accm[t]);
    }
  }
  for (int t = 0; t < nt; t++) out[t] = hsum_f32x4(accf[t]) - hsum_f32x4(accm[t]);
}

float vec_dot_q2_K_lanes_q8_K(int n, const void *vx, const void *vy) {
  const void *ys[1] = {vy};
  float out[1];
  q2kl_dot_xn(n, vx, ys, out, 1);
  return out[0];
}

void vec_dot_q2_K_lanes_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) {
  q2kl_dot_xn(n, vx, ys, out, 4);
}

void vec_dot_q2_K_lanes_q8_K_x8(int n, const void *vx, const void *const ys[8], float out[8]) {
  q2kl_dot_xn(n, vx, ys, out, 8);
}
