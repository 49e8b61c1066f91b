// Shared helpers for the model tests: random windows, copies of state, the gradient checker.

import CharLSTMKernels
import Testing

import CharLSTMModel

/// A fixed window of data plus an incoming state, so a loss can be re-evaluated identically.
struct Window {
  var inputs: [Int32]  // [T·B] time-major
  var targets: [Int32]  // [T·B]
  var batch: Int
  var steps: Int
  var state: LSTMState<Double>  // incoming (h, c) [L, B, H]

  /// Random tokens in 0..<V and, if `nonZeroState`, a random incoming state with
  /// h in (−0.9, 0.9) and c in (−2, 2).
  init(config: ModelConfig, batch: Int, steps: Int, seed: UInt64, nonZeroState: Bool) {
    var g = SeededGenerator(seed: seed)
    let V = UInt64(config.vocabSize)
    inputs = (0..<(batch * steps)).map { _ in Int32(g.next() % V) }
    targets = (0..<(batch * steps)).map { _ in Int32(g.next() % V) }
    self.batch = batch
    self.steps = steps
    state = .zeros(for: config, batch: batch)
    if nonZeroState {
      for i in state.h.indices { state.h[i] = 0.9 * (2 * g.nextUnitDouble() - 1) }
      for i in state.c.indices { state.c[i] = 2 * (2 * g.nextUnitDouble() - 1) }
    }
  }

  /// The mean training loss (dropout masks, and those of `regularization`, drawn from a
  /// generator seeded with `dropoutSeed`, so every evaluation sees the same masks). Gradients
  /// accumulate into the model as a side effect.
  func trainLoss<S: KernelScalar>(
    _ model: CharModel<S>, state: LSTMState<S>, dropoutSeed: UInt64 = 99,
    regularization: Regularization = .none
  ) -> Double {
    var s = state
    var dropout = SeededGenerator(seed: dropoutSeed)
    return inputs.withUnsafeBufferPointer { x in
      targets.withUnsafeBufferPointer { y in
        model.trainWindow(
          inputs: x, targets: y, batch: batch, steps: steps, state: &s, dropoutGenerator: &dropout,
          regularization: regularization)
      }
    }
  }

  /// The analytic gradient: zero, one training window, copy.
  func analyticGradient(
    _ model: CharModel<Double>, dropoutSeed: UInt64 = 99, regularization: Regularization = .none
  ) -> [Double] {
    model.zeroGradients()
    _ = trainLoss(model, state: state, dropoutSeed: dropoutSeed, regularization: regularization)
    return model.gradients
  }
}

/// The outcome of comparing analytic and numerical gradients on a set of indices.
struct GradientCheck: CustomStringConvertible {
  /// Largest relative error seen (see ``relativeError(_:_:)``).
  var maxError = 0.0
  /// The first checked index whose error exceeds the tolerance, with both values.
  var firstBad: (index: Int, analytic: Double, numeric: Double, error: Double)?
  var checked = 0
  var passed: Bool { firstBad == nil }
  var description: String {
    if let b = firstBad {
      return "first mismatch at parameter \(b.index): analytic \(b.analytic), numeric "
        + "\(b.numeric), relative error \(b.error) (max \(maxError) over \(checked) entries)"
    }
    return "ok: max relative error \(maxError) over \(checked) entries"
  }
}

/// Relative error |a − n| / max(|a| + |n|, 1e-3).
///
/// The floor 1e-3 keeps entries whose true gradient is ~0 from dividing noise by noise: with
/// eps = 1e-5 the central difference of a loss of order 1 carries absolute noise ≈ 1e-16/1e-5
/// plus truncation ≈ eps² ≈ 1e-10, i.e. ≲ 1e-7 after the floor, well under the 1e-6 threshold,
/// while any real mistake of size ≥ 1e-9 in an entry already exceeds it.
func relativeError(_ a: Double, _ n: Double) -> Double {
  abs(a - n) / max(abs(a) + abs(n), 1e-3)
}

/// Central finite differences `(L(θ + eps·e_i) − L(θ − eps·e_i)) / 2eps` for every index in
/// `indices`, compared with `analytic[i]` using ``relativeError(_:_:)``.
func checkGradient(
  model: CharModel<Double>, analytic: [Double], indices: some Sequence<Int>,
  eps: Double = 1e-5, tolerance: Double = 1e-6, loss: () -> Double
) -> GradientCheck {
  var result = GradientCheck()
  for i in indices {
    let saved = model.parameters[i]
    model.parameters[i] = saved + eps
    let plus = loss()
    model.parameters[i] = saved - eps
    let minus = loss()
    model.parameters[i] = saved
    let numeric = (plus - minus) / (2 * eps)
    let err = relativeError(analytic[i], numeric)
    result.checked += 1
    result.maxError = max(result.maxError, err)
    if err > tolerance && result.firstBad == nil {
      result.firstBad = (i, analytic[i], numeric, err)
    }
  }
  return result
}
