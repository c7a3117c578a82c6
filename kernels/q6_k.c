/* Q6_K weights (layout in quants.h) against Q8_K activations. */
#include "quants.h"

static inline int q6k_code(const block_q6_K *b, int p) {
  int h = p / 128, k = (p % 128) / 32, l = p % 32;
  uint8_t byte = b->ql[64 * h + l + 32 * (k % 2)];
  int low = k < 2 ? (byte & 15) : (byte >> 4);
  int high = (b->qh[32 * h + l] >> (2 * k)) & 3;
  return (low | high << 4) - 32;
}

void dequantize_row_q6_K_scalar(const void *vx, float *y, int n) {
  const block_q6_K *x = vx;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    for (int p = 0; p < QK_K; p++) {
      y[p] = (d * (float)x[i].scales[p / 16]) * (float)q6k_code(&x[i], p);
    }
  }
}

float vec_dot_q6_K_q8_K_scalar(int n, const void *vx, const void *vy) {
  const block_q6_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0.0f;
  for (int i = 0; i < n / QK_K; i++) {
    int group[16] = {0};
    for (int p = 0; p < QK_K; p++) group[p / 16] += q6k_code(&x[i], p) * y[i].qs[p];
    int isum = 0;
    for (int k = 0; k < 16; k++) isum += x[i].scales[k] * group[k];
    sum += y[i].d * (fp16_to_f32(x[i].d) * (float)isum);
  }
  return sum;
}

void dequantize_row_q6_K(const void *vx, float *y, int n) {
  const block_q6_K *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15), m3 = wasm_i8x16_splat(3);
  const v128_t m12 = wasm_i8x16_splat(12), m48 = wasm_i8x16_splat(48);
  const v128_t off = wasm_i8x16_splat(32);
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    float d = fp16_to_f32(x[i].d);
    for (int h = 0; h < 2; h++) {
      for (int v = 0; v < 2; v++) {
        v128_t qla = wasm_v128_load(x[i].ql + 64 * h + 16 * v);
        v128_t qlb = wasm_v128_load(x[i].ql + 64 * h + 32 + 16 * v);
        v128_t qh = wasm_v128_load(x[i].qh + 32 * h + 16 * v);
        v128_t c[4];
        c[0] = wasm_v128_or(wasm_v128_and(qla, m4), wasm_i16x8_shl(wasm_v128_and(qh, m3), 4));
        c[1] = wasm_v128_or(wasm_v128_and(qlb, m4), wasm_i16x8_shl(wasm_v128_and(qh, m12), 2));
        c[2] = wasm_v128_or(high_nibbles(qla, m4), wasm_v128_and(qh, m48));
        c[3] = wasm_v128_or(high_nibbles(qlb, m4), wasm_v128_and(wasm_u16x8_shr(qh, 2), m48));
        for (int k = 0; k < 4; k++) {
          int p = 128 * h + 32 * k + 16 * v;
          store_q_mul(y + p, wasm_i8x16_sub(c[k], off),
                      wasm_f32x4_splat(d * (float)x[i].scales[p / 16]));
        }
      }
    }
  }
}

/*
 * Codes are taken unsigned (0..63) so the relaxed dot applies; the −32 offset comes back
 * as 32·Σ_k scale_k·bsum_k over the sixteen 16-weight groups.
 */
static inline __attribute__((always_inline)) void q6_K_dot_blocks(int nb, const block_q6_K *x,
                                                                 const block_q8_K *y,
                                                                 v128_t state[2]) {
  const v128_t m4 = wasm_i8x16_splat(15), m48 = wasm_i8x16_splat(48);
  v128_t accf = state[0];
  for (int i = 0; i < nb; i++) {
    v128_t sc8 = wasm_v128_load(x[i].scales);
    v128_t sc_lo = wasm_i16x8_extend_low_i8x16(sc8), sc_hi = wasm_i16x8_extend_high_i8x16(sc8);
    v128_t offset = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(y[i].bsums), sc_lo),
                                   wasm_i32x4_dot_i16x8(wasm_v128_load(y[i].bsums + 8), sc_hi));
    v128_t acc = wasm_i32x4_splat(0);
    const int8_t *q8 = y[i].qs;
    /* Each code is built right before its dot to keep few vectors live (x86 has 16). The
     * two high bits go to bits 4-5 by a 16-bit shift and the mask 48. */
