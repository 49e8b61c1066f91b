/* Products with bfloat16 weights: C[m×n] = alpha·A·P + beta·C where P (k×n) is stored as bf16
 * (rounded to nearest even once, when packed) in panels of CLK_NR columns (interleaved in
 * 16s, see slot_of), and A and the accumulation stay fp32. For generation: a batch-1 step
 * reads every weight once, so storing them in 16 bits halves the bytes each character costs.
 * Each C element is reduced in k order by one task, from zero, one multiply-add per k step
 * (fused on AVX2, separate on the portable path), whatever kernel or row block computes it: a
 * row's result depends neither on the thread count nor on the other rows (how many, which row
 * it is). */
#include "internal.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define BF16_MAGIC 0x4b4c4332u /* "2CLK" */
#define BF16_MRMAX 6        /* tallest row block of any ISA */
#define BF16_MAX_BLOCKS 64  /* row blocks per pass over the panels */
#define BF16_KC 128         /* panel rows per k chunk: 8 KB of bf16 */
#define BF16_GROUP 3        /* row blocks that share one pass over a k chunk */


size_t clk_packed_bf16_bytes(long k, long n) { return clk_packed_size(k, n, sizeof(uint16_t)); }

static uint16_t *bf16_data(void *packed) { return clk_packed_payload(packed); }

/* Within each panel row, every 16 columns are interleaved: column h+c (c < 8) at h+2c and
 * column h+8+c at h+2c+1, so one 256-bit load widens to the two 8-column vectors with a shift
 * (the even positions) and a mask (the odd ones) — two cheap operations instead of two
 * zero-extensions and two shifts. */
static inline long slot_of(long j) {
  long h = j & ~15L, c = j & 15;
  return h + (c < 8 ? 2 * c : 2 * (c - 8) + 1);
}

void clk_pack_b_bf16(int transB, long k, long n, const float *b, long ldb, void *packed) {
  clk_pack_header h = {BF16_MAGIC, 0, k, n};
  uint16_t *d = bf16_data(packed);
  h.data_offset = (uint32_t)((char *)d - (char *)packed);
  memcpy(packed, &h, sizeof h);
  for (long p = 0; p < clk_npanels(n); p++) {
    long j0 = p * CLK_NR;
    uint16_t *panel = d + p * k * CLK_NR;
    for (long r = 0; r < k; r++)
      for (long j = 0; j < CLK_NR; j++) {
        float v = j0 + j < n ? (transB ? b[(j0 + j) * ldb + r] : b[r * ldb + j0 + j]) : 0.0f;
        panel[r * CLK_NR + slot_of(j)] = clk_bf16_bits(v);
      }
  }
}

/* acc[0..31] (+)= Σ_p a[p]·P[p][0..31] for one row of A and one panel, in k order, from zero
 * when `first` (portable). */
static void panel_row_portable(long k, const float *a, const uint16_t *pp, float *acc, int first) {
  float s[CLK_NR] = {0};
  if (!first) memcpy(s, acc, sizeof s);
  for (long p = 0; p < k; p++) {
    float av = a[p];
    const uint16_t *row = pp + p * CLK_NR;
    for (int j = 0; j < CLK_NR; j++) s[j] += av * clk_bf16_value(row[slot_of(j)]);
  }
  memcpy(acc, s, sizeof s);
}

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
/* The 16 interleaved bf16 values at h as fp32: columns 0–7 (*lo) and 8–15 (*hi). */
static inline void widen16(const uint16_t *h, __m256 *lo, __m256 *hi) {
  __m256i v = _mm256_load_si256((const __m256i *)h);
  *lo = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  *hi = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
}

/* acc[i][h..h+15] (+)= Σ_p a[i][p]·P[p][h..h+15] for MR ≤ 6 rows and the 16 columns of the
 * panel that start at h: 2·MR accumulators, each 16-column row of the panel widened once for
 * all MR rows; `first` starts the sums from zero, else they go on from acc (the same sums in
 * the same order as one pass over all of k). */
