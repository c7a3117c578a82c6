/* Q2_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

void dequantize_row_q2_K_scalar(const void *vx, float *y, int n) {
  const block_q2_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    float dmin = fp16_to_f32(x[i].dmin);
    for (int p = 0; p < QK_K; p++) {
      int h = p / 128, j = (p % 128) / 32, l = p % 32;
      int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
      uint8_t sc = x[i].scales[p / 16];
      y[p] = (d * (float)(sc & 15)) * (float)q - dmin * (float)(sc >> 4);
    }
  }
}

/* Per block: dy·(d·Σ_k lo(sc_k)·Σ q·yq − dmin·Σ_k hi(sc_k)·bsum_k) over 16-weight groups k. */
float vec_dot_q2_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) {
      int h = p / 128, j = (p % 128) / 32, l = p % 32;
      int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
      group[p / 16] += q * y[i].qs[p];
    }
    int isum = 0, msum = 0;
    for (int k = 0; k < 16; k++) {
      isum += (x[i].scales[k] & 15) * group[k];
      msum += (x[i].scales[k] >> 4) * y[i].bsums[k];
    }
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum - fp16_to_f32(x[i].dmin) * (float)msum);
  }
  return sum;
}

void dequantize_row_q2_K(const void *vx, float *y, int n) {
  const block_q2_K *x = vx;
  const v128_t m3 = wasm_i8x16_splat(3);
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    float dmin = fp16_to_f32(x[i].dmin);
    for (int h = 0; h < 2; h++) {
      for (int j = 0; j < 4; j++) {
        for (int v = 0; v < 2; v++) {
          int p = 128 * h + 32 * j + 16 * v;
          uint8_t sc = x[i].scales[p / 16];
          v128_t q = wasm_v128_and(wasm_u16x8_shr(wasm_v128_load(x[i].qs + 32 * h + 16 * v), 2 * j), m3);
          store_q_mul_sub(y + p, q, wasm_f32x4_splat(d * (float)(sc & 15)),
                          wasm_f32x4_splat(dmin * (float)(sc >> 4)));
        }
      }
    }
  }
}

float vec_dot_q2_K_q8_K(int n, const void *vx, const void *vy) {
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  const v128_t m3 = wasm_i8x16_splat(3), m4 = wasm_i8x16_splat(15);
  v128_t accf = wasm_f32x4_splat(0.0f);
  float summ = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    v128_t sc8 = wasm_v128_load(x[i].scales);
    v128_t scales = wasm_v128_and(sc8, m4), mins = high_nibbles(sc8, m4);
    v128_t sc_lo = wasm_u16x8_extend_low_u8x16(scales), sc_hi = wasm_u16x8_extend_high_u8x16(scales);
    v128_t msum = wasm_i32x4_add(
        wasm_i32x4_dot_i16x8(wasm_v128_load(y[i].bsums), wasm_u16x8_extend_low_u8x16(mins)),
        wasm_i32x4_dot_i16x8(wasm_v128_load(y[i].bsums + 8), wasm_u16x8_extend_high_u8x16(mins)));
    const int8_t *q8 = y[i].qs;
    v128_t acc = wasm_i32x4_splat(0);
#define Q2K_HALF(h, sc)                                                                        \
  do {                                                                                         \
    v128_t qa = wasm_v128_load(x[i].qs + 32 * (h)), qb = wasm_v128_load(x[i].qs + 32 * (h) + 16); \
    const int8_t *yb = q8 + 128 * (h);                                                         \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb), wasm_v128_and(qa, m3)), SPLAT_I16(sc, 0), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 16), wasm_v128_and(qb, m3)), SPLAT_I16(sc, 1), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 32), wasm_v128_and(wasm_u16x8_shr(qa, 2), m3)), SPLAT_I16(sc, 2), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 48), wasm_v128_and(wasm_u16x8_shr(qb, 2), m3)), SPLAT_I16(sc, 3), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 64), wasm_v128_and(wasm_u16x8_shr(qa, 4), m3)), SPLAT_I16(sc, 4), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 80), wasm_v128_and(wasm_u16x8_shr(qb, 4), m3)), SPLAT_I16(sc, 5), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 96), wasm_u16x8_shr(wasm_v128_and(qa, wasm_i8x16_splat(-64)), 6)), SPLAT_I16(sc, 6), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 112), wasm_u16x8_shr(wasm_v128_and(qb, wasm_i8x16_splat(-64)), 6)), SPLAT_I16(sc, 7), acc); \
  } while (0)
    Q2K_HALF(0, sc_lo);
    Q2K_HALF(1, sc_hi);
