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

/*
 * In the relaxed build the activations give the unsigned operand: |y| (codes never reach
 * -128) and their sign moved onto the weights, w·y = (w·sign y)·|y|. Both are computed
 * once per block for the four rows.
 * NOTE: a weight code of -128 against a negative activation wraps to -128 and gets the
 * wrong sign. ggml's quantizer writes codes in -127..127, so only a hand-made file has it.
 */
static inline v128_t q8_0_block_sum(const block_q8_0 *b, v128_t a0, v128_t a1, v128_t s0,
                                    v128_t s1) {
  return dot32_i8_act_signed(wasm_v128_load(b->qs), wasm_v128_load(b->qs + 16), a0, a1, s0, s1);
}

void vec_dot4_q8_0_q8_0(int n, const void *const rows[4], int step, const void *vy, float out[4]) {
  const block_q8_0 *x0 = rows[0], *x1 = rows[1], *x2 = rows[2], *x3 = rows[3];
  const block_q8_0 *y = vy;
  const v128_t zero = wasm_i8x16_splat((int8_t)flint_opaque_zero);
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK8_0; i++) {
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
#ifdef FLINT_RELAXED
    v128_t s0 = wasm_i8x16_lt(y0, zero), s1 = wasm_i8x16_lt(y1, zero);
    v128_t a0 = wasm_i8x16_abs(y0), a1 = wasm_i8x16_abs(y1);
#else
    v128_t s0 = zero, s1 = zero, a0 = y0, a1 = y1;
#endif
    v128_t s = hsum4_i32x4(q8_0_block_sum(&x0[step * i], a0, a1, s0, s1), q8_0_block_sum(&x1[step * i], a0, a1, s0, s1),
                           q8_0_block_sum(&x2[step * i], a0, a1, s0, s1), q8_0_block_sum(&x3[step * i], a0, a1, s0, s1));
    v128_t d = load_f16x4((const uint8_t *)&x0[step * i].d, (const uint8_t *)&x1[step * i].d,
                          (const uint8_t *)&x2[step * i].d, (const uint8_t *)&x3[step * i].d);
    acc = madd_f32x4(wasm_f32x4_convert_i32x4(s),
                     wasm_f32x4_mul(d, wasm_f32x4_splat(fp16_to_f32(y[i].d))), acc);
  }
  wasm_v128_store(out, acc);
}
