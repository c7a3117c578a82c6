/* Q2_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

void dequantize_row_q2_K_scalar(const void *vx, float *y, int n) {
  const block_q2_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    float dmin = fp16_to_f32(x[i].dmin);
    for (int p = 0; p < QK_K; p++) {
      int h = p / 128, j = (p % 128) / 32, l = p % 32;
      int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
      uint8_t sc = x[i].scales[p / 16];
      y[p] = (d * (float)(sc & 15)) * (float)q - dmin * (float)(sc >> 4);
    }
  }
}

/* Per block: dy·(d·Σ_k lo(sc_k)·Σ q·yq − dmin·Σ_k hi(sc_k)·bsum_k) over 16-weight groups k. */
float vec_dot_q2_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) {
      int h = p / 128, j = (p % 128) / 32, l = p % 32;
      int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
      group[p / 16] += q * y[i].qs[p];
    }
    int isum = 0, msum = 0;
    for (int k = 0; k < 16; k++) {
      isum += (x[i].scales[k] & 15) * group[k];
      msum += (x[i].scales[k] >> 4) * y[i].bsums[k];
    }
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum - fp16_to_f32(x[i].dmin) * (float)msum);
  }
  return sum;
}
