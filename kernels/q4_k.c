/* Q4_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int q4k_code(const void *block, int p) {
  const block_q4_K *b = block;
  uint8_t byte = b->qs[32 * (p / 64) + p % 32];
  return (p % 64) < 32 ? (byte & 15) : (byte >> 4);
}

void dequantize_row_q4_K_scalar(const void *vx, float *y, int n) {
  const block_q4_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    dequantize_k4_block_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q4k_code, y);
  }
}

float vec_dot_q4_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q4_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    sum += vec_dot_k4_block_scalar(&x[i], x[i].d, x[i].dmin, x[i].scales, q4k_code, &y[i]);
  }
  return sum;
}

void dequantize_row_q4_K(const void *vx, float *y, int n) {
  const block_q4_K *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15);
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    float dmin = fp16_to_f32(x[i].dmin);
    for (int c = 0; c < 4; c++) {
      uint8_t sc0, m0, sc1, m1;
      unpack_scale_min_k4(2 * c, x[i].scales, &sc0, &m0);
      unpack_scale_min_k4(2 * c + 1, x[i].scales, &sc1, &m1);
      v128_t d0 = wasm_f32x4_splat(d * (float)sc0), mm0 = wasm_f32x4_splat(dmin * (float)m0);
      v128_t d1 = wasm_f32x4_splat(d * (float)sc1), mm1 = wasm_f32x4_splat(dmin * (float)m1);
      for (int v = 0; v < 2; v++) {
        v128_t q = wasm_v128_load(x[i].qs + 32 * c + 16 * v);
        store_q_mul_sub(y + 64 * c + 16 * v, wasm_v128_and(q, m4), d0, mm0);
        store_q_mul_sub(y + 64 * c + 32 + 16 * v, high_nibbles(q, m4), d1, mm1);
      }
    }
  }
}

/* Each min twice, for sub-blocks 0-3 and 4-7: m_b faces bsums 2b and 2b+1. */
static inline v128_t q4k_mins_dup_lo(v128_t mins) {
  return wasm_i16x8_shuffle(mins, mins, 0, 0, 1, 1, 2, 2, 3, 3);
}
static inline v128_t q4k_mins_dup_hi(v128_t mins) {
  return wasm_i16x8_shuffle(mins, mins, 4, 4, 5, 5, 6, 6, 7, 7);
}

/* Four int32 lanes summing to Σ_b m_b·(bsum_2b + bsum_2b+1). */
static inline v128_t q4k_min_sums(const block_q8_K *y, v128_t dup_lo, v128_t dup_hi) {
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums), dup_lo),
                        wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums + 8), dup_hi));
}

/*
 * Per sub-block b the int16 lanes hold partial sums of q·yq (at most 4·15·127), which one
 * i32x4.dot_i16x8 scales by sc_b. The mins use the activation block sums.
 */
static inline __attribute__((always_inline)) void q4_K_dot_blocks(int nb, const block_q4_K *x,
                                                                 const block_q8_K *y,
                                                                 v128_t state[2]) {
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t accf = state[0];
  v128_t accm = state[1];
  for (int i = 0; i < nb; i++) {
    v128_t head = wasm_v128_load(&x[i]);
    v128_t packed = unpack_scales_mins_k4_v(head);
    v128_t sc = wasm_u16x8_extend_low_u8x16(packed);
    v128_t mins = wasm_u16x8_extend_high_u8x16(packed);
    v128_t msum = q4k_min_sums(&y[i], q4k_mins_dup_lo(mins), q4k_mins_dup_hi(mins));

    const uint8_t *qs = x[i].qs;
    const int8_t *q8 = y[i].qs;
    v128_t acc = wasm_i32x4_splat(0);
#define Q4K_CHUNK(c)                                                                       \
  do {                                                                                     \
    v128_t q0 = wasm_v128_load(qs + 32 * (c)), q1 = wasm_v128_load(qs + 32 * (c) + 16);    \
    v128_t lo = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load(q8 + 64 * (c)), wasm_v128_and(q0, m4)), \
                               dot16_i8_u7(wasm_v128_load(q8 + 64 * (c) + 16), wasm_v128_and(q1, m4))); \
    v128_t hi = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load(q8 + 64 * (c) + 32), high_nibbles(q0, m4)), \
                               dot16_i8_u7(wasm_v128_load(q8 + 64 * (c) + 48), high_nibbles(q1, m4))); \
    acc = scale_i16_acc(lo, SPLAT_I16(sc, 2 * (c)), acc);                                  \
    acc = scale_i16_acc(hi, SPLAT_I16(sc, 2 * (c) + 1), acc);                              \
  } while (0)
    Q4K_CHUNK(0);
    Q4K_CHUNK(1);
    Q4K_CHUNK(2);
    Q4K_CHUNK(3);
#undef Q4K_CHUNK
    float dy = y[i].d;
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc),
                      wasm_f32x4_splat(dy * fp16_to_f32(wasm_u16x8_extract_lane(head, 0))), accf);
    accm = madd_f32x4(wasm_f32x4_convert_i32x4(msum),
                      wasm_f32x4_splat(dy * fp16_to_f32(wasm_u16x8_extract_lane(head, 1))), accm);
  }
  state[0] = accf;
  state[1] = accm;
}

float vec_dot_q4_K_q8_K(int n, const void *vx, const void *vy) {
  v128_t state[2] = {wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f)};
  q4_K_dot_blocks(n / QK_K, vx, vy, state);
  return hsum_f32x4(state[0]) - hsum_f32x4(state[1]);
}

