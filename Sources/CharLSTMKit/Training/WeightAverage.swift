// An exponential moving average of the weights (``TrainingConfig/emaDecay``).
// Shapes: P = parameter count; the average is flat in the model's slots layout.

/// An exponential moving average (EMA) of a run's weights, Polyak averaging in its
/// exponential form: after the n-th optimizer step, a ← a + (1 − dₙ)·(p − a) with
/// dₙ = min(D, (1 + n)/(10 + n)), starting from the weights the run began with.
///
/// The warm-up of dₙ (TensorFlow's `ExponentialMovingAverage` with `num_updates`) lets the
/// average follow the fast early changes instead of keeping the initial weights for ~1/(1 − D)
/// steps. The average changes nothing in training: gradients and updates use the weights the
/// optimizer moves. Validation, the checkpoints' model tensors, and so `generate`, `eval`,
/// `serve` and `--init-from`, use the average.
///
/// The update is elementwise in Float with a factor computed in Double from n alone, so it is
/// a pure function of the weights' history: a resumed or distributed run (every process
/// updates identically) holds the same average bit for bit.
public struct WeightAverage: Sendable, Equatable {
  /// D, in (0, 1).
  public let decay: Double

  /// - Parameter decay: D in [0, 1); 0 gives nil (off: the average would be the weights).
  public init?(decay: Double) {
    guard decay > 0 else { return nil }
    self.decay = decay
  }

  /// dₙ, the weight the average keeps at the n-th update (1-based): min(D, (1 + n)/(10 + n)).
  public func keep(atUpdate n: Int) -> Double {
    min(decay, Double(1 + n) / Double(10 + n))
  }

  /// The n-th update (1-based, the optimizer step just taken): a ← a + (1 − dₙ)·(p − a).
  /// - Parameters:
  ///   - average: a [P], updated in place.
  ///   - weights: p [P], the weights after the step.
  public func update(_ average: UnsafeMutableBufferPointer<Float>, toward weights: UnsafeBufferPointer<Float>, atUpdate n: Int) {
    precondition(average.count == weights.count, "average [\(average.count)] and weights [\(weights.count)] differ")
    let rate = Float(1 - keep(atUpdate: n))
    for i in 0..<average.count { average[i] += rate * (weights[i] - average[i]) }
  }
}
