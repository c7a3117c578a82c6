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
