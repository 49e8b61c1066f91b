/* The recurrences of a stack of LSTM layers over one window, as a wavefront: layer l runs step
 * t while layer l+1 runs an earlier step, so that several threads are busy without splitting
 * the small per-step products among them.
 *
 * Forward tasks, per layer l and step t (h_{l,t} is hidden_l block t+1):
 *   IN(l, t, half)  l ≥ 1: gates_l rows t, columns of one half = bias + x_t · W_ihᵀ, where x_t
 *                   is layer l−1's output at t (dropped out when that layer has an outMask);
 *   REC(l, t)       gates_l rows t += h_{l,t−1} · W_hhᵀ, the cell, and (outMask) the dropped
 *                   output rows t.
 *   REC(l, t) needs REC(l, t−1) and both halves of IN(l, t); IN(l, t, ·) needs REC(l−1, t).
 *   Layer 0's input projection comes done (its gates arrive with bias + x·W_ihᵀ).
 * Backward tasks (dh_{l,t} is dHidden_l rows t; dGates of step t come from REC_B(l, t)):
 *   REC_B(l, t)     dh_{l,t} += dGates_{l,t+1} · W_hh (not at t = T−1), then the cell backward:
 *                   dGates_{l,t} and dc_l;
 *   DX(l, t, half)  l ≥ 1: dh_{l−1,t} columns of one half = (dGates_{l,t} · W_ih) ⊙ layer
 *                   l−1's outMask;
 *   REC_B(l, t) needs REC_B(l, t+1) and, below the top layer, both halves of DX(l+1, t);
 *   DX(l, t, ·) needs REC_B(l, t).
 *
 * Every task is computed by one thread with the microkernels of gemm.c's in-place path over
 * the same CLK_KC blocks of k, and with the same elementwise cell, as the layer-by-layer calls
 * (clk_sgemm for the whole window's input projection and dX, clk_lstm_step_forward/backward
 * per step): every element gets the same operations in the same order, so the results are
 * bit-identical to those calls for any thread count and any order in which the threads take
 * the tasks.
 *
 * Scheduling: each thread takes the first ready task it finds (the recurrences first, the
 * lowest layer first, then the input halves), claiming it with a compare-and-swap on that
 * task kind's counter; a thread with nothing ready spins. Dependencies only ever go from
 * pending to met, and a task is only claimed when ready, so there is always a ready or running
 * task until all are claimed: one thread alone runs the whole window (a late pool worker finds
 * everything claimed and returns). */
#include "internal.h"
#include <stdatomic.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define spin_pause() _mm_pause()
#elif defined(__aarch64__)
#define spin_pause() __asm__ volatile("yield")
#else
#define spin_pause() ((void)0)
#endif

/* One claim/done counter on its own cache line. */
typedef struct {
  _Alignas(64) _Atomic long v;
} counter;

typedef struct {
  const clk_isa_ops *ops;
  long L, B, T, H;
  clk_lstm_layer *layers;
  const float **pf; /* per layer: forward / backward W_hh panels */
  const float **pi; /* per layer ≥ 1: W_ih panels (forward: W_ihᵀ k in × n G; backward: k G × n in) */
  counter *rec_claim, *rec_done; /* per layer: next step to claim / steps completed (a chain) */
  counter *in_claim;             /* per layer and half: next step to claim */
  _Atomic int *in_done;          /* [L][T]: halves of the input task completed */
  int backward;
} stack_job;

/* C[m × (np panels of 32)] (row stride ldc) (+)= A[m × k] · panels [p0, p0+np) of a packed
 * matrix whose panels hold k rows: for each CLK_KC block of k, each panel, each row block of
 * at most mrmax rows (in tiles of mc rows). beta0 is the first k block's beta (0: overwrite,
 * 1: accumulate); later blocks accumulate. */
static void rows_product(const clk_isa_ops *ops, long m, long k, const float *a, long lda,
                         const float *panels, long p0, long np, float *c, long ldc, float beta0) {
  for (long kb = 0; kb < k; kb += CLK_KC) {
    long kc = k - kb < CLK_KC ? k - kb : CLK_KC;
    float beta = kb == 0 ? beta0 : 1.0f;
    for (long p = p0; p < p0 + np; p++) {
      const float *bs = panels + p * k * CLK_NR + kb * CLK_NR;
      float *cp = c + (p - p0) * CLK_NR;
      for (long i0 = 0; i0 < m; i0 += ops->mc) {
        long mc = m - i0 < ops->mc ? m - i0 : ops->mc;
        int hs[CLK_MAX_ROW_BLOCKS];
        int nb = clk_row_blocks(mc, ops->mrmax, hs);
        long row = i0;
        for (int bi = 0; bi < nb; bi++) {
          int mr = hs[bi];
          ops->ukr_rm[mr](kc, a + row * lda + kb, lda, bs, cp + row * ldc, ldc, 1.0f, beta);
          row += mr;
        }
      }
    }
  }
}

