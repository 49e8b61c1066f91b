/* bf16 matrix products on AVX512-BF16: C[m×n] = alpha·op(A)·op(B) + beta·C with both operands
 * rounded to bfloat16 (nearest even, exactly as clk_round_bf16) and fp32 accumulation, on
 * VDPBF16PS — 32 multiply-adds per instruction, twice the fp32 FMA rate on Zen 4/5.
 *
 * Layout: VDPBF16PS multiplies pairs. Lane j of a zmm holds two bf16 (low half: k = 2q, high
 * half: k = 2q + 1) and adds both products into fp32 lane j. So both operands are packed in
 * k pairs, one uint32 per (pair q, column or row):
 *   B (k×n): panels of CLK_NR = 32 columns; pair row q of a panel is 32 uint32 (two zmm), at
 *            panel + q·32. A panel holds ceil(k/2) pair rows; an odd k's last pair is (x, 0).
 *   A (m×k): per task, blocks of ≤ DP_MR rows by ≤ DP_KC k values; rows of a block are read by
 *            broadcasting one uint32 per row and pair. A row-major A is packed row by row
 *            (pairs contiguous along k: element (i, q) at i·kq + q), a transposed A pair by
 *            pair (element (i, q) at q·mr + i), whichever the source makes contiguous.
 * Driver as gemm.c: the output is cut into tiles of DP_MC rows × (all columns, or DP_NC when
 * there are few row tiles); one task per tile, each reduces its elements over k in DP_KC
 * blocks, in the same order whatever the thread count — results are bit-identical for any
 * number of threads. Weights packed by clk_pack_b under bf16 are converted once (per window
 * in training), never per time step; a per-call A (h_t, dGates_t) is rounded while packed. */
#if defined(__x86_64__)
#include "internal.h"
#include <immintrin.h>
#include <string.h>

#define DP_MR 14   /* tallest row block: 28 accumulators + 2 B registers of 32 */
#define DP_MC 140  /* rows per task tile */
#define DP_NC 256  /* columns per task tile when there are few row tiles */
#define DP_KC 256  /* k values per block (even): a panel's block is 16 KB of B */
#define DP_MAX_BLOCKS ((DP_MC + DP_MR - 1) / DP_MR)

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,avx2,fma"))), apply_to = function)

/* ---- rounding and pairing -------------------------------------------------------------- */

/* 16 floats rounded to bf16 (ties to even; a NaN stays a quiet NaN: clk_bf16_bits), each in
 * the upper half of its 32-bit lane, the lower half zero. */
static inline __m512i round16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
  return _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
}

/* Pairs (x0[j], x1[j]) for 16 lanes: x0 (k = 2q) in the low half, x1 (k = 2q + 1) high. */
static inline __m512i pair16(__m512 x0, __m512 x1) {
  return _mm512_or_si512(_mm512_srli_epi32(round16(x0), 16), round16(x1));
}

/* The first `len` ≤ 32 floats of a contiguous run as ceil(len/2) pairs of neighbours
 * (x[2q], x[2q+1]); missing values count as 0. */
static inline __m512i pairs_of_run(const float *x, long len) {
  __mmask16 m0 = len >= 16 ? 0xffff : (__mmask16)((1u << len) - 1);
  __mmask16 m1 = len >= 32 ? 0xffff : len <= 16 ? 0 : (__mmask16)((1u << (len - 16)) - 1);
  __m512i v0 = round16(_mm512_maskz_loadu_ps(m0, x)), v1 = round16(_mm512_maskz_loadu_ps(m1, x + 16));
  /* The upper halves (bf16) of the 32 lanes of v0:v1, in order: 16-bit elements 1, 3, …, 63. */
  const __m512i idx = _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33,
                                       31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  return _mm512_permutex2var_epi16(v0, idx, v1);
}

static inline __mmask16 first_lanes(long n) { return n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1); }

/* ---- packing B ------------------------------------------------------------------------ */

/* r[i][j] ← r[j][i]: a 16×16 transpose of 32-bit values. */
static inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
  }
}

/* Pair rows [q0, q1) of panels [p0, p1) of op(B) (k×n; B stored n×k when transB) into dst
 * (panel stride kq·32 uint32, kq = ceil(k/2)). */
