/* Internal declarations shared by the kernel translation units. Not part of the public API. */
#ifndef CLK_INTERNAL_H
#define CLK_INTERNAL_H
#include "charlstm_kernels.h"
#include <stddef.h>
#include <stdint.h>

#define CLK_NR 32      /* packed panel width (all ISAs) */
#define CLK_KC 256     /* k blocking */
#define CLK_NC 256     /* output tile width per task (multiple of CLK_NR) */
#define CLK_MRMAX 14   /* largest microkernel height of any ISA */

/* Microkernel: C[mr×32] (row stride ldc) = alpha·A[k×mr]·Bpanel[k×32] + beta·C, beta == 0
 * overwrites. A is p-major with stride `as` (a[p*as + i]: as = mr for a packed block, = lda
 * for an unpacked transposed A), B has row stride CLK_NR. */
typedef void (*clk_ukr_fn)(long k, const float *a, long as, const float *b, float *c,
                           long ldc, float alpha, float beta);

typedef struct {
  /* The cell over rows [b0, b1) and hidden units [j0, j1) (gates [B, 4H], state [B, H]). */
  void (*lstm_fwd)(long b0, long b1, long H, long j0, long j1, float *gates,
                   const float *cPrev, float *c, float *tanhC, float *h);
  void (*lstm_bwd)(long b0, long b1, long H, long j0, long j1, const float *gates,
                   const float *cPrev, const float *tanhC, const float *dh, float *dc,
                   float *dGates);
  double (*softmax)(long r0, long r1, long cols, float *logits, const int32_t *targets,
                    float scale);
  void (*colsum)(long rows, long j0, long j1, const float *a, long lda, float *out);
  void (*vexp)(const float *x, float *y, long n);
  void (*vsigmoid)(const float *x, float *y, long n);
  void (*vtanh)(const float *x, float *y, long n);
} clk_pw_ops;

typedef struct {
  const char *name;
  int mrmax;               /* microkernel heights 1..mrmax are available */
  int mc;                  /* rows per task tile (multiple of mrmax) */
  clk_ukr_fn ukr[CLK_MRMAX + 1];
  clk_ukr_fn ukr16[CLK_MRMAX + 1]; /* same, only the first 16 columns (narrow last panel) */
  /* Optional (may be all NULL): the same products reading a row-major A in place, element
   * (i, p) at a[i*lda + p] (the `as` argument is lda). Same FMA order as the packed kernels,
   * so results are bit-identical; saves packing A. */
  clk_ukr_fn ukr_rm[CLK_MRMAX + 1];
  clk_ukr_fn ukr16_rm[CLK_MRMAX + 1];
  const clk_pw_ops *pw;
  /* 1: products in bf16 precision run on VDPBF16PS (gemm_dpbf16.c) instead of the fp32
   * kernels over rounded operands. */
  int bf16_dot;
} clk_isa_ops;

/* Panels of CLK_NR columns covering n columns. */
static inline long clk_npanels(long n) { return (n + CLK_NR - 1) / CLK_NR; }

/* Splits mc rows into the fewest blocks of ≤ mrmax rows with heights differing by ≤ 1; returns
 * the number of blocks (heights[] must hold ceil(mc / mrmax)). */
static inline int clk_row_blocks(long mc, int mrmax, int *heights) {
  int nb = (int)((mc + mrmax - 1) / mrmax);
  int base = (int)(mc / nb), rem = (int)(mc % nb);
  for (int i = 0; i < nb; i++) heights[i] = base + (i < rem);
  return nb;
}

/* Header at the start of every packed right-hand matrix (fp32 and bf16 layouts). */
typedef struct {
  uint32_t magic, data_offset;
  int64_t k, n;
} clk_pack_header;

/* Bytes of a packed k×n matrix of `elem`-byte values: the header's 128 bytes of slack, then
 * the panels. */
static inline size_t clk_packed_size(long k, long n, size_t elem) {
  if (k < 0) k = 0;
  if (n < 0) n = 0;
  return 128 + (size_t)k * (size_t)clk_npanels(n) * CLK_NR * elem;
}

