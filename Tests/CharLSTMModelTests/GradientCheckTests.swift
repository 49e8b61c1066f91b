// Central finite-difference gradient checks of every parameter tensor, in Double.

import CharLSTMKernels
import Testing

import CharLSTMModel

/// V=5, E=3, H=3, L=2: every tensor small enough to check all entries.
private let stackConfig = ModelConfig(vocabSize: 5, embedSize: 3, hiddenSize: 3, layers: 2)

/// Every tensor of the 2-layer stack, the LSTM ones split per gate (rows g·H ..< (g+1)·H).
private let gradientCases: [String] = {
  var cases = ["embedding.weight"]
  for k in 0..<2 {
    for t in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
      for gate in ["i", "f", "g", "o"] { cases.append("lstm.\(t)_l\(k)#\(gate)") }
    }
  }
  return cases + ["head.weight", "head.bias"]
}()

/// The flat indices of case `name` ("tensor" or "tensor#gate").
private func indices(_ name: String, config: ModelConfig) -> Range<Int> {
  let parts = name.split(separator: "#").map(String.init)
  let slot = config.slots.first { $0.name == parts[0] }!
  guard parts.count == 2 else { return slot.range }
  let gate = ["i", "f", "g", "o"].firstIndex(of: parts[1])!
  let rowLength = slot.shape.count == 2 ? slot.shape[1] : 1
  let perGate = config.hiddenSize * rowLength
  let start = slot.offset + gate * perGate
  return start..<(start + perGate)
}

@Suite("Gradient checks (central differences, Double)")
struct GradientCheckTests {
  /// 2 layers through T=5 steps with B=2 and a non-zero carried state: each tensor (and each
  /// gate of each LSTM tensor) separately, all entries.
  @Test("2-layer stack, T=5, non-zero incoming state", arguments: gradientCases)
  func stack(caseName: String) {
    var g = SeededGenerator(seed: 7)
    let model = CharModel<Double>(config: stackConfig, generator: &g)
    let w = Window(config: stackConfig, batch: 2, steps: 5, seed: 11, nonZeroState: true)
    let analytic = w.analyticGradient(model)
    let r = checkGradient(
      model: model, analytic: analytic, indices: indices(caseName, config: stackConfig)
    ) { w.trainLoss(model, state: w.state) }
    #expect(r.passed, "\(caseName): \(r)")
    // The gradient is not trivially zero.
    #expect(indices(caseName, config: stackConfig).contains { analytic[$0] != 0 })
  }

  /// A single layer, single step cell: every parameter (covers the cell in isolation).
  @Test("single cell, L=1, T=1, B=3")
  func singleCell() {
    let config = ModelConfig(vocabSize: 4, embedSize: 2, hiddenSize: 2, layers: 1)
    var g = SeededGenerator(seed: 3)
    let model = CharModel<Double>(config: config, generator: &g)
    let w = Window(config: config, batch: 3, steps: 1, seed: 5, nonZeroState: true)
    let analytic = w.analyticGradient(model)
    let r = checkGradient(model: model, analytic: analytic, indices: 0..<config.parameterCount) {
      w.trainLoss(model, state: w.state)
    }
    #expect(r.passed, "\(r)")
  }

  /// Dropout p = 0.4 between the layers and before the head, with the mask fixed by re-seeding
  /// the dropout generator identically for every evaluation.
  @Test("dropout with a fixed mask, all parameters")
  func dropout() {
    var config = stackConfig
    config.dropout = 0.4
    var g = SeededGenerator(seed: 8)
    let model = CharModel<Double>(config: config, generator: &g)
    let w = Window(config: config, batch: 3, steps: 4, seed: 12, nonZeroState: true)
    let analytic = w.analyticGradient(model, dropoutSeed: 1234)
    let r = checkGradient(model: model, analytic: analytic, indices: 0..<config.parameterCount) {
      w.trainLoss(model, state: w.state, dropoutSeed: 1234)
    }
    #expect(r.passed, "\(r)")
    // The mask really drops something: a different mask gives a different loss.
    #expect(
      w.trainLoss(model, state: w.state, dropoutSeed: 1234)
        != w.trainLoss(model, state: w.state, dropoutSeed: 4321))
  }

  /// Gradients accumulate: two identical windows without zeroing give twice the gradient.
  @Test("backward accumulates into gradients")
  func accumulates() {
    var g = SeededGenerator(seed: 9)
    let model = CharModel<Double>(config: stackConfig, generator: &g)
    let w = Window(config: stackConfig, batch: 2, steps: 3, seed: 4, nonZeroState: true)
    let once = w.analyticGradient(model)
    _ = w.trainLoss(model, state: w.state)
    for i in once.indices { #expect(abs(model.gradients[i] - 2 * once[i]) <= 1e-12 * (1 + abs(once[i]))) }
    model.zeroGradients()
    #expect(model.gradients.allSatisfy { $0 == 0 })
  }

  /// The checker can fail: a wrong analytic gradient is reported at the first wrong index.
  @Test("a deliberately wrong gradient is detected")
  func detectsWrongGradient() {
    var g = SeededGenerator(seed: 7)
    let model = CharModel<Double>(config: stackConfig, generator: &g)
    let w = Window(config: stackConfig, batch: 2, steps: 5, seed: 11, nonZeroState: true)
    var analytic = w.analyticGradient(model)
    let slot = model.slot(named: "lstm.weight_hh_l1")!
    let bad = slot.offset + 5
    analytic[bad] *= 1.001  // a 0.1% error in one entry
    let r = checkGradient(model: model, analytic: analytic, indices: slot.range) {
      w.trainLoss(model, state: w.state)
    }
    #expect(!r.passed)
    #expect(r.firstBad?.index == bad)
    // Swapping two gates' gradients (a classic bug) is detected too.
    var swapped = w.analyticGradient(model)
    let H = stackConfig.hiddenSize
    let b = model.slot(named: "lstm.bias_ih_l0")!.offset
    for j in 0..<H { swapped.swapAt(b + j, b + H + j) }
    let r2 = checkGradient(model: model, analytic: swapped, indices: b..<(b + 4 * H)) {
      w.trainLoss(model, state: w.state)
    }
    #expect(!r2.passed)
  }
}
