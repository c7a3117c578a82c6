/* Q8_0 weights (layout in quants.h) against Q8_0 activations. */
#include "quants.h"

void dequantize_row_q8_0_scalar(const void *vx, float *y, int n) {
  const block_q8_0 *x = vx;
  for (int i = 0; i < n / QK8_0; i++, y += 32) {
    float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
  }
}

float vec_dot_q8_0_q8_0_scalar(int n, const void *vx, const void *vy) {
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK8_0; i++) {
    int s = 0;
    for (int j = 0; j < 32; j++) s += x[i].qs[j] * y[i].qs[j];
    sum += (float)s * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
  }
  return sum;
}

void dequantize_row_q8_0(const void *vx, float *y, int n) {
  const block_q8_0 *x = vx;
  for (int i = 0; i < n / QK8_0; i++, y += 32) {
    v128_t d = wasm_f32x4_splat(fp16_to_f32(x[i].d));
    store_q_mul(y, wasm_v128_load(x[i].qs), d);
    store_q_mul(y + 16, wasm_v128_load(x[i].qs + 16), d);
  }
}

float vec_dot_q8_0_q8_0(int n, const void *vx, const void *vy) {
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  const v128_t zero = wasm_i8x16_splat((int8_t)flint_opaque_zero);
  v128_t accf = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK8_0; i++) {
    v128_t acc = dot32_i8_i8_acc(wasm_v128_load(y[i].qs), wasm_v128_load(x[i].qs), zero,
                                 wasm_i32x4_splat(0));
    acc = dot32_i8_i8_acc(wasm_v128_load(y[i].qs + 16), wasm_v128_load(x[i].qs + 16), zero, acc);
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc),
                      wasm_f32x4_splat(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)), accf);
  }
  return hsum_f32x4(accf);
}
