import CharLSTMKit
import Foundation
import Testing

/// `OptimizerState.update` against PyTorch's update rules written out in Double, over 5 steps
/// with gradients that change every step (sign, scale, and tiny ones where ε matters), so bias
/// correction, the running moments and the momentum buffer are all exercised past step 1.
///
/// Tolerance: every parameter within 2e-6 · (|p| + |p − p₀|) + 1e-12 of the Double result, and the
/// moments within 1e-5 relative. Float rounds each of the ~6 operations of a step to 2^−24
/// relative (6e-8), so 5 steps stay below ~2e-6 of the values involved; a wrong constant or a
/// missing term (β's, ε, bias correction, μ, dampening) changes the result by 1e-4 to 1 of it.
///
/// This test found that Optimizer.swift computed Adam's 1 − β2 in Float (0.00099998713, 1.3e-5
/// relative below PyTorch's 0.001); the constants are now computed in Double, as PyTorch does.
@Suite struct OptimizerFormulaTests {
  static let count = 12
  static let steps = 5
  static let lr = 0.01

  static let initial: [Float] = (0..<count).map { Float(0.05 * Double($0 - 5)) + 0.013 }

  /// The gradient of parameter i at step t (1-based): mixed signs and scales, including
  /// parameters whose gradients are ~1e-8 (where Adam's and RMSprop's ε is visible) and one
  /// that is 0 at some steps.
  static func gradient(_ i: Int, _ t: Int) -> Float {
    let scale: [Double] = [1, 0.3, 2.5, 1e-8, 3e-9, 0.05, 1, 4, 1e-3, 0.7, 1e-7, 1.5]
    let wave = sin(Double(i * 7 + t * 3)) + (t % 2 == 0 ? 0.5 : -0.25)
    if i == 9 && t == 3 { return 0 }
    return Float(scale[i] * wave)
  }

  /// Runs the implementation for `steps` steps; returns parameters after each step, and the state.
  static func run(_ kind: OptimizerKind, momentum: Double, weightDecay: WeightDecay? = nil) -> ([[Float]], OptimizerState) {
    var state = OptimizerState(kind: kind, count: count)
    var params = initial
    var history: [[Float]] = []
    for t in 1...steps {
      let grads = (0..<count).map { gradient($0, t) }
      params.withUnsafeMutableBufferPointer { p in
        grads.withUnsafeBufferPointer { g in state.update(params: p, grads: g, lr: lr, momentum: momentum, weightDecay: weightDecay) }
      }
      history.append(params)
    }
    return (history, state)
  }

  static func expectClose(_ got: [[Float]], _ want: [[Double]], _ what: String, rel: Double = 2e-6) {
    for (t, (g, w)) in zip(got, want).enumerated() {
      for i in 0..<count {
        let p0 = Double(initial[i])
        let tol = rel * (abs(w[i]) + abs(w[i] - p0)) + 1e-12
        #expect(abs(Double(g[i]) - w[i]) <= tol, "\(what) step \(t + 1) parameter \(i): \(g[i]) vs \(w[i]) (tolerance \(tol))")
      }
    }
  }

  static func expectClose(_ got: [Float], _ want: [Double], _ what: String, rel: Double = 1e-5) {
    #expect(got.count == want.count)
    for i in want.indices {
      #expect(abs(Double(got[i]) - want[i]) <= rel * abs(want[i]) + 1e-30, "\(what)[\(i)]: \(got[i]) vs \(want[i])")
    }
  }

  /// The parameters after each step of PyTorch's Adam (AdamW with `decayRate` > 0, on the
  /// decayed ranges), in Double, and the final moments.
  static func adamReference(decayRate: Double) -> (params: [[Double]], m: [Double], v: [Double]) {
    let (b1, b2, eps) = (0.9, 0.999, 1e-8)
    var p = Self.initial.map(Double.init)
    var m = [Double](repeating: 0, count: Self.count), v = m
    var want: [[Double]] = []
    for t in 1...Self.steps {
      for i in 0..<Self.count {
        if decayRate > 0 && Self.isDecayed(i) { p[i] *= 1 - Self.lr * decayRate }
        let g = Double(Self.gradient(i, t))
        m[i] = b1 * m[i] + (1 - b1) * g
        v[i] = b2 * v[i] + (1 - b2) * g * g
        let mHat = m[i] / (1 - pow(b1, Double(t)))
        let vHat = v[i] / (1 - pow(b2, Double(t)))
        p[i] -= Self.lr * mHat / (vHat.squareRoot() + eps)
      }
      want.append(p)
    }
    return (want, m, v)
  }

  /// torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8): m ← β1 m + (1−β1) g,
  /// v ← β2 v + (1−β2) g², m̂ = m / (1−β1ᵗ), v̂ = v / (1−β2ᵗ), p ← p − lr · m̂ / (√v̂ + ε).
  @Test func adamMatchesItsFormula() {
    let (want, m, v) = Self.adamReference(decayRate: 0)
    let (got, state) = Self.run(.adam, momentum: 0)
    #expect(state.step == Self.steps)
    Self.expectClose(got, want, "adam")
    Self.expectClose(state.first, m, "adam m")
    Self.expectClose(state.second, v, "adam v")
  }

  /// torch.optim.RMSprop(lr, alpha=0.99, eps=1e-8), no momentum, not centered:
  /// v ← α v + (1−α) g², p ← p − lr · g / (√v + ε).
  @Test func rmspropMatchesItsFormula() {
    let (alpha, eps) = (0.99, 1e-8)
    var p = Self.initial.map(Double.init)
    var v = [Double](repeating: 0, count: Self.count)
    var want: [[Double]] = []
    for t in 1...Self.steps {
      for i in 0..<Self.count {
        let g = Double(Self.gradient(i, t))
        v[i] = alpha * v[i] + (1 - alpha) * g * g
        p[i] -= Self.lr * g / (v[i].squareRoot() + eps)
      }
      want.append(p)
    }
    let (got, state) = Self.run(.rmsprop, momentum: 0)
    Self.expectClose(got, want, "rmsprop")
    Self.expectClose(state.second, v, "rmsprop v")
    #expect(state.first.isEmpty)
  }

