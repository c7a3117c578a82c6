/*
 * The parts that the lanes layouts of Q4_K (q4_k_lanes.c) and Q5_K (q5_k_lanes.c) share.
 * Both keep their 4-bit codes in the same lanes order and read the same permuted Q8_K
 * activations. One dot kernel serves both, and for Q5_K it adds a fifth bit to each code.
 *
 * Code vector u (0..15), byte 2p + e (p = 0..7, e = 0..1) contains weight 32p + 2u + e.
 * Stored vector v (0..7) of qs carries code vector 2v in its low nibbles and 2v + 1 in its
 * high nibbles. The activations are permuted the same way: qs[16u + 2p + e] contains
 * value 32p + 2u + e; d keeps its meaning, and bsums[p] (p < 8) is the sum of sub-block p.
 */
#ifndef FLINT_K4_LANES_H
#define FLINT_K4_LANES_H
#include "quants.h"

/* Position of original value j of a super-block within the lanes order. */
static inline int k4_lanes_pos(int j) {
  int p = j >> 5, u = (j & 31) >> 1, e = j & 1;
  return 16 * u + 2 * p + e;
}

/* Low four bits of original weight j from lanes-ordered qs. */
static inline int k4_lanes_low(const uint8_t *qs, int j) {
  int pos = k4_lanes_pos(j), u = pos >> 4;
  uint8_t byte = qs[16 * (u >> 1) + (pos & 15)];
  return u & 1 ? byte >> 4 : byte & 15;
}

/* Reorders the 128 code bytes of one block (ggml's order) into the lanes order, in place. */
static inline void k4_lanes_repack_qs(uint8_t *qs) {
  const v128_t m4 = wasm_i8x16_splat(15);
  /* Sub-block 2c is the low nibbles of chunk c's 32 bytes, 2c + 1 the high ones. */
  v128_t rows[8][2], cols[16];
  for (int c = 0; c < 4; c++) {
    for (int h = 0; h < 2; h++) {
      v128_t q = wasm_v128_load(qs + 32 * c + 16 * h);
      rows[2 * c][h] = wasm_v128_and(q, m4);
      rows[2 * c + 1][h] = high_nibbles(q, m4);
    }
  }
  lanes_transpose(rows, cols);
  for (int v = 0; v < 8; v++) {
    wasm_v128_store(qs + 16 * v, wasm_v128_or(cols[2 * v], wasm_i16x8_shl(cols[2 * v + 1], 4)));
  }
}

/* Scalar reference dot of one lanes-ordered block with its lanes Q8_K block. */
static inline float k4_lanes_block_dot_scalar(const void *block, ggml_fp16_t d, ggml_fp16_t dmin,
                                              const uint8_t *scales, k4_code_fn code,
                                              const block_q8_K *y) {
  int isum = 0, msum = 0;
  for (int b = 0; b < 8; b++) {
    uint8_t sc, m;
    unpack_scale_min_k4(b, scales, &sc, &m);
    int s = 0;
    for (int l = 0; l < 32; l++) s += code(block, 32 * b + l) * y->qs[k4_lanes_pos(32 * b + l)];
    isum += sc * s;
    msum += m * y->bsums[b];
  }
  return y->d * (fp16_to_f32(d) * (float)isum - fp16_to_f32(dmin) * (float)msum);
}

/*
 * One row of lanes-ordered Q4_K or Q5_K blocks against nt tokens (a compile-time 1, 4 or 8)
 * over nb blocks. Blocks are block_bytes apart, with the head (d, dmin, scales) at the
 * start, qs at qs_offset, and for Q5_K the fifth bits at qh_offset (0 for Q4_K) in the
 * layout of q5_k_lanes.c. The sums continue in state[t][0], and state[t][1] stays zero.
 * Per block and token the integer sums become d·Σ − dmin·Σmin in four float lanes, which
 * add onto the token's sums times its activation scale. Every nt runs the same float
 * steps per token, so all entry points give the same bits. Codes are decoded a half block
 * (eight code vectors) at a time and used by every token.
 *
 * Int16 lanes: a pair of products is at most 2·15·128 for Q4_K, so a lane adds a half
 * block (eight pairs) before the scale dot. Q5_K's codes reach 31, so there a lane adds a
 * quarter block (four pairs).
 */
