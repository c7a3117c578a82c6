/* Q5_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int q5k_code(const void *block, int p) {
  const block_q5_K *b = block;
  uint8_t byte = b->qs[32 * (p / 64) + p % 32];
  int low = (p % 64) < 32 ? (byte & 15) : (byte >> 4);
  return low + 16 * ((b->qh[p % 32] >> (p / 32)) & 1);
}

void dequantize_row_q5_K_scalar(const void *vx, float *y, int n) {
  const block_q5_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    dequantize_k4_block_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q5k_code, y);
  }
}

float vec_dot_q5_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    sum += vec_dot_k4_block_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q5k_code, &y[i]);
  }
  return sum;
}

void dequantize_row_q5_K(const void *vx, float *y, int n) {
  const block_q5_K *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15), sixteen = wasm_i8x16_splat(16);
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    float dmin = fp16_to_f32(x[i].dmin);
    for (int b = 0; b < 8; b++) {
      uint8_t sc, m;
      unpack_scale_min_k4(b, x[i].scales, &sc, &m);
      v128_t dl = wasm_f32x4_splat(d * (float)sc), ml = wasm_f32x4_splat(dmin * (float)m);
      v128_t bit = wasm_i8x16_splat((int8_t)(1 << b));
      for (int v = 0; v < 2; v++) {
        v128_t q = wasm_v128_load(x[i].qs + 32 * (b / 2) + 16 * v);
        v128_t low = (b & 1) ? high_nibbles(q, m4) : wasm_v128_and(q, m4);
        v128_t hb = wasm_v128_and(wasm_v128_load(x[i].qh + 16 * v), bit);
        v128_t code = wasm_v128_or(low, wasm_v128_and(wasm_i8x16_eq(hb, bit), sixteen));
        store_q_mul_sub(y + 32 * b + 16 * v, code, dl, ml);
      }
    }
  }
}

/* Codes of chunk c (sub-blocks 2c and 2c+1), 0..31, four vectors of 16. */
#define Q5K_CODES(x, c)                                                                       \
  v128_t q0 = wasm_v128_load((x).qs + 32 * (c)), q1 = wasm_v128_load((x).qs + 32 * (c) + 16); \
  v128_t a0 = wasm_v128_or(wasm_v128_and(q0, m4), bit_to_sixteen(qh0, 2 * (c)));              \
  v128_t a1 = wasm_v128_or(wasm_v128_and(q1, m4), bit_to_sixteen(qh1, 2 * (c)));              \
  v128_t b0 = wasm_v128_or(high_nibbles(q0, m4), bit_to_sixteen(qh0, 2 * (c) + 1));           \
  v128_t b1 = wasm_v128_or(high_nibbles(q1, m4), bit_to_sixteen(qh1, 2 * (c) + 1))

/* Σ code·y of sub-blocks 2c and 2c+1, scaled, added to acc. Codes ≤ 31 keep the int16
 * lanes below 4·31·127. */
#define Q5K_DOT(acc, q8, c)                                                                   \
  do {                                                                                        \
    v128_t lo = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load((q8) + 64 * (c)), a0),              \
                               dot16_i8_u7(wasm_v128_load((q8) + 64 * (c) + 16), a1));        \
    v128_t hi = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load((q8) + 64 * (c) + 32), b0),         \
                               dot16_i8_u7(wasm_v128_load((q8) + 64 * (c) + 48), b1));        \
    acc = scale_i16_acc(lo, SPLAT_I16(sc, 2 * (c)), acc);                                     \
    acc = scale_i16_acc(hi, SPLAT_I16(sc, 2 * (c) + 1), acc);                                 \
  } while (0)

/* Sums of 32 activations per sub-block, from pairs of the 16-element bsums. */
static inline v128_t q5_K_pair_sums(const block_q8_K *y) {
  v128_t bs0 = wasm_v128_load(y->bsums), bs1 = wasm_v128_load(y->bsums + 8);
  return wasm_i16x8_add(wasm_i16x8_shuffle(bs0, bs1, 0, 2, 4, 6, 8, 10, 12, 14),
                        wasm_i16x8_shuffle(bs0, bs1, 1, 3, 5, 7, 9, 11, 13, 15));
}

