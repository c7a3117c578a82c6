/* Q5_0 weights (layout in quants.h) against Q8_0 activations. */
#include "quants.h"

static inline uint32_t load_qh(const uint8_t *qh) {
  return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void dequantize_row_q5_0_scalar(const void *vx, float *y, int n) {
  const block_q5_0 *x = vx;
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    float d = fp16_to_f32(x[i].d);
    uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < 16; j++) {
      int q0 = (x[i].qs[j] & 15) | ((qh >> j) & 1) << 4;
      int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
      y[j] = (float)(q0 - 16) * d;
      y[j + 16] = (float)(q1 - 16) * d;
    }
  }
}

float vec_dot_q5_0_q8_0_scalar(int n, const void *vx, const void *vy) {
  const block_q5_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    uint32_t qh = load_qh(x[i].qh);
    int s = 0;
    for (int j = 0; j < 16; j++) {
      int q0 = (x[i].qs[j] & 15) | ((qh >> j) & 1) << 4;
      int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
      s += (q0 - 16) * y[i].qs[j] + (q1 - 16) * y[i].qs[j + 16];
    }
    sum += (float)s * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
  }
  return sum;
}

void dequantize_row_q5_0(const void *vx, float *y, int n) {
  const block_q5_0 *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15), sixteen = wasm_i8x16_splat(16);
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    v128_t d = wasm_f32x4_splat(fp16_to_f32(x[i].d));
    uint32_t qh = load_qh(x[i].qh);
    v128_t q = wasm_v128_load(x[i].qs);
    v128_t c0 = wasm_v128_or(wasm_v128_and(q, m4), expand_bits16(qh, sixteen));
    v128_t c1 = wasm_v128_or(high_nibbles(q, m4), expand_bits16(qh >> 16, sixteen));
    store_q_mul(y, wasm_i8x16_sub(c0, sixteen), d);
    store_q_mul(y + 16, wasm_i8x16_sub(c1, sixteen), d);
  }
}

float vec_dot_q5_0_q8_0(int n, const void *vx, const void *vy) {
  const block_q5_0 *x = vx;
  const block_q8_0 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15), sixteen = wasm_i8x16_splat(16);
  v128_t accf = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK4_0; i++) {
    uint32_t qh = load_qh(x[i].qh);
    v128_t q = wasm_v128_load(x[i].qs);
    v128_t c0 = wasm_v128_or(wasm_v128_and(q, m4), expand_bits16(qh, sixteen));
    v128_t c1 = wasm_v128_or(high_nibbles(q, m4), expand_bits16(qh >> 16, sixteen));
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
#ifdef FLINT_RELAXED
    /* Σ (c − 16)·y = Σ c·y − Σ 16·y with c in 0..31. */
    v128_t s = wasm_i16x8_add(dot16_i8_u7(y0, c0), dot16_i8_u7(y1, c1));
    s = wasm_i16x8_sub(s, wasm_i16x8_add(dot16_i8_u7(y0, sixteen), dot16_i8_u7(y1, sixteen)));
#else
    v128_t s = wasm_i16x8_add(dot16_i8_i8(y0, wasm_i8x16_sub(c0, sixteen)),
                              dot16_i8_i8(y1, wasm_i8x16_sub(c1, sixteen)));
#endif
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(wasm_i32x4_extadd_pairwise_i16x8(s)),
                      wasm_f32x4_splat(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)), accf);
  }
  return hsum_f32x4(accf);
}