static inline __attribute__((always_inline)) void k4_lanes_dot_blocks(
    int nb, const uint8_t *x, const int block_bytes, const int qs_offset, const int qh_offset,
    const void *const *ys, v128_t (*state)[2], const int nt) {
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t acc[8];
  for (int t = 0; t < nt; t++) acc[t] = state[t][0];
  for (int i = 0; i < nb; i++, x += block_bytes) {
    v128_t head = wasm_v128_load(x);
    v128_t packed = unpack_scales_mins_k4_v(head);
    v128_t sc = wasm_u16x8_extend_low_u8x16(packed);
    v128_t mins = wasm_u16x8_extend_high_u8x16(packed);
    v128_t isum[8];
    for (int h = 0; h < 2; h++) {
      v128_t c[8];
      v128_t fifth = qh_offset ? wasm_v128_load(x + qh_offset + 16 * h) : wasm_i8x16_splat(0);
      for (int v = 0; v < 4; v++) {
        v128_t q = wasm_v128_load(x + qs_offset + 64 * h + 16 * v);
        c[2 * v] = wasm_v128_and(q, m4);
        c[2 * v + 1] = high_nibbles(q, m4);
        if (qh_offset) {
          c[2 * v] = wasm_v128_or(c[2 * v], bit_to_sixteen(fifth, 2 * v));
          c[2 * v + 1] = wasm_v128_or(c[2 * v + 1], bit_to_sixteen(fifth, 2 * v + 1));
        }
      }
      for (int t = 0; t < nt; t++) {
        const int8_t *q8 = ((const block_q8_K *)ys[t])[i].qs + 128 * h;
        v128_t p;
        if (qh_offset) {
          p = wasm_i32x4_add(wasm_i32x4_dot_i16x8(dot64_pairs_i8_u7(q8, c), sc),
                             wasm_i32x4_dot_i16x8(dot64_pairs_i8_u7(q8 + 64, c + 4), sc));
        } else {
          v128_t s = wasm_i16x8_add(dot64_pairs_i8_u7(q8, c), dot64_pairs_i8_u7(q8 + 64, c + 4));
          p = wasm_i32x4_dot_i16x8(s, sc);
        }
        isum[t] = h == 0 ? p : wasm_i32x4_add(isum[t], p);
      }
    }
    v128_t d = wasm_f32x4_splat(fp16_to_f32(wasm_u16x8_extract_lane(head, 0)));
    v128_t neg_dmin = wasm_f32x4_splat(-fp16_to_f32(wasm_u16x8_extract_lane(head, 1)));
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *)ys[t] + i;
      /* Σ_b m_b·bsums[b] over the eight sub-block sums. */
      v128_t msum = wasm_f32x4_convert_i32x4(wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums), mins));
      v128_t f = madd_f32x4(msum, neg_dmin, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[t]), d));
      acc[t] = madd_f32x4(f, wasm_f32x4_splat(y->d), acc[t]);
    }
  }
  for (int t = 0; t < nt; t++) state[t][0] = acc[t];
}

/*
 * Defines the exported entry points (LANES_ENTRY_POINTS in quants.h) of a lanes type NAME
 * whose blocks are BYTES long, with qs at offset QS and fifth bits at QH (0: none).
 */
#define K4_LANES_ENTRY_POINTS(NAME, BYTES, QS, QH)                                              \
  static inline __attribute__((always_inline)) void NAME##_dot_blocks(                        \
      int nb, const void *vx, const void *const *ys, v128_t (*state)[2], int nt) {            \
    k4_lanes_dot_blocks(nb, vx, BYTES, QS, QH, ys, state, nt);                                \
  }                                                                                           \
  LANES_ENTRY_POINTS(NAME, NAME##_dot_blocks)

#endif
