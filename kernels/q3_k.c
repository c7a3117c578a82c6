/* Q3_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int q3_code(const block_q3_K *b, int p) {
  int h = p / 128, j = (p % 128) / 32, l = p % 32;
  int low = (b->qs[32 * h + l] >> (2 * j)) & 3;
  return ((b->hmask[l] >> (4 * h + j)) & 1) ? low : low - 4;
}

void dequantize_row_q3_K_scalar(const void *vx, float *y, int n) {
  const block_q3_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    int8_t s[16];
    unpack_scales_q3_K(x[i].scales, s);
    for (int p = 0; p < QK_K; p++) y[p] = (d * (float)s[p / 16]) * (float)q3_code(&x[i], p);
  }
}

float vec_dot_q3_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int8_t s[16];
    unpack_scales_q3_K(x[i].scales, s);
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) group[p / 16] += q3_code(&x[i], p) * y[i].qs[p];
    int isum = 0;
    for (int k = 0; k < 16; k++) isum += s[k] * group[k];
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum);
  }
  return sum;
}

void dequantize_row_q3_K(const void *vx, float *y, int n) {
  const block_q3_K *x = vx;
  const v128_t m3 = wasm_i8x16_splat(3), four = wasm_i8x16_splat(4);
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    int8_t s[16];
    unpack_scales_q3_K(x[i].scales, s);
    for (int h = 0; h < 2; h++) {
      for (int j = 0; j < 4; j++) {
        v128_t bit = wasm_i8x16_splat((int8_t)(1 << (4 * h + j)));
        for (int v = 0; v < 2; v++) {
          v128_t low = wasm_v128_and(wasm_u16x8_shr(wasm_v128_load(x[i].qs + 32 * h + 16 * v), 2 * j), m3);
          v128_t hb = wasm_v128_and(wasm_v128_load(x[i].hmask + 16 * v), bit);
          v128_t code = wasm_v128_or(low, wasm_v128_and(wasm_i8x16_eq(hb, bit), four));
          int p = 128 * h + 32 * j + 16 * v;
          store_q_mul(y + p, wasm_i8x16_sub(code, four), wasm_f32x4_splat(d * (float)s[p / 16]));
        }
      }
    }
  }
}

/* Codes are taken as low | bit << 2 in 0..7; the −4 returns as 4·Σ_k s_k·bsum_k. */
float vec_dot_q3_K_q8_K(int n, const void *vx, const void *vy) {
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  const v128_t m3 = wasm_i8x16_splat(3), four = wasm_i8x16_splat(4);
  v128_t accf = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    v128_t sc8 = unpack_scales_q3_K_v(x[i].scales);
    v128_t sc_lo = wasm_i16x8_extend_low_i8x16(sc8), sc_hi = wasm_i16x8_extend_high_i8x16(sc8);
    v128_t offset = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(y[i].bsums), sc_lo),
                                   wasm_i32x4_dot_i16x8(wasm_v128_load(y[i].bsums + 8), sc_hi));
    v128_t hm0 = wasm_v128_load(x[i].hmask), hm1 = wasm_v128_load(x[i].hmask + 16);
    const int8_t *q8 = y[i].qs;
    v128_t acc = wasm_i32x4_splat(0);
/* Bit 4h+j of the mask byte moves to bit 2 by one 16-bit shift (bits from the neighbour
 * byte are masked off). */
#define Q3K_HIGH(hm, b)                                                                        \
  wasm_v128_and((b) >= 2 ? wasm_u16x8_shr(hm, (b) - 2) : wasm_i16x8_shl(hm, 2 - (b)), four)
#define Q3K_CODE(qsv, hm, h, j)                                                                \
  wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qsv, 2 * (j)), m3), Q3K_HIGH(hm, 4 * (h) + (j)))