static void pack_b_pairs(int transB, long k, long n, const float *b, long ldb, uint32_t *dst,
                         long p0, long p1, long q0, long q1) {
  const long kq = (k + 1) / 2;
  for (long p = p0; p < p1; p++) {
    const long j0 = p * CLK_NR, w = n - j0 < CLK_NR ? n - j0 : CLK_NR;
    uint32_t *panel = dst + p * kq * CLK_NR;
    if (!transB) {
      /* Rows 2q and 2q + 1 of B, 16 columns at a time. */
      const __mmask16 mlo = first_lanes(w), mhi = first_lanes(w - 16 > 0 ? w - 16 : 0);
      for (long q = q0; q < q1; q++) {
        const float *r0 = b + 2 * q * ldb + j0, *r1 = r0 + ldb;
        const int odd = 2 * q + 1 < k;
        __m512 a0 = _mm512_maskz_loadu_ps(mlo, r0), a1 = odd ? _mm512_maskz_loadu_ps(mlo, r1) : _mm512_setzero_ps();
        __m512 c0 = _mm512_maskz_loadu_ps(mhi, r0 + 16), c1 = odd ? _mm512_maskz_loadu_ps(mhi, r1 + 16) : _mm512_setzero_ps();
        _mm512_storeu_si512(panel + q * CLK_NR, pair16(a0, a1));
        _mm512_storeu_si512(panel + q * CLK_NR + 16, pair16(c0, c1));
      }
    } else {
      /* Column j of op(B) is row j0 + j of B: its pairs are neighbours in memory. 16 columns
       * × 16 pairs are read (one run of 32 floats per column), transposed in registers and
       * stored as 16 pair rows of 16 columns. */
      for (long jg = 0; jg < CLK_NR; jg += 16) {
        for (long q = q0; q < q1; q += 16) {
          const long len = k - 2 * q < 32 ? k - 2 * q : 32, nq = q1 - q < 16 ? q1 - q : 16;
          __m512i r[16];
          for (int c = 0; c < 16; c++)
            r[c] = jg + c < w ? pairs_of_run(b + (j0 + jg + c) * ldb + 2 * q, len) : _mm512_setzero_si512();
          transpose16(r);
          for (long t = 0; t < nq; t++) _mm512_storeu_si512(panel + (q + t) * CLK_NR + jg, r[t]);
        }
      }
    }
  }
}

typedef struct {
  int transB;
  long k, n, ldb;
  const float *b;
  uint32_t *dst;
  long panels_per_task, pairs_per_task, pair_tasks;
} dp_pack_job;

static void dp_pack_task(void *vctx, long t) {
  const dp_pack_job *J = vctx;
  long pt = t / J->pair_tasks, qt = t % J->pair_tasks;
  long np = clk_npanels(J->n), kq = (J->k + 1) / 2;
  long p0 = pt * J->panels_per_task, p1 = p0 + J->panels_per_task < np ? p0 + J->panels_per_task : np;
  long q0 = qt * J->pairs_per_task, q1 = q0 + J->pairs_per_task < kq ? q0 + J->pairs_per_task : kq;
  pack_b_pairs(J->transB, J->k, J->n, J->b, J->ldb, J->dst, p0, p1, q0, q1);
}

/* Tasks of 4 panels; a tall B of few panels (the weight gradients' X and H_prev, k = T·B) is
 * also cut into pieces of 128 pair rows (multiples of 16, the transposing runs). A copy: the
 * pieces change no value. */
static void dp_pack_b_parallel(int transB, long k, long n, const float *b, long ldb, uint32_t *dst) {
  long np = clk_npanels(n), kq = (k + 1) / 2;
  dp_pack_job J = {transB, k, n, ldb, b, dst, 4, kq, 1};
  long panel_tasks = (np + 3) / 4;
  if (panel_tasks < 8 && kq >= 256) {
    J.pairs_per_task = 128;
    J.pair_tasks = (kq + 127) / 128;
  }
  clk_parallel_for(panel_tasks * J.pair_tasks, (double)k * n * 8, dp_pack_task, &J);
}

/* ---- microkernels --------------------------------------------------------------------- */

/* C[MR×(16·W)] = alpha·Σ_q A(i, q)·B(q, ·) + beta·C over kq pairs, beta == 0 overwrites.
 * A(i, q) at a[q·as + i·rs] (uint32 pairs), B's pair row q at b + q·32 (two zmm; W = 1 uses
 * the first only). */
