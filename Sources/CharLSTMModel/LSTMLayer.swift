// One LSTM layer over a whole window: forward and backward side by side. Shapes legend in Config.swift.
//
// Cell (gate order i, f, g, o):
//   i = σ(W_ii x + b_ii + W_hi h + b_hi)   f = σ(…)   g = tanh(…)   o = σ(…)
//   c_t = f ⊙ c_{t−1} + i ⊙ g               h_t = o ⊙ tanh(c_t)
// Fast-path structure: the input projection of all T steps is ONE gemm before the recurrence;
// each step only adds the recurrent product h_{t−1}·W_hhᵀ (W_hh packed once per window) and
// runs the cell, both in one fused step (KernelScalar.lstmStepForward). Backward walks
// t = T−1 … 0, each step adding dGates_{t+1}·W_hh to dh_t and running the cell backward
// (lstmStepBackward), then forms all weight gradients as ONE product each over the T·B rows.

import CharLSTMKernels

/// The forward/backward of one `nn.LSTM` layer over a window of T steps and B streams.
enum LSTMLayer {
  /// Read-only views of one layer's parameters inside the flat vector.
  struct Weights<S: KernelScalar> {
    /// W_ih [G, in]: rows i, f, g, o blocks of H each.
    var wIh: UnsafePointer<S>
    /// W_hh [G, H].
    var wHh: UnsafePointer<S>
    /// b_ih [G].
    var bIh: UnsafePointer<S>
    /// b_hh [G].
    var bHh: UnsafePointer<S>
  }

  /// Views of one layer's gradients inside the flat gradient vector (same layouts as ``Weights``).
  struct Gradients<S: KernelScalar> {
    var wIh: UnsafeMutablePointer<S>  // [G, in]
    var wHh: UnsafeMutablePointer<S>  // [G, H]
    var bIh: UnsafeMutablePointer<S>  // [G]
    var bHh: UnsafeMutablePointer<S>  // [G]
  }

  /// What the forward pass saves for the backward pass.
  struct Activations<S: KernelScalar> {
    /// [T·B, G]: pre-activations, then (after the cell) σ(i), σ(f), tanh(g), σ(o).
    var gates: UnsafeMutablePointer<S>
    /// [(T+1)·B, H]: block 0 is the incoming c_0, block t+1 is c_t.
    var cells: UnsafeMutablePointer<S>
    /// [T·B, H]: tanh(c_t).
    var tanhC: UnsafeMutablePointer<S>
    /// [(T+1)·B, H]: block 0 is the incoming h_0, block t+1 is h_t (so `hidden + B·H` is the
    /// layer's output [T·B, H], and `hidden` itself is h_{t−1} for every t).
    var hidden: UnsafeMutablePointer<S>
  }

  /// The input projection of every step at once: gates [T·B, G] = (b_ih + b_hh) + x·W_ihᵀ.
  /// - Parameters:
  ///   - input: x [T·B, in].
  ///   - biasSum: written with b_ih + b_hh [G].
  static func inputProjection<S: KernelScalar>(
    batch B: Int, steps T: Int, inSize: Int, hidden H: Int, weights w: Weights<S>,
    input: UnsafePointer<S>, gates: UnsafeMutablePointer<S>, biasSum: UnsafeMutablePointer<S>
  ) {
    let G = 4 * H
    let rows = T * B
    // biasSum [G] = b_ih + b_hh; every row of gates [T·B, G] starts from it.
    biasSum.update(from: w.bIh, count: G)
    S.accumulateColumnSums(rows: 1, cols: G, a: w.bHh, lda: G, out: biasSum)
    for r in 0..<rows { (gates + r * G).update(from: biasSum, count: G) }
    // gates [T·B, G] += x [T·B, in] · W_ihᵀ — the input projection of every step at once.
    S.gemm(
      transA: false, transB: true, m: rows, n: G, k: inSize, alpha: 1, a: input, lda: inSize,
      b: w.wIh, ldb: inSize, beta: 1, c: gates, ldc: G)
  }

