/* Products with bfloat16 weights: C[m×n] = alpha·A·P + beta·C where P (k×n) is stored as bf16
 * (rounded to nearest even once, when packed) in panels of CLK_NR columns, and A and the
 * accumulation stay fp32. For generation: a batch-1 step reads every weight once, so storing
 * them in 16 bits halves the bytes each character costs. Each C element is reduced in k order
 * by one task: results do not depend on the thread count. */
#include "internal.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define BF16_MAGIC 0x4b4c4332u /* "2CLK" */


size_t clk_packed_bf16_bytes(long k, long n) { return clk_packed_size(k, n, sizeof(uint16_t)); }

static uint16_t *bf16_data(void *packed) { return clk_packed_payload(packed); }

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
        panel[r * CLK_NR + j] = clk_bf16_bits(v);
      }
  }
}

/* acc[i][0..31] = Σ_p a[i][p]·P[p][0..31] for rows i < mr of one panel (portable). */
static void panel_portable(int mr, long k, const float *a, long lda, const uint16_t *pp, float *acc) {
  for (int i = 0; i < mr; i++) {
    float s[CLK_NR] = {0};
    const float *ar = a + i * lda;
    for (long p = 0; p < k; p++) {
      float av = ar[p];
      const uint16_t *row = pp + p * CLK_NR;
      for (int j = 0; j < CLK_NR; j++) s[j] += av * clk_bf16_value(row[j]);
    }
    memcpy(acc + i * CLK_NR, s, sizeof s);
  }
}

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
static inline __m256 widen(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }

/* Two rows at a time: 8 accumulators; one row: the same sums in the same k order. */
static void panel_avx2(int mr, long k, const float *a, long lda, const uint16_t *pp, float *acc) {
  for (int i0 = 0; i0 < mr; i0 += 2) {
    const int two = i0 + 1 < mr;
    const float *a0 = a + i0 * lda, *a1 = two ? a0 + lda : a0;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    for (long p = 0; p < k; p++) {
      const __m128i *row = (const __m128i *)(pp + p * CLK_NR);
      __m256 b0 = widen(_mm_load_si128(row)), b1 = widen(_mm_load_si128(row + 1));
      __m256 b2 = widen(_mm_load_si128(row + 2)), b3 = widen(_mm_load_si128(row + 3));
      __m256 x0 = _mm256_broadcast_ss(a0 + p), x1 = _mm256_broadcast_ss(a1 + p);
      c00 = _mm256_fmadd_ps(x0, b0, c00); c01 = _mm256_fmadd_ps(x0, b1, c01);
      c02 = _mm256_fmadd_ps(x0, b2, c02); c03 = _mm256_fmadd_ps(x0, b3, c03);
      c10 = _mm256_fmadd_ps(x1, b0, c10); c11 = _mm256_fmadd_ps(x1, b1, c11);
      c12 = _mm256_fmadd_ps(x1, b2, c12); c13 = _mm256_fmadd_ps(x1, b3, c13);
    }
    float *r0 = acc + i0 * CLK_NR;
    _mm256_storeu_ps(r0, c00); _mm256_storeu_ps(r0 + 8, c01);
    _mm256_storeu_ps(r0 + 16, c02); _mm256_storeu_ps(r0 + 24, c03);
    if (two) {
      float *r1 = r0 + CLK_NR;
      _mm256_storeu_ps(r1, c10); _mm256_storeu_ps(r1 + 8, c11);
      _mm256_storeu_ps(r1 + 16, c12); _mm256_storeu_ps(r1 + 24, c13);
    }
  }
}
#pragma clang attribute pop
#endif

typedef void (*panel_fn)(int mr, long k, const float *a, long lda, const uint16_t *pp, float *acc);

typedef struct {
  panel_fn fn;
  long m, n, k, lda, ldc, per_task;
  float alpha, beta;
  const float *a;
  const uint16_t *data;
  float *c;
} bf16_job;

#define BF16_ROWS 8 /* rows of A per block */

static void bf16_task(void *vctx, long t) {
  const bf16_job *J = vctx;
  long np = clk_npanels(J->n), p0 = t * J->per_task, p1 = p0 + J->per_task < np ? p0 + J->per_task : np;
  float acc[BF16_ROWS * CLK_NR];
  for (long i0 = 0; i0 < J->m; i0 += BF16_ROWS) {
    int mr = (int)(J->m - i0 < BF16_ROWS ? J->m - i0 : BF16_ROWS);
    for (long p = p0; p < p1; p++) {
      J->fn(mr, J->k, J->a + i0 * J->lda, J->lda, J->data + p * J->k * CLK_NR, acc);
      long j0 = p * CLK_NR, w = J->n - j0 < CLK_NR ? J->n - j0 : CLK_NR;
      for (int i = 0; i < mr; i++) {
        float *cr = J->c + (i0 + i) * J->ldc + j0;
        for (long j = 0; j < w; j++) {
          float v = J->alpha * acc[i * CLK_NR + j];
          cr[j] = J->beta == 0 ? v : v + J->beta * cr[j];
        }
      }
    }
  }
}

int clk_sgemm_packed_bf16(long m, long n, long k, float alpha, const float *a, long lda,
                          const void *packed, float beta, float *c, long ldc) {
  clk_pack_header h;
  memcpy(&h, packed, sizeof h);
  if (h.magic != BF16_MAGIC || h.k != k || h.n != n) return -1;
  if (m <= 0 || n <= 0) return 0;
  panel_fn fn = panel_portable;
#if defined(__x86_64__)
  if (clk_current_isa() >= CLK_ISA_AVX2) fn = panel_avx2;
#endif
  /* Tasks of a fixed number of panels (a function of the shape only). */
  long np = clk_npanels(n), per = np >= 16 ? (np + 7) / 8 : 1;
  bf16_job J = {fn, m, n, k, lda, ldc, per, alpha, beta, a,
                (const uint16_t *)((const char *)packed + h.data_offset), c};
  clk_parallel_for((np + per - 1) / per, 2.0 * m * n * k, bf16_task, &J);
  return 0;
}