static inline __attribute__((always_inline)) void dp_body(const int MR, const int W, long kq,
                                                          const uint32_t *restrict a, long as, long rs,
                                                          const uint32_t *restrict b, float *restrict c,
                                                          long ldc, float alpha, float beta) {
  __m512 c0[DP_MR], c1[DP_MR];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
  }
  for (long q = 0; q < kq; q++) {
    __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = b0;
    if (W == 2) b1 = (__m512bh)_mm512_loadu_si512(b + 16);
    _mm_prefetch((const char *)(b + 8 * CLK_NR), _MM_HINT_T0);
    if (W == 2) _mm_prefetch((const char *)(b + 8 * CLK_NR + 16), _MM_HINT_T0);
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i * rs]);
      c0[i] = _mm512_dpbf16_ps(c0[i], av, b0);
      if (W == 2) c1[i] = _mm512_dpbf16_ps(c1[i], av, b1);
    }
    a += as;
    b += CLK_NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
    float *r = c + i * ldc;
    __m512 x0 = _mm512_mul_ps(va, c0[i]);
    if (beta == 1) x0 = _mm512_add_ps(x0, _mm512_loadu_ps(r));
    else if (beta != 0) x0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(r), x0);
    _mm512_storeu_ps(r, x0);
    if (W == 2) {
      __m512 x1 = _mm512_mul_ps(va, c1[i]);
      if (beta == 1) x1 = _mm512_add_ps(x1, _mm512_loadu_ps(r + 16));
      else if (beta != 0) x1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(r + 16), x1);
      _mm512_storeu_ps(r + 16, x1);
    }
  }
}

typedef void (*dp_ukr_fn)(long kq, const uint32_t *a, long rs, const uint32_t *b, float *c,
                          long ldc, float alpha, float beta);

/* Per height MR and width W: the pair-major A (as = MR, rs = 1) and the row-major A (as = 1,
 * rs = the block's pair count) variants. */
#define DP_DEF(MR)                                                                              \
  static void dpq1_##MR(long kq, const uint32_t *a, long rs, const uint32_t *b, float *c,     \
                        long ldc, float alpha, float beta) {                                    \
    (void)rs;                                                                                   \
    dp_body(MR, 1, kq, a, MR, 1, b, c, ldc, alpha, beta);                                       \
  }                                                                                             \
  static void dpq2_##MR(long kq, const uint32_t *a, long rs, const uint32_t *b, float *c,     \
                        long ldc, float alpha, float beta) {                                    \
    (void)rs;                                                                                   \
    dp_body(MR, 2, kq, a, MR, 1, b, c, ldc, alpha, beta);                                       \
  }                                                                                             \
  static void dpr1_##MR(long kq, const uint32_t *a, long rs, const uint32_t *b, float *c,     \
                        long ldc, float alpha, float beta) {                                    \
    dp_body(MR, 1, kq, a, 1, rs, b, c, ldc, alpha, beta);                                       \
  }                                                                                             \
  static void dpr2_##MR(long kq, const uint32_t *a, long rs, const uint32_t *b, float *c,     \
                        long ldc, float alpha, float beta) {                                    \
    dp_body(MR, 2, kq, a, 1, rs, b, c, ldc, alpha, beta);                                       \
  }
DP_DEF(1) DP_DEF(2) DP_DEF(3) DP_DEF(4) DP_DEF(5) DP_DEF(6) DP_DEF(7) DP_DEF(8) DP_DEF(9)
DP_DEF(10) DP_DEF(11) DP_DEF(12) DP_DEF(13) DP_DEF(14)

#define DP_ROW(P) {0, P##_1, P##_2, P##_3, P##_4, P##_5, P##_6, P##_7, P##_8, P##_9, P##_10, P##_11, P##_12, P##_13, P##_14}
/* [row-major A][W − 1][MR] */
static const dp_ukr_fn dp_ukr[2][2][DP_MR + 1] = {{DP_ROW(dpq1), DP_ROW(dpq2)}, {DP_ROW(dpr1), DP_ROW(dpr2)}};

/* ---- driver --------------------------------------------------------------------------- */

typedef struct {
  int transA;
  long m, n, k, lda, ldc;
  float alpha, beta;
  const float *a;
  const uint32_t *bp; /* packed B: panels of ceil(k/2) pair rows */
  float *c;
  long n_ic, nc;
  /* A packed once by the caller (NULL: each task packs its own): the block of row tile ic and
   * k block kb at apre + (ic·nkb + kb)·DP_MC·DP_KC/2. */
  const uint32_t *apre;
  long nkb;
} dp_job;

