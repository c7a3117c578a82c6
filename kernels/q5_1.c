/* Q5_1 weights (layout in quants.h) against Q8_1 activations. */
#include "quants.h"

static inline uint32_t load_qh(const uint8_t *qh) {
  return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void dequantize_row_q5_1_scalar(const void *vx, float *y, int n) {
  const block_q5_1 *x = vx;
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    float d = fp16_to_f32(x[i].d);
    float m = fp16_to_f32(x[i].m);
    uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < 16; j++) {
      int q0 = (x[i].qs[j] & 15) | ((qh >> j) & 1) << 4;
      int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
      y[j] = (float)q0 * d + m;
      y[j + 16] = (float)q1 * d + m;
    }
  }
}

float vec_dot_q5_1_q8_1_scalar(int n, const void *vx, const void *vy) {
  const block_q5_1 *x = vx;
  const block_q8_1 *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    uint32_t qh = load_qh(x[i].qh);
    int s = 0;
    for (int j = 0; j < 16; j++) {
      int q0 = (x[i].qs[j] & 15) | ((qh >> j) & 1) << 4;
      int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
      s += q0 * y[i].qs[j] + q1 * y[i].qs[j + 16];
    }
    sum += (float)s * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)) +
           fp16_to_f32(x[i].m) * fp16_to_f32(y[i].s);
  }
  return sum;
}

void dequantize_row_q5_1(const void *vx, float *y, int n) {
  const block_q5_1 *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15), sixteen = wasm_i8x16_splat(16);
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    v128_t d = wasm_f32x4_splat(fp16_to_f32(x[i].d));
    v128_t m = wasm_f32x4_splat(fp16_to_f32(x[i].m));
    uint32_t qh = load_qh(x[i].qh);
    v128_t q = wasm_v128_load(x[i].qs);
    store_q_mul_add(y, wasm_v128_or(wasm_v128_and(q, m4), expand_bits16(qh, sixteen)), d, m);
    store_q_mul_add(y + 16, wasm_v128_or(high_nibbles(q, m4), expand_bits16(qh >> 16, sixteen)),
                    d, m);
  }
}

float vec_dot_q5_1_q8_1(int n, const void *vx, const void *vy) {
  const block_q5_1 *x = vx;
  const block_q8_1 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15), sixteen = wasm_i8x16_splat(16);
  v128_t accf = wasm_f32x4_splat(0.0f);
  float summ = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    uint32_t qh = load_qh(x[i].qh);
    v128_t q = wasm_v128_load(x[i].qs);
    v128_t c0 = wasm_v128_or(wasm_v128_and(q, m4), expand_bits16(qh, sixteen));
    v128_t c1 = wasm_v128_or(high_nibbles(q, m4), expand_bits16(qh >> 16, sixteen));
    v128_t s = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load(y[i].qs), c0),
                              dot16_i8_u7(wasm_v128_load(y[i].qs + 16), c1));
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(wasm_i32x4_extadd_pairwise_i16x8(s)),
                      wasm_f32x4_splat(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)), accf);
    summ += fp16_to_f32(x[i].m) * fp16_to_f32(y[i].s);
  }
  return hsum_f32x4(accf) + summ;
}

static inline v128_t q5_1_block_sum(const block_q5_1 *b, v128_t y0, v128_t y1, v128_t m4,
                                    v128_t sixteen) {
  uint32_t qh = load_qh(b->qh);
  v128_t q = wasm_v128_load(b->qs);
  v128_t c0 = wasm_v128_or(wasm_v128_and(q, m4), expand_bits16(qh, sixteen));
  v128_t c1 = wasm_v128_or(high_nibbles(q, m4), expand_bits16(qh >> 16, sixteen));
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(dot16_i8_u7(y0, c0), dot16_i8_u7(y1, c1)));
}

void vec_dot4_q5_1_q8_1(int n, const void *const rows[4], int step, const void *vy, float out[4]) {
  const block_q5_1 *x0 = rows[0], *x1 = rows[1], *x2 = rows[2], *x3 = rows[3];
  const block_q8_1 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15), sixteen = wasm_i8x16_splat(16);
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
    v128_t s = hsum4_i32x4(q5_1_block_sum(&x0[step * i], y0, y1, m4, sixteen),
                           q5_1_block_sum(&x1[step * i], y0, y1, m4, sixteen),
                           q5_1_block_sum(&x2[step * i], y0, y1, m4, sixteen),
                           q5_1_block_sum(&x3[step * i], y0, y1, m4, sixteen));
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
