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

void dequantize_row_f16(const void *vx, float *y, int n) {
  const ggml_fp16_t *x = vx;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t h = wasm_v128_load(x + i);
    wasm_v128_store(y + i, f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(h)));
    wasm_v128_store(y + i + 4, f16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(h)));
  }
  for (; i < n; i++) y[i] = fp16_to_f32(x[i]);
}

void dequantize_row_bf16(const void *vx, float *y, int n) {
  const uint16_t *x = vx;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t h = wasm_v128_load(x + i);
    wasm_v128_store(y + i, wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16));
    wasm_v128_store(y + i + 4, wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16));
  }
  for (; i < n; i++) y[i] = bf16_to_f32(x[i]);
}

float vec_dot_f16_f16(int n, const void *vx, const void *vy) {
  const ggml_fp16_t *x = vx, *y = vy;
  v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t a = wasm_v128_load(x + i), b = wasm_v128_load(y + i);
    acc0 = madd_f32x4(f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(a)),
                      f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(b)), acc0);
    acc1 = madd_f32x4(f16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(a)),
                      f16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(b)), acc1);
  }
  float sum = hsum_f32x4(wasm_f32x4_add(acc0, acc1));
  for (; i < n; i++) sum += fp16_to_f32(x[i]) * fp16_to_f32(y[i]);
  return sum;
}

float vec_dot_bf16_bf16(int n, const void *vx, const void *vy) {
  const uint16_t *x = vx, *y = vy;
  v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t a = wasm_v128_load(x + i), b = wasm_v128_load(y + i);
    acc0 = madd_f32x4(wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(a), 16),
                      wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(b), 16), acc0);
    acc1 = madd_f32x4(wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(a), 16),
                      wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(b), 16), acc1);
  }
  float sum = hsum_f32x4(wasm_f32x4_add(acc0, acc1));
  for (; i < n; i++) sum += bf16_to_f32(x[i]) * bf16_to_f32(y[i]);
  return sum;
}

float vec_dot_f32_f32(int n, const void *vx, const void *vy) {
  const float *x = vx, *y = vy;
  v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = madd_f32x4(wasm_v128_load(x + i), wasm_v128_load(y + i), acc0);
    acc1 = madd_f32x4(wasm_v128_load(x + i + 4), wasm_v128_load(y + i + 4), acc1);
  }
  float sum = hsum_f32x4(wasm_f32x4_add(acc0, acc1));
  for (; i < n; i++) sum += x[i] * y[i];
  return sum;
}
