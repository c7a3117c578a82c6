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