/* As the Q4_K dot, with the fifth bit from qh. */
float vec_dot_q5_K_q8_K(int n, const void *vx, const void *vy) {
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t accf = wasm_f32x4_splat(0.0f), accm = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    v128_t packed = unpack_scales_mins_k4(x[i].scales);
    v128_t sc = wasm_u16x8_extend_low_u8x16(packed);
    v128_t msum = wasm_i32x4_dot_i16x8(q5_K_pair_sums(&y[i]), wasm_u16x8_extend_high_u8x16(packed));
    v128_t qh0 = wasm_v128_load(x[i].qh), qh1 = wasm_v128_load(x[i].qh + 16);
    v128_t acc = wasm_i32x4_splat(0);
    for (int c = 0; c < 4; c++) {
      Q5K_CODES(x[i], c);
      switch (c) {
        case 0: Q5K_DOT(acc, y[i].qs, 0); break;
        case 1: Q5K_DOT(acc, y[i].qs, 1); break;
        case 2: Q5K_DOT(acc, y[i].qs, 2); break;
        default: Q5K_DOT(acc, y[i].qs, 3); break;
      }
    }
    float dy = y[i].d;
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc), wasm_f32x4_splat(dy * fp16_to_f32(x[i].d)),
                      accf);
    accm = madd_f32x4(wasm_f32x4_convert_i32x4(msum),
                      wasm_f32x4_splat(dy * fp16_to_f32(x[i].dmin)), accm);
  }
  return hsum_f32x4(accf) - hsum_f32x4(accm);
}

/*
 * One weight row against four activation rows: codes are built once per block. Per token
 * the float steps equal vec_dot_q5_K_q8_K's, so results match it bit for bit.
 */
void vec_dot_q5_K_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) {
  const block_q5_K *x = vx;
  const block_q8_K *y0 = ys[0], *y1 = ys[1], *y2 = ys[2], *y3 = ys[3];
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t accf[4], accm[4];
  for (int t = 0; t < 4; t++) accf[t] = accm[t] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    const block_q8_K *yt[4] = {&y0[i], &y1[i], &y2[i], &y3[i]};
    v128_t packed = unpack_scales_mins_k4(x[i].scales);
    v128_t sc = wasm_u16x8_extend_low_u8x16(packed);
    v128_t mins = wasm_u16x8_extend_high_u8x16(packed);
    v128_t qh0 = wasm_v128_load(x[i].qh), qh1 = wasm_v128_load(x[i].qh + 16);
    v128_t acc[4];
    for (int t = 0; t < 4; t++) acc[t] = wasm_i32x4_splat(0);
    for (int c = 0; c < 4; c++) {
      Q5K_CODES(x[i], c);
      for (int t = 0; t < 4; t++) {
        switch (c) {
          case 0: Q5K_DOT(acc[t], yt[t]->qs, 0); break;
          case 1: Q5K_DOT(acc[t], yt[t]->qs, 1); break;
          case 2: Q5K_DOT(acc[t], yt[t]->qs, 2); break;
          default: Q5K_DOT(acc[t], yt[t]->qs, 3); break;
        }
      }
    }
    float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    for (int t = 0; t < 4; t++) {
      v128_t msum = wasm_i32x4_dot_i16x8(q5_K_pair_sums(yt[t]), mins);
      float dy = yt[t]->d;
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(acc[t]), wasm_f32x4_splat(dy * d), accf[t]);
      accm[t] = madd_f32x4(wasm_f32x4_convert_i32x4(msum), wasm_f32x4_splat(dy * dmin), accm[t]);
    }
  }
  for (int t = 0; t < 4; t++) out[t] = hsum_f32x4(accf[t]) - hsum_f32x4(accm[t]);
}
