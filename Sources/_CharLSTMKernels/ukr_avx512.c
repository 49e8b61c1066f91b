/* AVX-512 microkernels: mr×32 (mr = 1..14) with 2·mr zmm accumulators, B panel rows loaded
 * as two zmm, A broadcast from the packed block. */
#if defined(__x86_64__)
#include "internal.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), apply_to = function)

static inline __attribute__((always_inline)) void body(const int MR, long k, const float *restrict a, long as,
                                                       long rs, const float *restrict b, float *restrict c,
                                                       long ldc, float alpha, float beta) {
  __m512 c0[CLK_MRMAX], c1[CLK_MRMAX];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) { c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps(); }
  for (long p = 0; p < k; p++) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    _mm_prefetch((const char *)(b + 16 * CLK_NR), _MM_HINT_T0);
    _mm_prefetch((const char *)(b + 16 * CLK_NR + 16), _MM_HINT_T0);
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      __m512 av = _mm512_set1_ps(a[i * rs]);
      c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
    }
    a += as;
    b += CLK_NR;
  }
  __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, c0[i]));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, c1[i]));
    }
  } else if (beta == 1) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      float *r = c + i * ldc;
      _mm512_storeu_ps(r, _mm512_fmadd_ps(va, c0[i], _mm512_loadu_ps(r)));
      _mm512_storeu_ps(r + 16, _mm512_fmadd_ps(va, c1[i], _mm512_loadu_ps(r + 16)));
    }
  } else {
    __m512 vb = _mm512_set1_ps(beta);
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      float *r = c + i * ldc;
      _mm512_storeu_ps(r, _mm512_fmadd_ps(va, c0[i], _mm512_mul_ps(vb, _mm512_loadu_ps(r))));
      _mm512_storeu_ps(r + 16,
                       _mm512_fmadd_ps(va, c1[i], _mm512_mul_ps(vb, _mm512_loadu_ps(r + 16))));
    }
  }
}

static inline __attribute__((always_inline)) void body16(const int MR, long k,
                                                         const float *restrict a, long as,
                                                         long rs, const float *restrict b,
                                                         float *restrict c, long ldc,
                                                         float alpha, float beta) {
  __m512 c0[CLK_MRMAX];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) c0[i] = _mm512_setzero_ps();
  for (long p = 0; p < k; p++) {
    __m512 b0 = _mm512_loadu_ps(b);
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++)
      c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * rs]), b0, c0[i]);
    a += as;
    b += CLK_NR;
  }
  __m512 va = _mm512_set1_ps(alpha);
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
    __m512 x = _mm512_mul_ps(va, c0[i]);
    if (beta != 0) x = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(c + i * ldc), x);
    _mm512_storeu_ps(c + i * ldc, x);
  }
}

#define DEF16(MR)                                                                              \
  static void ukr16_##MR(long k, const float *a, long as, const float *b, float *c, long ldc,  \
                         float alpha, float beta) {                                            \
    body16(MR, k, a, as, 1, b, c, ldc, alpha, beta);                                           \
  }                                                                                            \
  static void ukr16rm_##MR(long k, const float *a, long lda, const float *b, float *c,         \
                           long ldc, float alpha, float beta) {                                \
    body16(MR, k, a, 1, lda, b, c, ldc, alpha, beta);                                          \
  }
DEF16(1) DEF16(2) DEF16(3) DEF16(4) DEF16(5) DEF16(6) DEF16(7) DEF16(8) DEF16(9) DEF16(10)
DEF16(11) DEF16(12) DEF16(13) DEF16(14)

#define DEF(MR)                                                                                \
  static void ukr_##MR(long k, const float *a, long as, const float *b, float *c, long ldc, float alpha, \
                       float beta) {                                                           \
    body(MR, k, a, as, 1, b, c, ldc, alpha, beta);                                             \
  }                                                                                            \
  static void ukrrm_##MR(long k, const float *a, long lda, const float *b, float *c, long ldc, \
                         float alpha, float beta) {                                            \
    body(MR, k, a, 1, lda, b, c, ldc, alpha, beta);                                            \
  }
DEF(1) DEF(2) DEF(3) DEF(4) DEF(5) DEF(6) DEF(7) DEF(8) DEF(9) DEF(10) DEF(11) DEF(12) DEF(13)
DEF(14)

#pragma clang attribute pop

/* The fp32 kernels of both AVX-512 paths; avx512bf16 adds VDPBF16PS for bf16 products. */
#define AVX512_TABLE \
    .mrmax = 14, \
    .mc = 140, \
    .ukr = {0, ukr_1, ukr_2, ukr_3, ukr_4, ukr_5, ukr_6, ukr_7, ukr_8, ukr_9, ukr_10, ukr_11, \
            ukr_12, ukr_13, ukr_14}, \
    .ukr16 = {0, ukr16_1, ukr16_2, ukr16_3, ukr16_4, ukr16_5, ukr16_6, ukr16_7, ukr16_8, \
              ukr16_9, ukr16_10, ukr16_11, ukr16_12, ukr16_13, ukr16_14}, \
    .ukr_rm = {0, ukrrm_1, ukrrm_2, ukrrm_3, ukrrm_4, ukrrm_5, ukrrm_6, ukrrm_7, ukrrm_8, \
               ukrrm_9, ukrrm_10, ukrrm_11, ukrrm_12, ukrrm_13, ukrrm_14}, \
    .ukr16_rm = {0, ukr16rm_1, ukr16rm_2, ukr16rm_3, ukr16rm_4, ukr16rm_5, ukr16rm_6, ukr16rm_7, \
                 ukr16rm_8, ukr16rm_9, ukr16rm_10, ukr16rm_11, ukr16rm_12, ukr16rm_13, \
                 ukr16rm_14}, \
    .pw = &clk_pw_avx512,

const clk_isa_ops clk_ops_avx512 = {.name = "avx512", AVX512_TABLE .bf16_dot = 0};
const clk_isa_ops clk_ops_avx512bf16 = {.name = "avx512bf16", AVX512_TABLE .bf16_dot = 1};
#endif
