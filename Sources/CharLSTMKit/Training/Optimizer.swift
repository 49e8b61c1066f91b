// Update rules over the model's flat parameter vector. Shapes: P = parameter count.

/// An optimizer's running state (its moments), flat in the parameters' layout.
public struct OptimizerState: Equatable, Sendable {
  /// The update rule these moments belong to.
  public var kind: OptimizerKind
  /// Updates applied so far (Adam's bias correction uses it).
  public var step: Int
  /// First moment (Adam) or momentum buffer (SGD). [P]; empty for RMSprop.
  public var first: [Float]
  /// Second moment (Adam, RMSprop). [P]; empty for SGD.
  public var second: [Float]

  /// Zero state for `kind` over `count` parameters.
  public init(kind: OptimizerKind, count: Int) {
    self.kind = kind
    self.step = 0
    first = kind == .rmsprop ? [] : [Float](repeating: 0, count: count)
    second = kind == .sgd ? [] : [Float](repeating: 0, count: count)
  }

  /// A state restored from saved moments (as read from a checkpoint).
  public init(kind: OptimizerKind, step: Int, first: [Float], second: [Float]) {
    self.kind = kind
    self.step = step
    self.first = first
    self.second = second
  }

  /// Applies one update to `params` [P] from `grads` [P] at learning rate `lr`.
  ///
  /// Adam: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε).
  /// RMSprop: v ← α·v + (1−α)·g², p ← p − lr·g/(√v + ε). SGD: b ← μ·b + g, p ← p − lr·b.
  /// With `weightDecay` λ, first p ← p·(1 − lr·λ) on its ranges (decoupled: the gradient and
  /// the moments never see it), as `torch.optim.AdamW` does before its Adam step.
  /// - Parameters:
  ///   - lr: this step's learning rate (after schedule and warm-up; the decay uses it too).
  ///   - weightDecay: decoupled weight decay (nil: none).
  public mutating func update(
    params: UnsafeMutableBufferPointer<Float>, grads: UnsafeBufferPointer<Float>,
    lr: Double, momentum: Double, weightDecay: WeightDecay? = nil
  ) {
    precondition(params.count == grads.count, "parameters [\(params.count)] and gradients [\(grads.count)] differ")
    step += 1
    let n = params.count
    if let weightDecay { weightDecay.apply(params, lr: lr) }
    switch kind {
    case .adam:
      let b1: Float = 0.9
      let b2: Float = 0.999
      // 1 − β computed in Double, as PyTorch does (in Float, 1 − 0.999f is 0.00099998713).
      let c1 = Float(1 - 0.9), c2 = Float(1 - 0.999)
      let eps: Float = 1e-8
      let bc1 = 1 - pow(0.9, Double(step))
      let bc2 = 1 - pow(0.999, Double(step))
      let stepSize = Float(lr / bc1)
      let invSqrtBC2 = Float(1 / bc2.squareRoot())
      first.withUnsafeMutableBufferPointer { m in
        second.withUnsafeMutableBufferPointer { v in
          for i in 0..<n {
            let g = grads[i]
            m[i] = b1 * m[i] + c1 * g
            v[i] = b2 * v[i] + c2 * g * g
            params[i] -= stepSize * m[i] / ((v[i]).squareRoot() * invSqrtBC2 + eps)
          }
        }
      }
    case .rmsprop:
      let alpha: Float = 0.99
      let cAlpha = Float(1 - 0.99)
      let eps: Float = 1e-8
      let rate = Float(lr)
      second.withUnsafeMutableBufferPointer { v in
        for i in 0..<n {
          let g = grads[i]
          v[i] = alpha * v[i] + cAlpha * g * g
          params[i] -= rate * g / (v[i].squareRoot() + eps)
        }
      }
    case .sgd:
      let mu = Float(momentum)
      let rate = Float(lr)
      first.withUnsafeMutableBufferPointer { b in
        for i in 0..<n {
          b[i] = mu * b[i] + grads[i]
          params[i] -= rate * b[i]
        }
      }
    }
  }
}

/// Decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019):
/// p ← p − lr·λ·p before the optimizer's update, on chosen parts of the flat parameter vector.
///
/// PyTorch's AdamW formula (`param.mul_(1 - lr * weight_decay)`, then Adam) with the step's
/// scheduled lr. The same shrink with SGD is the paper's SGDW and with RMSprop its analogue:
/// charlstm decouples it for every optimizer rather than adding λ·p to the gradient (L2), which
/// Adam's and RMSprop's per-parameter scaling would weaken where gradients are large.
public struct WeightDecay: Equatable, Sendable {
  /// λ ≥ 0.
  public var rate: Double
  /// The flat indices decayed.
  public var ranges: [Range<Int>]