/* ---- forward tasks ------------------------------------------------------------------------ */

static void fwd_rec(const stack_job *J, long l, long t) {
  clk_lstm_layer *Y = &J->layers[l];
  long B = J->B, H = J->H, G = 4 * H;
  float *z = Y->gates + t * B * G;
  rows_product(J->ops, B, H, Y->hidden + t * B * H, H, J->pf[l], 0, G / CLK_NR, z, G, 1.0f);
  J->ops->pw->lstm_fwd(0, B, H, 0, H, z, Y->cells + t * B * H, Y->cells + (t + 1) * B * H,
                       Y->tanhC + t * B * H, Y->hidden + (t + 1) * B * H);
  if (Y->outMask) {
    const float *h = Y->hidden + (t + 1) * B * H, *mk = Y->outMask + t * B * H;
    float *o = Y->outDropped + t * B * H;
    for (long i = 0; i < B * H; i++) o[i] = h[i] * mk[i];
  }
}

static void fwd_in(const stack_job *J, long l, long t, int half) {
  clk_lstm_layer *Y = &J->layers[l], *X = &J->layers[l - 1];
  long B = J->B, H = J->H, G = 4 * H, in = Y->in, w = G / 2, j0 = half * w;
  const float *x = X->outMask ? X->outDropped + t * B * H : X->hidden + (t + 1) * B * H;
  float *z = Y->gates + t * B * G + j0;
  for (long b = 0; b < B; b++) memcpy(z + b * G, Y->biasSum + j0, (size_t)w * sizeof(float));
  rows_product(J->ops, B, in, x, in, J->pi[l], j0 / CLK_NR, w / CLK_NR, z, G, 1.0f);
}

/* ---- backward tasks ----------------------------------------------------------------------- */

static void bwd_rec(const stack_job *J, long l, long t) {
  clk_lstm_layer *Y = &J->layers[l];
  long B = J->B, H = J->H, G = 4 * H, T = J->T;
  float *dh = Y->dHidden + t * B * H;
  if (t < T - 1) {
    clk_prefetch_cell_inputs(B, H, 0, H, Y->gates + t * B * G, Y->cells + t * B * H, Y->tanhC + t * B * H);
    rows_product(J->ops, B, G, Y->dGates + (t + 1) * B * G, G, J->pf[l], 0, H / CLK_NR, dh, H, 1.0f);
  }
  J->ops->pw->lstm_bwd(0, B, H, 0, H, Y->gates + t * B * G, Y->cells + t * B * H,
                       Y->tanhC + t * B * H, dh, Y->dc, Y->dGates + t * B * G);
}

static void bwd_dx(const stack_job *J, long l, long t, int half) {
  clk_lstm_layer *Y = &J->layers[l], *X = &J->layers[l - 1];
  long B = J->B, H = J->H, G = 4 * H, in = Y->in, w = in / 2, j0 = half * w;
  float *d = X->dHidden + t * B * in + j0;
  rows_product(J->ops, B, G, Y->dGates + t * B * G, G, J->pi[l], j0 / CLK_NR, w / CLK_NR, d, in, 0.0f);
  if (X->outMask) {
    const float *mk = X->outMask + t * B * in + j0;
    for (long b = 0; b < B; b++)
      for (long j = 0; j < w; j++) d[b * in + j] *= mk[b * in + j];
  }
}

/* ---- the scheduler ------------------------------------------------------------------------ */

/* Claims `step` of a counter that stands at it. */
static int claim(counter *c, long step) {
  long expected = step;
  return atomic_compare_exchange_strong_explicit(&c->v, &expected, step + 1, memory_order_acq_rel,
                                                 memory_order_relaxed);
}

static long load(counter *c) { return atomic_load_explicit(&c->v, memory_order_acquire); }

/* The step of the s-th task of a chain: forward t = s, backward t = T−1−s. */
static long step_of(const stack_job *J, long s) { return J->backward ? J->T - 1 - s : s; }

