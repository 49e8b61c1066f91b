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

  // MARK: - Regularization (masks fixed by re-seeding the dropout generator identically)

  /// The loss and analytic gradient of one fixed window under `regularization`, checked
  /// against central differences on every parameter with the same masks.
  private func checkAll(
    _ config: ModelConfig, _ regularization: Regularization, modelSeed: UInt64 = 8, windowSeed: UInt64 = 12
  ) -> (model: CharModel<Double>, window: Window, analytic: [Double]) {
    var g = SeededGenerator(seed: modelSeed)
    let model = CharModel<Double>(config: config, generator: &g)
    let w = Window(config: config, batch: 3, steps: 4, seed: windowSeed, nonZeroState: true)
    let analytic = w.analyticGradient(model, dropoutSeed: 1234, regularization: regularization)
    let r = checkGradient(model: model, analytic: analytic, indices: 0..<config.parameterCount) {
      w.trainLoss(model, state: w.state, dropoutSeed: 1234, regularization: regularization)
    }
    #expect(r.passed, "\(regularization): \(r)")
    // The masks really drop something: another mask, or none, gives another loss.
    let loss = w.trainLoss(model, state: w.state, dropoutSeed: 1234, regularization: regularization)
    #expect(loss != w.trainLoss(model, state: w.state, dropoutSeed: 4321, regularization: regularization))
    #expect(loss != w.trainLoss(model, state: w.state, dropoutSeed: 1234))
    return (model, w, analytic)
  }

  /// Weight drop p = 0.5 on both layers' W_hh. The entries its mask drops get exactly zero
  /// gradient (∂L/∂W = ∂L/∂W̃ ⊙ M), the kept ones the finite differences' value.
  @Test("weight drop with a fixed mask, all parameters")
  func weightDrop() {
    let (model, _, analytic) = checkAll(stackConfig, Regularization(weightDrop: 0.5))
    // The masks as the model draws them (no other dropout): G·H draws for layer 0's W_hh, then layer 1's.
    var masks = SeededGenerator(seed: 1234)
    for k in 0..<2 {
      let slot = model.slot(named: "lstm.weight_hh_l\(k)")!
      var dropped = 0
      var keptNonZero = 0
      for i in slot.range {
        if masks.nextUnitDouble() < 0.5 {
          dropped += 1
          #expect(analytic[i] == 0, "W_hh l\(k) entry \(i - slot.offset) is dropped but has gradient \(analytic[i])")
        } else if analytic[i] != 0 {
          keptNonZero += 1
        }
      }
      #expect(dropped > 0 && keptNonZero > 0, "layer \(k): \(dropped) dropped, \(keptNonZero) kept with a gradient")
    }
  }

  /// Locked (variational) dropout p = 0.4: one mask per stream, shared by the 4 steps, on the
  /// embedded input, between the layers and before the head.
  @Test("locked dropout with a fixed mask, all parameters")
  func lockedDropout() {
    var config = stackConfig
    config.dropout = 0.4
    let (model, w, _) = checkAll(config, Regularization(dropoutKind: .locked))
    // Not the standard masks: the same seed laid out per step gives another loss.
    #expect(
      w.trainLoss(model, state: w.state, dropoutSeed: 1234, regularization: Regularization(dropoutKind: .locked))
        != w.trainLoss(model, state: w.state, dropoutSeed: 1234))
  }

  /// Embedding dropout p = 0.4 (V = 7): a dropped character's embedding row gets exactly zero
  /// gradient although the character is in the window; a kept one's is the finite differences'.
  @Test("embedding dropout with a fixed mask, all parameters")
  func embeddingDropout() {
    let config = ModelConfig(vocabSize: 7, embedSize: 3, hiddenSize: 3, layers: 2)
    let (model, w, analytic) = checkAll(config, Regularization(embedDropout: 0.4))
    // The mask as the model draws it: the first V draws, one per character id.
    var masks = SeededGenerator(seed: 1234)
    let kept = (0..<config.vocabSize).map { _ in masks.nextUnitDouble() >= 0.4 }
    let row = model.slot(named: "embedding.weight")!.offset
    let present = Set(w.inputs.map(Int.init))
    var droppedSeen = 0
    for id in present {
      let grad = analytic[(row + id * 3)..<(row + id * 3 + 3)]
      if kept[id] {
        #expect(grad.contains { $0 != 0 }, "kept id \(id) has no gradient")
      } else {
        droppedSeen += 1
        #expect(grad.allSatisfy { $0 == 0 }, "dropped id \(id) has gradient \(Array(grad))")
      }
    }
    #expect(droppedSeen > 0 && droppedSeen < present.count, "the window should hold dropped and kept characters")
  }

  /// Everything at once: locked dropout 0.3, weight drop 0.3, embedding dropout 0.3; and with
  /// standard dropout.
  @Test("all regularizers together, all parameters", arguments: [DropoutKind.locked, .standard])
  func allTogether(kind: DropoutKind) {
    var config = stackConfig
    config.dropout = 0.3
    _ = checkAll(config, Regularization(dropoutKind: kind, weightDrop: 0.3, embedDropout: 0.3))
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
