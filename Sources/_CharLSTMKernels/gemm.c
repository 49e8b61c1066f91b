/* SGEMM driver (BLIS/GotoBLAS style). op(B) is packed into panels of CLK_NR columns
 * (panel-major, each panel k×CLK_NR, zero padded), either once by clk_pack_b or per call into
 * thread-local scratch. The output is cut into tiles of mc×CLK_NC (mc per ISA); one task per
 * tile, each task loops over k in CLK_KC blocks, packs its A block into thread-local scratch as
 * row blocks of ≤ mrmax rows (balanced heights) and runs the microkernel over the panels.
 * Tile sizes depend only on the shape and ISA, so results do not depend on the thread count.
 * On an ISA with bf16_dot, products in bf16 precision go to gemm_dpbf16.c instead. */
#include "internal.h"
#include <string.h>



/* bf16 numerics: x rounded to the nearest bfloat16, kept in a float (low 16 bits zero). A product
 * of two such values is exact in fp32, so a GEMM over rounded operands with fp32 accumulation
 * computes what a bf16×bf16→fp32 unit does. */
static inline float round_bf16(float x) { return clk_bf16_value(clk_bf16_bits(x)); }

float clk_round_bf16(float x) { return round_bf16(x); }

/* Rounds n floats in place to bf16 values. */
static void round_bf16_run(float *x, long n) {
  for (long i = 0; i < n; i++) x[i] = round_bf16(x[i]);
}

/* Packs rows [r0, r1) of panels [p0, p1) of op(B) into dst (panel stride k*CLK_NR), rounding
 * to bf16 when `bf16`. r0 is a multiple of 16 (the transposing strips). */
static void pack_b_panels(int transB, long k, long n, const float *b, long ldb, float *dst,
                          long p0, long p1, long r0, long r1, int bf16) {
  for (long p = p0; p < p1; p++) {
    long j0 = p * CLK_NR, w = n - j0 < CLK_NR ? n - j0 : CLK_NR;
    float *d = dst + p * k * CLK_NR;
    if (!transB) {
      for (long r = r0; r < r1; r++) {
        const float *s = b + r * ldb + j0;
        float *dr = d + r * CLK_NR;
        if (w == CLK_NR) memcpy(dr, s, CLK_NR * sizeof(float));
        else {
          for (long j = 0; j < w; j++) dr[j] = s[j];
          for (long j = w; j < CLK_NR; j++) dr[j] = 0;
        }
      }
    } else {
      /* op(B)[r][j] = b[(j0+j)*ldb + r]: transpose in 16-row strips for locality. */
      for (long s0 = r0; s0 < r1; s0 += 16) {
        long rw = r1 - s0 < 16 ? r1 - s0 : 16;
        for (long j = 0; j < CLK_NR; j++) {
          if (j < w) {
            const float *s = b + (j0 + j) * ldb + s0;
            for (long r = 0; r < rw; r++) d[(s0 + r) * CLK_NR + j] = s[r];
          } else {
            for (long r = 0; r < rw; r++) d[(s0 + r) * CLK_NR + j] = 0;
          }
        }
      }
    }
    if (bf16) round_bf16_run(d + r0 * CLK_NR, (r1 - r0) * CLK_NR);
  }
}

typedef struct {
  int transB;
  long k, n, ldb;
  const float *b;
  float *dst;
  long per_task, rows_per_task, row_tasks;
  int bf16;
} pack_job;

static void pack_task(void *vctx, long t) {
  pack_job *J = vctx;
  long pt = t / J->row_tasks, rt = t % J->row_tasks;
  long np = clk_npanels(J->n), p0 = pt * J->per_task, p1 = p0 + J->per_task;
  if (p1 > np) p1 = np;
  long r0 = rt * J->rows_per_task, r1 = r0 + J->rows_per_task < J->k ? r0 + J->rows_per_task : J->k;
  pack_b_panels(J->transB, J->k, J->n, J->b, J->ldb, J->dst, p0, p1, r0, r1, J->bf16);
}

/* Tasks of 4 panels; a B of few panels but many rows (the weight gradients' B = X or H_prev,
 * k = T·B rows) is also cut into pieces of 256 rows, so that it is not packed by one thread
 * alone. A copy: the pieces change no value. */