static void run_scheduler(void *ctx, long unused) {
  (void)unused;
  stack_job *J = ctx;
  long L = J->L, T = J->T;
  for (;;) {
    int did = 0, pending = 0;
    /* The recurrences: forward the lowest layer first, backward the highest. */
    for (long i = 0; i < L && !did; i++) {
      long l = J->backward ? L - 1 - i : i;
      long s = load(&J->rec_claim[l]);
      if (s >= T) continue;
      pending = 1;
      if (load(&J->rec_done[l]) != s) continue;
      long t = step_of(J, s);
      /* Forward: layer l's input halves at t; backward: the layer above's dX halves at t. */
      long src = J->backward ? l + 1 : l;
      if (J->backward ? l < L - 1 : l > 0) {
        if (atomic_load_explicit(&J->in_done[src * T + t], memory_order_acquire) != 2) continue;
      }
      if (!claim(&J->rec_claim[l], s)) continue;
      if (J->backward) bwd_rec(J, l, t);
      else fwd_rec(J, l, t);
      atomic_store_explicit(&J->rec_done[l].v, s + 1, memory_order_release);
      did = 1;
    }
    /* The input halves (forward, layers ≥ 1) / the dX halves (backward, layers ≥ 1). */
    for (long l = 1; l < L && !did; l++) {
      for (int half = 0; half < 2 && !did; half++) {
        counter *c = &J->in_claim[l * 2 + half];
        long s = load(c);
        if (s >= T) continue;
        pending = 1;
        /* Forward: layer l−1 has finished step s; backward: layer l has. */
        if (load(&J->rec_done[J->backward ? l : l - 1]) <= s) continue;
        if (!claim(c, s)) continue;
        long t = step_of(J, s);
        if (J->backward) bwd_dx(J, l, t, half);
        else fwd_in(J, l, t, half);
        atomic_fetch_add_explicit(&J->in_done[l * T + t], 1, memory_order_acq_rel);
        did = 1;
      }
    }
    if (!did) {
      if (!pending) return;
      spin_pause();
    }
  }
}

/* The fp32 panels of a packed matrix of k × n, or NULL when it is not one. */
static const float *panels_of(const void *packed, long k, long n) {
  clk_pack_header h;
  memcpy(&h, packed, sizeof h);
  if (h.magic != CLK_PACK_MAGIC || h.k != k || h.n != n) return NULL;
  return (const float *)((const char *)packed + h.data_offset);
}

int clk_lstm_stack_supported(long layers, long hidden) {
  const clk_isa_ops *ops = clk_ops();
  /* H % 64: each half of dX (H/2 columns) is whole panels. */
  return layers >= 2 && layers <= CLK_STACK_MAX_LAYERS && hidden > 0 && hidden % (2 * CLK_NR) == 0 &&
         clk_current_precision() == CLK_PREC_FP32 && ops->ukr_rm[1] != NULL;
}

static int run_stack(long L, long B, long T, long H, clk_lstm_layer *layers, int backward) {
  if (!clk_lstm_stack_supported(L, H) || B <= 0 || T <= 0) return -1;
  long G = 4 * H;
  const float *pf[CLK_STACK_MAX_LAYERS], *pi[CLK_STACK_MAX_LAYERS];
  for (long l = 0; l < L; l++) {
    clk_lstm_layer *Y = &layers[l];
    pf[l] = backward ? panels_of(Y->recurrent, G, H) : panels_of(Y->recurrent, H, G);
    pi[l] = NULL;
    if (!pf[l]) return -1;
    if (l > 0) {
      if (Y->in != H) return -1;
      pi[l] = backward ? panels_of(Y->input, G, Y->in) : panels_of(Y->input, Y->in, G);
      if (!pi[l]) return -1;
    }
  }
  /* The counters, then the input tasks' per-step flags, in this thread's scratch (no
   * allocation after the first window of a size). */
  size_t ctr_bytes = sizeof(counter) * (size_t)(4 * L), flag_bytes = sizeof(_Atomic int) * (size_t)(L * T);
  char *mem = (char *)clk_scratch(3, (ctr_bytes + flag_bytes + sizeof(float) - 1) / sizeof(float));
  counter *ctr = (counter *)mem;
  _Atomic int *in_done = (_Atomic int *)(mem + ctr_bytes);
  for (long i = 0; i < 4 * L; i++) atomic_init(&ctr[i].v, 0);
  for (long i = 0; i < L * T; i++) atomic_init(&in_done[i], 0);
  stack_job J = {.ops = clk_ops(), .L = L, .B = B, .T = T, .H = H, .layers = layers, .pf = pf,
                 .pi = pi, .rec_claim = ctr, .rec_done = ctr + L, .in_claim = ctr + 2 * L,
                 .in_done = in_done, .backward = backward};
  if (backward)
    for (long l = 0; l < L; l++) memset(layers[l].dc, 0, (size_t)(B * H) * sizeof(float));
  int threads = clk_get_threads();
  /* One scheduler loop per thread; the work estimate only has to clear the pool's threshold. */
  clk_parallel_for(threads, 2.0 * L * T * B * G * H, run_scheduler, &J);
  return 0;
}

int clk_lstm_stack_forward(long layers, long batch, long steps, long hidden, clk_lstm_layer *l) {
  return run_stack(layers, batch, steps, hidden, l, 0);
}

int clk_lstm_stack_backward(long layers, long batch, long steps, long hidden, clk_lstm_layer *l) {
  return run_stack(layers, batch, steps, hidden, l, 1);
}
