/* Pointwise kernels, portable build (4 lanes of plain vector extensions: SSE2 / NEON). */
#define VW 4
#define PW_OPS_NAME clk_pw_portable
#include "pointwise_impl.h"