/* Packs rows [i0, i0 + mc) × k values [p0, p0 + kc) of op(A) into the row blocks `hs`, rounded
 * to bf16 pairs (kq = ceil(kc/2) per row; an odd kc's last pair is (x, 0)). Block bi starts at
 * dst + (rows before it)·kq. */
static void pack_a_pairs(const dp_job *J, long i0, long mc, long p0, long kc, const int *hs,
                         int nb, uint32_t *dst) {
  const long kq = (kc + 1) / 2;
  if (!J->transA) {
    /* Row-major: each row's pairs are neighbours along k. */
    for (long i = 0; i < mc; i++) {
      const float *s = J->a + (i0 + i) * J->lda + p0;
      uint32_t *d = dst + i * kq;
      for (long q = 0; q < kq; q += 16) {
        long len = kc - 2 * q < 32 ? kc - 2 * q : 32;
        _mm512_mask_storeu_epi32(d + q, first_lanes(kq - q), pairs_of_run(s + 2 * q, len));
      }
    }
  } else {
    /* A stored k×m: pair q of every block comes from storage rows p0 + 2q and p0 + 2q + 1,
     * each read once from start to end of the tile's mc values (≤ 14 per block). Rows are
     * G floats apart (far beyond the hardware prefetchers' reach): prefetch 8 rows ahead. */
    uint32_t *bdst[DP_MAX_BLOCKS];
    __mmask16 bmask[DP_MAX_BLOCKS];
    long off = 0;
    for (int bi = 0; bi < nb; bi++) {
      bdst[bi] = dst + off * kq;
      bmask[bi] = first_lanes(hs[bi]);
      off += hs[bi];
    }
    for (long q = 0; q < kq; q++) {
      const float *s0 = J->a + (p0 + 2 * q) * J->lda + i0, *s1 = s0 + J->lda;
      const int odd = 2 * q + 1 < kc;
      if (q + 4 < kq) {
        const char *f0 = (const char *)(s0 + 8 * J->lda), *f1 = (const char *)(s1 + 8 * J->lda);
        for (long b = 0; b < mc * (long)sizeof(float); b += 64) {
          _mm_prefetch(f0 + b, _MM_HINT_T0);
          _mm_prefetch(f1 + b, _MM_HINT_T0);
        }
      }
      long row = 0;
      for (int bi = 0; bi < nb; bi++) {
        const int mr = hs[bi];
        __m512 x0 = _mm512_maskz_loadu_ps(bmask[bi], s0 + row);
        __m512 x1 = odd ? _mm512_maskz_loadu_ps(bmask[bi], s1 + row) : _mm512_setzero_ps();
        _mm512_mask_storeu_epi32(bdst[bi] + q * mr, bmask[bi], pair16(x0, x1));
        row += mr;
      }
    }
  }
}

static void dp_task(void *vctx, long t) {
  const dp_job *J = vctx;
  const long ic = t % J->n_ic, jc = t / J->n_ic;
  const long i0 = ic * DP_MC, mc = J->m - i0 < DP_MC ? J->m - i0 : DP_MC;
  const long j0 = jc * J->nc, j1 = j0 + J->nc < J->n ? j0 + J->nc : J->n;
  const long kq_all = (J->k + 1) / 2;
  int hs[DP_MAX_BLOCKS];
  const int nb = clk_row_blocks(mc, DP_MR, hs);
  const long kmax = J->k < DP_KC ? J->k : DP_KC;
  uint32_t *abuf = J->apre ? NULL : (uint32_t *)clk_scratch(0, (size_t)DP_MC * ((kmax + 1) / 2));
  const int rm = !J->transA;
  for (long p0 = 0; p0 < J->k; p0 += DP_KC) {
    const long kc = J->k - p0 < DP_KC ? J->k - p0 : DP_KC, kq = (kc + 1) / 2;
    const uint32_t *ablock = abuf;
    if (J->apre) ablock = J->apre + (ic * J->nkb + p0 / DP_KC) * (DP_MC * DP_KC / 2);
    else pack_a_pairs(J, i0, mc, p0, kc, hs, nb, abuf);
    const float beta = p0 == 0 ? J->beta : 1.0f;
    for (long jr = j0; jr < j1; jr += CLK_NR) {
      const long nr = J->n - jr < CLK_NR ? J->n - jr : CLK_NR;
      const uint32_t *bs = J->bp + (jr / CLK_NR) * kq_all * CLK_NR + (p0 / 2) * CLK_NR;
      long row = 0;
      for (int bi = 0; bi < nb; bi++) {
        const int mr = hs[bi];
        const uint32_t *ap = ablock + row * kq;
        float *cp = J->c + (i0 + row) * J->ldc + jr;
        if (nr == CLK_NR) {
          dp_ukr[rm][1][mr](kq, ap, kq, bs, cp, J->ldc, J->alpha, beta);
        } else {
          float tmp[DP_MR * CLK_NR];
          dp_ukr[rm][nr <= 16 ? 0 : 1][mr](kq, ap, kq, bs, tmp, CLK_NR, 1.0f, 0.0f);
          for (int i = 0; i < mr; i++)
            for (long j = 0; j < nr; j++) {
              float v = J->alpha * tmp[i * CLK_NR + j];
              cp[i * J->ldc + j] = beta == 0 ? v : v + beta * cp[i * J->ldc + j];
            }
        }
        row += mr;
      }
    }
  }
}