  /// torch.optim.SGD(lr, momentum=μ), no dampening, not Nesterov: b ← μ b + g (b = g at the
  /// first step, which is the same from b = 0), p ← p − lr · b. μ = 0.9, and μ = 0 (plain SGD).
  @Test(arguments: [0.9, 0.0])
  func sgdMatchesItsFormula(momentum mu: Double) {
    var p = Self.initial.map(Double.init)
    var b = [Double](repeating: 0, count: Self.count)
    var want: [[Double]] = []
    for t in 1...Self.steps {
      for i in 0..<Self.count {
        let g = Double(Self.gradient(i, t))
        b[i] = t == 1 ? g : mu * b[i] + g
        p[i] -= Self.lr * b[i]
      }
      want.append(p)
    }
    let (got, state) = Self.run(.sgd, momentum: mu)
    Self.expectClose(got, want, "sgd μ \(mu)")
    Self.expectClose(state.first, b, "sgd buffer")
    #expect(state.second.isEmpty)
  }

  // MARK: - Decoupled weight decay

  /// λ large enough that the decay is 1e-3 of a weight per step (lr 0.01 × 0.1), far above
  /// the tolerance, so a missing, doubled or coupled decay fails.
  static let lambda = 0.1
  /// Parameters 0..<4 and 6..<10 are decayed ("weights"); 4, 5, 10, 11 are not ("biases").
  static let decayed: [Range<Int>] = [0..<4, 6..<10]
  static func isDecayed(_ i: Int) -> Bool { decayed.contains { $0.contains(i) } }

  /// torch.optim.AdamW(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=λ): p ← p·(1 − lr·λ),
  /// then Adam's update from moments that never see λ; parameters outside the decayed ranges
  /// follow plain Adam bit for bit.
  @Test func adamWMatchesPyTorchsFormula() {
    let (want, m, v) = Self.adamReference(decayRate: Self.lambda)
    let (got, state) = Self.run(.adam, momentum: 0, weightDecay: WeightDecay(rate: Self.lambda, ranges: Self.decayed))
    Self.expectClose(got, want, "adamw")
    Self.expectClose(state.first, m, "adamw m")
    Self.expectClose(state.second, v, "adamw v")
    // Undecayed parameters are plain Adam's, bit for bit; decayed ones are not.
    let (plain, _) = Self.run(.adam, momentum: 0)
    for i in 0..<Self.count {
      let same = got.last![i].bitPattern == plain.last![i].bitPattern
      #expect(same == !Self.isDecayed(i), "parameter \(i): decayed \(Self.isDecayed(i)), \(got.last![i]) vs Adam's \(plain.last![i])")
    }
  }

  /// The same decoupled shrink before RMSprop's and SGD's updates (charlstm's choice: SGDW).
  @Test(arguments: [OptimizerKind.rmsprop, .sgd])
  func decoupledDecayWithOtherOptimizers(kind: OptimizerKind) {
    let (alpha, eps, mu) = (0.99, 1e-8, 0.9)
    var p = Self.initial.map(Double.init)
    var buffer = [Double](repeating: 0, count: Self.count)
    var want: [[Double]] = []
    for t in 1...Self.steps {
      for i in 0..<Self.count {
        if Self.isDecayed(i) { p[i] *= 1 - Self.lr * Self.lambda }
        let g = Double(Self.gradient(i, t))
        if kind == .rmsprop {
          buffer[i] = alpha * buffer[i] + (1 - alpha) * g * g
          p[i] -= Self.lr * g / (buffer[i].squareRoot() + eps)
        } else {
          buffer[i] = mu * buffer[i] + g
          p[i] -= Self.lr * buffer[i]
        }
      }
      want.append(p)
    }
    let (got, _) = Self.run(kind, momentum: mu, weightDecay: WeightDecay(rate: Self.lambda, ranges: Self.decayed))
    Self.expectClose(got, want, "\(kind) with decoupled decay")
  }

  /// A model's decay covers its embedding and weight matrices and none of its biases: with a
  /// zero gradient (Adam's step is then 0) a weight becomes p·(1 − lr·λ), a bias stays p exactly.
  @Test func biasesAreNotDecayed() {
    let config = ModelConfig(vocabSize: 5, embedSize: 3, hiddenSize: 4, layers: 2)
    let decay = WeightDecay(rate: 0.5, model: config)
    let names = config.slots.filter { s in decay.ranges.contains(s.range) }.map(\.name)
    #expect(names == ["embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.weight_ih_l1", "lstm.weight_hh_l1", "head.weight"])
    var g = SeededGenerator(seed: 3)
    var params = CharModel<Float>(config: config, generator: &g).parameters
    let before = params
    let zero = [Float](repeating: 0, count: params.count)
    var state = OptimizerState(kind: .adam, count: params.count)
    params.withUnsafeMutableBufferPointer { p in
      zero.withUnsafeBufferPointer { z in state.update(params: p, grads: z, lr: 0.1, momentum: 0, weightDecay: decay) }
    }
    for s in config.slots {
      for i in s.range {
        let want = s.name.contains("bias") ? before[i] : before[i] * Float(1 - 0.1 * 0.5)
        #expect(params[i].bitPattern == want.bitPattern, "\(s.name)[\(i - s.offset)]: \(params[i]) vs \(want)")
      }
    }
  }
}
