// The training-only regularizers' masks: how many draws a window takes (one mask per window,
// never per step), the locked mask's layout, and that evaluation never sees them.

import CharLSTMKernels
import Testing

@testable import CharLSTMModel

@Suite("Regularization masks")
struct RegularizationTests {
  /// The draws a window takes from its dropout generator.
  private func draws(
    _ config: ModelConfig, _ regularization: Regularization, batch: Int, steps: Int
  ) -> Int {
    var g = SeededGenerator(seed: 1)
    let model = CharModel<Float>(config: config, generator: &g)
    let w = Window(config: config, batch: batch, steps: steps, seed: 2, nonZeroState: false)
    var state = LSTMState<Float>.zeros(for: config, batch: batch)
    var dropout = SeededGenerator(seed: 3)
    let before = dropout
    _ = w.inputs.withUnsafeBufferPointer { x in
      w.targets.withUnsafeBufferPointer { y in
        model.trainWindow(
          inputs: x, targets: y, batch: batch, steps: steps, state: &state, dropoutGenerator: &dropout,
          regularization: regularization)
      }
    }
    var count = 0
    var probe = before
    while probe != dropout && count < 1_000_000 {
      _ = probe.next()
      count += 1
    }
    return count
  }

  /// One mask per window: weight drop takes L·G·H draws, locked dropout B·E + L·B·H, embedding
  /// dropout V, whatever T; standard dropout T·B·H per layer, as before.
  @Test("draws per window", arguments: [1, 7])
  func drawsPerWindow(steps: Int) {
    let (V, E, H, L, B) = (9, 4, 5, 2, 3)
    let plain = ModelConfig(vocabSize: V, embedSize: E, hiddenSize: H, layers: L)
    var dropped = plain
    dropped.dropout = 0.3
    #expect(draws(plain, .none, batch: B, steps: steps) == 0)
    #expect(draws(plain, Regularization(weightDrop: 0.4), batch: B, steps: steps) == L * 4 * H * H)
    #expect(draws(plain, Regularization(embedDropout: 0.4), batch: B, steps: steps) == V)
    #expect(draws(plain, Regularization(dropoutKind: .locked), batch: B, steps: steps) == 0, "locked without dropout draws nothing")
    #expect(draws(dropped, Regularization(dropoutKind: .locked), batch: B, steps: steps) == B * E + L * B * H)
    #expect(draws(dropped, .none, batch: B, steps: steps) == L * steps * B * H)
    #expect(
      draws(dropped, Regularization(dropoutKind: .locked, weightDrop: 0.2, embedDropout: 0.1), batch: B, steps: steps)
        == V + B * E + L * (4 * H * H + B * H))
  }

  /// The locked mask: each stream's row is drawn once and repeated at every step; a shard's
  /// rows are the whole batch's for its streams, and every shard advances the generator alike.
  @Test("locked mask: one row per stream, shared by all steps, shards agree")
  func lockedMaskLayout() {
    let (T, B, W, p) = (5, 4, 6, 0.5)
    let whole = UnsafeMutablePointer<Double>.allocate(capacity: T * B * W)
    defer { whole.deallocate() }
    var g = SeededGenerator(seed: 11)
    Dropout.drawLockedMask(steps: T, shard: .whole(B), width: W, p: p, generator: &g, mask: whole)
    var reference = SeededGenerator(seed: 11)
    for _ in 0..<(B * W) { _ = reference.next() }
    #expect(g == reference, "B·W draws, not T·B·W")
    for t in 1..<T {
      for i in 0..<(B * W) { #expect(whole[t * B * W + i] == whole[i], "step \(t) entry \(i) differs from step 0") }
    }
    let values = UnsafeBufferPointer(start: whole, count: B * W)
    #expect(values.allSatisfy { $0 == 0 || $0 == 2 })
    #expect(values.contains(0) && values.contains(2))
    for range in [0..<1, 1..<3, 3..<4] {
      let part = UnsafeMutablePointer<Double>.allocate(capacity: T * range.count * W)
      defer { part.deallocate() }
      var pg = SeededGenerator(seed: 11)
      Dropout.drawLockedMask(steps: T, shard: StreamShard(total: B, range: range), width: W, p: p, generator: &pg, mask: part)
      #expect(pg == g)
      for t in 0..<T {
        for (j, b) in range.enumerated() {
          for u in 0..<W { #expect(part[(t * range.count + j) * W + u] == whole[(t * B + b) * W + u]) }
        }
      }
    }
  }

  /// All regularizers at p = 0 are the plain window bit for bit (same loss, gradients, state).
  @Test("zero strengths are the plain window")
  func zeroIsNone() {
    var config = ModelConfig(vocabSize: 6, embedSize: 3, hiddenSize: 4, layers: 2)
    config.dropout = 0.25
    var g = SeededGenerator(seed: 4)
    let a = CharModel<Float>(config: config, generator: &g)
    let b = CharModel<Float>(config: config, parameters: a.parameters)
    let w = Window(config: config, batch: 2, steps: 3, seed: 5, nonZeroState: false)
    let la = w.trainLoss(a, state: .zeros(for: config, batch: 2))
    let lb = w.trainLoss(b, state: .zeros(for: config, batch: 2), regularization: Regularization(dropoutKind: .standard, weightDrop: 0, embedDropout: 0))
    #expect(la == lb)
    #expect(a.gradients == b.gradients)
  }

  /// A training window with every regularizer leaves nothing behind for evaluation: losses,
  /// logits and generation steps are those of a model that never trained (same weights).
  @Test("evaluation and generation never apply them")
  func evaluationIsUnaffected() {
    var config = ModelConfig(vocabSize: 8, embedSize: 4, hiddenSize: 6, layers: 2)
    config.dropout = 0.4
    var g = SeededGenerator(seed: 6)
    let trained = CharModel<Float>(config: config, generator: &g)
    let fresh = CharModel<Float>(config: config, parameters: trained.parameters)
    let w = Window(config: config, batch: 3, steps: 5, seed: 7, nonZeroState: false)
    func evaluate(_ m: CharModel<Float>) -> (Double, [Float], [Float]) {
      var s = LSTMState<Float>.zeros(for: config, batch: 3)
      let loss = w.inputs.withUnsafeBufferPointer { x in
        w.targets.withUnsafeBufferPointer { y in m.evaluateWindow(inputs: x, targets: y, batch: 3, steps: 5, state: &s) }
      }
      var logits = [Float](repeating: 0, count: 3 * 8)
      var s1 = LSTMState<Float>.zeros(for: config, batch: 3)
      Array(w.inputs.prefix(3)).withUnsafeBufferPointer { x in
        logits.withUnsafeMutableBufferPointer { l in m.step(tokens: x, state: &s1, logits: l) }
      }
      return (loss, logits, s.h)
    }
    let before = evaluate(trained)
    for reg in [
      Regularization(dropoutKind: .locked, weightDrop: 0.5, embedDropout: 0.5),
      Regularization(dropoutKind: .standard, weightDrop: 0.9, embedDropout: 0.9),
    ] {
      _ = w.trainLoss(trained, state: .zeros(for: config, batch: 3), regularization: reg)
      let after = evaluate(trained)
      #expect(after.0 == before.0 && after.1 == before.1 && after.2 == before.2, "\(reg) changed evaluation")
    }
    let other = evaluate(fresh)
    #expect(other.0 == before.0 && other.1 == before.1 && other.2 == before.2)
  }
}
