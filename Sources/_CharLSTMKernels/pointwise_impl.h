/* Pointwise kernels written once over GCC/clang vector extensions of VW floats, compiled per
 * ISA by pw_*.c (which define VW, PW_OPS_NAME and a target pragma before including this).
 *
 * exp: Cephes-style range reduction x = n·ln2 + r (two-constant ln2), degree-6 polynomial,
 * 2^n applied as two power-of-two factors so results down to the subnormal range are right;
 * input clamped to [-104, 89] (→ 0 / +inf). sigmoid = 1/(1+exp(−x)). tanh: odd polynomial for
 * |x| < 0.625, else sign(x)·(1 − 2/(exp(2|x|)+1)). The reciprocals are a fast reciprocal and a
 * Newton step where the ISA has one (vrcp). No NaN for finite input. */
#include "internal.h"
#include <math.h>
#include <string.h>

typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef float vf_u __attribute__((vector_size(VW * 4), aligned(4), may_alias));

#define INL static inline __attribute__((always_inline))

INL vf ld(const float *p) { return *(const vf_u *)p; }
INL void st(float *p, vf v) { *(vf_u *)p = v; }
INL vf splat(float x) { return (vf){0} + x; }
INL vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
INL vf vmax(vf a, vf b) { return sel(a > b, a, b); }
INL vf vmin(vf a, vf b) { return sel(a < b, a, b); }

/* Where the ISA file defines PW_SCALEF(y, n) (y·2^n) and PW_ROUND(x) (to the nearest integer),
 * exp scales by 2^n in one instruction (AVX-512 VSCALEFPS) instead of building two powers of
 * two from integer bits; the same values in the normal range (both scalings are exact). */
INL vf vexpf(vf x) {
  x = vmax(x, splat(-104.0f));
  x = vmin(x, splat(89.0f));
#ifdef PW_SCALEF
  vf n = PW_ROUND(x * 1.44269504088896341f);
#else
  const float magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
  vf t = x * 1.44269504088896341f + magic;
  vf n = t - magic;
  vi ni = (vi)t - 0x4B400000;
#endif
  vf r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  vf y = splat(1.9875691500E-4f);
  y = y * r + 1.3981999507E-3f;
  y = y * r + 8.3334519073E-3f;
  y = y * r + 4.1665795894E-2f;
  y = y * r + 1.6666665459E-1f;
  y = y * r + 5.0000001201E-1f;
  y = y * (r * r) + r + 1.0f;
#ifdef PW_SCALEF
  return PW_SCALEF(y, n);
#else
  vi n1 = ni >> 1, n2 = ni - n1;
  vf s1 = (vf)((n1 + 127) << 23), s2 = (vf)((n2 + 127) << 23);
  return y * s1 * s2;
#endif
}

/* 1/d for d ≥ 1 (finite): PW_RCP(d) where the ISA file gives a fast reciprocal (AVX-512:
 * VRCP14PS, 14 bits, then one Newton step to ~1 ulp), else a division. The divider is the
 * cell's bottleneck: one VDIVPS per 16 lanes every ~3.6 ns on the Intel VM, and 7 ns when both
 * of its vCPUs divide at once (they share it), while the Newton step is two FMAs. */
INL vf vrcp(vf d) {
#ifdef PW_RCP
  vf r = PW_RCP(d);
  return r + r * (1.0f - d * r);
#else
  return 1.0f / d;
#endif
}

/* exp(−x) ≤ e^88 < FLT_MAX keeps 1 + exp(−x) finite for the reciprocal (below −88 the true
 * value is under 2^-126 and the result is 0 or subnormal either way). */
INL vf vsigm(vf x) { return vrcp(1.0f + vexpf(vmin(-x, splat(88.0f)))); }

INL vf vtanhf(vf x) {
  vi sign = (vi)x & (int32_t)0x80000000;
  vf ax = (vf)((vi)x & 0x7fffffff);
  vf z = x * x;
  vf p = splat(-5.70498872745E-3f);
  p = p * z + 2.06390887954E-2f;
  p = p * z - 5.37397155531E-2f;
  p = p * z + 1.33314422036E-1f;
  p = p * z - 3.33332819422E-1f;
  vf small = p * z * x + x;
  /* tanh(x) rounds to ±1 from |x| ≈ 9 on; capping 2|x| at 40 keeps exp finite. */
  vf e = vexpf(vmin(ax + ax, splat(40.0f)));
  vf big = 1.0f - 2.0f * vrcp(e + 1.0f);
  big = (vf)((vi)big | sign);
  return sel(ax < 0.625f, small, big);
}

