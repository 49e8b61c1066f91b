/* Pointwise kernels, AVX2+FMA build (8 lanes). */
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define VW 8
#define PW_OPS_NAME clk_pw_avx2
#include "pointwise_impl.h"
#pragma clang attribute pop
#endif
