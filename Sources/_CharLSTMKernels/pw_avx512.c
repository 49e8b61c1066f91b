/* Pointwise kernels, AVX-512 build (16 lanes). */
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), apply_to = function)
#include <immintrin.h>
#define VW 16
#define PW_OPS_NAME clk_pw_avx512
#define PW_RCP(d) ((vf)_mm512_rcp14_ps((__m512)(d)))
#define PW_SCALEF(y, n) ((vf)_mm512_scalef_ps((__m512)(y), (__m512)(n)))
#define PW_ROUND(x) ((vf)_mm512_roundscale_ps((__m512)(x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
#include "pointwise_impl.h"
#pragma clang attribute pop
#endif