static inline __attribute__((always_inline)) void half_avx2(const int MR, long k, const float *a, long lda,
                                                            const uint16_t *pp, float *acc, int first) {
  __m256 c0[6], c1[6];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
    c0[i] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(acc + i * CLK_NR);
    c1[i] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(acc + i * CLK_NR + 8);
  }
  for (long p = 0; p < k; p++) {
    __m256 b0, b1;
    widen16(pp + p * CLK_NR, &b0, &b1);
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      __m256 x = _mm256_broadcast_ss(a + i * lda + p);
      c0[i] = _mm256_fmadd_ps(x, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(x, b1, c1[i]);
    }
  }
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
    _mm256_storeu_ps(acc + i * CLK_NR, c0[i]);
    _mm256_storeu_ps(acc + i * CLK_NR + 8, c1[i]);
  }
}

#define BF16_BLOCK(MR)                                                                                   \
  static void block_avx2_##MR(long k, const float *a, long lda, const uint16_t *pp, float *acc, int first) { \
    half_avx2(MR, k, a, lda, pp, acc, first);                                                            \
    half_avx2(MR, k, a, lda, pp + 16, acc + 16, first);                                                  \
  }
BF16_BLOCK(1) BF16_BLOCK(2) BF16_BLOCK(3) BF16_BLOCK(4) BF16_BLOCK(5) BF16_BLOCK(6)

/* One row over two panels (64 columns, 8 accumulators): a single stream's step keeps enough
 * independent sums in flight to hide the FMA latency. */
static void pair_avx2(long k, const float *a, const uint16_t *p0, const uint16_t *p1, float *acc) {
  __m256 c[8];
  for (int j = 0; j < 8; j++) c[j] = _mm256_setzero_ps();
  for (long p = 0; p < k; p++) {
    __m256 x = _mm256_broadcast_ss(a + p);
    const uint16_t *r0 = p0 + p * CLK_NR, *r1 = p1 + p * CLK_NR;
    __m256 b[8];
    widen16(r0, &b[0], &b[1]);
    widen16(r0 + 16, &b[2], &b[3]);
    widen16(r1, &b[4], &b[5]);
    widen16(r1 + 16, &b[6], &b[7]);
    for (int j = 0; j < 8; j++) c[j] = _mm256_fmadd_ps(x, b[j], c[j]);
  }
  for (int j = 0; j < 8; j++) _mm256_storeu_ps(acc + 8 * j, c[j]);
}
#pragma clang attribute pop
#endif

/* The portable versions: the same sums, in the same k order. */
static void block_portable(int mr, long k, const float *a, long lda, const uint16_t *pp, float *acc, int first) {
  for (int i = 0; i < mr; i++) panel_row_portable(k, a + i * lda, pp, acc + i * CLK_NR, first);
}

static void pair_portable(long k, const float *a, const uint16_t *p0, const uint16_t *p1, float *acc) {
  panel_row_portable(k, a, p0, acc, 1);
  panel_row_portable(k, a, p1, acc + CLK_NR, 1);
}

typedef void (*block_fn)(long k, const float *a, long lda, const uint16_t *pp, float *acc, int first);

typedef struct {
  const char *name;
  int mrmax;                       /* row blocks of 1..mrmax rows */
  block_fn block[BF16_MRMAX + 1];  /* acc[mr][32] of one panel (portable: NULL, see below) */
  void (*pair)(long k, const float *a, const uint16_t *p0, const uint16_t *p1, float *acc);
} bf16_ops;

typedef struct {
  const bf16_ops *ops;
  long m, n, k, lda, ldc, per_task;
  int nb;
  int heights[BF16_MAX_BLOCKS];
  float alpha, beta;
  const float *a;
  const uint16_t *data;
  float *c;
} bf16_job;

/* C[rows][j0..j0+w) = alpha·acc + beta·C: one place, the same for every kernel. */
static void store_rows(const bf16_job *J, long row, int mr, long j0, long w, const float *restrict acc, long ldacc) {
  const float alpha = J->alpha, beta = J->beta;
  for (int i = 0; i < mr; i++) {
    float *restrict cr = J->c + (row + i) * J->ldc + j0;
    const float *restrict ar = acc + i * ldacc;
    if (beta == 0)
      for (long j = 0; j < w; j++) cr[j] = alpha * ar[j];
    else
      for (long j = 0; j < w; j++) cr[j] = alpha * ar[j] + beta * cr[j];
  }
}

