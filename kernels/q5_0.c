/* Q5_0 weights (layout in quants.h) against Q8_0 activations. */
#include "quants.h"

static inline uint32_t load_qh(const uint8_t *qh) {
  return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void dequantize_row_q5_0_scalar(const void *vx, float *y, int n) {
  const block_q5_0 *x = vx;
  for (int i = 0; i < n / QK4_0; i++, y += 32) {
    float d = fp16_to_f32(x[i].d);
    uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < 16; j++) {
      int q0 = (x[i].qs[j] & 15) | ((qh >> j) & 1) << 4;
      int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
      y[j] = (float)(q0 - 16) * d;
      y[j + 16] = (float)(q1 - 16) * d;
    }
  }
}

float vec_dot_q5_0_q8_0_scalar(int n, const void *vx, const void *vy) {
  const block_q5_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK4_0; i++) {
    uint32_t qh = load_qh(x[i].qh);
    int s = 0;
    for (int j = 0; j < 16; j++) {
      int q0 = (x[i].qs[j] & 15) | ((qh >> j) & 1) << 4;
      int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
      s += (q0 - 16) * y[i].qs[j] + (q1 - 16) * y[i].qs[j + 16];
    }
    sum += (float)s * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
  }
  return sum;
}
