/* IQ4_XS weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int iq4xs_scale(const block_iq4_xs *b, int sub) {
  int ls = ((b->scales_l[sub / 2] >> (4 * (sub % 2))) & 15) | ((b->scales_h >> (2 * sub)) & 3) << 4;
  return ls - 32;
}

void dequantize_row_iq4_xs_scalar(const void *vx, float *y, int n) {
  const block_iq4_xs *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    for (int b = 0; b < 8; b++) {
      float dl = d * (float)iq4xs_scale(&x[i], b);
      const uint8_t *qs = x[i].qs + 16 * b;
      for (int j = 0; j < 16; j++) {
        y[32 * b + j] = dl * (float)kvalues_iq4nl[qs[j] & 15];
        y[32 * b + 16 + j] = dl * (float)kvalues_iq4nl[qs[j] >> 4];
      }
    }
  }
}

float vec_dot_iq4_xs_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_iq4_xs *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0;
    for (int b = 0; b < 8; b++) {
      const uint8_t *qs = x[i].qs + 16 * b;
      const int8_t *q8 = y[i].qs + 32 * b;
      int s = 0;
      for (int j = 0; j < 16; j++) {
        s += kvalues_iq4nl[qs[j] & 15] * q8[j] + kvalues_iq4nl[qs[j] >> 4] * q8[16 + j];
      }
      isum += iq4xs_scale(&x[i], b) * s;
    }
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum);
  }
  return sum;
}

void dequantize_row_iq4_xs(const void *vx, float *y, int n) {
  const block_iq4_xs *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15);
  const v128_t table = wasm_v128_load(kvalues_iq4nl);
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    for (int b = 0; b < 8; b++) {
      v128_t dl = wasm_f32x4_splat(d * (float)iq4xs_scale(&x[i], b));
      v128_t q = wasm_v128_load(x[i].qs + 16 * b);
      store_q_mul(y + 32 * b, wasm_i8x16_swizzle(table, wasm_v128_and(q, m4)), dl);
      store_q_mul(y + 32 * b + 16, wasm_i8x16_swizzle(table, high_nibbles(q, m4)), dl);
    }
  }
}

/*
 * Per super-block: the eight sub-block sums are reduced to two int32x4 (one lane per
 * sub-block) and multiplied by their signed scales with two vector multiplies.
 */
float vec_dot_iq4_xs_q8_K(int n, const void *vx, const void *vy) {
  const block_iq4_xs *x = vx;
  const block_q8_K *y = vy;
  const v128_t m4 = wasm_i8x16_splat(15);
  const v128_t table = wasm_v128_load(kvalues_iq4nl);
  const v128_t zero = wasm_i8x16_splat((int8_t)flint_opaque_zero);
  v128_t accf = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n / QK_K; i++) {
    v128_t s[8];
    for (int b = 0; b < 8; b++) {
      v128_t q = wasm_v128_load(x[i].qs + 16 * b);
      v128_t k0 = wasm_i8x16_swizzle(table, wasm_v128_and(q, m4));
      v128_t k1 = wasm_i8x16_swizzle(table, high_nibbles(q, m4));
      s[b] = dot32_i8_i8_acc(wasm_v128_load(y[i].qs + 32 * b), k0, zero, wasm_i32x4_splat(0));
      s[b] = dot32_i8_i8_acc(wasm_v128_load(y[i].qs + 32 * b + 16), k1, zero, s[b]);
    }
    v128_t sc_lo = wasm_i32x4_make(iq4xs_scale(&x[i], 0), iq4xs_scale(&x[i], 1),
                                   iq4xs_scale(&x[i], 2), iq4xs_scale(&x[i], 3));
    v128_t sc_hi = wasm_i32x4_make(iq4xs_scale(&x[i], 4), iq4xs_scale(&x[i], 5),
                                   iq4xs_scale(&x[i], 6), iq4xs_scale(&x[i], 7));
    v128_t acc = wasm_i32x4_add(wasm_i32x4_mul(hsum4_i32x4(s[0], s[1], s[2], s[3]), sc_lo),
                                wasm_i32x4_mul(hsum4_i32x4(s[4], s[5], s[6], s[7]), sc_hi));
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc),
                      wasm_f32x4_splat(y[i].d * fp16_to_f32(x[i].d)), accf);
  }
  return hsum_f32x4(accf);
}