#define Q6K_PART(h, v, sc)                                                                    \
  do {                                                                                        \
    const uint8_t *ql = x[i].ql + 64 * (h) + 16 * (v);                                        \
    v128_t qh = wasm_v128_load(x[i].qh + 32 * (h) + 16 * (v));                                \
    const int8_t *yb = q8 + 128 * (h) + 16 * (v);                                             \
    v128_t qla = wasm_v128_load(ql);                                                          \
    v128_t c = wasm_v128_or(wasm_v128_and(qla, m4), wasm_v128_and(wasm_i16x8_shl(qh, 4), m48)); \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb), c), SPLAT_I16(sc, (v)), acc);         \
    c = wasm_v128_or(high_nibbles(qla, m4), wasm_v128_and(qh, m48));                          \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 64), c), SPLAT_I16(sc, 4 + (v)), acc); \
    v128_t qlb = wasm_v128_load(ql + 32);                                                     \
    c = wasm_v128_or(wasm_v128_and(qlb, m4), wasm_v128_and(wasm_i16x8_shl(qh, 2), m48));      \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 32), c), SPLAT_I16(sc, 2 + (v)), acc); \
    c = wasm_v128_or(high_nibbles(qlb, m4), wasm_v128_and(wasm_u16x8_shr(qh, 2), m48));       \
    acc = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 96), c), SPLAT_I16(sc, 6 + (v)), acc); \
  } while (0)
    Q6K_PART(0, 0, sc_lo);
    Q6K_PART(0, 1, sc_lo);
    Q6K_PART(1, 0, sc_hi);
    Q6K_PART(1, 1, sc_hi);
#undef Q6K_PART
    acc = wasm_i32x4_sub(acc, wasm_i32x4_shl(offset, 5));
    accf = madd_f32x4(wasm_f32x4_convert_i32x4(acc),
                      wasm_f32x4_splat(y[i].d * fp16_to_f32(x[i].d)), accf);
  }
  state[0] = accf;
}

float vec_dot_q6_K_q8_K(int n, const void *vx, const void *vy) {
  v128_t state[2] = {wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f)};
  q6_K_dot_blocks(n / QK_K, vx, vy, state);
  return hsum_f32x4(state[0]);
}

/* nb blocks of a row from x and y on, continuing the sums in `state` (zeroed first). */
void vec_dot_part_q6_K_q8_K(int nb, const void *vx, const void *vy, v128_t state[2]) {
  q6_K_dot_blocks(nb, vx, vy, state);
}

/* The dot product the sums in `state` stand for once every block is in. */
float vec_dot_finish_q6_K_q8_K(const v128_t state[2]) { return hsum_f32x4(state[0]); }

/*
 * One weight row against nt activation rows (nt a compile-time 4 or 8): codes are built
 * once per block and used nt times. Per token the float steps equal vec_dot_q6_K_q8_K's,
 * so results match it.
 */
