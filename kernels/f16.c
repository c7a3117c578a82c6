/* F16, BF16 and F32 weight rows; their activations are converted to the same type. */
#include "quants.h"

void dequantize_row_f16_scalar(const void *vx, float *y, int n) {
  const ggml_fp16_t *x = vx;
  for (int i = 0; i < n; i++) y[i] = fp16_to_f32(x[i]);
}

void dequantize_row_bf16_scalar(const void *vx, float *y, int n) {
  const uint16_t *x = vx;
  for (int i = 0; i < n; i++) y[i] = bf16_to_f32(x[i]);
}

void dequantize_row_f32(const void *vx, float *y, int n) {
  const float *x = vx;
  for (int i = 0; i < n; i++) y[i] = x[i];
}

float vec_dot_f16_f16_scalar(int n, const void *vx, const void *vy) {
  const ggml_fp16_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n; i++) sum += fp16_to_f32(x[i]) * fp16_to_f32(y[i]);
  return sum;
}

float vec_dot_bf16_bf16_scalar(int n, const void *vx, const void *vy) {
  const uint16_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n; i++) sum += bf16_to_f32(x[i]) * bf16_to_f32(y[i]);
  return sum;
}

float vec_dot_f32_f32_scalar(int n, const void *vx, const void *vy) {
  const float *x = vx, *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n; i++) sum += x[i] * y[i];
  return sum;
}
