/*
 * Q4_K in the "lanes" layout (kernels/k4_lanes.h), and its Q8_K activations in the
 * matching order.
 *
 * A Q4_K super-block has eight sub-blocks of 32 weights, each with its own scale. In
 * ggml's order every 16-byte vector of codes contains weights of one or two sub-blocks, so a
 * dot product pays one i32x4.dot_i16x8 against a broadcast scale per sub-block and
 * vector pair. flint_repack_lanes reorders the 128 code bytes of each block (in place,
 * head untouched) so that in every code vector the byte pair 2p, 2p+1 belongs to
 * sub-block p. Sixteen int8 dots then sum in int16 lanes that each stay within one
 * sub-block. One dot against the eight scales (as unpacked, no broadcast) applies them
 * all, which measured about 12 % faster for one token and 15–20 % for eight here.
 */
#include "k4_lanes.h"

static inline int q4kl_code(const void *block, int j) {
  return k4_lanes_low(((const block_q4_K *)block)->qs, j);
}

void quantize_row_q8_K_lanes(const float *x, void *vy, int n) {
  quantize_row_q8_K(x, vy, n);
  block_q8_K *y = vy;
  for (int i = 0; i < n / QK_K; i++) {
    v128_t rows[8][2], cols[16];
    for (int p = 0; p < 8; p++) {
      rows[p][0] = wasm_v128_load(y[i].qs + 32 * p);
      rows[p][1] = wasm_v128_load(y[i].qs + 32 * p + 16);
    }
    lanes_transpose(rows, cols);
    for (int u = 0; u < 16; u++) wasm_v128_store(y[i].qs + 16 * u, cols[u]);
    /* bsums[b] becomes the sum of sub-block b (32 values), what the min term needs. */
    for (int b = 0; b < 8; b++) y[i].bsums[b] = (int16_t)(y[i].bsums[2 * b] + y[i].bsums[2 * b + 1]);
  }
}

/* Reorders the codes of n_blocks Q4_K blocks at w into the lanes layout, in place. */
void repack_q4_K_lanes(void *w, size_t n_blocks) {
  block_q4_K *x = w;
  for (size_t b = 0; b < n_blocks; b++) k4_lanes_repack_qs(x[b].qs);
}

void dequantize_row_q4_K_lanes_scalar(const void *vx, float *y, int n) {
  const block_q4_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    dequantize_k4_block_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q4kl_code, y);
  }
}

/* Exact as the scalar form; only token lookups use it, so it stays simple. */
void dequantize_row_q4_K_lanes(const void *vx, float *y, int n) {
  dequantize_row_q4_K_lanes_scalar(vx, y, n);
}

float vec_dot_q4_K_lanes_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q4_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    sum += k4_lanes_block_dot_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q4kl_code, &y[i]);
  }
  return sum;
}

K4_LANES_ENTRY_POINTS(q4_K_lanes, sizeof(block_q4_K), __builtin_offsetof(block_q4_K, qs), 0)
