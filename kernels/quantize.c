/*
 * Activation quantization: float32 rows to the vec_dot type of a weight type. The rules
 * reproduce ggml's x86 CPU backend exactly, so codes and scales equal ggml's.
 */
#include "quants.h"

static inline float abs_f32(float x) { return __builtin_fabsf(x); }

/* Round to nearest, ties to even (wasm f32.nearest). */
static inline float round_even(float x) { return __builtin_rintf(x); }

/*
 * Q8_0, per 32 values: d = amax/127 stored as fp16, codes round_even(x·127/amax).
 * The codes use 127/amax, not 1/d, as ggml's AVX path does.
 */
void quantize_row_q8_0(const float *x, void *vy, int n) {
  block_q8_0 *y = vy;
  for (int i = 0; i < n / QK8_0; i++, x += QK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
      float ax = abs_f32(x[j]);
      amax = ax > amax ? ax : amax;
    }
    float d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK8_0; j++) y[i].qs[j] = (int8_t)round_even(x[j] * id);
  }
}

/* Q8_1: Q8_0 codes plus s = fp16(d·Σq) with the float32 d. */
void quantize_row_q8_1(const float *x, void *vy, int n) {
  block_q8_1 *y = vy;
  for (int i = 0; i < n / QK8_0; i++, x += QK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
      float ax = abs_f32(x[j]);
      amax = ax > amax ? ax : amax;
    }
    float d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK8_0; j++) {
      int q = (int)round_even(x[j] * id);
      y[i].qs[j] = (int8_t)q;
      sum += q;
    }
    y[i].d = f32_to_fp16(d);
    y[i].s = f32_to_fp16(d * (float)sum);
  }
}

/*
 * Q8_K, per 256 values: max is the signed value of largest magnitude (the first one on
 * a tie), iscale = -127/max, q = min(127, round_even(iscale·x)), d = 1/iscale as
 * float32. d is negative when max > 0, so the largest element always becomes -127.
 */
void quantize_row_q8_K(const float *x, void *vy, int n) {
  block_q8_K *y = vy;
  for (int i = 0; i < n / QK_K; i++, x += QK_K) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; j++) {
      float ax = abs_f32(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[i].d = 0.0f;
      for (int j = 0; j < QK_K; j++) y[i].qs[j] = 0;
      for (int k = 0; k < 16; k++) y[i].bsums[k] = 0;
      continue;
    }
    float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; j++) {
      float v = round_even(iscale * x[j]);
      y[i].qs[j] = (int8_t)(v > 127.0f ? 127.0f : v);
    }
    for (int k = 0; k < 16; k++) {
      int s = 0;
      for (int j = 0; j < 16; j++) s += y[i].qs[16 * k + j];
      y[i].bsums[k] = (int16_t)s;
    }
    y[i].d = 1.0f / iscale;
  }
}

void convert_row_f16(const float *x, void *vy, int n) {
  ggml_fp16_t *y = vy;
  for (int i = 0; i < n; i++) y[i] = f32_to_fp16(x[i]);
}

void convert_row_bf16(const float *x, void *vy, int n) {
  uint16_t *y = vy;
  for (int i = 0; i < n; i++) y[i] = f32_to_bf16(x[i]);
}