#define Q3K_HALF(h, sc)                                                                        \
  do {                                                                                         \
    v128_t qa = wasm_v128_load(x[i].qs + 32 * (h)), qb = wasm_v128_load(x[i].qs + 32 * (h) + 16); \
    const int8_t *yb = q8 + 128 * (h);                                                         \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb), Q3K_CODE(qa, hm0, h, 0)), SPLAT_I16(sc, 0), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 16), Q3K_CODE(qb, hm1, h, 0)), SPLAT_I16(sc, 1), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 32), Q3K_CODE(qa, hm0, h, 1)), SPLAT_I16(sc, 2), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 48), Q3K_CODE(qb, hm1, h, 1)), SPLAT_I16(sc, 3), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 64), Q3K_CODE(qa, hm0, h, 2)), SPLAT_I16(sc, 4), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 80), Q3K_CODE(qb, hm1, h, 2)), SPLAT_I16(sc, 5), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 96), Q3K_CODE(qa, hm0, h, 3)), SPLAT_I16(sc, 6), acc); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 112), Q3K_CODE(qb, hm1, h, 3)), SPLAT_I16(sc, 7), acc); \
  } while (0)
    Q3K_HALF(0, sc_lo);
    Q3K_HALF(1, sc_hi);
#undef Q3K_HALF
    acc = wasm_i32x4_sub(acc, wasm_i32x4_shl(offset, 2));
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc),
                      wasm_f32x4_splat(y[i].d * fp16_to_f32(x[i].d)), accf);
  }
  return hsum_f32x4(accf);
}

/*
 * One weight row against four activation rows: codes are built once per block. Per token
 * the float steps equal vec_dot_q3_K_q8_K's, so results match it bit for bit.
 */
void vec_dot_q3_K_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) {
  const block_q3_K *x = vx;
  const block_q8_K *y0 = ys[0], *y1 = ys[1], *y2 = ys[2], *y3 = ys[3];
  const v128_t m3 = wasm_i8x16_splat(3), four = wasm_i8x16_splat(4);
  v128_t accf[4];
  for (int t = 0; t < 4; t++) accf[t] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    const block_q8_K *yt[4] = {&y0[i], &y1[i], &y2[i], &y3[i]};
    v128_t sc8 = unpack_scales_q3_K_v(x[i].scales);
    v128_t sc_lo = wasm_i16x8_extend_low_i8x16(sc8), sc_hi = wasm_i16x8_extend_high_i8x16(sc8);
    v128_t hm0 = wasm_v128_load(x[i].hmask), hm1 = wasm_v128_load(x[i].hmask + 16);
    v128_t acc[4];
    for (int t = 0; t < 4; t++) acc[t] = wasm_i32x4_splat(0);
#define Q3K_X4(h, j, sc)                                                                       \
  do {                                                                                         \
    v128_t ca = Q3K_CODE(qa, hm0, h, j), cb = Q3K_CODE(qb, hm1, h, j);                         \
    v128_t sa = SPLAT_I16(sc, 2 * (j)), sb = SPLAT_I16(sc, 2 * (j) + 1);                       \
    for (int t = 0; t < 4; t++) {                                                              \
      const int8_t *yb = yt[t]->qs + 128 * (h) + 32 * (j);                                     \
      acc[t] = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb), ca), sa, acc[t]);                 \
      acc[t] = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 16), cb), sb, acc[t]);            \
    }                                                                                          \
  } while (0)
    {
      v128_t qa = wasm_v128_load(x[i].qs), qb = wasm_v128_load(x[i].qs + 16);
      Q3K_X4(0, 0, sc_lo);
      Q3K_X4(0, 1, sc_lo);
      Q3K_X4(0, 2, sc_lo);
      Q3K_X4(0, 3, sc_lo);
    }
    {
      v128_t qa = wasm_v128_load(x[i].qs + 32), qb = wasm_v128_load(x[i].qs + 48);
      Q3K_X4(1, 0, sc_hi);
      Q3K_X4(1, 1, sc_hi);
      Q3K_X4(1, 2, sc_hi);
      Q3K_X4(1, 3, sc_hi);
    }
#undef Q3K_X4
    float d = fp16_to_f32(x[i].d);
    for (int t = 0; t < 4; t++) {
      v128_t offset = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(yt[t]->bsums), sc_lo),
                                     wasm_i32x4_dot_i16x8(wasm_v128_load(yt[t]->bsums + 8), sc_hi));
      v128_t a = wasm_i32x4_sub(acc[t], wasm_i32x4_shl(offset, 2));
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(a), wasm_f32x4_splat(yt[t]->d * d), accf[t]);
    }
  }
  for (int t = 0; t < 4; t++) out[t] = hsum_f32x4(accf[t]);
}
#undef Q3K_CODE
#undef Q3K_HIGH
