/* Public pointwise entry points: dispatch to the current ISA and split big calls over rows
 * (or column blocks) on the pool. Row/column chunking depends only on the shape, and partial
 * losses are combined in chunk order, so results do not depend on the thread count. */
#include "internal.h"
#include <math.h>

typedef struct {
  const clk_pw_ops *pw;
  long rows, per, H, cols, lda;
  float *gates;
  const float *cgates, *cPrev, *tanhC, *dh, *a;
  float *c, *tc, *h, *dc, *dGates, *logits, *out;
  const int32_t *targets;
  float scale;
  double *partial;
} pw_job;

static long chunk_rows(long rows, long per_row_work) {
  long per = (65536 + per_row_work - 1) / (per_row_work > 0 ? per_row_work : 1);
  if (per < 1) per = 1;
  return per > rows ? rows : per;
}

static void fwd_task(void *v, long t) {
  pw_job *J = v;
  long b0 = t * J->per, b1 = b0 + J->per < J->rows ? b0 + J->per : J->rows;
  J->pw->lstm_fwd(b0, b1, J->H, 0, J->H, J->gates, J->cPrev, J->c, J->tc, J->h);
}

void clk_lstm_cell_forward(long batch, long hidden, float *gates, const float *cPrev, float *c,
                           float *tanhC, float *h) {
  if (batch <= 0 || hidden <= 0) return;
  pw_job J = {.pw = clk_ops()->pw, .rows = batch, .H = hidden, .gates = gates, .cPrev = cPrev,
              .c = c, .tc = tanhC, .h = h};
  J.per = chunk_rows(batch, hidden * 4);
  long n = (batch + J.per - 1) / J.per;
  clk_parallel_for(n, 60.0 * batch * hidden, fwd_task, &J);
}

static void bwd_task(void *v, long t) {
  pw_job *J = v;
  long b0 = t * J->per, b1 = b0 + J->per < J->rows ? b0 + J->per : J->rows;
  J->pw->lstm_bwd(b0, b1, J->H, 0, J->H, J->cgates, J->cPrev, J->tanhC, J->dh, J->dc, J->dGates);
}

void clk_lstm_cell_backward(long batch, long hidden, const float *gates, const float *cPrev,
                            const float *tanhC, const float *dh, float *dc, float *dGates) {
  if (batch <= 0 || hidden <= 0) return;
  pw_job J = {.pw = clk_ops()->pw, .rows = batch, .H = hidden, .cgates = gates, .cPrev = cPrev,
              .tanhC = tanhC, .dh = dh, .dc = dc, .dGates = dGates};
  J.per = chunk_rows(batch, hidden * 4);
  long n = (batch + J.per - 1) / J.per;
  clk_parallel_for(n, 20.0 * batch * hidden, bwd_task, &J);
}

static void sm_task(void *v, long t) {
  pw_job *J = v;
  long r0 = t * J->per, r1 = r0 + J->per < J->rows ? r0 + J->per : J->rows;
  J->partial[t] = J->pw->softmax(r0, r1, J->cols, J->logits, J->targets, J->scale);
}

double clk_softmax_xent(long rows, long cols, float *logits, const int32_t *targets,
                        float scale) {
  if (rows <= 0 || cols <= 0) return 0;
  enum { MAXCHUNKS = 256 };
  double partial[MAXCHUNKS];
  pw_job J = {.pw = clk_ops()->pw, .rows = rows, .cols = cols, .logits = logits,
              .targets = targets, .scale = scale, .partial = partial};
  J.per = chunk_rows(rows, cols);
  if ((rows + J.per - 1) / J.per > MAXCHUNKS) J.per = (rows + MAXCHUNKS - 1) / MAXCHUNKS;
  long n = (rows + J.per - 1) / J.per;
  clk_parallel_for(n, 20.0 * rows * cols, sm_task, &J);
  double total = 0;
  for (long t = 0; t < n; t++) total += partial[t];
  return total;
}

static void cs_task(void *v, long t) {
  pw_job *J = v;
  long j0 = t * J->per, j1 = j0 + J->per < J->cols ? j0 + J->per : J->cols;
  J->pw->colsum(J->rows, j0, j1, J->a, J->lda, J->out);
}

void clk_col_sums_acc(long rows, long cols, const float *a, long lda, float *out) {
  if (rows <= 0 || cols <= 0) return;
  pw_job J = {.pw = clk_ops()->pw, .rows = rows, .cols = cols, .a = a, .lda = lda, .out = out};
  J.per = 256;
  long n = (cols + J.per - 1) / J.per;
  clk_parallel_for(n, 4.0 * rows * cols, cs_task, &J);
}

void clk_vexp(const float *x, float *y, long n) { if (n > 0) clk_ops()->pw->vexp(x, y, n); }
void clk_vsigmoid(const float *x, float *y, long n) {
  if (n > 0) clk_ops()->pw->vsigmoid(x, y, n);
}
void clk_vtanh(const float *x, float *y, long n) { if (n > 0) clk_ops()->pw->vtanh(x, y, n); }
