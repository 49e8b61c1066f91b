/* One time step of an LSTM layer's recurrence, forward or backward: the recurrent product and
 * the cell fused per block of hidden units, in one pass over the pool.
 *
 * Forward, step t:   gates_t [B, G] += h_{t−1} [B, H] · W_hhᵀ [H, G], then the cell.
 * Backward, step t:  dh_t [B, H] += dGates_{t+1} [B, G] · W_hh [G, H] (not at t = T−1),
 *                    then the cell's backward, which writes dGates_t and dc.
 *
 * A task owns HB = 32 hidden units j0 … j0+31: forward, their columns of all four gates (one
 * packed panel per gate when H is a multiple of 32) and then their cell; backward, their
 * columns of dh (one panel of the packed W_hh) and then their cell. So a step is one parallel
 * region instead of two (product, then cell), the cell reads gates the same core just wrote,
 * and with the pool's per-thread ranges each core keeps multiplying by the same slice of W_hh.
 *
 * Every element gets exactly the operations of the unfused calls, in the same order (the same
 * microkernels over the same CLK_KC blocks of k, accumulating into C between blocks; the same
 * elementwise cell), so the results are bit-identical to clk_sgemm_packed followed by
 * clk_lstm_cell_forward / clk_lstm_cell_backward, for any thread count. Where the fused path
 * does not apply (H not a multiple of 32, bf16 products, an ISA without in-place A kernels, a
 * bf16-pair packed matrix) the functions make those two calls instead. */
#include "internal.h"
#include <string.h>

#define HB 32 /* hidden units per task = CLK_NR: one packed panel per gate */
_Static_assert(HB == CLK_NR, "a task's hidden block must be one packed panel wide");

typedef struct {
  const clk_isa_ops *ops;
  long B, H, k;
  const float *a; /* forward: h_{t−1} [B, H]; backward: dGates_{t+1} [B, G] (NULL: no product) */
  long lda;
  const float *bp; /* packed panels (fp32 layout), k × n */
  /* forward */
  float *gates;
  const float *cPrev;
  float *c, *tanhC, *h;
  /* backward */
  const float *saved; /* the forward's activations [B, G] */
  const float *tc, *dhIn;
  float *dh, *dc, *dGates;
} step_job;

/* C[B × 32] (row stride ldc) += A[B × k] · (panel `panel` of the packed matrix): the
 * microkernels of gemm.c's in-place path, k in CLK_KC blocks, rows in tiles of ops->mc split
 * into blocks of at most mrmax. */
static void panel_product(const step_job *J, long panel, float *c, long ldc) {
  const clk_isa_ops *ops = J->ops;
  const float *bpanel = J->bp + panel * J->k * CLK_NR;
  for (long p0 = 0; p0 < J->k; p0 += CLK_KC) {
    long kc = J->k - p0 < CLK_KC ? J->k - p0 : CLK_KC;
    const float *bs = bpanel + p0 * CLK_NR;
    for (long i0 = 0; i0 < J->B; i0 += ops->mc) {
      long mc = J->B - i0 < ops->mc ? J->B - i0 : ops->mc;
      int hs[CLK_MAX_ROW_BLOCKS];
      int nb = clk_row_blocks(mc, ops->mrmax, hs);
      long row = i0;
      for (int bi = 0; bi < nb; bi++) {
        int mr = hs[bi];
        ops->ukr_rm[mr](kc, J->a + row * J->lda + p0, J->lda, bs, c + row * ldc, ldc, 1.0f, 1.0f);
        row += mr;
      }
    }
  }
}

static void forward_task(void *v, long t) {
  const step_job *J = v;
  long H = J->H, j0 = t * HB;
  for (int q = 0; q < 4; q++) panel_product(J, (q * H + j0) / CLK_NR, J->gates + q * H + j0, 4 * H);
  J->ops->pw->lstm_fwd(0, J->B, H, j0, j0 + HB, J->gates, J->cPrev, J->c, J->tanhC, J->h);
}

static void backward_task(void *v, long t) {
  const step_job *J = v;
  long H = J->H, j0 = t * HB;
  if (J->a) {
    clk_prefetch_cell_inputs(J->B, H, j0, j0 + HB, J->saved, J->cPrev, J->tc);
    panel_product(J, j0 / CLK_NR, J->dh + j0, H);
  }
  J->ops->pw->lstm_bwd(0, J->B, H, j0, j0 + HB, J->saved, J->cPrev, J->tc, J->dh, J->dc,
                       J->dGates);
}

/* The packed fp32 panels of `packed` when the fused path applies to a k × n product of this
 * thread's ISA and precision, else NULL. */
static const float *fused_panels(const void *packed, long k, long n, long H) {
  const clk_isa_ops *ops = clk_ops();
  if (H % HB != 0 || clk_current_precision() != CLK_PREC_FP32 || ops->ukr_rm[1] == NULL) return NULL;
  clk_pack_header h;
  memcpy(&h, packed, sizeof h);
  if (h.magic != CLK_PACK_MAGIC || h.k != k || h.n != n) return NULL;
  return (const float *)((const char *)packed + h.data_offset);
}

int clk_lstm_step_forward(long batch, long hidden, const float *hPrev, const void *packed,
                          float *gates, const float *cPrev, float *c, float *tanhC, float *h) {
  long B = batch, H = hidden, G = 4 * hidden;
  if (B <= 0 || H <= 0) return 0;
  const float *bp = fused_panels(packed, H, G, H);
  if (!bp) {
    if (clk_sgemm_packed(B, G, H, 1.0f, hPrev, H, packed, 1.0f, gates, G) != 0) return -1;
    clk_lstm_cell_forward(B, H, gates, cPrev, c, tanhC, h);
    return 0;
  }
  step_job J = {.ops = clk_ops(), .B = B, .H = H, .k = H, .a = hPrev, .lda = H, .bp = bp,
                .gates = gates, .cPrev = cPrev, .c = c, .tanhC = tanhC, .h = h};
  clk_parallel_for(H / HB, 2.0 * B * G * H + 60.0 * B * H, forward_task, &J);
  return 0;
}

int clk_lstm_step_backward(long batch, long hidden, const float *dGatesNext, const void *packed,
                           float *dh, const float *gates, const float *cPrev, const float *tanhC,
                           float *dc, float *dGates) {
  long B = batch, H = hidden, G = 4 * hidden;
  if (B <= 0 || H <= 0) return 0;
  const float *bp = fused_panels(packed, G, H, H);
  if (!bp) {
    if (dGatesNext && clk_sgemm_packed(B, H, G, 1.0f, dGatesNext, G, packed, 1.0f, dh, H) != 0)
      return -1;
    clk_lstm_cell_backward(B, H, gates, cPrev, tanhC, dh, dc, dGates);
    return 0;
  }
  step_job J = {.ops = clk_ops(), .B = B, .H = H, .k = G, .a = dGatesNext, .lda = G, .bp = bp,
                .saved = gates, .cPrev = cPrev, .tc = tanhC, .dh = dh, .dc = dc, .dGates = dGates};
  clk_parallel_for(H / HB, (dGatesNext ? 2.0 * B * G * H : 0) + 20.0 * B * H, backward_task, &J);
  return 0;
}
