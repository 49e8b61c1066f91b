// The output head `nn.Linear(H, V)` batched over all T·B rows. Shapes legend in Config.swift.

import CharLSTMKernels

/// The linear head: `logits = Y · Wᵀ + b` with W [V, H], b [V], for all rows of a window at once.
enum Head {
  /// Forward: `logits[r, :] = b + Σ_j Y[r, j] · W[:, j]` as one gemm over all rows.
  /// - Parameters:
  ///   - input: Y [rows, H], the top layer's (dropped-out) outputs.
  ///   - weight: W [V, H]. - bias: b [V].
  ///   - logits: [rows, V], overwritten.
  static func forward<S: KernelScalar>(
    rows: Int, hidden H: Int, vocab V: Int, input: UnsafePointer<S>,
    weight: UnsafePointer<S>, bias: UnsafePointer<S>, logits: UnsafeMutablePointer<S>
  ) {
    for r in 0..<rows { (logits + r * V).update(from: bias, count: V) }  // [rows, V] ← b
    S.gemm(
      transA: false, transB: true, m: rows, n: V, k: H, alpha: 1, a: input, lda: H,
      b: weight, ldb: H, beta: 1, c: logits, ldc: V)
  }

  /// Backward: `dW += dLogitsᵀ·Y`, `db += Σ_r dLogits[r]`, `dY = dLogits·W`.
  /// - Parameters:
  ///   - dLogits: [rows, V] ∂L/∂logits.
  ///   - input: Y [rows, H] saved by the forward pass.
  ///   - weight: W [V, H].
  ///   - dWeight: [V, H], ACCUMULATED. - dBias: [V], ACCUMULATED.
  ///   - dInput: dY [rows, H], overwritten.
  static func backward<S: KernelScalar>(
    rows: Int, hidden H: Int, vocab V: Int, dLogits: UnsafePointer<S>, input: UnsafePointer<S>,
    weight: UnsafePointer<S>, dWeight: UnsafeMutablePointer<S>, dBias: UnsafeMutablePointer<S>,
    dInput: UnsafeMutablePointer<S>
  ) {
    // A weight gradient: an fp32 product in bf16 runs too (LSTMLayer.backward says why).
    Kernels.withPrecision(.fp32) {
      S.gemm(
        transA: true, transB: false, m: V, n: H, k: rows, alpha: 1, a: dLogits, lda: V,
        b: input, ldb: H, beta: 1, c: dWeight, ldc: H)
    }
    S.accumulateColumnSums(rows: rows, cols: V, a: dLogits, lda: V, out: dBias)
    S.gemm(
      transA: false, transB: false, m: rows, n: H, k: V, alpha: 1, a: dLogits, lda: V,
      b: weight, ldb: H, beta: 0, c: dInput, ldc: H)
  }
}