  /// λ on `ranges` of the flat parameter vector.
  public init(rate: Double, ranges: [Range<Int>]) {
    self.rate = rate
    self.ranges = ranges
  }

  /// λ on every weight matrix of `model` and its embedding (`embedding.weight`,
  /// `lstm.weight_ih_l*`, `lstm.weight_hh_l*`, `head.weight`), none on the biases
  /// (`lstm.bias_*`, `head.bias`): the usual practice (e.g. BERT's and GPT-2's AdamW groups leave
  /// biases undecayed; a decayed bias only pulls the forget gate's bias of 1 towards 0).
  public init(rate: Double, model: ModelConfig) {
    self.init(rate: rate, ranges: model.slots.filter { !$0.name.contains("bias") }.map(\.range))
  }

  /// p[i] ← p[i]·(1 − lr·λ) for i in ``ranges`` (the factor computed in Double, applied in Float,
  /// as PyTorch does with a Python scalar).
  func apply(_ params: UnsafeMutableBufferPointer<Float>, lr: Double) {
    let factor = Float(1 - lr * rate)
    for r in ranges {
      precondition(r.lowerBound >= 0 && r.upperBound <= params.count, "decayed range \(r) outside [0, \(params.count))")
      for i in r { params[i] *= factor }
    }
  }
}

/// Gradient clipping.
public enum GradientClipping {
  /// Scales `grads` so their global L2 norm is at most `maxNorm` (PyTorch's rule:
  /// factor maxNorm / (norm + 1e-6) when norm > maxNorm).
  /// - Returns: the norm before clipping (NaN or ∞ when a gradient is not finite).
  /// - Complexity: one pass for the norm: squares summed in 16 Float lanes, the lanes added into
  ///   a Double every 4,096 elements (one serial Float sum did not vectorize: 1.5% of a 2×512
  ///   step on one thread, with the finite checks); a second pass only when clipping.
  @discardableResult
  public static func clipGlobalNorm(_ grads: UnsafeMutableBufferPointer<Float>, maxNorm: Double) -> Double {
    var sum = 0.0
    var i = 0
    if let base = grads.baseAddress {
      let raw = UnsafeRawPointer(base)
      while i + 16 <= grads.count {
        var lanes = SIMD16<Float>()
        let end = min(grads.count, i + 4096)
        while i + 16 <= end {
          let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
          lanes += v * v
          i += 16
        }
        sum += Double(lanes.sum())
      }
    }
    while i < grads.count {
      sum += Double(grads[i] * grads[i])
      i += 1
    }
    let norm = sum.squareRoot()
    if maxNorm > 0 && norm > maxNorm && norm.isFinite {
      let scale = Float(maxNorm / (norm + 1e-6))
      for i in grads.indices { grads[i] *= scale }
    }
    return norm
  }

  /// Clamps every gradient element to [−v, v].
  public static func clipValue(_ grads: UnsafeMutableBufferPointer<Float>, _ v: Double) {
    let hi = Float(v)
    for i in grads.indices { grads[i] = min(max(grads[i], -hi), hi) }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The first non-finite value (NaN or ±inf) of a flat tensor, or nil when all are finite.
/// - Complexity: one pass; the common all-finite case is a sum of `x·0` (NaN exactly when some
///   x is not finite) over 16 independent lanes, so it vectorizes (one serial sum did not: 1.7%
///   of a 2×512 training step).
func firstNonFinite(_ x: UnsafeBufferPointer<Float>) -> Int? {
  var lanes = SIMD16<Float>()
  var i = 0
  if let base = x.baseAddress {
    let raw = UnsafeRawPointer(base)
    while i + 16 <= x.count {
      lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * 0
      i += 16
    }
  }
  var probe = lanes.sum()
  while i < x.count {
    probe += x[i] * 0
    i += 1
  }
  guard probe.isNaN else { return nil }
  return x.firstIndex { !$0.isFinite }
}

extension ModelConfig {
  /// The name of the first tensor (in `slots` order) of the flat vector `x` [P] holding a
  /// non-finite value, with the value's index inside it; nil when every value is finite.
  func firstNonFiniteTensor(_ x: [Float], prefix: String = "") -> (name: String, index: Int)? {
    x.withUnsafeBufferPointer { p in
      guard firstNonFinite(p) != nil else { return nil }
      for s in slots {
        if let i = firstNonFinite(UnsafeBufferPointer(rebasing: p[s.range])) { return (prefix + s.name, i) }
      }
      return nil
    }
  }
}
