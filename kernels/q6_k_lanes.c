/*
 * Q6_K in the 16-weight lanes layout of q2_k_lanes.c (half h, code vector u, byte pair
 * 2p, 2p+1 = weights 2u, 2u+1 of sub-block 8h + p), with the same Q8_K activations.
 *
 * Codes are the stored 0..63 and ggml's value is code − 32; the −32 returns as
 * 32·Σ_k s_k·bsum_k, as in q6_k.c. A pair of products is at most 2·63·127, so an int16
 * lane can add the pairs of two code vectors before one i32x4.dot_i16x8 against the
 * half's eight scales. That is one scale dot per two int8 dots in place of one per dot,
 * with no broadcast scales.
 *
 * Storage: ql (128 bytes) contains the low four bits, vector k of half h (ql + 64h + 16k)
 * carrying code vector 2k in its low nibbles and 2k + 1 in its high ones; qh (64 bytes)
 * contains the high two bits, vector m of half h (qh + 32h + 16m) carrying code vector
 * 4m + j in bits 2j, 2j+1. Scales and d stay where they are.
 */
#include "quants.h"

/* Stored code (0..63) of original weight j of a lanes-ordered Q6_K block. */
static inline int q6kl_code(const block_q6_K *b, int j) {
  int pos = lanes16_pos(j), h = pos >> 7, u = (pos >> 4) & 7, m = pos & 15;
  int low = (b->ql[64 * h + 16 * (u >> 1) + m] >> (4 * (u & 1))) & 15;
  int high = (b->qh[32 * h + 16 * (u >> 2) + m] >> (2 * (u & 3))) & 3;
  return low | high << 4;
}

/* Reorders the codes of n_blocks Q6_K blocks at w into the lanes layout, in place. */
void repack_q6_K_lanes(void *w, size_t n_blocks) {
  block_q6_K *x = w;
  const v128_t m4 = wasm_i8x16_splat(15), m48 = wasm_i8x16_splat(48), m3 = wasm_i8x16_splat(3);
  for (size_t b = 0; b < n_blocks; b++) {
    /* Codes (0..63) as bytes in original order: value 128h + 32m + 16v + l. */
    uint8_t codes[QK_K] __attribute__((aligned(16)));
    for (int h = 0; h < 2; h++) {
      for (int v = 0; v < 2; v++) {
        v128_t qla = wasm_v128_load(x[b].ql + 64 * h + 16 * v);
        v128_t qlb = wasm_v128_load(x[b].ql + 64 * h + 32 + 16 * v);
        v128_t qh = wasm_v128_load(x[b].qh + 32 * h + 16 * v);
        uint8_t *c = codes + 128 * h + 16 * v;
        wasm_v128_store(c, wasm_v128_or(wasm_v128_and(qla, m4), wasm_v128_and(wasm_i16x8_shl(qh, 4), m48)));
        wasm_v128_store(c + 32, wasm_v128_or(wasm_v128_and(qlb, m4), wasm_v128_and(wasm_i16x8_shl(qh, 2), m48)));
        wasm_v128_store(c + 64, wasm_v128_or(high_nibbles(qla, m4), wasm_v128_and(qh, m48)));
        wasm_v128_store(c + 96, wasm_v128_or(high_nibbles(qlb, m4), wasm_v128_and(wasm_u16x8_shr(qh, 2), m48)));
      }
    }
    v128_t rows[8][2], cols[16];
    for (int h = 0; h < 2; h++) {
      for (int p = 0; p < 8; p++) rows[p][h] = wasm_v128_load(codes + 128 * h + 16 * p);
    }
    lanes_transpose(rows, cols);
    for (int h = 0; h < 2; h++) {
      for (int k = 0; k < 4; k++) {
        v128_t lo = wasm_v128_and(cols[8 * h + 2 * k], m4);
        v128_t hi = wasm_v128_and(cols[8 * h + 2 * k + 1], m4);
        wasm_v128_store(x[b].ql + 64 * h + 16 * k, wasm_v128_or(lo, wasm_i16x8_shl(hi, 4)));
      }
      for (int m = 0; m < 2; m++) {
        v128_t q = wasm_i8x16_splat(0);
        for (int j = 0; j < 4; j++) {
          v128_t top = wasm_v128_and(wasm_u16x8_shr(cols[8 * h + 4 * m + j], 4), m3);
          q = wasm_v128_or(q, wasm_i16x8_shl(top, 2 * j));
        }
        wasm_v128_store(x[b].qh + 32 * h + 16 * m, q);
      }
    }
  }
}

