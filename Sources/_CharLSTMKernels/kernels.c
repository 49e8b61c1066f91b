#include "charlstm_kernels.h"
int clk_kernels_version(void) { return 0; }