#undef Q2K_HALF
    float dy = y[i].d;
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc), wasm_f32x4_splat(dy * fp16_to_f32(x[i].d)),
                      accf);
    summ += dy * fp16_to_f32(x[i].dmin) * (float)hsum_i32x4(msum);
  }
  return hsum_f32x4(accf) - summ;
}

/*
 * One weight row against four activation rows: codes are built once per block. Per token
 * the float steps equal vec_dot_q2_K_q8_K's, so results match it bit for bit.
 */
void vec_dot_q2_K_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) {
  const block_q2_K *x = vx;
  const block_q8_K *y0 = ys[0], *y1 = ys[1], *y2 = ys[2], *y3 = ys[3];
  const v128_t m3 = wasm_i8x16_splat(3), m4 = wasm_i8x16_splat(15);
  v128_t accf[4];
  float summ[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int t = 0; t < 4; t++) accf[t] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    const block_q8_K *yt[4] = {&y0[i], &y1[i], &y2[i], &y3[i]};
    v128_t sc8 = wasm_v128_load(x[i].scales);
    v128_t scales = wasm_v128_and(sc8, m4), mins = high_nibbles(sc8, m4);
    v128_t sc_lo = wasm_u16x8_extend_low_u8x16(scales), sc_hi = wasm_u16x8_extend_high_u8x16(scales);
    v128_t acc[4];
    for (int t = 0; t < 4; t++) acc[t] = wasm_i32x4_splat(0);
#define Q2K_X4(h, j, sc, ca, cb)                                                               \
  do {                                                                                         \
    v128_t sa = SPLAT_I16(sc, 2 * (j)), sb = SPLAT_I16(sc, 2 * (j) + 1);                       \
    for (int t = 0; t < 4; t++) {                                                              \
      const int8_t *yb = yt[t]->qs + 128 * (h) + 32 * (j);                                     \
      acc[t] = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb), ca), sa, acc[t]);                 \
      acc[t] = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 16), cb), sb, acc[t]);            \
    }                                                                                          \
  } while (0)
#define Q2K_X4_HALF(h, sc)                                                                     \
  do {                                                                                         \
    v128_t qa = wasm_v128_load(x[i].qs + 32 * (h)), qb = wasm_v128_load(x[i].qs + 32 * (h) + 16); \
    Q2K_X4(h, 0, sc, wasm_v128_and(qa, m3), wasm_v128_and(qb, m3));                            \
    Q2K_X4(h, 1, sc, wasm_v128_and(wasm_u16x8_shr(qa, 2), m3), wasm_v128_and(wasm_u16x8_shr(qb, 2), m3)); \
    Q2K_X4(h, 2, sc, wasm_v128_and(wasm_u16x8_shr(qa, 4), m3), wasm_v128_and(wasm_u16x8_shr(qb, 4), m3)); \
    Q2K_X4(h, 3, sc, wasm_u16x8_shr(wasm_v128_and(qa, wasm_i8x16_splat(-64)), 6),             \
           wasm_u16x8_shr(wasm_v128_and(qb, wasm_i8x16_splat(-64)), 6));                       \
  } while (0)
    Q2K_X4_HALF(0, sc_lo);
    Q2K_X4_HALF(1, sc_hi);
#undef Q2K_X4_HALF
#undef Q2K_X4
    float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    for (int t = 0; t < 4; t++) {
      v128_t msum = wasm_i32x4_add(
          wasm_i32x4_dot_i16x8(wasm_v128_load(yt[t]->bsums), wasm_u16x8_extend_low_u8x16(mins)),
          wasm_i32x4_dot_i16x8(wasm_v128_load(yt[t]->bsums + 8), wasm_u16x8_extend_high_u8x16(mins)));
      float dy = yt[t]->d;
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(acc[t]), wasm_f32x4_splat(dy * d), accf[t]);
      summ[t] += dy * dmin * (float)hsum_i32x4(msum);
    }
  }
  for (int t = 0; t < 4; t++) out[t] = hsum_f32x4(accf[t]) - summ[t];
}
