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

/*
 * Four rows per pass. As in the Q8_0 kernel the activations give the unsigned operand
 * (|y|) and their sign moves onto the table values, both computed once per block.
 */
static inline v128_t iq4_nl_block_sum(const block_iq4_nl *b, v128_t a0, v128_t a1, v128_t s0,
                                      v128_t s1, v128_t table, v128_t m4) {
  v128_t q = wasm_v128_load(b->qs);
  v128_t k0 = wasm_i8x16_swizzle(table, wasm_v128_and(q, m4));
  v128_t k1 = wasm_i8x16_swizzle(table, high_nibbles(q, m4));
  return dot32_i8_act_signed(k0, k1, a0, a1, s0, s1);
}

void vec_dot4_iq4_nl_q8_0(int n, const void *const rows[4], int step, const void *vy, float out[4]) {
  const block_iq4_nl *x0 = rows[0], *x1 = rows[1], *x2 = rows[2], *x3 = rows[3];
  const block_q8_0 *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15);
  const v128_t table = wasm_v128_load(kvalues_iq4nl);
  const v128_t zero = wasm_i8x16_splat((int8_t)flint_opaque_zero);
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK4_0; i++) {
    v128_t y0 = wasm_v128_load(y[i].qs), y1 = wasm_v128_load(y[i].qs + 16);
#ifdef FLINT_RELAXED
    v128_t s0 = wasm_i8x16_lt(y0, zero), s1 = wasm_i8x16_lt(y1, zero);
    v128_t a0 = wasm_i8x16_abs(y0), a1 = wasm_i8x16_abs(y1);
#else
    v128_t s0 = zero, s1 = zero, a0 = y0, a1 = y1;
#endif
    v128_t s = hsum4_i32x4(iq4_nl_block_sum(&x0[step * i], a0, a1, s0, s1, table, m4),
                           iq4_nl_block_sum(&x1[step * i], a0, a1, s0, s1, table, m4),
                           iq4_nl_block_sum(&x2[step * i], a0, a1, s0, s1, table, m4),
                           iq4_nl_block_sum(&x3[step * i], a0, a1, s0, s1, table, m4));
    v128_t d = load_f16x4((const uint8_t *)&x0[step * i].d, (const uint8_t *)&x1[step * i].d,
                          (const uint8_t *)&x2[step * i].d, (const uint8_t *)&x3[step * i].d);
    acc = madd_f32x4(wasm_f32x4_convert_i32x4(s),
                     wasm_f32x4_mul(d, wasm_f32x4_splat(fp16_to_f32(y[i].d))), acc);
  }
  wasm_v128_store(out, acc);
}