/* ---- LSTM cell ---------------------------------------------------------------------------- */

INL void fwd_vec(float *zi, float *zf, float *zg, float *zo, const float *cp, float *c,
                 float *tc, float *h) {
  vf i = vsigm(ld(zi)), f = vsigm(ld(zf)), g = vtanhf(ld(zg)), o = vsigm(ld(zo));
  st(zi, i);
  st(zf, f);
  st(zg, g);
  st(zo, o);
  vf cv = f * ld(cp) + i * g;
  vf t = vtanhf(cv);
  st(c, cv);
  st(tc, t);
  st(h, o * t);
}

/* Rows [b0, b1), hidden units [j0, j1) (each element is computed alone, so any split of the
 * rows or units gives the same bits). */
static void lstm_fwd(long b0, long b1, long H, long j0, long j1, float *gates,
                     const float *cPrev, float *c, float *tanhC, float *h) {
  for (long b = b0; b < b1; b++) {
    float *z = gates + b * 4 * H;
    long o = b * H, j = j0;
    for (; j + VW <= j1; j += VW)
      fwd_vec(z + j, z + H + j, z + 2 * H + j, z + 3 * H + j, cPrev + o + j, c + o + j,
              tanhC + o + j, h + o + j);
    if (j < j1) {
      long w = j1 - j;
      float t[8][VW];
      memset(t, 0, sizeof t);
      for (long q = 0; q < w; q++) {
        t[0][q] = z[j + q];
        t[1][q] = z[H + j + q];
        t[2][q] = z[2 * H + j + q];
        t[3][q] = z[3 * H + j + q];
        t[4][q] = cPrev[o + j + q];
      }
      fwd_vec(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
      for (long q = 0; q < w; q++) {
        z[j + q] = t[0][q];
        z[H + j + q] = t[1][q];
        z[2 * H + j + q] = t[2][q];
        z[3 * H + j + q] = t[3][q];
        c[o + j + q] = t[5][q];
        tanhC[o + j + q] = t[6][q];
        h[o + j + q] = t[7][q];
      }
    }
  }
}

INL void bwd_vec(const float *zi, const float *zf, const float *zg, const float *zo,
                 const float *cp, const float *tcp, const float *dhp, float *dc, float *di,
                 float *df, float *dg, float *dout) {
  vf i = ld(zi), f = ld(zf), g = ld(zg), o = ld(zo), tc = ld(tcp), dh = ld(dhp);
  vf dct = ld(dc) + dh * o * (1.0f - tc * tc);
  st(di, dct * g * i * (1.0f - i));
  st(df, dct * ld(cp) * f * (1.0f - f));
  st(dg, dct * i * (1.0f - g * g));
  st(dout, dh * tc * o * (1.0f - o));
  st(dc, dct * f);
}

static void lstm_bwd(long b0, long b1, long H, long j0, long j1, const float *gates,
                     const float *cPrev, const float *tanhC, const float *dh, float *dc,
                     float *dGates) {
  for (long b = b0; b < b1; b++) {
    const float *z = gates + b * 4 * H;
    float *dz = dGates + b * 4 * H;
    long o = b * H, j = j0;
    for (; j + VW <= j1; j += VW)
      bwd_vec(z + j, z + H + j, z + 2 * H + j, z + 3 * H + j, cPrev + o + j, tanhC + o + j,
              dh + o + j, dc + o + j, dz + j, dz + H + j, dz + 2 * H + j, dz + 3 * H + j);
    if (j < j1) {
      long w = j1 - j;
      float t[12][VW];
      memset(t, 0, sizeof t);
      for (long q = 0; q < w; q++) {
        t[0][q] = z[j + q];
        t[1][q] = z[H + j + q];
        t[2][q] = z[2 * H + j + q];
        t[3][q] = z[3 * H + j + q];
        t[4][q] = cPrev[o + j + q];
        t[5][q] = tanhC[o + j + q];
        t[6][q] = dh[o + j + q];
        t[7][q] = dc[o + j + q];
      }
      bwd_vec(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11]);
      for (long q = 0; q < w; q++) {
        dc[o + j + q] = t[7][q];
        dz[j + q] = t[8][q];
        dz[H + j + q] = t[9][q];
        dz[2 * H + j + q] = t[10][q];
        dz[3 * H + j + q] = t[11][q];
      }
    }
  }
}