  /// Forward over T steps.
  ///
  /// gates_t = x_t·W_ihᵀ + (b_ih + b_hh) + h_{t−1}·W_hhᵀ, then the fused cell.
  /// - Parameters:
  ///   - inSize: in (E for layer 0, H above).
  ///   - input: x [T·B, in].
  ///   - h0, c0: [B, H] the carried state (copied into block 0 of `act.hidden` / `act.cells`).
  ///   - act: buffers written (see ``Activations``).
  ///   - biasSum: scratch [G].
  ///   - packed: scratch of at least `S.packedByteCount(k: H, n: G)` bytes.
  static func forward<S: KernelScalar>(
    batch B: Int, steps T: Int, inSize: Int, hidden H: Int, weights w: Weights<S>,
    input: UnsafePointer<S>, h0: UnsafePointer<S>, c0: UnsafePointer<S>,
    act: Activations<S>, biasSum: UnsafeMutablePointer<S>, packed: UnsafeMutableRawPointer
  ) {
    let G = 4 * H
    inputProjection(
      batch: B, steps: T, inSize: inSize, hidden: H, weights: w, input: input, gates: act.gates,
      biasSum: biasSum)
    // Block 0 of h and c is the carried state.
    act.hidden.update(from: h0, count: B * H)
    act.cells.update(from: c0, count: B * H)
    // packed ← W_hhᵀ as a k×n = H×G right-hand operand, once for the window.
    S.pack(transB: true, k: H, n: G, b: w.wHh, ldb: H, into: packed)
    for t in 0..<T {
      // gates_t [B, G] += h_{t−1} [B, H] · W_hhᵀ [H, G], then the cell: c_t, tanh(c_t), h_t.
      S.lstmStepForward(
        batch: B, hidden: H, hPrev: act.hidden + t * B * H, packed: UnsafeRawPointer(packed),
        gates: act.gates + t * B * G, cPrev: act.cells + t * B * H,
        c: act.cells + (t + 1) * B * H, tanhC: act.tanhC + t * B * H,
        h: act.hidden + (t + 1) * B * H)
    }
  }

  /// Backward over T steps (truncated: nothing flows into h_0, c_0).
  ///
  /// Reverse walk t = T−1 … 0: `dGates_t, dc ← cellBackward(dh_t, dc)`, then
  /// `dh_{t−1} += dGates_t · W_hh`. Afterwards, over all T·B rows at once:
  /// `dW_ih += dGatesᵀ·X`, `dW_hh += dGatesᵀ·H_{prev}`, `db_ih += Σ dGates`, `db_hh += Σ dGates`,
  /// `dX = dGates·W_ih`.
  /// - Parameters:
  ///   - input: x [T·B, in] as given to the forward pass.
  ///   - act: the forward pass's saved ``Activations``.
  ///   - dHidden: [T·B, H] ∂L/∂h_t from the layer above / the head; consumed (overwritten with
  ///     the total gradient including the recurrent part).
  ///   - grads: parameter gradients, ACCUMULATED.
  ///   - dGates: scratch [T·B, G]. - dc: scratch [B, H] (zeroed here).
  ///   - packed: scratch of at least `S.packedByteCount(k: G, n: H)` bytes.
  ///   - dInput: dX [T·B, in], overwritten.
  static func backward<S: KernelScalar>(
    batch B: Int, steps T: Int, inSize: Int, hidden H: Int, weights w: Weights<S>,
    grads: Gradients<S>, input: UnsafePointer<S>, act: Activations<S>,
    dHidden: UnsafeMutablePointer<S>, dGates: UnsafeMutablePointer<S>,
    dc: UnsafeMutablePointer<S>, packed: UnsafeMutableRawPointer,
    dInput: UnsafeMutablePointer<S>
  ) {
    let G = 4 * H
    dc.update(repeating: 0, count: B * H)  // ∂L/∂c_T = 0: nothing beyond the window.
    // packed ← W_hh [G, H] as a k×n = G×H right-hand operand.
    S.pack(transB: false, k: G, n: H, b: w.wHh, ldb: H, into: packed)
    for t in stride(from: T - 1, through: 0, by: -1) {
      // dh_t [B, H] += dGates_{t+1} [B, G] · W_hh [G, H] (the recurrent part, not at t = T−1),
      // then the cell backward: dGates_t [B, G] and dc ← ∂L/∂c_{t−1}.
      S.lstmStepBackward(
        batch: B, hidden: H, dGatesNext: t < T - 1 ? UnsafePointer(dGates + (t + 1) * B * G) : nil,
        packed: UnsafeRawPointer(packed), dh: dHidden + t * B * H, gates: act.gates + t * B * G,
        cPrev: act.cells + t * B * H, tanhC: act.tanhC + t * B * H, dc: dc,
        dGates: dGates + t * B * G)
    }
    parameterGradients(
      batch: B, steps: T, inSize: inSize, hidden: H, grads: grads, input: input, act: act,
      dGates: dGates)
    inputGradient(
      batch: B, steps: T, inSize: inSize, hidden: H, weights: w, dGates: dGates, dInput: dInput)
  }

