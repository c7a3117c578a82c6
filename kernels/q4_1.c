/* Q4_1 weights (layout in quants.h) against Q8_1 activations. */
#include "quants.h"

void dequantize_row_q4_1_scalar(const void *vx, float *y, int n) {
  const block_q4_1 *x = vx;
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    float d = fp16_to_f32(x[i].d);
    float m = fp16_to_f32(x[i].m);
    for (int j = 0; j < 16; j++) {
      y[j] = (float)(x[i].qs[j] & 15) * d + m;
      y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
    }
  }
}

/* Σ (q·d + m)·(yq·dy) = d·dy·Σ q·yq + m·s, with s = dy·Σ yq cached in the Q8_1 block. */
float vec_dot_q4_1_q8_1_scalar(int n, const void *vx, const void *vy) {
  const block_q4_1 *x = vx;
  const block_q8_1 *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    int s = 0;
    for (int j = 0; j < 16; j++) {
      s += (x[i].qs[j] & 15) * y[i].qs[j];
      s += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    }
    sum += (float)s * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)) +
           fp16_to_f32(x[i].m) * fp16_to_f32(y[i].s);
  }
  return sum;
}

void dequantize_row_q4_1(const void *vx, float *y, int n) {
  const block_q4_1 *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15);
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    v128_t d = wasm_f32x4_splat(fp16_to_f32(x[i].d));
    v128_t m = wasm_f32x4_splat(fp16_to_f32(x[i].m));
    v128_t q = wasm_v128_load(x[i].qs);
    store_q_mul_add(y, wasm_v128_and(q, m4), d, m);
    store_q_mul_add(y + 16, high_nibbles(q, m4), d, m);
  }
}

float vec_dot_q4_1_q8_1(int n, const void *vx, const void *vy) {
  const block_q4_1 *x = vx;
  const block_q8_1 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t accf = wasm_f32x4_splat(0.0f);
  float summ = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t q = wasm_v128_load(x[i].qs);
    v128_t s = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load(y[i].qs), wasm_v128_and(q, m4)),
                              dot16_i8_u7(wasm_v128_load(y[i].qs + 16), high_nibbles(q, m4)));
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(wasm_i32x4_extadd_pairwise_i16x8(s)),
                      wasm_f32x4_splat(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)), accf);
    summ += fp16_to_f32(x[i].m) * fp16_to_f32(y[i].s);
  }
  return hsum_f32x4(accf) + summ;
}

/* Integer sum Σ q·yq of one Q4_1 block, in four int32 lanes. */
static inline v128_t q4_1_block_sum(const block_q4_1 *b, v128_t y0, v128_t y1, v128_t m4) {
  v128_t q = wasm_v128_load(b->qs);
  v128_t s = wasm_i16x8_add(dot16_i8_u7(y0, wasm_v128_and(q, m4)), dot16_i8_u7(y1, high_nibbles(q, m4)));
  return wasm_i32x4_extadd_pairwise_i16x8(s);
}

void vec_dot4_q4_1_q8_1(int n, const void *const rows[4], int step, const void *vy, float out[4]) {
  const block_q4_1 *x0 = rows[0], *x1 = rows[1], *x2 = rows[2], *x3 = rows[3];
  const block_q8_1 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
    v128_t s = hsum4_i32x4(q4_1_block_sum(&x0[step * i], y0, y1, m4), q4_1_block_sum(&x1[step * i], y0, y1, m4),
                           q4_1_block_sum(&x2[step * i], y0, y1, m4), q4_1_block_sum(&x3[step * i], y0, y1, m4));
    v128_t d = load_f16x4((const uint8_t *)&x0[step * i].d, (const uint8_t *)&x1[step * i].d,
                          (const uint8_t *)&x2[step * i].d, (const uint8_t *)&x3[step * i].d);
    v128_t m = load_f16x4((const uint8_t *)&x0[step * i].m, (const uint8_t *)&x1[step * i].m,
                          (const uint8_t *)&x2[step * i].m, (const uint8_t *)&x3[step * i].m);
    acc = madd_f32x4(wasm_f32x4_convert_i32x4(s),
                     wasm_f32x4_mul(d, wasm_f32x4_splat(fp16_to_f32(y[i].d))), acc);
    acc = madd_f32x4(m, wasm_f32x4_splat(fp16_to_f32(y[i].s)), acc);
  }
  wasm_v128_store(out, acc);
}