/* Where a packed matrix's panels start: after its header, 64-byte aligned. */
static inline void *clk_packed_payload(const void *packed) {
  uintptr_t base = (uintptr_t)packed;
  return (void *)((base + sizeof(clk_pack_header) + 63) & ~(uintptr_t)63);
}

/* The bfloat16 nearest to x (ties to even) as its 16 bits; NaN stays a (quiet) NaN. */
static inline uint16_t clk_bf16_bits(float x) {
  uint32_t u;
  __builtin_memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* A bfloat16's value as a float. */
static inline float clk_bf16_value(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float x;
  __builtin_memcpy(&x, &u, 4);
  return x;
}

/* Magic of a right-hand matrix packed in fp32 panels (gemm.c). */
#define CLK_PACK_MAGIC 0x4b4c4331u /* "1CLK" */

/* The most row blocks a task tile of any ISA splits into (gemm.c checks each ISA's mc and
 * mrmax against it). */
#define CLK_MAX_ROW_BLOCKS 64

/* Magic of a right-hand matrix packed in bf16 pairs for VDPBF16PS (gemm_dpbf16.c). */
#define CLK_DP_MAGIC 0x4b4c4333u /* "3CLK" */

#if defined(__x86_64__)
/* gemm_dpbf16.c: the bf16 products of an ISA with bf16_dot (same contracts as clk_sgemm,
 * clk_pack_b and clk_sgemm_packed; the packed matrix starts with a CLK_DP_MAGIC header). */
void clk_dp_sgemm(int transA, int transB, long m, long n, long k, float alpha, const float *a,
                  long lda, const float *b, long ldb, float beta, float *c, long ldc);
void clk_dp_pack_b(int transB, long k, long n, const float *b, long ldb, void *packed);
void clk_dp_sgemm_packed(long m, long n, long k, float alpha, const float *a, long lda,
                         const void *packed, float beta, float *c, long ldc);
#endif

/* Asks for the lines of rows [0, B) × hidden units [j0, j1) of what the backward cell reads and
 * the forward pass saved long before (gates [B, 4H], c_{t−1} and tanh c_t [B, H]), into L2, so
 * that they arrive while the step's product runs (recurrent.c, stack.c). */
static inline void clk_prefetch_cell_inputs(long B, long H, long j0, long j1, const float *gates,
                                            const float *cPrev, const float *tanhC) {
  for (long b = 0; b < B; b++) {
    for (long j = j0; j < j1; j += 16) {
      for (int q = 0; q < 4; q++) __builtin_prefetch(gates + b * 4 * H + q * H + j, 0, 2);
      __builtin_prefetch(cPrev + b * H + j, 0, 2);
      __builtin_prefetch(tanhC + b * H + j, 0, 2);
    }
  }
}

const clk_isa_ops *clk_ops(void);
extern const clk_isa_ops clk_ops_portable;
extern const clk_pw_ops clk_pw_portable;
#if defined(__x86_64__)
extern const clk_isa_ops clk_ops_avx2;
extern const clk_pw_ops clk_pw_avx2;
extern const clk_pw_ops clk_pw_avx512;
extern const clk_isa_ops clk_ops_avx512;
extern const clk_isa_ops clk_ops_avx512bf16;
#endif

/* Pool: runs fn(ctx, t) for t in [0, ntasks), possibly on several threads; returns when all
 * are done. `work` (≈ flops) decides whether threads are worth waking. */
typedef void (*clk_task_fn)(void *ctx, long task);
void clk_parallel_for(long ntasks, double work, clk_task_fn fn, void *ctx);

/* Thread-local scratch (64-byte aligned, grown on demand, never shrunk). slot 0: A panels,
 * slot 1: packed B of a plain gemm call, slot 2: an A packed once for all tasks
 * (gemm_dpbf16.c), slot 3: the wavefront's counters (stack.c). */
float *clk_scratch(int slot, size_t floats);

#endif