static void pack_b_parallel(int transB, long k, long n, const float *b, long ldb, float *dst,
                            int bf16) {
  long np = clk_npanels(n);
  pack_job J = {transB, k, n, ldb, b, dst, 4, k, 1, bf16};
  long panel_tasks = (np + J.per_task - 1) / J.per_task;
  if (panel_tasks < 8 && k >= 512) {
    J.rows_per_task = 256;
    J.row_tasks = (k + 255) / 256;
  }
  clk_parallel_for(panel_tasks * J.row_tasks, (double)k * n * 8, pack_task, &J);
}

size_t clk_packed_bytes(long k, long n) { return clk_packed_size(k, n, sizeof(float)); }

static float *packed_data(void *packed) { return clk_packed_payload(packed); }

/* 1 when products in bf16 precision made from this thread run on VDPBF16PS. */
static int dp_path(void) {
  return clk_current_precision() == CLK_PREC_BF16 && clk_ops()->bf16_dot;
}

void clk_pack_b(int transB, long k, long n, const float *b, long ldb, void *packed) {
#if defined(__x86_64__)
  if (dp_path()) { clk_dp_pack_b(transB, k, n, b, ldb, packed); return; }
#endif
  clk_pack_header h = {CLK_PACK_MAGIC, 0, k, n};
  float *data = packed_data(packed);
  h.data_offset = (uint32_t)((char *)data - (char *)packed);
  memcpy(packed, &h, sizeof h);
  if (k > 0 && n > 0) pack_b_parallel(transB, k, n, b, ldb, data, clk_current_precision() == CLK_PREC_BF16);
}

/* ---- compute ---------------------------------------------------------------------------- */

typedef struct {
  const clk_isa_ops *ops;
  int transA;
  int bf16; /* round A to bf16 while packing it */
  long m, n, k, lda, ldc;
  float alpha, beta;
  const float *a;
  const float *bp;
  float *c;
  long n_ic;
  long nc; /* columns per task tile (multiple of CLK_NR, or ≥ n) */
} gemm_job;

/* Row blocks of one task tile: row_blocks splits a tile of mc ≤ ops->mc rows into
 * nb = ceil(mc / mrmax) blocks, so a tile has at most ceil(ops->mc / ops->mrmax) blocks. The
 * per-ISA values live in the ISA tables (ukr_*.c), which this file cannot see at compile time;
 * they are restated here so that any change to them that would overflow `hs[]` / `bdst[]`
 * must come with a change to this bound:
 *   avx512 (ukr_avx512.c)            mc 140, mrmax 14 → 10 blocks
 *   avx2 (ukr_avx2.c)                mc 144, mrmax 6  → 24 blocks
 *   portable on x86 (ukr_portable.c) mc 128, mrmax 2  → 64 blocks (the largest)
 *   portable on arm64                mc 128, mrmax 4  → 32 blocks
 * Each block is 1 ≤ height ≤ mrmax ≤ CLK_MRMAX rows (heights differ by ≤ 1). */
#define CLK_ROW_BLOCKS(mc, mrmax) (((mc) + (mrmax) - 1) / (mrmax))
_Static_assert(CLK_ROW_BLOCKS(140, 14) <= CLK_MAX_ROW_BLOCKS, "avx512 tile has more row blocks than hs[]/bdst[] hold");
_Static_assert(CLK_ROW_BLOCKS(144, 6) <= CLK_MAX_ROW_BLOCKS, "avx2 tile has more row blocks than hs[]/bdst[] hold");
_Static_assert(CLK_ROW_BLOCKS(128, 2) <= CLK_MAX_ROW_BLOCKS, "portable (x86) tile has more row blocks than hs[]/bdst[] hold");
_Static_assert(CLK_ROW_BLOCKS(128, 4) <= CLK_MAX_ROW_BLOCKS, "portable (arm64) tile has more row blocks than hs[]/bdst[] hold");
_Static_assert(14 <= CLK_MRMAX && 6 <= CLK_MRMAX && 4 <= CLK_MRMAX, "a block height exceeds CLK_MRMAX (src[], tmp[])");

/* dst[0, n) = src[0, n) for a block height n ≤ CLK_MRMAX: constant-size copies for the common
 * heights (the scalar loop here was most of gemm_task's 8.8% of `perf record` samples for
 * `charlstm bench train --threads 1`, 2×128: the weight gradients' transposed-A packing). */
