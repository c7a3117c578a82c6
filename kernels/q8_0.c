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

static inline v128_t q8_0_block_sum(const block_q8_0 *b, v128_t y0, v128_t y1, v128_t zero) {
  v128_t acc = dot32_i8_i8_acc(y0, wasm_v128_load(b->qs), zero, wasm_i32x4_splat(0));
  return dot32_i8_i8_acc(y1, wasm_v128_load(b->qs + 16), zero, acc);
}

void vec_dot4_q8_0_q8_0(int n, const void *const rows[4], const void *vy, float out[4]) {
  const block_q8_0 *x0 = rows[0], *x1 = rows[1], *x2 = rows[2], *x3 = rows[3];
  const block_q8_0 *y = vy;
  const v128_t zero = wasm_i8x16_splat((int8_t)flint_opaque_zero);
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK8_0; i++) {
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
    v128_t s = hsum4_i32x4(q8_0_block_sum(&x0[i], y0, y1, zero), q8_0_block_sum(&x1[i], y0, y1, zero),
                           q8_0_block_sum(&x2[i], y0, y1, zero), q8_0_block_sum(&x3[i], y0, y1, zero));
    v128_t d = load_f16x4((const uint8_t *)&x0[i].d, (const uint8_t *)&x1[i].d,
                          (const uint8_t *)&x2[i].d, (const uint8_t *)&x3[i].d);
    acc = madd_f32x4(wasm_f32x4_convert_i32x4(s),
                     wasm_f32x4_mul(d, wasm_f32x4_splat(fp16_to_f32(y[i].d))), acc);
  }
  wasm_v128_store(out, acc);
}