/* nb blocks of a row from x and y on, continuing the sums in `state` (zeroed first). */
void vec_dot_part_q4_K_q8_K(int nb, const void *vx, const void *vy, v128_t state[2]) {
  q4_K_dot_blocks(nb, vx, vy, state);
}

/* The dot product the sums in `state` stand for once every block is in. */
float vec_dot_finish_q4_K_q8_K(const v128_t state[2]) {
  return hsum_f32x4(state[0]) - hsum_f32x4(state[1]);
}

/*
 * One weight row against nt activation rows (nt a compile-time 4 or 8): each block's
 * codes and scales are decoded once and used nt times. Per token it runs the float steps
 * of vec_dot_q4_K_q8_K in the same order, so results match it bit for bit.
 */
static inline __attribute__((always_inline)) void q4_K_dot_xn_blocks(int nb, const void *vx,
                                                                     const void *const *ys,
                                                                     v128_t (*state)[2],
                                                                     const int nt) {
  const block_q4_K *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15);
  v128_t accf[8], accm[8];
  for (int t = 0; t < nt; t++) {
    accf[t] = state[t][0];
    accm[t] = state[t][1];
  }
  for (int i = 0; i < nb; i++) {
    const block_q8_K *yt[8];
    for (int t = 0; t < nt; t++) yt[t] = (const block_q8_K *)ys[t] + i;
    v128_t head = wasm_v128_load(&x[i]);
    v128_t packed = unpack_scales_mins_k4_v(head);
    v128_t sc = wasm_u16x8_extend_low_u8x16(packed);
    v128_t mins = wasm_u16x8_extend_high_u8x16(packed);
    v128_t dup_lo = q4k_mins_dup_lo(mins), dup_hi = q4k_mins_dup_hi(mins);
    v128_t acc[8];
    for (int t = 0; t < nt; t++) acc[t] = wasm_i32x4_splat(0);
    for (int c = 0; c < 4; c++) {
      v128_t q0 = wasm_v128_load(x[i].qs + 32 * c), q1 = wasm_v128_load(x[i].qs + 32 * c + 16);
      v128_t a0 = wasm_v128_and(q0, m4), a1 = wasm_v128_and(q1, m4);
      v128_t b0 = high_nibbles(q0, m4), b1 = high_nibbles(q1, m4);
      v128_t s_lo, s_hi;
      switch (c) {
        case 0: s_lo = SPLAT_I16(sc, 0); s_hi = SPLAT_I16(sc, 1); break;
        case 1: s_lo = SPLAT_I16(sc, 2); s_hi = SPLAT_I16(sc, 3); break;
        case 2: s_lo = SPLAT_I16(sc, 4); s_hi = SPLAT_I16(sc, 5); break;
        default: s_lo = SPLAT_I16(sc, 6); s_hi = SPLAT_I16(sc, 7); break;
      }
      for (int t = 0; t < nt; t++) {
        const int8_t *q8 = yt[t]->qs + 64 * c;
        v128_t lo = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load(q8), a0),
                                   dot16_i8_u7(wasm_v128_load(q8 + 16), a1));
        v128_t hi = wasm_i16x8_add(dot16_i8_u7(wasm_v128_load(q8 + 32), b0),
                                   dot16_i8_u7(wasm_v128_load(q8 + 48), b1));
        acc[t] = scale_i16_acc(lo, s_lo, acc[t]);
        acc[t] = scale_i16_acc(hi, s_hi, acc[t]);
      }
    }
    float d = fp16_to_f32(wasm_u16x8_extract_lane(head, 0));
    float dmin = fp16_to_f32(wasm_u16x8_extract_lane(head, 1));
    for (int t = 0; t < nt; t++) {
      v128_t msum = q4k_min_sums(yt[t], dup_lo, dup_hi);
      float dy = yt[t]->d;
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(acc[t]), wasm_f32x4_splat(dy * d), accf[t]);
      accm[t] = madd_f32x4(wasm_f32x4_convert_i32x4(msum), wasm_f32x4_splat(dy * dmin), accm[t]);
    }
  }
  for (int t = 0; t < nt; t++) {
    state[t][0] = accf[t];
    state[t][1] = accm[t];
  }
}

static inline __attribute__((always_inline)) void q4_K_dot_xn(int n, const void *vx,
                                                              const void *const *ys,
                                                              float *out, const int nt) {
  v128_t state[8][2];
  for (int t = 0; t < nt; t++) state[t][0] = state[t][1] = wasm_f32x4_splat(0.0f);
  q4_K_dot_xn_blocks(n / QK_K, vx, ys, state, nt);
  for (int t = 0; t < nt; t++) out[t] = hsum_f32x4(state[t][0]) - hsum_f32x4(state[t][1]);
}

void vec_dot_q4_K_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) {
  q4_K_dot_xn(n, vx, ys, out, 4);
}

void vec_dot_q4_K_q8_K_x8(int n, const void *vx, const void *const ys[8], float out[8]) {
  q4_K_dot_xn(n, vx, ys, out, 8);
}

void vec_dot_part_q4_K_q8_K_x4(int nb, const void *vx, const void *const ys[4],
                               v128_t state[4][2]) {
  q4_K_dot_xn_blocks(nb, vx, ys, state, 4);
}

void vec_dot_part_q4_K_q8_K_x8(int nb, const void *vx, const void *const ys[8],
                               v128_t state[8][2]) {
  q4_K_dot_xn_blocks(nb, vx, ys, state, 8);
}
