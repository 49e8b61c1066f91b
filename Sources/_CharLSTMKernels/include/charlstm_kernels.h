#ifndef CHARLSTM_KERNELS_H
#define CHARLSTM_KERNELS_H
/*
 * charlstm fast float kernels: SGEMM (BLIS-style packed panels with AVX-512 / AVX2+FMA /
 * portable microkernels chosen at run time), a packed-B GEMM for reused right-hand matrices,
 * fused LSTM cell forward/backward, softmax cross-entropy, column sums, and vectorized
 * exp / sigmoid / tanh. All matrices are row-major; ld* is the row stride in elements.
 *
 * Threads: a persistent pthread pool (created lazily, once) runs big calls. Work is split over
 * output tiles whose sizes depend only on the shape and ISA, so every output element is
 * reduced in the same k-order by exactly one thread: results are bit-identical for any thread
 * count (for a given ISA). Calls may come from several threads at once: a caller that finds
 * the pool busy runs its call on its own thread (same results).
 *
 * Environment: CHARLSTM_KERNELS=portable|avx2|avx512|avx512bf16 caps the ISA; CHARLSTM_THREADS=n sets the
 * initial thread count (default: online cores).
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ISA selection ---------------------------------------------------------------------- */
/* AVX512BF16: the AVX-512 fp32 kernels, and products in bf16 precision on VDPBF16PS (bf16 pairs,
 * fp32 accumulation) instead of the fp32 kernels over rounded operands. */
enum { CLK_ISA_AUTO = -1, CLK_ISA_PORTABLE = 0, CLK_ISA_AVX2 = 1, CLK_ISA_AVX512 = 2, CLK_ISA_AVX512BF16 = 3 };
/* 1 when this process can run `isa` (PORTABLE always). */
int clk_isa_supported(int isa);
/* Sets the process default ISA (CLK_ISA_AUTO = best supported, honouring CHARLSTM_KERNELS). An unsupported
 * request falls back to the best supported ISA below it. Returns the ISA now in use. */
int clk_force_isa(int isa);
/* Sets the ISA of calls made from the calling thread only (CLK_ISA_AUTO = best supported;
 * clamped like clk_force_isa; CLK_ISA_THREAD_DEFAULT clears it, back to the process default).
 * Returns the previous per-thread value, to restore it. */
enum { CLK_ISA_THREAD_DEFAULT = -2 };
int clk_set_thread_isa(int isa);
/* The ISA in use by calls from this thread (CLK_ISA_*). */
int clk_current_isa(void);
/* "avx512bf16", "avx512", "avx2" or "portable". */
const char *clk_isa_name(void);
/* 1 when products in bf16 precision made from this thread run on a bf16 dot-product unit
 * (VDPBF16PS), not emulated on the fp32 kernels. */
int clk_bf16_dot_available(void);
/* FMA throughput of the current ISA measured on the calling thread for about `seconds` of CPU
 * time, in GFLOP per thread CPU-second (for benchmark logs). */
double clk_fma_peak_gflops(double seconds);
/* The same for VDPBF16PS (2 multiply-adds per fp32 lane), in GFLOP per thread CPU-second; 0 when
 * the current ISA has no bf16 dot product. */
double clk_bf16_dot_peak_gflops(double seconds);

/* ---- precision of matrix products ---------------------------------------------------------- */
/* CLK_PREC_BF16: every GEMM made from the calling thread rounds both operands to bfloat16
 * (round to nearest even) and accumulates in fp32: the numerics of bf16 matrix units (AMX
 * TDPBF16PS, AVX512-BF16 VDPBF16PS). On CLK_ISA_AVX512BF16 the products run on VDPBF16PS
 * (which also treats bf16 subnormals as zero); on the other ISAs, on their fp32 FMA kernels.
 * Pointwise kernels are unaffected (fp32). A matrix packed by clk_pack_b under BF16 holds
 * rounded values. Per thread; returns the previous setting. */
enum { CLK_PREC_FP32 = 0, CLK_PREC_BF16 = 1 };
int clk_set_thread_precision(int precision);
int clk_current_precision(void);
/* x rounded to the nearest bfloat16 (ties to even), as a float. */
float clk_round_bf16(float x);

/* ---- threads ------------------------------------------------------------------------------ */
/* Sets the number of threads used by big calls (caller included); n < 1 means online cores. */
void clk_set_threads(int n);
int clk_get_threads(void);

/* ---- GEMM ---------------------------------------------------------------------------------- */
/* C[m×n] = alpha·op(A)·op(B) + beta·C; beta == 0 overwrites C (even NaN). op(A) = Aᵀ (A stored
 * k×m) when transA, op(B) = Bᵀ (B stored n×k) when transB. */
void clk_sgemm(int transA, int transB, long m, long n, long k, float alpha, const float *a,
               long lda, const float *b, long ldb, float beta, float *c, long ldc);

/* Bytes of a packed k×n right-hand matrix (same for every ISA and precision). The fp32 layout is
 * ISA-neutral; under bf16 precision on CLK_ISA_AVX512BF16, clk_pack_b writes bf16 pairs for
 * VDPBF16PS instead (fewer bytes), and clk_sgemm_packed follows the layout the matrix records. */
size_t clk_packed_bytes(long k, long n);
/* Packs op(B) (k×n; B stored n×k when transB) into `packed` (clk_packed_bytes(k, n) bytes,
 * any alignment). */
void clk_pack_b(int transB, long k, long n, const float *b, long ldb, void *packed);
/* C[m×n] = alpha·A·P + beta·C with A m×k (row stride lda), P made by clk_pack_b(k, n).
 * Returns 0, or -1 (C untouched) when P's recorded k, n differ. */
