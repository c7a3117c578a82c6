/*
 * Q5_K in the lanes layout of Q4_K (kernels/k4_lanes.h), with the same Q8_K activations.
 *
 * flint_repack_lanes reorders qs as for Q4_K and rewrites qh (32 bytes) so that the fifth
 * bits follow the code vectors: bit j of byte b of qh vector m (qh + 16m) is the fifth bit
 * of code vector u = 8m + j, byte b. A code vector's fifth bits are then one 16-bit shift
 * and a mask away, for any of the eight code vectors of a half block.
 */
#include "k4_lanes.h"

static inline int q5kl_code(const void *block, int j) {
  const block_q5_K *b = block;
  int pos = k4_lanes_pos(j), u = pos >> 4;
  int fifth = (b->qh[16 * (u >> 3) + (pos & 15)] >> (u & 7)) & 1;
  return k4_lanes_low(b->qs, j) | fifth << 4;
}

/* Reorders the codes of n_blocks Q5_K blocks at w into the lanes layout, in place. */
void repack_q5_K_lanes(void *w, size_t n_blocks) {
  block_q5_K *x = w;
  /* Byte 2p + e of a code vector contains a weight of sub-block p: bit p of its qh byte. */
  const v128_t bit_of_byte = wasm_u8x16_make(1, 1, 2, 2, 4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128);
  for (size_t b = 0; b < n_blocks; b++) {
    k4_lanes_repack_qs(x[b].qs);
    /* In ggml's order weight 32p + l has its fifth bit at bit p of qh[l]. Code vector u
       contains l = 2u and 2u + 1. */
    v128_t out[2] = {wasm_i8x16_splat(0), wasm_i8x16_splat(0)};
    for (int u = 0; u < 16; u++) {
      /* qh[2u] in the even bytes, qh[2u + 1] in the odd ones. */
      v128_t pair = wasm_i16x8_splat((int16_t)(x[b].qh[2 * u] | x[b].qh[2 * u + 1] << 8));
      v128_t set = wasm_i8x16_eq(wasm_v128_and(pair, bit_of_byte), bit_of_byte);
      out[u >> 3] = wasm_v128_or(out[u >> 3], wasm_v128_and(set, wasm_i8x16_splat((int8_t)(1 << (u & 7)))));
    }
    wasm_v128_store(x[b].qh, out[0]);
    wasm_v128_store(x[b].qh + 16, out[1]);
  }
}

void dequantize_row_q5_K_lanes_scalar(const void *vx, float *y, int n) {
  const block_q5_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    dequantize_k4_block_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q5kl_code, y);
  }
}

/* Exact as the scalar form; only token lookups use it, so it stays simple. */
void dequantize_row_q5_K_lanes(const void *vx, float *y, int n) {
  dequantize_row_q5_K_lanes_scalar(vx, y, n);
}

float vec_dot_q5_K_lanes_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    sum += k4_lanes_block_dot_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q5kl_code, &y[i]);
  }
  return sum;
}

K4_LANES_ENTRY_POINTS(q5_K_lanes, sizeof(block_q5_K), __builtin_offsetof(block_q5_K, qs), __builtin_offsetof(block_q5_K, qh))
