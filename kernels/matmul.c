/*
 * Matrix entry points over every supported weight type. GGML type ids select the row
 * kernels from one table (qtype_get), which names each type's SIMD and scalar kernels.
 *
 * Parallel entry points take the row range [row_begin, row_end) as their last two
 * arguments and write only those rows, so any split over threads gives the same bits.
 * They return FLINT_OK or a negative FLINT_E_* code and never trap on a bad type.
 */
#include "quants.h"

volatile int32_t flint_opaque_zero = 0;

/*
 * Flag added to a weight type id for a matrix whose rows are interleaved in groups of
 * four by flint_repack_rows4: block i of row 4g + j is at group g's start plus
 * (4i + j)·type_size. One group reads as a single stream, which the four-row kernels
 * need to keep their speed once the matrix is larger than the caches.
 */
#define FLINT_INTERLEAVED4 256

/*
 * Flag added to a weight type id for blocks rewritten by flint_repack_lanes (Q2_K, Q3_K,
 * Q4_K, Q5_K and Q6_K; layouts in q*_k_lanes.c and k4_lanes.h). Unlike the row layouts it
 * names a block format of its own, with its own activation order: quantize activations
 * with the same flagged id.
 */
#define FLINT_LANES 1024

/*
 * Flag added to a weight type id for a matrix rewritten by flint_repack_segments. Rows go
 * in groups of SEGMENT_ROWS. Within a group, the first SEGMENT_BLOCKS blocks of every row
 * come first (row after row), then the next SEGMENT_BLOCKS of every row, and so on.
 *
 * Why: a Q8_K activation row of 8192 values (9 KiB) stays in L1 while the weights stream
 * past it, but an n_ff-wide one (14336 values, 16 KiB) does not, and the one-row kernels
 * then lose a fifth of their speed. With this layout a group runs segment by segment,
 * each against an activation slice that stays in L1, while the weights are still read as
 * one sequential stream (reading the segments of a row-major matrix out of order was
 * measured at half the speed).
 */
#define FLINT_SEGMENTED 512
#define SEGMENT_BLOCKS 32
#define SEGMENT_ROWS 16

/* Byte offset of row j's segment that starts at block b0, within its row group. */
static size_t segment_offset(size_t type_size, int n_blocks, int b0, int j) {
  int nb = n_blocks - b0 < SEGMENT_BLOCKS ? n_blocks - b0 : SEGMENT_BLOCKS;
  return ((size_t)SEGMENT_ROWS * b0 + (size_t)j * nb) * type_size;
}

/* Matrix layouts a weight type id can name. */
enum { LAYOUT_ROWS, LAYOUT_INTERLEAVED4, LAYOUT_SEGMENTED };

#define FLINT_OK 0
#define FLINT_E_TYPE (-1) /* weight type without kernels */
#define FLINT_E_SIZE (-2) /* n not a multiple of the block size, or a bad row range */

enum {
  T_F32 = 0,
  T_F16 = 1,
  T_Q4_0 = 2,
  T_Q4_1 = 3,
  T_Q5_0 = 6,
  T_Q5_1 = 7,
  T_Q8_0 = 8,
  T_Q2_K = 10,
  T_Q3_K = 11,
  T_Q4_K = 12,
  T_Q5_K = 13,
  T_Q6_K = 14,
  T_IQ4_NL = 20,
  T_IQ4_XS = 23,
  T_BF16 = 30,
};

typedef void (*dequant_fn)(const void *x, float *y, int n);
typedef float (*dot_fn)(int n, const void *x, const void *y);
typedef void (*quant_fn)(const float *x, void *y, int n);

typedef struct {
  int block;          /* weights per block */
  int type_size;      /* bytes per weight block */
  int act_block;      /* activations per activation block */
  int act_type_size;  /* bytes per activation block */
  quant_fn quantize;  /* float32 activations to the vec_dot type */
  dequant_fn dequant; /* fastest exact dequantizer */
  dequant_fn dequant_scalar;
  dot_fn dot; /* SIMD dot, or the scalar one where the type has no SIMD form */
  dot_fn dot_scalar;
  dot4_fn dot4; /* four rows at once, or 0 */
  dot_x4_fn dot_x4; /* one row against four tokens, or 0 */
  dot_x8_fn dot_x8; /* one row against eight tokens, or 0 (needs dot_x4) */
  dot_part_fn dot_part; /* a row in segments of blocks, or 0 */
  dot_finish_fn dot_finish;
  dot_part_x4_fn dot_part_x4; /* dot_part against four and eight tokens (with dot_part) */
  dot_part_x8_fn dot_part_x8;
} qtype;

