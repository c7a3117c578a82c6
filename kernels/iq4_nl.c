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