static void bf16_task(void *vctx, long t) {
  const bf16_job *J = vctx;
  long np = clk_npanels(J->n), p0 = t * J->per_task, p1 = p0 + J->per_task < np ? p0 + J->per_task : np;
  float *acc = clk_scratch(0, (size_t)(J->m > 2 ? J->m : 2) * CLK_NR);
  for (long p = p0; p < p1; p++) {
    const uint16_t *pp = J->data + p * J->k * CLK_NR;
    long j0 = p * CLK_NR;
    if (J->m == 1 && p + 1 < p1) {
      /* One stream: two panels per pass. */
      J->ops->pair(J->k, J->a, pp, pp + J->k * CLK_NR, acc);
      long w = J->n - j0 < 2 * CLK_NR ? J->n - j0 : 2 * CLK_NR;
      store_rows(J, 0, 1, j0, w, acc, 2 * CLK_NR);
      p++;
      continue;
    }
    /* Rows in groups of BF16_GROUP blocks; for each group, k in chunks of BF16_KC panel rows
     * (8 KB), every block of the group over each chunk while the chunk and the group's part of
     * A (≤ 18 rows × 512 bytes) are in L1; the sums carry over from chunk to chunk in acc. */
    for (int g0 = 0, row0 = 0; g0 < J->nb; g0 += BF16_GROUP) {
      int g1 = g0 + BF16_GROUP < J->nb ? g0 + BF16_GROUP : J->nb;
      int row = row0;
      for (long q0 = 0; q0 < J->k; q0 += BF16_KC) {
        long kc = J->k - q0 < BF16_KC ? J->k - q0 : BF16_KC;
        row = row0;
        for (int b = g0; b < g1; b++) {
          int mr = J->heights[b];
          const float *a = J->a + row * J->lda + q0;
          float *ab = acc + row * CLK_NR;
          if (J->ops->block[mr]) J->ops->block[mr](kc, a, J->lda, pp + q0 * CLK_NR, ab, q0 == 0);
          else block_portable(mr, kc, a, J->lda, pp + q0 * CLK_NR, ab, q0 == 0);
          row += mr;
        }
      }
      row0 = row;
    }
    long w = J->n - j0 < CLK_NR ? J->n - j0 : CLK_NR;
    store_rows(J, 0, (int)J->m, j0, w, acc, CLK_NR);
  }
}

static const bf16_ops ops_portable = {"portable", 4, {0}, pair_portable};
#if defined(__x86_64__)
static const bf16_ops ops_avx2 = {
    "avx2", 6, {0, block_avx2_1, block_avx2_2, block_avx2_3, block_avx2_4, block_avx2_5, block_avx2_6}, pair_avx2};
#endif

int clk_sgemm_packed_bf16(long m, long n, long k, float alpha, const float *a, long lda,
                          const void *packed, float beta, float *c, long ldc) {
  clk_pack_header h;
  memcpy(&h, packed, sizeof h);
  if (h.magic != BF16_MAGIC || h.k != k || h.n != n) return -1;
  if (m <= 0 || n <= 0) return 0;
  if (k <= 0) {
    /* An empty sum: C = beta·C. */
    for (long i = 0; i < m; i++)
      for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0.0f : beta * c[i * ldc + j];
    return 0;
  }
  const bf16_ops *ops = &ops_portable;
#if defined(__x86_64__)
  if (clk_current_isa() >= CLK_ISA_AVX2) ops = &ops_avx2;
#endif
  /* Tasks of a fixed number of panels (a function of the shape only); rows are cut into the
   * fewest blocks of at most mrmax rows, heights differing by at most one. */
  long np = clk_npanels(n), per = np >= 16 ? (np + 7) / 8 : 1;
  bf16_job J = {ops, m, n, k, lda, ldc, per, 0, {0}, alpha, beta, a,
                (const uint16_t *)((const char *)packed + h.data_offset), c};
  for (long row = 0; row < m;) {
    /* Chunks of at most BF16_MAX_BLOCKS blocks: a very tall A is run chunk by chunk. */
    long rows = m - row;
    long cap = (long)BF16_MAX_BLOCKS * ops->mrmax;
    if (rows > cap) rows = cap;
    int nb = (int)((rows + ops->mrmax - 1) / ops->mrmax);
    for (int b = 0; b < nb; b++) J.heights[b] = (int)(rows / nb + (b < rows % nb));
    J.nb = nb;
    J.m = rows;
    J.a = a + row * lda;
    J.c = c + row * ldc;
    clk_parallel_for((np + per - 1) / per, 2.0 * rows * n * k, bf16_task, &J);
    row += rows;
  }
  return 0;
}