static void copy_row_f32(const float *x, void *vy, int n) {
  float *y = vy;
  for (int i = 0; i < n; i++) y[i] = x[i];
}

/* Every type below has a SIMD dot and dequantizer; F32 rows dequantize by copying. */
static const qtype *qtype_get(int type) {
#define QTYPE(name, block, size, act_block, act_size, quant, dq, dot)                          \
  static const qtype name = {block, size, act_block, act_size, quant, dequantize_row_##dq,     \
                             dequantize_row_##dq##_scalar, vec_dot_##dot, vec_dot_##dot##_scalar, 0, 0, 0, 0, 0, 0, 0}
#define QTYPEX4(name, block, size, act_block, act_size, quant, dq, dot)                        \
  static const qtype name = {block,                 size,                                     \
                             act_block,             act_size,                                 \
                             quant,                 dequantize_row_##dq,                      \
                             dequantize_row_##dq##_scalar, vec_dot_##dot,                     \
                             vec_dot_##dot##_scalar, 0, vec_dot_##dot##_x4, 0, 0, 0, 0, 0}
#define QTYPEX8(name, block, size, act_block, act_size, quant, dq, dot)                        \
  static const qtype name = {block,                 size,                                     \
                             act_block,             act_size,                                 \
                             quant,                 dequantize_row_##dq,                      \
                             dequantize_row_##dq##_scalar, vec_dot_##dot,                     \
                             vec_dot_##dot##_scalar, 0, vec_dot_##dot##_x4, vec_dot_##dot##_x8, \
                             vec_dot_part_##dot, vec_dot_finish_##dot,                        \
                             vec_dot_part_##dot##_x4, vec_dot_part_##dot##_x8}
#define QTYPE4(name, block, size, act_block, act_size, quant, dq, dot)                         \
  static const qtype name = {block,                 size,                                     \
                             act_block,             act_size,                                 \
                             quant,                 dequantize_row_##dq,                      \
                             dequantize_row_##dq##_scalar, vec_dot_##dot,                     \
                             vec_dot_##dot##_scalar, vec_dot4_##dot, 0, 0, 0, 0, 0, 0}
  static const qtype f32 = {1, 4, 1, 4, copy_row_f32, dequantize_row_f32,
                            dequantize_row_f32, vec_dot_f32_f32, vec_dot_f32_f32_scalar, 0, 0, 0, 0, 0, 0, 0};
  QTYPE(f16, 1, 2, 1, 2, convert_row_f16, f16, f16_f16);
  QTYPE(bf16, 1, 2, 1, 2, convert_row_bf16, bf16, bf16_bf16);
  QTYPE4(q4_0, 32, 18, 32, 34, quantize_row_q8_0, q4_0, q4_0_q8_0);
  QTYPE4(q4_1, 32, 20, 32, 36, quantize_row_q8_1, q4_1, q4_1_q8_1);
  QTYPE(q5_0, 32, 22, 32, 34, quantize_row_q8_0, q5_0, q5_0_q8_0);
  QTYPE4(q5_1, 32, 24, 32, 36, quantize_row_q8_1, q5_1, q5_1_q8_1);
  QTYPE4(q8_0, 32, 34, 32, 34, quantize_row_q8_0, q8_0, q8_0_q8_0);
  QTYPEX4(q2_k, 256, 84, 256, 292, quantize_row_q8_K, q2_K, q2_K_q8_K);
  QTYPEX4(q3_k, 256, 110, 256, 292, quantize_row_q8_K, q3_K, q3_K_q8_K);
  QTYPEX8(q4_k, 256, 144, 256, 292, quantize_row_q8_K, q4_K, q4_K_q8_K);
  QTYPEX8(q4_k_lanes, 256, 144, 256, 292, quantize_row_q8_K_lanes, q4_K_lanes, q4_K_lanes_q8_K);
  QTYPEX8(q5_k_lanes, 256, 176, 256, 292, quantize_row_q8_K_lanes, q5_K_lanes, q5_K_lanes_q8_K);
  QTYPEX8(q6_k_lanes, 256, 210, 256, 292, quantize_row_q8_K_lanes16, q6_K_lanes, q6_K_lanes_q8_K);
  static const qtype q2_k_lanes = {256, 84, 256, 292, quantize_row_q8_K_lanes16,
                                   dequantize_row_q2_K_lanes, dequantize_row_q2_K_lanes_scalar,
                                   vec_dot_q2_K_lanes_q8_K, vec_dot_q2_K_lanes_q8_K_scalar, 0,
                                   vec_dot_q2_K_lanes_q8_K_x4, vec_dot_q2_K_lanes_q8_K_x8,
                                   0, 0, 0, 0};
  static const qtype q3_k_lanes = {256, 110, 256, 292, quantize_row_q8_K_lanes16,
                                   dequantize_row_q3_K_lanes, dequantize_row_q3_K_lanes_scalar,
                                   vec_dot_q3_K_lanes_q8_K, vec_dot_q3_K_lanes_q8_K_scalar, 0,
                                   vec_dot_q3_K_lanes_q8_K_x4, vec_dot_q3_K_lanes_q8_K_x8,
                                   0, 0, 0, 0};
  QTYPEX4(q5_k, 256, 176, 256, 292, quantize_row_q8_K, q5_K, q5_K_q8_K);
  QTYPEX8(q6_k, 256, 210, 256, 292, quantize_row_q8_K, q6_K, q6_K_q8_K);
  QTYPE4(iq4_nl, 32, 18, 32, 34, quantize_row_q8_0, iq4_nl, iq4_nl_q8_0);
  QTYPE(iq4_xs, 256, 136, 256, 292, quantize_row_q8_K, iq4_xs, iq4_xs_q8_K);
#undef QTYPE
#undef QTYPEX4
#undef QTYPEX8
#undef QTYPE4
  switch (type) {
    case T_F32: return &f32;
    case T_F16: return &f16;
    case T_BF16: return &bf16;
    case T_Q4_0: return &q4_0;
    case T_Q4_1: return &q4_1;
    case T_Q5_0: return &q5_0;
    case T_Q5_1: return &q5_1;
    case T_Q8_0: return &q8_0;
    case T_Q2_K: return &q2_k;
    case T_Q3_K: return &q3_k;
    case T_Q4_K: return &q4_k;
    case T_Q4_K | FLINT_LANES: return &q4_k_lanes;
    case T_Q5_K | FLINT_LANES: return &q5_k_lanes;
    case T_Q2_K | FLINT_LANES: return &q2_k_lanes;
    case T_Q3_K | FLINT_LANES: return &q3_k_lanes;
    case T_Q6_K | FLINT_LANES: return &q6_k_lanes;
    case T_Q5_K: return &q5_k;
    case T_Q6_K: return &q6_k;
    case T_IQ4_NL: return &iq4_nl;
    case T_IQ4_XS: return &iq4_xs;
    default: return 0;
  }
}

/* Looks up a type id that may carry a layout flag; only types with its kernels take it. */
static const qtype *qtype_get_layout(int type, int *layout) {
  *layout = type & FLINT_INTERLEAVED4 ? LAYOUT_INTERLEAVED4
            : type & FLINT_SEGMENTED  ? LAYOUT_SEGMENTED
                                      : LAYOUT_ROWS;
  const qtype *t = qtype_get(type & ~(FLINT_INTERLEAVED4 | FLINT_SEGMENTED));
  if (t && *layout == LAYOUT_INTERLEAVED4 && !t->dot4) return 0;
  if (t && *layout == LAYOUT_SEGMENTED && !t->dot_part) return 0;
  if ((type & FLINT_INTERLEAVED4) && (type & FLINT_SEGMENTED)) return 0;
  return t;
}

static int check_rows(const qtype *t, int n, int row_begin, int row_end) {
  if (!t) return FLINT_E_TYPE;
  if (n < 0 || n % t->block != 0) return FLINT_E_SIZE;
  if (row_begin < 0 || row_end < row_begin) return FLINT_E_SIZE;
  return FLINT_OK;
}

/* Bytes one activation row of n values takes after flint_quantize_row, or an error. */
FLINT_EXPORT(flint_act_row_bytes) int flint_act_row_bytes(int type, int n) {
  const qtype *t = qtype_get(type);
  if (!t) return FLINT_E_TYPE;
  if (n < 0 || n % t->block != 0) return FLINT_E_SIZE;
  return n / t->act_block * t->act_type_size;
}

/* Quantizes (or converts) n float32 activations for a dot with weight type `type`. */
FLINT_EXPORT(flint_quantize_row)
int flint_quantize_row(int type, const float *x, void *xq, int n) {
  const qtype *t = qtype_get(type);
  int err = check_rows(t, n, 0, 0);
  if (err) return err;
  t->quantize(x, xq, n);
  return FLINT_OK;
}

/*
 * flint_quantize_row for rows [row_begin, row_end) of a batch: row r reads n floats at
 * x + r·x_stride_floats and writes xq + r·xq_stride_bytes. For a thread pool's row split.
 */
FLINT_EXPORT(flint_quantize_rows)
int flint_quantize_rows(int type, const float *x, size_t x_stride_floats, void *xq,
                        size_t xq_stride_bytes, int n, int row_begin, int row_end) {
  const qtype *t = qtype_get(type);
  int err = check_rows(t, n, row_begin, row_end);
  if (err) return err;
  for (int r = row_begin; r < row_end; r++) {
    t->quantize(x + (size_t)r * x_stride_floats, (uint8_t *)xq + (size_t)r * xq_stride_bytes, n);
  }
  return FLINT_OK;
}

/* Dequantizes n weights (whole blocks) starting at w. */
FLINT_EXPORT(flint_dequantize_rows)
int flint_dequantize_rows(int type, const void *w, float *out, int n) {
  const qtype *t = qtype_get(type);
  int err = check_rows(t, n, 0, 0);
  if (err) return err;
  t->dequant(w, out, n);
  return FLINT_OK;
}

/* Scalar reference dequantizer, for tests. */
FLINT_EXPORT(flint_dequantize_rows_scalar)
int flint_dequantize_rows_scalar(int type, const void *w, float *out, int n) {
  const qtype *t = qtype_get(type);
  int err = check_rows(t, n, 0, 0);
  if (err) return err;
  t->dequant_scalar(w, out, n);
  return FLINT_OK;
}

/*
 * Embedding lookup: out row i (n_cols floats, out_stride_floats apart) = row ids[i] of
 * the matrix w. Rows [row_begin, row_end) of the output are written.
 */
FLINT_EXPORT(flint_get_rows)
int flint_get_rows(int type, const void *w, size_t row_stride_bytes, const int32_t *ids,
                   float *out, size_t out_stride_floats, int n_cols, int row_begin, int row_end) {
  int layout;
  const qtype *t = qtype_get_layout(type, &layout);
  int err = check_rows(t, n_cols, row_begin, row_end);
  if (err) return err;
  for (int i = row_begin; i < row_end; i++) {
    if (ids[i] < 0) return FLINT_E_SIZE;
    float *dst = out + (size_t)i * out_stride_floats;
    if (layout == LAYOUT_ROWS) {
      t->dequant((const uint8_t *)w + (size_t)ids[i] * row_stride_bytes, dst, n_cols);
      continue;
    }
    if (layout == LAYOUT_SEGMENTED) {
      int n_blocks = n_cols / t->block;
      const uint8_t *group = (const uint8_t *)w + (size_t)(ids[i] / SEGMENT_ROWS) * SEGMENT_ROWS * row_stride_bytes;
      for (int b0 = 0; b0 < n_blocks; b0 += SEGMENT_BLOCKS) {
        int nb = n_blocks - b0 < SEGMENT_BLOCKS ? n_blocks - b0 : SEGMENT_BLOCKS;
        t->dequant(group + segment_offset(t->type_size, n_blocks, b0, ids[i] % SEGMENT_ROWS),
                   dst + (size_t)b0 * t->block, nb * t->block);
      }
      continue;
    }
    const uint8_t *group = (const uint8_t *)w + (size_t)(ids[i] / 4) * 4 * row_stride_bytes;
    for (int b = 0; b < n_cols / t->block; b++) {
      const uint8_t *block = group + (size_t)(4 * b + ids[i] % 4) * t->type_size;
      t->dequant(block, dst + (size_t)b * t->block, t->block);
    }
  }
  return FLINT_OK;
}

/* One dot product of a weight row with a quantized activation row, stored in *out. */
FLINT_EXPORT(flint_vec_dot)
int flint_vec_dot(int type, int n, const void *w, const void *xq, float *out) {
  const qtype *t = qtype_get(type);
  int err = check_rows(t, n, 0, 0);
  if (err) return err;
  if (t->dot4) {
    const void *rows[4] = {w, w, w, w};
    float four[4];
    t->dot4(n, rows, 1, xq, four);
    *out = four[0];
  } else {
    *out = t->dot(n, w, xq);
  }
  return FLINT_OK;
}

/* flint_vec_dot through the scalar reference kernel. */
FLINT_EXPORT(flint_vec_dot_scalar)
int flint_vec_dot_scalar(int type, int n, const void *w, const void *xq, float *out) {
  const qtype *t = qtype_get(type);
  int err = check_rows(t, n, 0, 0);
  if (err) return err;
  *out = t->dot_scalar(n, w, xq);
  return FLINT_OK;
}

static void matvec_rows_segmented(const qtype *t, const uint8_t *base, size_t row_stride_bytes,
                                  const void *xq, float *y, int n_blocks, int row_begin,
                                  int row_end) {
  v128_t state[SEGMENT_ROWS][2];
  size_t ts = (size_t)t->type_size;
  for (int g = row_begin / SEGMENT_ROWS; g * SEGMENT_ROWS < row_end; g++) {
    const uint8_t *group = base + (size_t)g * SEGMENT_ROWS * row_stride_bytes;
    for (int j = 0; j < SEGMENT_ROWS; j++) state[j][0] = state[j][1] = wasm_f32x4_splat(0.0f);
    for (int b0 = 0; b0 < n_blocks; b0 += SEGMENT_BLOCKS) {
      int nb = n_blocks - b0 < SEGMENT_BLOCKS ? n_blocks - b0 : SEGMENT_BLOCKS;
      const uint8_t *seg = group + segment_offset(ts, n_blocks, b0, 0);
      const uint8_t *ys = (const uint8_t *)xq + (size_t)b0 * t->act_type_size;
      for (int j = 0; j < SEGMENT_ROWS; j++) {
        t->dot_part(nb, seg + (size_t)j * nb * ts, ys, state[j]);
      }
    }
    for (int j = 0; j < SEGMENT_ROWS; j++) {
      int r = g * SEGMENT_ROWS + j;
      if (r >= row_begin && r < row_end) y[r] = t->dot_finish(state[j]);
    }
  }
}

/*
 * Rows go through the four-row kernel where the type has one, padding the last group by
 * repeating its final row. Every row then runs the same lane code, whatever the split.
 * Interleaved matrices always go by whole groups and keep only the rows in range.
 */
static void matvec_rows(const qtype *t, int scalar, int layout, const void *w,
                        size_t row_stride_bytes, const void *xq, float *y, int n_cols,
                        int row_begin, int row_end) {
  const uint8_t *base = (const uint8_t *)w;
  if (layout == LAYOUT_SEGMENTED) {
    matvec_rows_segmented(t, base, row_stride_bytes, xq, y, n_cols / t->block, row_begin,
                          row_end);
    return;
  }
  if (layout == LAYOUT_INTERLEAVED4) {
    for (int g = row_begin / 4; 4 * g < row_end; g++) {
      const uint8_t *group = base + (size_t)4 * g * row_stride_bytes;
      const void *rows[4] = {group, group + t->type_size, group + 2 * t->type_size,
                             group + 3 * t->type_size};
      float out[4];
      t->dot4(n_cols, rows, 4, xq, out);
      for (int j = 0; j < 4; j++) {
        int r = 4 * g + j;
        if (r >= row_begin && r < row_end) y[r] = out[j];
      }
    }
    return;
  }
  if (!scalar && t->dot4) {
    for (int r = row_begin; r < row_end; r += 4) {
      const void *rows[4];
      float out[4];
      int count = row_end - r < 4 ? row_end - r : 4;
      for (int j = 0; j < 4; j++) {
        rows[j] = base + (size_t)(r + (j < count ? j : count - 1)) * row_stride_bytes;
      }
      t->dot4(n_cols, rows, 1, xq, out);
      for (int j = 0; j < count; j++) y[r + j] = out[j];
    }
    return;
  }
  dot_fn dot = scalar ? t->dot_scalar : t->dot;
  const uint8_t *row = base + (size_t)row_begin * row_stride_bytes;
  for (int r = row_begin; r < row_end; r++, row += row_stride_bytes) y[r] = dot(n_cols, row, xq);
}

/* y[r] = row r of w · xq for r in [row_begin, row_end); xq from flint_quantize_row. */
FLINT_EXPORT(flint_matvec)
int flint_matvec(int type, const void *w, size_t row_stride_bytes, const void *xq, float *y,
                 int n_cols, int row_begin, int row_end) {
  int layout;
  const qtype *t = qtype_get_layout(type, &layout);
  int err = check_rows(t, n_cols, row_begin, row_end);
  if (err) return err;
  matvec_rows(t, 0, layout, w, row_stride_bytes, xq, y, n_cols, row_begin, row_end);
  return FLINT_OK;
}

/* flint_matvec through the scalar reference kernel: the benchmark baseline. */
FLINT_EXPORT(flint_matvec_scalar)
int flint_matvec_scalar(int type, const void *w, size_t row_stride_bytes, const void *xq,
                        float *y, int n_cols, int row_begin, int row_end) {
  const qtype *t = qtype_get(type);
  int err = check_rows(t, n_cols, row_begin, row_end);
  if (err) return err;
  matvec_rows(t, 1, 0, w, row_stride_bytes, xq, y, n_cols, row_begin, row_end);
  return FLINT_OK;
}

/* Rows per tile of flint_matmul; a tile of weight rows stays in L1 across all tokens. */
#define MATMUL_TILE_ROWS 4

/*
 * Activation bytes per token tile of the one-row-many-tokens path: the tile stays in the
 * 1 MiB L2 while every row of the range passes over it (rows stream from memory once per
 * tile). 64 tokens of a 14336-wide Q8_K row (1 MiB) used to miss L2 on every row.
 */
#define MATMUL_ACT_TILE_BYTES (512 * 1024)

/*
 * flint_matmul on the FLINT_SEGMENTED layout: for each row group and each eight tokens
 * (four for the rest, repeating the last token), every segment of every row of the
 * group against those tokens' activation slices, with the sums carried between segments.
 * A group's weights (16 rows) stay in L2 across its token groups.
 */
static void matmul_segmented(const qtype *t, const uint8_t *w, size_t row_stride_bytes,
                             const void *xq, size_t xq_stride_bytes, float *y, int n_cols,
                             int n_tokens, size_t y_stride_floats, int row_begin, int row_end) {
  v128_t state[SEGMENT_ROWS][8][2];
  size_t ts = (size_t)t->type_size;
  int n_blocks = n_cols / t->block;
  for (int g = row_begin / SEGMENT_ROWS; g * SEGMENT_ROWS < row_end; g++) {
    const uint8_t *group = w + (size_t)g * SEGMENT_ROWS * row_stride_bytes;
    for (int t0 = 0; t0 < n_tokens;) {
      int nt = n_tokens - t0 >= 8 ? 8 : 4;
      int count = n_tokens - t0 < nt ? n_tokens - t0 : nt;
      const uint8_t *ys[8];
      for (int j = 0; j < nt; j++) {
        ys[j] = (const uint8_t *)xq + (size_t)(t0 + (j < count ? j : count - 1)) * xq_stride_bytes;
      }
      for (int j = 0; j < SEGMENT_ROWS; j++) {
        for (int k = 0; k < nt; k++) state[j][k][0] = state[j][k][1] = wasm_f32x4_splat(0.0f);
      }
      for (int b0 = 0; b0 < n_blocks; b0 += SEGMENT_BLOCKS) {
        int nb = n_blocks - b0 < SEGMENT_BLOCKS ? n_blocks - b0 : SEGMENT_BLOCKS;
        const uint8_t *seg = group + segment_offset(ts, n_blocks, b0, 0);
        const void *yseg[8];
        for (int k = 0; k < nt; k++) yseg[k] = ys[k] + (size_t)b0 * t->act_type_size;
        for (int j = 0; j < SEGMENT_ROWS; j++) {
          const uint8_t *x = seg + (size_t)j * nb * ts;
          if (nt == 8) t->dot_part_x8(nb, x, yseg, state[j]);
          else t->dot_part_x4(nb, x, yseg, state[j]);
        }
      }
      for (int j = 0; j < SEGMENT_ROWS; j++) {
        int r = g * SEGMENT_ROWS + j;
        if (r < row_begin || r >= row_end) continue;
        for (int k = 0; k < count; k++) y[(size_t)(t0 + k) * y_stride_floats + r] = t->dot_finish(state[j][k]);
      }
      t0 += count;
    }
  }
}

/*
 * Prompt batch: y[token·y_stride_floats + r] = row r of w · activation row `token`
 * (xq + token·xq_stride_bytes), for rows [row_begin, row_end) and all n_tokens.
 */
FLINT_EXPORT(flint_matmul)
int flint_matmul(int type, const void *w, size_t row_stride_bytes, const void *xq,
                 size_t xq_stride_bytes, float *y, int n_cols, int n_tokens,
                 size_t y_stride_floats, int row_begin, int row_end) {
  int layout;
  const qtype *t = qtype_get_layout(type, &layout);
  int err = check_rows(t, n_cols, row_begin, row_end);
  if (err) return err;
  if (n_tokens < 0) return FLINT_E_SIZE;
  if (t->dot_x4 && layout == LAYOUT_ROWS) {
    /* Row-major: one weight row stays in L1 while it meets every token, eight (where the
     * type has dot_x8) or four at a time; the last group of four repeats its final token
     * and drops the extra results. Each token's result is the same in any group. */
    size_t tile = MATMUL_ACT_TILE_BYTES / (xq_stride_bytes ? xq_stride_bytes : 1) / 8 * 8;
    int tile_tokens = tile < 8 ? 8 : tile > (size_t)n_tokens ? n_tokens : (int)tile;
    for (int ta = 0; ta < n_tokens; ta += tile_tokens) {
      int tb = ta + tile_tokens < n_tokens ? ta + tile_tokens : n_tokens;
      for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_stride_bytes;
        int t0 = ta;
        if (t->dot_x8) {
          for (; t0 + 8 <= tb; t0 += 8) {
            const void *ys[8];
            float out[8];
            for (int j = 0; j < 8; j++) ys[j] = (const uint8_t *)xq + (size_t)(t0 + j) * xq_stride_bytes;
            t->dot_x8(n_cols, row, ys, out);
            for (int j = 0; j < 8; j++) y[(size_t)(t0 + j) * y_stride_floats + r] = out[j];
          }
        }
        for (; t0 < tb; t0 += 4) {
          int count = tb - t0 < 4 ? tb - t0 : 4;
          const void *ys[4];
          float out[4];
          for (int j = 0; j < 4; j++) {
            ys[j] = (const uint8_t *)xq + (size_t)(t0 + (j < count ? j : count - 1)) * xq_stride_bytes;
          }
          t->dot_x4(n_cols, row, ys, out);
          for (int j = 0; j < count; j++) y[(size_t)(t0 + j) * y_stride_floats + r] = out[j];
        }
      }
    }
    return FLINT_OK;
  }
  if (layout == LAYOUT_SEGMENTED) {
    matmul_segmented(t, (const uint8_t *)w, row_stride_bytes, xq, xq_stride_bytes, y, n_cols,
                     n_tokens, y_stride_floats, row_begin, row_end);
    return FLINT_OK;
  }
  for (int r0 = row_begin; r0 < row_end; r0 += MATMUL_TILE_ROWS) {
    int r1 = r0 + MATMUL_TILE_ROWS < row_end ? r0 + MATMUL_TILE_ROWS : row_end;
    for (int tok = 0; tok < n_tokens; tok++) {
      const void *x = (const uint8_t *)xq + (size_t)tok * xq_stride_bytes;
      matvec_rows(t, 0, layout, w, row_stride_bytes, x, y + (size_t)tok * y_stride_floats,
                  n_cols, r0, r1);
    }
  }
  return FLINT_OK;
}

/* 1 when flint_repack_rows4 and FLINT_INTERLEAVED4 apply to weight type `type`, else 0. */
FLINT_EXPORT(flint_interleave_supported) int flint_interleave_supported(int type) {
  const qtype *t = qtype_get(type);
  return t && t->dot4 ? 1 : 0;
}

/*
 * Rewrites n_rows row-major rows at w in place into groups of four interleaved rows (see
 * FLINT_INTERLEAVED4). n_rows must be a multiple of 4 and row_stride_bytes a whole number
 * of blocks; tmp must hold 4·row_stride_bytes bytes. Afterwards pass type |
 * FLINT_INTERLEAVED4 with the same row_stride_bytes to flint_matvec, flint_matmul and
 * flint_get_rows.
 */
FLINT_EXPORT(flint_repack_rows4)
int flint_repack_rows4(int type, void *w, size_t row_stride_bytes, int n_rows, void *tmp) {
  const qtype *t = qtype_get(type);
  if (!t || !t->dot4) return FLINT_E_TYPE;
  if (n_rows < 0 || n_rows % 4 != 0 || row_stride_bytes % (size_t)t->type_size != 0) {
    return FLINT_E_SIZE;
  }
  size_t ts = (size_t)t->type_size, n_blocks = row_stride_bytes / ts;
  for (int g = 0; g < n_rows / 4; g++) {
    uint8_t *group = (uint8_t *)w + (size_t)g * 4 * row_stride_bytes;
    __builtin_memcpy(tmp, group, 4 * row_stride_bytes);
    for (size_t b = 0; b < n_blocks; b++) {
      for (size_t j = 0; j < 4; j++) {
        __builtin_memcpy(group + (4 * b + j) * ts, (const uint8_t *)tmp + j * row_stride_bytes + b * ts,
                         ts);
      }
    }
  }
  return FLINT_OK;
}

/* 1 when flint_repack_segments and FLINT_SEGMENTED apply to weight type `type`, else 0. */
FLINT_EXPORT(flint_segments_supported) int flint_segments_supported(int type) {
  const qtype *t = qtype_get(type);
  return t && t->dot_part ? 1 : 0;
}

/*
 * Rewrites n_rows row-major rows of n_cols weights at w in place into the FLINT_SEGMENTED
 * layout. n_rows must be a multiple of SEGMENT_ROWS (16) and row_stride_bytes exactly
 * one row; tmp must hold SEGMENT_ROWS·row_stride_bytes bytes. Afterwards pass type |
 * FLINT_SEGMENTED with the same row_stride_bytes to flint_matvec, flint_matmul and
 * flint_get_rows.
 */
FLINT_EXPORT(flint_repack_segments)
int flint_repack_segments(int type, void *w, size_t row_stride_bytes, int n_cols, int n_rows,
                          void *tmp) {
  const qtype *t = qtype_get(type);
  if (!t || !t->dot_part) return FLINT_E_TYPE;
  int err = check_rows(t, n_cols, 0, 0);
  if (err) return err;
  size_t ts = (size_t)t->type_size;
  int n_blocks = n_cols / t->block;
  if (n_rows < 0 || n_rows % SEGMENT_ROWS != 0 || row_stride_bytes != (size_t)n_blocks * ts) {
    return FLINT_E_SIZE;
  }
  for (int g = 0; g < n_rows / SEGMENT_ROWS; g++) {
    uint8_t *group = (uint8_t *)w + (size_t)g * SEGMENT_ROWS * row_stride_bytes;
    __builtin_memcpy(tmp, group, SEGMENT_ROWS * row_stride_bytes);
    for (int b0 = 0; b0 < n_blocks; b0 += SEGMENT_BLOCKS) {
      int nb = n_blocks - b0 < SEGMENT_BLOCKS ? n_blocks - b0 : SEGMENT_BLOCKS;
      for (int j = 0; j < SEGMENT_ROWS; j++) {
        __builtin_memcpy(group + segment_offset(ts, n_blocks, b0, j),
                         (const uint8_t *)tmp + (size_t)j * row_stride_bytes + (size_t)b0 * ts,
                         (size_t)nb * ts);
      }
    }
  }
  return FLINT_OK;
}

/* 1 when flint_repack_lanes and FLINT_LANES apply to weight type `type`, else 0. */
FLINT_EXPORT(flint_lanes_supported) int flint_lanes_supported(int type) {
  return type == T_Q2_K || type == T_Q3_K || type == T_Q4_K || type == T_Q5_K || type == T_Q6_K;
}

/*
 * Rewrites n_blocks Q2_K, Q3_K, Q4_K, Q5_K or Q6_K blocks at w in place into the lanes
 * layout. Afterwards pass type | FLINT_LANES (plus any row layout flag) to every kernel,
 * including flint_quantize_row for the activations.
 */
FLINT_EXPORT(flint_repack_lanes) int flint_repack_lanes(int type, void *w, size_t n_blocks) {
  if (type == T_Q4_K) {
    repack_q4_K_lanes(w, n_blocks);
  } else if (type == T_Q2_K) {
    repack_q2_K_lanes(w, n_blocks);
  } else if (type == T_Q3_K) {
    repack_q3_K_lanes(w, n_blocks);
  } else if (type == T_Q6_K) {
    repack_q6_K_lanes(w, n_blocks);
  } else if (type == T_Q5_K) {
    repack_q5_K_lanes(w, n_blocks);
  } else {
    return FLINT_E_TYPE;
  }
  return FLINT_OK;
}
