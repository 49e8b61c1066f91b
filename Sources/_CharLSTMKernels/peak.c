/* Measures the FMA throughput of the current ISA on the calling thread (for benchmark logs):
 * independent FMA chains, flops per thread CPU-second. */
#include "internal.h"
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
__attribute__((target("avx512f,fma"), noinline)) static float fma512(long n) {
  __m512 acc[24];
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
  __m512 x = _mm512_set1_ps(0.9999999f), y = _mm512_set1_ps(1e-7f);
  for (long r = 0; r < n; r++) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < 24; i++) acc[i] =
        _mm512_fmadd_ps(acc[i], x, y);
    __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[11]), "+v"(acc[23]));
  }
  float s = 0;
  for (int i = 0; i < 24; i++) s += _mm512_reduce_add_ps(acc[i]);
  return s;
}
/* 24 chains of VDPBF16PS (latency 6 and 2 per cycle on Zen 4/5 need ≥ 12). */
__attribute__((target("avx512f,avx512bf16"), noinline)) static float dot512(long n) {
  __m512 acc[24];
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
  __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x33d633d6);
  for (long r = 0; r < n; r++) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
    __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[11]), "+v"(acc[23]));
  }
  float s = 0;
  for (int i = 0; i < 24; i++) s += _mm512_reduce_add_ps(acc[i]);
  return s;
}
__attribute__((target("avx2,fma"), noinline)) static float fma256(long n) {
  __m256 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  __m256 x = _mm256_set1_ps(0.9999999f), y = _mm256_set1_ps(1e-7f);
  for (long r = 0; r < n; r++) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < 12; i++) acc[i] =
        _mm256_fmadd_ps(acc[i], x, y);
    __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[6]), "+x"(acc[11]));
  }
  float s = 0;
  for (int i = 0; i < 12; i++) s += acc[i][0];
  return s;
}
#endif

static volatile float sink;

double clk_fma_peak_gflops(double seconds) {
  if (seconds <= 0) seconds = 0.05;
  int isa = clk_current_isa();
  long n = 1 << 16;
  for (;;) {
    double t0 = thread_cpu(), flops;
#if defined(__x86_64__)
    if (isa >= CLK_ISA_AVX512) { sink = fma512(n); flops = 2.0 * 16 * 24 * n; }
    else if (isa == CLK_ISA_AVX2) { sink = fma256(n); flops = 2.0 * 8 * 12 * n; }
    else
#endif
    {
      float acc[8][8] = {{0}};
      for (long r = 0; r < n; r++)
        for (int i = 0; i < 8; i++)
          for (int j = 0; j < 8; j++) acc[i][j] = acc[i][j] * 0.9999999f + 1e-7f;
      sink = acc[3][5];
      flops = 2.0 * 64 * n;
    }
    double dt = thread_cpu() - t0;
    if (dt >= seconds || n > (1L << 40)) return flops / dt / 1e9;
    n *= 2;
  }
}

double clk_bf16_dot_peak_gflops(double seconds) {
#if defined(__x86_64__)
  if (!clk_bf16_dot_available()) return 0;
  if (seconds <= 0) seconds = 0.05;
  long n = 1 << 16;
  for (;;) {
    double t0 = thread_cpu();
    sink = dot512(n);
    double dt = thread_cpu() - t0, flops = 4.0 * 16 * 24 * n;
    if (dt >= seconds || n > (1L << 40)) return flops / dt / 1e9;
    n *= 2;
  }
#else
  (void)seconds;
  return 0;
#endif
}
