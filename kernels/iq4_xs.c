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