  /// The parameter gradients of a window from its ∂L/∂gates, over all T·B rows at once:
  /// `dW_ih += dGatesᵀ·X`, `dW_hh += dGatesᵀ·H_{prev}`, `db_ih += Σ dGates`, `db_hh += Σ dGates`.
  /// - Parameters:
  ///   - grads: ACCUMULATED.
  ///   - input: x [T·B, in]. - act: the forward's activations (for H_prev).
  ///   - dGates: [T·B, G].
  static func parameterGradients<S: KernelScalar>(
    batch B: Int, steps T: Int, inSize: Int, hidden H: Int, grads: Gradients<S>,
    input: UnsafePointer<S>, act: Activations<S>, dGates: UnsafePointer<S>
  ) {
    let G = 4 * H
    let rows = T * B
    // The weight gradients stay fp32 products in bf16 runs (the mixed-precision recipe's one
    // exception): with them in bf16 the README's 2×512 recipe ended 0.013 nats behind fp32, with
    // them in fp32 0.004 behind (README, Precision).
    Kernels.withPrecision(.fp32) {
      // dW_ih [G, in] += dGatesᵀ [G, T·B] · X [T·B, in]
      S.gemm(
        transA: true, transB: false, m: G, n: inSize, k: rows, alpha: 1, a: dGates, lda: G,
        b: input, ldb: inSize, beta: 1, c: grads.wIh, ldc: inSize)
      // dW_hh [G, H] += dGatesᵀ [G, T·B] · H_prev [T·B, H] (blocks 0..<T of `hidden`, h_0 first)
      S.gemm(
        transA: true, transB: false, m: G, n: H, k: rows, alpha: 1, a: dGates, lda: G,
        b: act.hidden, ldb: H, beta: 1, c: grads.wHh, ldc: H)
    }
    // db_ih [G] += Σ_rows dGates; db_hh likewise (the two biases enter identically).
    S.accumulateColumnSums(rows: rows, cols: G, a: dGates, lda: G, out: grads.bIh)
    S.accumulateColumnSums(rows: rows, cols: G, a: dGates, lda: G, out: grads.bHh)
  }

  /// dX [T·B, in] = dGates [T·B, G] · W_ih [G, in] (overwritten).
  static func inputGradient<S: KernelScalar>(
    batch B: Int, steps T: Int, inSize: Int, hidden H: Int, weights w: Weights<S>,
    dGates: UnsafePointer<S>, dInput: UnsafeMutablePointer<S>
  ) {
    S.gemm(
      transA: false, transB: false, m: T * B, n: inSize, k: 4 * H, alpha: 1, a: dGates, lda: 4 * H,
      b: w.wIh, ldb: inSize, beta: 0, c: dInput, ldc: inSize)
  }
}