static void dp_run(int transA, long m, long n, long k, float alpha, const float *a, long lda,
                   const uint32_t *bp, float beta, float *c, long ldc) {
  dp_job J = {transA, m, n, k, lda, ldc, alpha, beta, a, bp, c, (m + DP_MC - 1) / DP_MC, 0, NULL, 0};
  /* Many row tiles: one task per row tile over all columns (A packed once). Few (the
   * recurrent products, m = B): DP_NC columns per task, so every thread has work. A function
   * of the shape only. */
  J.nc = J.n_ic >= 8 ? n : DP_NC;
  long n_jc = (n + J.nc - 1) / J.nc;
  /* Several column tiles share each row tile's A: pack it once here (the same values each
   * task would pack), not once per task — for the recurrent products, 8 times per step. */
  if (n_jc > 1) {
    J.nkb = (k + DP_KC - 1) / DP_KC;
    uint32_t *apre = (uint32_t *)clk_scratch(2, (size_t)J.n_ic * J.nkb * (DP_MC * DP_KC / 2));
    int hs[DP_MAX_BLOCKS];
    for (long ic = 0; ic < J.n_ic; ic++) {
      const long i0 = ic * DP_MC, mc = m - i0 < DP_MC ? m - i0 : DP_MC;
      const int nb = clk_row_blocks(mc, DP_MR, hs);
      for (long kb = 0; kb < J.nkb; kb++) {
        const long p0 = kb * DP_KC, kc = k - p0 < DP_KC ? k - p0 : DP_KC;
        pack_a_pairs(&J, i0, mc, p0, kc, hs, nb, apre + (ic * J.nkb + kb) * (DP_MC * DP_KC / 2));
      }
    }
    J.apre = apre;
  }
  clk_parallel_for(J.n_ic * n_jc, 2.0 * m * n * k, dp_task, &J);
}

static uint32_t *dp_payload(const void *packed) { return clk_packed_payload(packed); }

void clk_dp_pack_b(int transB, long k, long n, const float *b, long ldb, void *packed) {
  clk_pack_header h = {CLK_DP_MAGIC, 0, k, n};
  uint32_t *data = dp_payload(packed);
  h.data_offset = (uint32_t)((char *)data - (char *)packed);
  memcpy(packed, &h, sizeof h);
  if (k > 0 && n > 0) dp_pack_b_parallel(transB, k, n, b, ldb, data);
}

void clk_dp_sgemm(int transA, int transB, long m, long n, long k, float alpha, const float *a,
                  long lda, const float *b, long ldb, float beta, float *c, long ldc) {
  /* ceil(k/2) pair rows of 32 uint32 per panel: no more than the fp32 panels' k rows of 32. */
  uint32_t *bp = (uint32_t *)clk_scratch(1, (size_t)((k + 1) / 2) * clk_npanels(n) * CLK_NR);
  dp_pack_b_parallel(transB, k, n, b, ldb, bp);
  dp_run(transA, m, n, k, alpha, a, lda, bp, beta, c, ldc);
}

void clk_dp_sgemm_packed(long m, long n, long k, float alpha, const float *a, long lda,
                         const void *packed, float beta, float *c, long ldc) {
  clk_pack_header h;
  memcpy(&h, packed, sizeof h);
  dp_run(0, m, n, k, alpha, a, lda, (const uint32_t *)((const char *)packed + h.data_offset), beta, c, ldc);
}

#pragma clang attribute pop
#endif
