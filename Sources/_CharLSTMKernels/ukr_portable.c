/* Portable microkernels (plain C, auto-vectorized at -O2: SSE2 on x86-64, NEON on arm64):
 * mr×32 (mr = 1..4) computed as two mr×16 halves with the accumulators in a local array. */
#include "internal.h"

static inline __attribute__((always_inline)) void half(const int MR, long k, const float *restrict a, long as,
                                                       const float *restrict b, float *restrict c,
                                                       long ldc, float alpha, float beta) {
  float acc[4][16];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++)
    _Pragma("clang loop unroll(full)") for (int j = 0; j < 16; j++) acc[i][j] = 0;
  for (long p = 0; p < k; p++) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
      float av = a[i];
      _Pragma("clang loop unroll(full)") for (int j = 0; j < 16; j++) acc[i][j] += av * b[j];
    }
    a += as;
    b += CLK_NR;
  }
  _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {
    float *r = c + i * ldc;
    if (beta == 0)
      _Pragma("clang loop unroll(full)") for (int j = 0; j < 16; j++) r[j] = alpha * acc[i][j];
    else if (beta == 1)
      _Pragma("clang loop unroll(full)") for (int j = 0; j < 16; j++) r[j] = alpha * acc[i][j] + r[j];
    else
      _Pragma("clang loop unroll(full)") for (int j = 0; j < 16; j++) r[j] = alpha * acc[i][j] + beta * r[j];
  }
}

#define DEF16(MR)                                                                              \
  static void ukr16_##MR(long k, const float *a, long as, const float *b, float *c, long ldc,  \
                         float alpha, float beta) {                                            \
    half(MR, k, a, as, b, c, ldc, alpha, beta);                                                \
  }
DEF16(1) DEF16(2) DEF16(3) DEF16(4)

#define DEF(MR)                                                                                \
  static void ukr_##MR(long k, const float *a, long as, const float *b, float *c, long ldc, float alpha, \
                       float beta) {                                                           \
    half(MR, k, a, as, b, c, ldc, alpha, beta);                                                    \
    half(MR, k, a, as, b + 16, c + 16, ldc, alpha, beta);                                          \
  }
DEF(1) DEF(2) DEF(3) DEF(4)

const clk_isa_ops clk_ops_portable = {
    .name = "portable",
#if defined(__aarch64__)
    .mrmax = 4, /* 4×16 accumulators = 16 of NEON's 32 registers */
#else
    .mrmax = 2, /* SSE2 has 16 xmm registers: 2×16 accumulators = 8 of them */
#endif
    .mc = 128,
    .ukr = {0, ukr_1, ukr_2, ukr_3, ukr_4},
    .ukr16 = {0, ukr16_1, ukr16_2, ukr16_3, ukr16_4},
    .pw = &clk_pw_portable,
};