static inline __attribute__((always_inline)) void q6_K_dot_xn_blocks(int nb, const void *vx,
                                                                     const void *const *ys,
                                                                     v128_t (*state)[2],
                                                                     const int nt) {
  const block_q6_K *x = vx;
  const v128_t m4 = wasm_i8x16_splat(15), m48 = wasm_i8x16_splat(48);
  v128_t accf[8];
  for (int t = 0; t < nt; t++) accf[t] = state[t][0];
  for (int i = 0; i < nb; i++) {
    const block_q8_K *yt[8];
    for (int t = 0; t < nt; t++) yt[t] = (const block_q8_K *)ys[t] + i;
    v128_t sc8 = wasm_v128_load(x[i].scales);
    v128_t sc_lo = wasm_i16x8_extend_low_i8x16(sc8), sc_hi = wasm_i16x8_extend_high_i8x16(sc8);
    v128_t acc[8];
    for (int t = 0; t < nt; t++) acc[t] = wasm_i32x4_splat(0);
    for (int part = 0; part < 4; part++) {
      int h = part >> 1, v = part & 1;
      const uint8_t *ql = x[i].ql + 64 * h + 16 * v;
      v128_t qh = wasm_v128_load(x[i].qh + 32 * h + 16 * v);
      v128_t qla = wasm_v128_load(ql), qlb = wasm_v128_load(ql + 32);
      v128_t c[4];
      c[0] = wasm_v128_or(wasm_v128_and(qla, m4), wasm_v128_and(wasm_i16x8_shl(qh, 4), m48));
      c[1] = wasm_v128_or(wasm_v128_and(qlb, m4), wasm_v128_and(wasm_i16x8_shl(qh, 2), m48));
      c[2] = wasm_v128_or(high_nibbles(qla, m4), wasm_v128_and(qh, m48));
      c[3] = wasm_v128_or(high_nibbles(qlb, m4), wasm_v128_and(wasm_u16x8_shr(qh, 2), m48));
      v128_t s[4];
      switch (part) {
        case 0: s[0] = SPLAT_I16(sc_lo, 0); s[1] = SPLAT_I16(sc_lo, 2); s[2] = SPLAT_I16(sc_lo, 4); s[3] = SPLAT_I16(sc_lo, 6); break;
        case 1: s[0] = SPLAT_I16(sc_lo, 1); s[1] = SPLAT_I16(sc_lo, 3); s[2] = SPLAT_I16(sc_lo, 5); s[3] = SPLAT_I16(sc_lo, 7); break;
        case 2: s[0] = SPLAT_I16(sc_hi, 0); s[1] = SPLAT_I16(sc_hi, 2); s[2] = SPLAT_I16(sc_hi, 4); s[3] = SPLAT_I16(sc_hi, 6); break;
        default: s[0] = SPLAT_I16(sc_hi, 1); s[1] = SPLAT_I16(sc_hi, 3); s[2] = SPLAT_I16(sc_hi, 5); s[3] = SPLAT_I16(sc_hi, 7); break;
      }
      for (int t = 0; t < nt; t++) {
        const int8_t *yb = yt[t]->qs + 128 * h + 16 * v;
        for (int k = 0; k < 4; k++) {
          acc[t] = scale_i16_acc(dot16_i8_u7(wasm_v128_load(yb + 32 * k), c[k]), s[k], acc[t]);
        }
      }
    }
    float d = fp16_to_f32(x[i].d);
    for (int t = 0; t < nt; t++) {
      v128_t offset = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(yt[t]->bsums), sc_lo),
                                     wasm_i32x4_dot_i16x8(wasm_v128_load(yt[t]->bsums + 8), sc_hi));
      v128_t a = wasm_i32x4_sub(acc[t], wasm_i32x4_shl(offset, 5));
      accf[t] = madd_f32x4(wasm_f32x4_convert_i32x4(a), wasm_f32x4_splat(yt[t]->d * d), accf[t]);
    }
  }
  for (int t = 0; t < nt; t++) state[t][0] = accf[t];
}

static inline __attribute__((always_inline)) void q6_K_dot_xn(int n, const void *vx,
                                                              const void *const *ys,
                                                              float *out, const int nt) {
  v128_t state[8][2];
  for (int t = 0; t < nt; t++) state[t][0] = state[t][1] = wasm_f32x4_splat(0.0f);
  q6_K_dot_xn_blocks(n / QK_K, vx, ys, state, nt);
  for (int t = 0; t < nt; t++) out[t] = hsum_f32x4(state[t][0]);
}

void vec_dot_q6_K_q8_K_x4(int n, const void *vx, const void *const ys[4], float out[4]) {
  q6_K_dot_xn(n, vx, ys, out, 4);
}

void vec_dot_q6_K_q8_K_x8(int n, const void *vx, const void *const ys[8], float out[8]) {
  q6_K_dot_xn(n, vx, ys, out, 8);
}

void vec_dot_part_q6_K_q8_K_x4(int nb, const void *vx, const void *const ys[4],
                               v128_t state[4][2]) {
  q6_K_dot_xn_blocks(nb, vx, ys, state, 4);
}

void vec_dot_part_q6_K_q8_K_x8(int nb, const void *vx, const void *const ys[8],
                               v128_t state[8][2]) {
  q6_K_dot_xn_blocks(nb, vx, ys, state, 8);
}
