/* AVX-512 microkernels: mr×32 (mr = 1..14) with 2·mr zmm accumulators, B panel rows loaded
 * as two zmm, A broadcast from the packed block. */
#if defined(__x86_64__)
#include "internal.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), apply_to = function)

static inline __attribute__((always_inline)) void body(const int MR, long k, const float *restrict a, long as,
                                                       const float *restrict b, float *restrict c,
                                                       long ldc, float alpha, float beta) {
  __m512 c0[CLK_MRMAX], c1[CLK_MRMAX];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) { c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps(); }
  for (long p = 0; p < k; p++) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      __m512 av = _mm512_set1_ps(a[i]);
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

#define DEF(MR)                                                                                \
  static void ukr_##MR(long k, const float *a, long as, const float *b, float *c, long ldc, float alpha, \
                       float beta) {                                                           \
    body(MR, k, a, as, b, c, ldc, alpha, beta);                                                    \
  }
DEF(1) DEF(2) DEF(3) DEF(4) DEF(5) DEF(6) DEF(7) DEF(8) DEF(9) DEF(10) DEF(11) DEF(12) DEF(13)
DEF(14)

#pragma clang attribute pop

const clk_isa_ops clk_ops_avx512 = {
    .name = "avx512",
    .mrmax = 14,
    .mc = 140,
    .ukr = {0, ukr_1, ukr_2, ukr_3, ukr_4, ukr_5, ukr_6, ukr_7, ukr_8, ukr_9, ukr_10, ukr_11,
            ukr_12, ukr_13, ukr_14},
    .pw = &clk_pw_avx512,
};
#endif