/* ---- softmax cross-entropy ---------------------------------------------------------------- */

INL float hsum(vf v) {
  float s = 0;
  for (int q = 0; q < VW; q++) s += v[q];
  return s;
}
INL float hmax(vf v) {
  float s = v[0];
  for (int q = 1; q < VW; q++) s = v[q] > s ? v[q] : s;
  return s;
}

static double softmax_rows(long r0, long r1, long cols, float *logits, const int32_t *targets,
                           float scale) {
  double total = 0;
  for (long r = r0; r < r1; r++) {
    float *row = logits + r * cols;
    long t = targets[r];
    int valid = t >= 0 && t < cols;
    float xt = valid ? row[t] : 0;
    long j = 0;
    vf vm = splat(-INFINITY);
    for (; j + VW <= cols; j += VW) vm = vmax(vm, ld(row + j));
    float mx = hmax(vm);
    for (; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
    vf vs = splat(0), vmx = splat(mx);
    for (j = 0; j + VW <= cols; j += VW) {
      vf e = vexpf(ld(row + j) - vmx);
      vs += e;
      st(row + j, e);
    }
    if (j < cols) {
      float tmp[VW];
      for (int q = 0; q < VW; q++) tmp[q] = j + q < cols ? row[j + q] : -INFINITY;
      vf e = vexpf(ld(tmp) - vmx);
      vs += e;
      st(tmp, e);
      for (long q = 0; j + q < cols; q++) row[j + q] = tmp[q];
    }
    float sum = hsum(vs);
    vf s = splat(scale / sum);
    for (j = 0; j + VW <= cols; j += VW) st(row + j, ld(row + j) * s);
    for (; j < cols; j++) row[j] *= scale / sum;
    if (!valid) {
      total += NAN;
      continue;
    }
    total += -((double)xt - (double)mx - log((double)sum));
    row[t] -= scale;
  }
  return total;
}

/* ---- column sums ------------------------------------------------------------------------- */

static void colsum(long rows, long j0, long j1, const float *a, long lda, float *out) {
  long j = j0;
  for (; j + 4 * VW <= j1; j += 4 * VW) {
    vf s0 = ld(out + j), s1 = ld(out + j + VW), s2 = ld(out + j + 2 * VW),
       s3 = ld(out + j + 3 * VW);
    for (long r = 0; r < rows; r++) {
      const float *p = a + r * lda + j;
      s0 += ld(p);
      s1 += ld(p + VW);
      s2 += ld(p + 2 * VW);
      s3 += ld(p + 3 * VW);
    }
    st(out + j, s0);
    st(out + j + VW, s1);
    st(out + j + 2 * VW, s2);
    st(out + j + 3 * VW, s3);
  }
  for (; j + VW <= j1; j += VW) {
    vf s0 = ld(out + j);
    for (long r = 0; r < rows; r++) s0 += ld(a + r * lda + j);
    st(out + j, s0);
  }
  for (; j < j1; j++) {
    float s = out[j];
    for (long r = 0; r < rows; r++) s += a[r * lda + j];
    out[j] = s;
  }
}

/* ---- array math --------------------------------------------------------------------------- */

#define ARRAY_FN(NAME, F)                                                                      \
  static void NAME(const float *x, float *y, long n) {                                         \
    long i = 0;                                                                                \
    for (; i + VW <= n; i += VW) st(y + i, F(ld(x + i)));                                      \
    if (i < n) {                                                                               \
      float t[VW] = {0};                                                                       \
      for (long q = 0; i + q < n; q++) t[q] = x[i + q];                                        \
      st(t, F(ld(t)));                                                                         \
      for (long q = 0; i + q < n; q++) y[i + q] = t[q];                                        \
    }                                                                                          \
  }
ARRAY_FN(arr_exp, vexpf)
ARRAY_FN(arr_sigmoid, vsigm)
ARRAY_FN(arr_tanh, vtanhf)

const clk_pw_ops PW_OPS_NAME = {lstm_fwd, lstm_bwd, softmax_rows, colsum,
                                arr_exp,  arr_sigmoid, arr_tanh};
