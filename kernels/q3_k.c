/* Q3_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int q3_code(const block_q3_K *b, int p) {
  int h = p / 128, j = (p % 128) / 32, l = p % 32;
  int low = (b->qs[32 * h + l] >> (2 * j)) & 3;
  return ((b->hmask[l] >> (4 * h + j)) & 1) ? low : low - 4;
}

void dequantize_row_q3_K_scalar(const void *vx, float *y, int n) {
  const block_q3_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    int8_t s[16];
    unpack_scales_q3_K(x[i].scales, s);
    for (int p = 0; p < QK_K; p++) y[p] = (d * (float)s[p / 16]) * (float)q3_code(&x[i], p);
  }
}

float vec_dot_q3_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int8_t s[16];
    unpack_scales_q3_K(x[i].scales, s);
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) group[p / 16] += q3_code(&x[i], p) * y[i].qs[p];
    int isum = 0;
    for (int k = 0; k < 16; k++) isum += s[k] * group[k];
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum);
  }
  return sum;
}
