/* Q5_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int q5k_code(const block_q5_K *b, int p) {
  uint8_t byte = b->qs[32 * (p / 64) + p % 32];
  int low = (p % 64) < 32 ? (byte & 15) : (byte >> 4);
  return low + 16 * ((b->qh[p % 32] >> (p / 32)) & 1);
}

void dequantize_row_q5_K_scalar(const void *vx, float *y, int n) {
  const block_q5_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    float dmin = fp16_to_f32(x[i].dmin);
    for (int b = 0; b < 8; b++) {
      uint8_t sc, m;
      unpack_scale_min_k4(b, x[i].scales, &sc, &m);
      float dl = d * (float)sc, ml = dmin * (float)m;
      for (int l = 0; l < 32; l++) y[32 * b + l] = dl * (float)q5k_code(&x[i], 32 * b + l) - ml;
    }
  }
}

float vec_dot_q5_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0, msum = 0;
    for (int b = 0; b < 8; b++) {
      uint8_t sc, m;
      unpack_scale_min_k4(b, x[i].scales, &sc, &m);
      int s = 0;
      for (int l = 0; l < 32; l++) s += q5k_code(&x[i], 32 * b + l) * y[i].qs[32 * b + l];
      isum += sc * s;
      msum += m * (y[i].bsums[2 * b] + y[i].bsums[2 * b + 1]);
    }
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum - fp16_to_f32(x[i].dmin) * (float)msum);
  }
  return sum;
}
