#ifndef CHARLSTM_KERNELS_H
#define CHARLSTM_KERNELS_H
/* Placeholder: the fast float kernels (GEMM, fused LSTM cell, softmax) land here. */
int clk_kernels_version(void);
#endif
