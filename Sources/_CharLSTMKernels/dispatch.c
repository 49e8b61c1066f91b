/* Run-time ISA selection and thread-local scratch. */
#include "internal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

static int detect_best(void) {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return CLK_ISA_PORTABLE;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!(fma && osxsave && avx)) return CLK_ISA_PORTABLE;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x6) != 0x6) return CLK_ISA_PORTABLE;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return CLK_ISA_PORTABLE;
  int avx2 = (b >> 5) & 1;
  int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
  if (f && dq && bw && vl && (lo & 0xE0) == 0xE0) {
    /* AVX512_BF16 (VDPBF16PS): CPUID.(EAX=7, ECX=1):EAX bit 5. */
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    if (a >= 1 && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && ((a1 >> 5) & 1)) return CLK_ISA_AVX512BF16;
    return CLK_ISA_AVX512;
  }
  if (avx2) return CLK_ISA_AVX2;
#endif
  return CLK_ISA_PORTABLE;
}

static int best_supported(void) {
  static _Atomic int cached = -2;
  int v = atomic_load_explicit(&cached, memory_order_relaxed);
  if (v == -2) { v = detect_best(); atomic_store(&cached, v); }
  return v;
}

int clk_isa_supported(int isa) { return isa >= CLK_ISA_PORTABLE && isa <= best_supported(); }

static _Atomic int g_isa = -2; /* -2: not chosen yet */

int clk_force_isa(int isa) {
  int best = best_supported();
  if (isa == CLK_ISA_AUTO) {
    isa = best;
    const char *env = getenv("CHARLSTM_KERNELS");
    if (env) {
      if (!strcmp(env, "portable")) isa = CLK_ISA_PORTABLE;
      else if (!strcmp(env, "avx2") && best >= CLK_ISA_AVX2) isa = CLK_ISA_AVX2;
      else if (!strcmp(env, "avx512") && best >= CLK_ISA_AVX512) isa = CLK_ISA_AVX512;
    }
  }
  if (isa > best) isa = best;
  if (isa < CLK_ISA_PORTABLE) isa = CLK_ISA_PORTABLE;
  atomic_store(&g_isa, isa);
  return isa;
}

/* A per-thread choice overrides the process default for calls made from that thread (the pool
 * workers get the caller's choice through the job), so concurrent callers — tests running in
 * parallel, two models on different paths — never change each other's kernels. */
static _Thread_local int tl_isa = -2; /* -2: use the process default */

int clk_set_thread_isa(int isa) {
  int prev = tl_isa;
  if (isa == -2) { tl_isa = -2; return prev; }
  int best = best_supported();
  if (isa == CLK_ISA_AUTO) isa = best;
  if (isa > best) isa = best;
  if (isa < CLK_ISA_PORTABLE) isa = CLK_ISA_PORTABLE;
  tl_isa = isa;
  return prev;
}

/* The numerics of matrix products made from this thread: CLK_PREC_FP32 (default) or
 * CLK_PREC_BF16 (operands rounded to bfloat16, fp32 accumulation). Per thread, like the ISA. */
static _Thread_local int tl_precision = CLK_PREC_FP32;

int clk_set_thread_precision(int precision) {
  int prev = tl_precision;
  tl_precision = precision == CLK_PREC_BF16 ? CLK_PREC_BF16 : CLK_PREC_FP32;
  return prev;
}

int clk_current_precision(void) { return tl_precision; }

int clk_current_isa(void) {
  if (tl_isa != -2) return tl_isa;
  int v = atomic_load_explicit(&g_isa, memory_order_relaxed);
  return v == -2 ? clk_force_isa(CLK_ISA_AUTO) : v;
}

const clk_isa_ops *clk_ops(void) {
#if defined(__x86_64__)
  switch (clk_current_isa()) {
  case CLK_ISA_AVX512BF16: return &clk_ops_avx512bf16;
  case CLK_ISA_AVX512: return &clk_ops_avx512;
  case CLK_ISA_AVX2: return &clk_ops_avx2;
  default: break;
  }
#endif
  return &clk_ops_portable;
}

const char *clk_isa_name(void) { return clk_ops()->name; }

int clk_bf16_dot_available(void) { return clk_ops()->bf16_dot; }

/* Thread-local scratch, grown on demand and kept for the thread's next product. A thread that
 * exits (a server's request threads, pool workers) frees its buffers: its first allocation
 * registers it with a pthread key whose destructor runs at thread exit. The main thread's
 * buffers are left to the process's exit (key destructors do not run for it). */
static _Thread_local float *tl_buf[4];
static _Thread_local size_t tl_cap[4];
static _Thread_local int tl_registered;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

/* Runs in the exiting thread, whose thread-local variables are still valid. Resetting them
 * lets a later destructor that runs a product allocate (and register) again. */
static void free_scratch(void *unused) {
  (void)unused;
  for (int s = 0; s < 4; s++) {
    free(tl_buf[s]);
    tl_buf[s] = NULL;
    tl_cap[s] = 0;
  }
  tl_registered = 0;
}

static void make_scratch_key(void) {
  scratch_key_ok = pthread_key_create(&scratch_key, free_scratch) == 0;
}

float *clk_scratch(int slot, size_t floats) {
  if (floats > tl_cap[slot]) {
    if (!tl_registered) {
      pthread_once(&scratch_once, make_scratch_key);
      /* Any non-NULL value makes the destructor run; without a key the buffers just stay. */
      if (scratch_key_ok && pthread_setspecific(scratch_key, tl_buf) == 0) tl_registered = 1;
    }
    free(tl_buf[slot]);
    size_t cap = floats + floats / 4 + 1024;
    size_t bytes = (cap * sizeof(float) + 63) & ~(size_t)63;
    tl_buf[slot] = aligned_alloc(64, bytes);
    if (!tl_buf[slot]) abort();
    tl_cap[slot] = bytes / sizeof(float);
  }
  return tl_buf[slot];
}
