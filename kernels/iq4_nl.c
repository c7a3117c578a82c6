/* IQ4_NL weights (layout in quants.h) against Q8_0 activations. */
#include "quants.h"

const int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                  1,    13,   25,  38,  53,  69,  89,  113};

void dequantize_row_iq4_nl_scalar(const void *vx, float *y, int n) {
  const block_iq4_nl *x = vx;
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < 16; j++) {
      y[j] = d * (float)kvalues_iq4nl[x[i].qs[j] & 15];
      y[j + 16] = d * (float)kvalues_iq4nl[x[i].qs[j] >> 4];
    }
  }
}

float vec_dot_iq4_nl_q8_0_scalar(int n, const void *vx, const void *vy) {
  const block_iq4_nl *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    int s = 0;
    for (int j = 0; j < 16; j++) {
      s += kvalues_iq4nl[x[i].qs[j] & 15] * y[i].qs[j];
      s += kvalues_iq4nl[x[i].qs[j] >> 4] * y[i].qs[j + 16];
    }
    sum += (float)s * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
  }
  return sum;
}

void dequantize_row_iq4_nl(const void *vx, float *y, int n) {
  const block_iq4_nl *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15);
  const v128_t table = wasm_v128_load(kvalues_iq4nl);
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    v128_t d = wasm_f32x4_splat(fp16_to_f32(x[i].d));
    v128_t q = wasm_v128_load(x[i].qs);
    store_q_mul(y, wasm_i8x16_swizzle(table, wasm_v128_and(q, m4)), d);
    store_q_mul(y + 16, wasm_i8x16_swizzle(table, high_nibbles(q, m4)), d);
  }
}

float vec_dot_iq4_nl_q8_0(int n, const void *vx, const void *vy) {
  const block_iq4_nl *x = vx;
  const block_q8_0 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15);
  const v128_t table = wasm_v128_load(kvalues_iq4nl);
  const v128_t zero = wasm_i8x16_splat((int8_t)flint_opaque_zero);
  v128_t accf = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t q = wasm_v128_load(x[i].qs);
    v128_t k0 = wasm_i8x16_swizzle(table, wasm_v128_and(q, m4));
    v128_t k1 = wasm_i8x16_swizzle(table, high_nibbles(q, m4));
    v128_t acc = dot32_i8_i8_acc(wasm_v128_load(y[i].qs), k0, zero, wasm_i32x4_splat(0));
    acc = dot32_i8_i8_acc(wasm_v128_load(y[i].qs + 16), k1, zero, acc);
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc),
                      wasm_f32x4_splat(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)), accf);
  }
  return hsum_f32x4(accf);
}