void dequantize_row_q6_K_lanes_scalar(const void *vx, float *y, int n) {
  const block_q6_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    for (int p = 0; p < QK_K; p++) {
      y[p] = (d * (float)x[i].scales[p / 16]) * (float)(q6kl_code(&x[i], p) - 32);
    }
  }
}

/* Exact as the scalar form; only token lookups use it. */
void dequantize_row_q6_K_lanes(const void *vx, float *y, int n) {
  dequantize_row_q6_K_lanes_scalar(vx, y, n);
}

float vec_dot_q6_K_lanes_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q6_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) {
      group[p / 16] += (q6kl_code(&x[i], p) - 32) * y[i].qs[lanes16_pos(p)];
    }
    int isum = 0;
    for (int k = 0; k < 16; k++) isum += x[i].scales[k] * group[k];
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum);
  }
  return sum;
}

/*
 * One row against nt tokens (a compile-time 1, 4 or 8) over nb blocks, continuing the
 * sums in state[t][0]. Code vectors are built a half block (eight) at a time and used
 * by every token. Every nt runs the same float steps per token, so all entry points give
 * the same bits.
 */
static inline __attribute__((always_inline)) void q6kl_dot_blocks(int nb, const void *vx,
                                                                  const void *const *ys,
                                                                  v128_t (*state)[2],
                                                                  const int nt) {
  const block_q6_K *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15), m48 = wasm_i8x16_splat(48);
  v128_t accf[8];
  for (int t = 0; t < nt; t++) accf[t] = state[t][0];
  for (int i = 0; i < nb; i++) {
    v128_t sc8 = wasm_v128_load(x[i].scales);
    v128_t sc[2] = {wasm_i16x8_extend_low_i8x16(sc8), wasm_i16x8_extend_high_i8x16(sc8)};
    v128_t acc[8];
    for (int h = 0; h < 2; h++) {
      v128_t c[8];
      for (int k = 0; k < 4; k++) {
        /* Code vectors 2k and 2k + 1: low nibbles from one ql vector, high bits from qh. */
        v128_t ql = wasm_v128_load(x[i].ql + 64 * h + 16 * k);
        v128_t qh = wasm_v128_load(x[i].qh + 32 * h + 16 * (k >> 1));
        /* Bits 2j, 2j+1 (j = 2(k & 1) and + 1) of qh to bits 4, 5. */
        v128_t h0 = (k & 1) ? qh : wasm_i16x8_shl(qh, 4);
        v128_t h1 = (k & 1) ? wasm_u16x8_shr(qh, 2) : wasm_i16x8_shl(qh, 2);
        c[2 * k] = wasm_v128_or(wasm_v128_and(ql, m4), wasm_v128_and(h0, m48));
        c[2 * k + 1] = wasm_v128_or(high_nibbles(ql, m4), wasm_v128_and(h1, m48));
      }
      for (int t = 0; t < nt; t++) {
        const int8_t *q8 = ((const block_q8_K *)ys[t])[i].qs + 128 * h;
        for (int k = 0; k < 4; k++) {
          v128_t p = wasm_i16x8_add(dot16_pairs_i8_u7(wasm_v128_load(q8 + 32 * k), c[2 * k]),
                                    dot16_pairs_i8_u7(wasm_v128_load(q8 + 32 * k + 16), c[2 * k + 1]));
          v128_t s = wasm_i32x4_dot_i16x8(p, sc[h]);
          acc[t] = h == 0 && k == 0 ? s : wasm_i32x4_add(acc[t], s);
        }
      }
    }
    float d = fp16_to_f32(x[i].d);
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *)ys[t] + i;
      v128_t offset = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums), sc[0]),
                                     wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums + 8), sc[1]));
      v128_t a = wasm_i32x4_sub(acc[t], wasm_i32x4_shl(offset, 5));
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(a), wasm_f32x4_splat(y->d * d), accf[t]);
    }
  }
  for (int t = 0; t < nt; t++) state[t][0] = accf[t];
}

LANES_ENTRY_POINTS(q6_K_lanes, q6kl_dot_blocks)
