/* Q4_0 weights (layout in quants.h) against Q8_0 activations. */
#include "quants.h"

void dequantize_row_q4_0_scalar(const void *vx, float *y, int n) {
  const block_q4_0 *x = vx;
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < 16; j++) {
      y[j] = (float)((x[i].qs[j] & 15) - 8) * d;
      y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

float vec_dot_q4_0_q8_0_scalar(int n, const void *vx, const void *vy) {
  const block_q4_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    int s = 0;
    for (int j = 0; j < 16; j++) {
      s += ((x[i].qs[j] & 15) - 8) * y[i].qs[j];
      s += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    }
    sum += (float)s * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
  }
  return sum;
}

void dequantize_row_q4_0(const void *vx, float *y, int n) {
  const block_q4_0 *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15), eight = wasm_i8x16_splat(8);
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    v128_t d = wasm_f32x4_splat(fp16_to_f32(x[i].d));
    v128_t q = wasm_v128_load(x[i].qs);
    store_q_mul(y, wasm_i8x16_sub(wasm_v128_and(q, m4), eight), d);
    store_q_mul(y + 16, wasm_i8x16_sub(high_nibbles(q, m4), eight), d);
  }
}

float vec_dot_q4_0_q8_0(int n, const void *vx, const void *vy) {
  const block_q4_0 *x = vx;
  const block_q8_0 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15), eight = wasm_i8x16_splat(8);
  v128_t accf = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t q = wasm_v128_load(x[i].qs);
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
#ifdef FLINT_RELAXED
    /* Σ (q − 8)·y = Σ q·y − Σ 8·y; both dots keep the unsigned operand in 0..15. */
    v128_t s = wasm_i16x8_add(dot16_i8_u7(y0, wasm_v128_and(q, m4)),
                              dot16_i8_u7(y1, high_nibbles(q, m4)));
    v128_t s8 = wasm_i16x8_add(dot16_i8_u7(y0, eight), dot16_i8_u7(y1, eight));
    s = wasm_i16x8_sub(s, s8);
#else
    v128_t s = wasm_i16x8_add(dot16_i8_i8(y0, wasm_i8x16_sub(wasm_v128_and(q, m4), eight)),
                              dot16_i8_i8(y1, wasm_i8x16_sub(high_nibbles(q, m4), eight)));
#endif
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(wasm_i32x4_extadd_pairwise_i16x8(s)),
                      wasm_f32x4_splat(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)), accf);
  }
  return hsum_f32x4(accf);
}

/* Integer sum of one Q4_0 block against 32 activations, in four int32 lanes. */
static inline v128_t q4_0_block_sum(const block_q4_0 *b, v128_t y0, v128_t y1, v128_t ysum8,
                                    v128_t m4, v128_t eight) {
  v128_t q = wasm_v128_load(b->qs);
#ifdef FLINT_RELAXED
  (void)eight;
  v128_t s = wasm_i16x8_add(dot16_i8_u7(y0, wasm_v128_and(q, m4)),
                            dot16_i8_u7(y1, high_nibbles(q, m4)));
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_sub(s, ysum8));
#else
  (void)ysum8;
  v128_t s = wasm_i16x8_add(dot16_i8_i8(y0, wasm_i8x16_sub(wasm_v128_and(q, m4), eight)),
                            dot16_i8_i8(y1, wasm_i8x16_sub(high_nibbles(q, m4), eight)));
  return wasm_i32x4_extadd_pairwise_i16x8(s);
#endif
}

void vec_dot4_q4_0_q8_0(int n, const void *const rows[4], int step, const void *vy, float out[4]) {
  const block_q4_0 *x0 = rows[0], *x1 = rows[1], *x2 = rows[2], *x3 = rows[3];
  const block_q8_0 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15), eight = wasm_i8x16_splat(8);
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
#ifdef FLINT_RELAXED
    /* Σ 8·y, subtracted once per row: Σ (q − 8)·y = Σ q·y − Σ 8·y. */
    v128_t ysum8 = wasm_i16x8_add(dot16_i8_u7(y0, eight), dot16_i8_u7(y1, eight));
#else
    v128_t ysum8 = wasm_i16x8_splat(0);
#endif
    v128_t s = hsum4_i32x4(q4_0_block_sum(&x0[step * i], y0, y1, ysum8, m4, eight),
                           q4_0_block_sum(&x1[step * i], y0, y1, ysum8, m4, eight),
                           q4_0_block_sum(&x2[step * i], y0, y1, ysum8, m4, eight),
                           q4_0_block_sum(&x3[step * i], y0, y1, ysum8, m4, eight));
    v128_t d = load_f16x4((const uint8_t *)&x0[step * i].d, (const uint8_t *)&x1[step * i].d,
                          (const uint8_t *)&x2[step * i].d, (const uint8_t *)&x3[step * i].d);
    v128_t scale = wasm_f32x4_mul(d, wasm_f32x4_splat(fp16_to_f32(y[i].d)));
    acc = madd_f32x4(wasm_f32x4_convert_i32x4(s), scale, acc);
  }
  wasm_v128_store(out, acc);
}