static inline void copy_run(float *restrict dst, const float *restrict src, int n) {
  switch (n) {
  case 6: memcpy(dst, src, 6 * sizeof(float)); break;
  case 5: memcpy(dst, src, 5 * sizeof(float)); break;
  case 4: memcpy(dst, src, 4 * sizeof(float)); break;
  case 14: memcpy(dst, src, 14 * sizeof(float)); break;
  case 13: memcpy(dst, src, 13 * sizeof(float)); break;
  default: for (int i = 0; i < n; i++) dst[i] = src[i];
  }
}

static void pack_a(const gemm_job *J, long i0, long mc, long p0, long kc, const int *hs,
                   int nb, float *dst) {
  float *const start = dst;
  if (!J->transA) {
    long row = i0;
    for (int bi = 0; bi < nb; bi++) {
      int mr = hs[bi];
      /* p outer: contiguous stores, mr sequential read streams. */
      const float *src[CLK_MRMAX];
      for (int i = 0; i < mr; i++) src[i] = J->a + (row + i) * J->lda + p0;
      for (long p = 0; p < kc; p++) {
        if ((p & 15) == 0)
          for (int i = 0; i < mr; i++) __builtin_prefetch(src[i] + p + 48);
        for (int i = 0; i < mr; i++) dst[p * mr + i] = src[i][p];
      }
      dst += (long)mr * kc;
      row += mr;
    }
  } else {
    /* A stored k×m: each p is one contiguous run of mc values. Rows are far apart (a large
     * lda defeats the hardware prefetchers), so prefetch a few rows ahead. */
    float *bdst[CLK_MAX_ROW_BLOCKS];
    float *d = dst;
    for (int bi = 0; bi < nb; bi++) {
      bdst[bi] = d;
      d += (long)hs[bi] * kc;
    }
    for (long p = 0; p < kc; p++) {
      const float *s = J->a + (p0 + p) * J->lda + i0;
      if (p + 6 < kc) {
        const char *pf = (const char *)(s + 6 * J->lda);
        for (long off = 0; off < mc * (long)sizeof(float); off += 64) __builtin_prefetch(pf + off);
      }
      for (int bi = 0; bi < nb; bi++) {
        int mr = hs[bi];
        copy_run(bdst[bi] + p * mr, s, mr);
        s += mr;
      }
    }
  }
  if (J->bf16) round_bf16_run(start, mc * kc);
}

static void gemm_task(void *vctx, long t) {
  const gemm_job *J = vctx;
  const clk_isa_ops *ops = J->ops;
  long ic = t % J->n_ic, jc = t / J->n_ic;
  long i0 = ic * ops->mc, mc = J->m - i0 < ops->mc ? J->m - i0 : ops->mc;
  long j0 = jc * J->nc, j1 = j0 + J->nc < J->n ? j0 + J->nc : J->n;
  int hs[CLK_MAX_ROW_BLOCKS];
  int nb = clk_row_blocks(mc, ops->mrmax, hs);
  long kmax = J->k < CLK_KC ? J->k : CLK_KC;
  float *abuf = clk_scratch(0, (size_t)ops->mc * kmax);
  /* Row-major A is read in place when the ISA has kernels for it (no packing copy); bf16
   * numerics always pack it, rounding as they go. */
  const int in_place = !J->transA && !J->bf16 && ops->ukr_rm[1] != NULL;
  for (long p0 = 0; p0 < J->k; p0 += CLK_KC) {
    long kc = J->k - p0 < CLK_KC ? J->k - p0 : CLK_KC;
    if (!in_place) pack_a(J, i0, mc, p0, kc, hs, nb, abuf);
    float beta = p0 == 0 ? J->beta : 1.0f;
    for (long jr = j0; jr < j1; jr += CLK_NR) {
      long nr = J->n - jr < CLK_NR ? J->n - jr : CLK_NR;
      const float *bs = J->bp + (jr / CLK_NR) * J->k * CLK_NR + p0 * CLK_NR;
      const float *ap = abuf;
      long row = i0;
      for (int bi = 0; bi < nb; bi++) {
        int mr = hs[bi];
        long as = mr;
        const clk_ukr_fn *uk = ops->ukr, *uk16 = ops->ukr16;
        if (in_place) {
          ap = J->a + row * J->lda + p0;
          as = J->lda;
          uk = ops->ukr_rm;
          uk16 = ops->ukr16_rm;
        }
        float *cp = J->c + row * J->ldc + jr;
        if (nr == CLK_NR) {
          uk[mr](kc, ap, as, bs, cp, J->ldc, J->alpha, beta);
        } else {
          float tmp[CLK_MRMAX * CLK_NR];
          (nr <= 16 ? uk16 : uk)[mr](kc, ap, as, bs, tmp, CLK_NR, 1.0f, 0.0f);
          for (int i = 0; i < mr; i++)
            for (long j = 0; j < nr; j++) {
              float v = J->alpha * tmp[i * CLK_NR + j];
              cp[i * J->ldc + j] = beta == 0 ? v : v + beta * cp[i * J->ldc + j];
            }
        }
        ap += (long)mr * kc;
        row += mr;
      }
    }
  }
}

