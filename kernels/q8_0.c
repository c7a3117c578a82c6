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
