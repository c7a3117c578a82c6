/* Q6_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int q6k_code(const block_q6_K *b, int p) {
  int h = p / 128, k = (p % 128) / 32, l = p % 32;
  uint8_t byte = b->ql[64 * h + l + 32 * (k % 2)];
  int low = k < 2 ? (byte & 15) : (byte >> 4);
  int high = (b->qh[32 * h + l] >> (2 * k)) & 3;
  return (low | high << 4) - 32;
}

void dequantize_row_q6_K_scalar(const void *vx, float *y, int n) {
  const block_q6_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    for (int p = 0; p < QK_K; p++) {
      y[p] = (d * (float)x[i].scales[p / 16]) * (float)q6k_code(&x[i], p);
    }
  }
}

float vec_dot_q6_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q6_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) group[p / 16] += q6k_code(&x[i], p) * y[i].qs[p];
    int isum = 0;
    for (int k = 0; k < 16; k++) isum += x[i].scales[k] * group[k];
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum);
  }
  return sum;
}