int clk_sgemm_packed(long m, long n, long k, float alpha, const float *a, long lda,
                     const void *packed, float beta, float *c, long ldc);

/* Weights in bfloat16 (for generation): op(B) k×n rounded once to bf16 (nearest even) and packed
 * in 16 bits; the product keeps A and the accumulation in fp32. Half the bytes of
 * clk_pack_b per weight. Returns 0, or -1 (C untouched) when P's recorded k, n differ. */
size_t clk_packed_bf16_bytes(long k, long n);
void clk_pack_b_bf16(int transB, long k, long n, const float *b, long ldb, void *packed);
int clk_sgemm_packed_bf16(long m, long n, long k, float alpha, const float *a, long lda,
                          const void *packed, float beta, float *c, long ldc);

/* ---- fused pointwise kernels (semantics of CharLSTMKernels.Reference) ---------------------- */
void clk_lstm_cell_forward(long batch, long hidden, float *gates, const float *cPrev, float *c,
                           float *tanhC, float *h);
void clk_lstm_cell_backward(long batch, long hidden, const float *gates, const float *cPrev,
                            const float *tanhC, const float *dh, float *dc, float *dGates);
/* One time step of a layer's recurrence, the recurrent product fused with the cell:
 *   forward:  gates [B, 4H] += hPrev [B, H] · Pᵀ, P = clk_pack_b(transB 1, k H, n 4H, W_hh),
 *             then clk_lstm_cell_forward(B, H, gates, cPrev, c, tanhC, h);
 *   backward: dh [B, H] += dGatesNext [B, 4H] · P, P = clk_pack_b(transB 0, k 4H, n H, W_hh)
 *             (skipped when dGatesNext is NULL: the window's last step), then
 *             clk_lstm_cell_backward(B, H, gates, cPrev, tanhC, dh, dc, dGates).
 * Bit-identical to those two calls (which it makes itself where its fused path does not
 * apply), for any thread count. Returns 0, or -1 (nothing written) when P's recorded k, n
 * differ. */
int clk_lstm_step_forward(long batch, long hidden, const float *hPrev, const void *packed,
                          float *gates, const float *cPrev, float *c, float *tanhC, float *h);
int clk_lstm_step_backward(long batch, long hidden, const float *dGatesNext, const void *packed,
                           float *dh, const float *gates, const float *cPrev, const float *tanhC,
                           float *dc, float *dGates);
/* One layer of a stack whose recurrences run as a wavefront (clk_lstm_stack_forward/backward:
 * layer l at step t while layer l+1 runs an earlier step, every task on one thread). Shapes:
 * B batch, T steps, H hidden, G = 4H, in = H above layer 0; blocks of B rows are time steps. */
typedef struct {
  long in;                /* input width (layers ≥ 1: H) */
  /* forward: clk_pack_b(1, H, G, W_hh) and (layers ≥ 1) clk_pack_b(1, in, G, W_ih);
   * backward: clk_pack_b(0, G, H, W_hh) and (layers ≥ 1) clk_pack_b(0, G, in, W_ih) */
  const void *recurrent, *input;
  const float *biasSum;   /* layers ≥ 1: [G] b_ih + b_hh */
  float *gates;           /* [T·B, G]: layer 0 arrives with bias + x·W_ihᵀ; then activations */
  float *cells, *hidden;  /* [(T+1)·B, H]: block 0 the carried state, block t+1 step t */
  float *tanhC;           /* [T·B, H] */
  const float *outMask;   /* [T·B, H] dropout on this layer's output, or NULL */
  float *outDropped;      /* [T·B, H] output ⊙ outMask (with outMask): the next layer's input */
  float *dHidden;         /* [T·B, H] ∂L/∂h: the top layer's given; lower layers' written */
  float *dGates;          /* [T·B, G] written */
  float *dc;              /* [B, H] scratch */
} clk_lstm_layer;
enum { CLK_STACK_MAX_LAYERS = 64 };
/* 1 when the wavefront runs `layers` layers of `hidden` units on this thread's ISA and
 * precision (fp32, H a multiple of 64, 2 ≤ layers ≤ CLK_STACK_MAX_LAYERS). */
int clk_lstm_stack_supported(long layers, long hidden);
/* Forward: for every layer and step, gates_t (+)= (layers ≥ 1: bias + x_t·W_ihᵀ) + h_{t−1}·W_hhᵀ,
 * the cell, and outDropped rows = h_t ⊙ outMask. Backward: for every layer, from the top, step
 * T−1 down to 0: dHidden_t += dGates_{t+1}·W_hh (t < T−1), the cell backward (dc starts at 0),
 * and for layers ≥ 1 the layer below's dHidden_t = (dGates_t·W_ih) ⊙ its outMask. The same
 * bits as clk_lstm_step_forward/backward per layer and step with clk_sgemm for the input
 * projections and dX over whole windows, for any thread count. Returns 0, or -1 (nothing
 * written) when not supported or a packed matrix does not match. */
int clk_lstm_stack_forward(long layers, long batch, long steps, long hidden, clk_lstm_layer *l);
int clk_lstm_stack_backward(long layers, long batch, long steps, long hidden, clk_lstm_layer *l);

/* Returns Σ_rows −log softmax[target] (NaN if a target is outside [0, cols)). */
double clk_softmax_xent(long rows, long cols, float *logits, const int32_t *targets,
                        float scale);
void clk_col_sums_acc(long rows, long cols, const float *a, long lda, float *out);

/* ---- vector math (current ISA) ------------------------------------------------------------- */
void clk_vexp(const float *x, float *y, long n);
void clk_vsigmoid(const float *x, float *y, long n);
void clk_vtanh(const float *x, float *y, long n);

#ifdef __cplusplus
}
#endif
#endif