static void scale_c(long m, long n, float beta, float *c, long ldc) {
  for (long i = 0; i < m; i++) {
    float *r = c + i * ldc;
    if (beta == 0) memset(r, 0, (size_t)n * sizeof(float));
    else if (beta != 1)
      for (long j = 0; j < n; j++) r[j] *= beta;
  }
}

static void run_gemm(int transA, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *bp, float beta, float *c, long ldc) {
  const int bf16 = clk_current_precision() == CLK_PREC_BF16;
  gemm_job J = {clk_ops(), transA, bf16, m, n, k, lda, ldc, alpha, beta, a, bp, c, 0, 0};
  J.n_ic = (m + J.ops->mc - 1) / J.ops->mc;
  /* Many row blocks: one task per row block over all columns, so each A block is packed
   * once. Few row blocks (small m, e.g. the recurrent product): split the columns too.
   * Depends on the shape only, never on the thread count. */
  J.nc = J.n_ic >= 8 ? n : CLK_NC;
  /* A read in place (no per-task packing): few row blocks are cheap to split into ~4 column
   * tiles of whole panels, so the recurrent products (m = B) give every thread work. Each C
   * element is still computed by the same kernel in the same order: bit-identical. */
  if (J.n_ic < 8 && !transA && !bf16 && J.ops->ukr_rm[1] != NULL) {
    long per = (n + 3) / 4;
    per = (per + CLK_NR - 1) / CLK_NR * CLK_NR;
    if (per < J.nc) J.nc = per;
  }
  long n_jc = (n + J.nc - 1) / J.nc;
  clk_parallel_for(J.n_ic * n_jc, 2.0 * m * n * k, gemm_task, &J);
}

void clk_sgemm(int transA, int transB, long m, long n, long k, float alpha, const float *a,
               long lda, const float *b, long ldb, float beta, float *c, long ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) { scale_c(m, n, beta, c, ldc); return; }
#if defined(__x86_64__)
  if (dp_path()) { clk_dp_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return; }
#endif
  float *bp = clk_scratch(1, (size_t)k * clk_npanels(n) * CLK_NR);
  pack_b_parallel(transB, k, n, b, ldb, bp, clk_current_precision() == CLK_PREC_BF16);
  run_gemm(transA, m, n, k, alpha, a, lda, bp, beta, c, ldc);
}

int clk_sgemm_packed(long m, long n, long k, float alpha, const float *a, long lda,
                     const void *packed, float beta, float *c, long ldc) {
  clk_pack_header h;
  memcpy(&h, packed, sizeof h);
  if ((h.magic != CLK_PACK_MAGIC && h.magic != CLK_DP_MAGIC) || h.k != k || h.n != n) return -1;
  if (m <= 0 || n <= 0) return 0;
  if (k <= 0 || alpha == 0) { scale_c(m, n, beta, c, ldc); return 0; }
#if defined(__x86_64__)
  /* Packed in bf16 pairs (only ever on a CPU with VDPBF16PS): the products follow the matrix. */
  if (h.magic == CLK_DP_MAGIC) { clk_dp_sgemm_packed(m, n, k, alpha, a, lda, packed, beta, c, ldc); return 0; }
#endif
  const float *bp = (const float *)((const char *)packed + h.data_offset);
  run_gemm(0, m, n, k, alpha, a, lda, bp, beta, c, ldc);
  return 0;
}
